import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

type Migrations = Awaited<ReturnType<typeof readD1Migrations>>;

/**
 * What the workers tests (and the scale run, bench/scale/vitest.config.ts) add to wrangler.toml:
 * a second database with one shop routed to it (test/database-routing-integration.test.ts), the
 * migrations for test/setup.ts, and test values for the secrets (CI has no .dev.vars).
 */
export function testMiniflare(migrations: Migrations, extra: Record<string, string> = {}) {
  return {
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
      LAKE_CATALOG_TOKEN: "",
      MAX_BODY_BYTES: "1048576",
      ...extra,
    },
  };
}

// Two projects. `workers`: tests run inside workerd with the real local bindings from wrangler.toml;
// secrets are test values here because CI has no .dev.vars. `node`: tests of what runs outside the
// Worker (the code's dependency rules, tools that read the lake), in test/node/.
export default defineConfig(async () => {
  const migrations = await readD1Migrations(new URL("./migrations", import.meta.url).pathname);
  return {
    // The stripe package ships source maps whose sources it does not ship: Vite would warn once per file.
    logLevel: "error" as const,
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: testMiniflare(migrations),
            }),
          ],
          logLevel: "error" as const,
          test: {
            name: "workers",
            // Integration tests run real local storage on a shared 2-core machine: 5 s is too tight there.
            testTimeout: 30_000,
            hookTimeout: 30_000,
            include: ["test/**/*.test.ts"],
            exclude: ["test/node/**"],
            setupFiles: ["./test/setup.ts"],
            // Each test file imports the Worker afresh: its dependencies prebundled (one module each
            // instead of hundreds) halve that. icebird stays apart: the tests mock its Snappy WASM.
            deps: {
              optimizer: {
                ssr: {
                  enabled: true,
                  include: [
                    "stripe",
                    "zod",
                    "drizzle-orm",
                    "drizzle-orm/d1",
                    "drizzle-orm/errors",
                    "drizzle-orm/sql",
                    "drizzle-orm/sqlite-core",
                    "hono",
                    "hono/cookie",
                    "hono/jsx",
                    "hono/jsx/jsx-runtime",
                    "@shopify/admin-api-client",
                    "hyparquet",
                    "hyparquet-writer",
                  ],
                  exclude: ["icebird", "hyparquet-compressors"],
                },
              },
            },
          },
        },
        {
          test: {
            name: "node",
            include: ["test/node/**/*.test.ts"],
            environment: "node",
          },
        },
      ],
    },
  };
});
