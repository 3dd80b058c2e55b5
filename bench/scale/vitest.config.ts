/**
 * Vitest config of the scale run (bench/scale.mjs): the `workers` project of the root
 * vitest.config.ts (same bindings, migrations and setup file, so every invocation runs under
 * the limits layer), but only the bench/scale files named *.scale.ts, without timeouts (a job at full size
 * runs for minutes), and with the scale from the environment as a binding. Storage is
 * Miniflare's on-disk temporary directory for the run, shared by the file's tests in order.
 */
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL("../..", import.meta.url));

export default defineConfig(async () => {
  const migrations = await readD1Migrations(`${root}/migrations`);
  return {
    root,
    logLevel: "error" as const,
    plugins: [
      cloudflareTest({
        wrangler: { configPath: `${root}/wrangler.toml` },
        miniflare: {
          d1Databases: { DB_ROUTED: "routed-test-database" },
          bindings: {
            SHOP_DATABASES: JSON.stringify({ "routed-shop.myshopify.com": "DB_ROUTED" }),
            TEST_MIGRATIONS: migrations,
            SHOPIFY_WEBHOOK_SECRET: "shpss_test_current,shpss_test_previous",
            STRIPE_WEBHOOK_SECRET: "whsec_test_current,whsec_test_previous",
            RECHARGE_WEBHOOK_SECRET: "rc_test_secret",
            ADMIN_TOKEN: "test-admin-token",
            SHOPIFY_ACCESS_TOKENS: "{}",
            CREDENTIALS_KEY:
              "test-current:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=,test-previous:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
            STRIPE_API_KEY: "",
            RECHARGE_API_TOKEN: "",
            ALERT_WEBHOOK_URL: "",
            PRIVACY_HASH_KEY: "test-privacy-hash-key",
            MAX_BODY_BYTES: "1048576",
            // The scale run's own settings (bench/scale.mjs passes them in the environment).
            SCALE: process.env.SCALE ?? "1",
            SCALE_JOB_MINUTES: process.env.SCALE_JOB_MINUTES ?? "60",
          },
        },
      }),
    ],
    test: {
      name: "scale",
      include: ["bench/scale/**/*.scale.ts"],
      setupFiles: ["./test/setup.ts"],
      testTimeout: 0,
      hookTimeout: 0,
    },
  };
});
