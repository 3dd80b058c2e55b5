// `npm run lake -- <command>`: the lake for people and tools without R2 credentials.
//   pull [--days N] [--out DIR] [--persist-to DIR] [--remote]
//       copy the processed tables (current/ snapshots, schemas, and with --days the dt= partitions of
//       the last N UTC days) into DIR (default lake-export/), with DIR/lake.sql: `duckdb -init DIR/lake.sql`.
//       From the local state `npm start` keeps (.wrangler/state, or --persist-to as given to wrangler
//       dev), or with --remote from the deployed bucket through your `wrangler login`.
//   lifecycle [--apply]
//       print the bucket's lifecycle rules (lake/lifecycle.json); --apply sets them on the deployed
//       bucket with `wrangler r2 bucket lifecycle set` (replacing the rules it has).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { getPlatformProxy } from "wrangler";
import { pullLake } from "./lake/pull.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const BUCKET = "commerce-lake";
const RULES = join(root, "lake", "lifecycle.json");

function positiveInt(value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3660) throw new InvalidArgumentError("a whole number of days, 1 to 3660");
  return n;
}

/** An R2 binding to the local state, or to the deployed bucket (a config of that one binding, remote). */
async function openBucket({ remote, persistTo }) {
  if (!remote) {
    const proxy = await getPlatformProxy({
      configPath: join(root, "wrangler.toml"),
      persist: { path: join(persistTo, "v3") },
      remoteBindings: false,
    });
    return { bucket: proxy.env.LAKE, close: () => proxy.dispose() };
  }
  const dir = mkdtempSync(join(tmpdir(), "lake-pull-"));
  const configPath = join(dir, "wrangler.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      name: "lake-pull",
      compatibility_date: "2026-11-01",
      r2_buckets: [{ binding: "LAKE", bucket_name: BUCKET, remote: true }],
    }),
  );
  const proxy = await getPlatformProxy({ configPath, persist: false, remoteBindings: true });
  return {
    bucket: proxy.env.LAKE,
    close: async () => {
      await proxy.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const program = new Command("lake").description("The lake's Parquet tables outside R2");

program
  .command("pull")
  .description("copy the processed tables into a folder DuckDB opens")
  .option("--days <n>", "also the dt= change partitions of the last N UTC days", positiveInt)
  .option("--out <dir>", "where to write", "lake-export")
  .option("--persist-to <dir>", "local state directory, as given to wrangler dev", join(root, ".wrangler", "state"))
  .option("--remote", "read the deployed bucket (needs `wrangler login`)", false)
  .action(async (opts) => {
    const { bucket, close } = await openBucket({ remote: opts.remote, persistTo: opts.persistTo });
    try {
      const result = await pullLake(bucket, opts.out, { days: opts.days, log: (l) => console.log(`  ${l}`) });
      if (result.tables.length === 0) {
        console.error("No tables found: has the compact job run? (POST /admin/jobs/compact, or wait for minute 35)");
        process.exitCode = 1;
        return;
      }
      console.log(`${result.objects} objects, ${(result.bytes / 1e6).toFixed(1)} MB, ${result.tables.length} tables`);
      console.log(`Open it: duckdb -init ${result.sql}`);
    } finally {
      await close();
    }
  });

program
  .command("lifecycle")
  .description("show the bucket's lifecycle rules, or apply them with --apply")
  .option("--apply", "set them on the deployed bucket (wrangler r2 bucket lifecycle set)", false)
  .action((opts) => {
    const rules = JSON.parse(readFileSync(RULES, "utf8")).rules;
    for (const r of rules) console.log(`  ${r.id}: prefix '${r.conditions.prefix}'`);
    if (!opts.apply) return;
    const wrangler = join(root, "node_modules", ".bin", "wrangler");
    const run = spawnSync(wrangler, ["r2", "bucket", "lifecycle", "set", BUCKET, "--file", RULES, "--force"], {
      stdio: "inherit",
    });
    process.exitCode = run.status ?? 1;
  });

await program.parseAsync(process.argv);
