/**
 * Vitest config of the cost bench (bench/cost.mjs): the `workers` project of the root
 * vitest.config.ts (same bindings, migrations and setup file, so every invocation runs under the
 * limits layer, which also counts what Cloudflare bills), but only bench/cost/*.cost.ts, with the
 * bench's settings from the environment as bindings.
 */
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { testMiniflare } from "../../vitest.config";

const root = fileURLToPath(new URL("../..", import.meta.url));

export default defineConfig(async () => {
  const migrations = await readD1Migrations(`${root}/migrations`);
  return {
    root,
    logLevel: "error" as const,
    plugins: [
      cloudflareTest({
        wrangler: { configPath: `${root}/wrangler.toml` },
        miniflare: testMiniflare(migrations, {
          COST_EVENTS: process.env.COST_EVENTS ?? "200",
          COST_CPU_URL: process.env.COST_CPU_URL ?? "",
        }),
      }),
    ],
    test: {
      name: "cost",
      include: ["bench/cost/**/*.cost.ts"],
      setupFiles: ["./test/setup.ts"],
      testTimeout: 0,
      hookTimeout: 0,
    },
  };
});
