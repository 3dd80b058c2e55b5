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
        // The scale run's own settings (bench/scale.mjs passes them in the environment).
        miniflare: testMiniflare(migrations, {
          SCALE: process.env.SCALE ?? "1",
          SCALE_JOB_MINUTES: process.env.SCALE_JOB_MINUTES ?? "60",
        }),
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
