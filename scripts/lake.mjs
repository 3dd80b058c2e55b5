// `npm run lake -- <command>`: the lake for people and tools without R2 credentials.
//   pull [--table NAME]... [--out DIR] [--persist-to DIR] [--remote]
//       copy the lake's Iceberg tables (processed/{source}/{table}/), each as its current snapshot
//       whole: version-hint.text, that vN.metadata.json, its manifest list and manifests, and every
//       live Parquet data and equality-delete file, with the bucket's layout, into DIR (default
//       lake-export/), plus the schema documents and DIR/lake.sql. From the local state `npm start`
//       keeps (.wrangler/state, or --persist-to as given to wrangler dev), or with --remote from the
//       deployed bucket through your `wrangler login`.
//       Reading it: the metadata names files by absolute s3://commerce-lake/… URIs, which DuckDB's
//       iceberg extension relocates into the folder: `duckdb -init DIR/lake.sql` (one view per table,
//       `iceberg_scan('DIR/processed/shopify/shopify_orders', allow_moved_paths = true)`; the
//       extension is installed on first use, which needs the network once). Any engine that reads
//       Iceberg v2 equality deletes and can map the s3:// paths onto the folder works the same way.
//       PyIceberg resolves those paths itself, so give it the bucket rather than the folder:
//       StaticTable.from_metadata("s3://commerce-lake/processed/shopify/shopify_orders/metadata/vN.metadata.json",
//       properties={"s3.endpoint": "https://<ACCOUNT_ID>.r2.cloudflarestorage.com", …}), N as in
//       the table's version-hint.text; it reads a table whose snapshot has no delete files (see
//       docs/lake.md, PyIceberg).
//   lifecycle [--apply]
//       print the bucket's lifecycle rules (lake/lifecycle.json); --apply sets them on the deployed
//       bucket with `wrangler r2 bucket lifecycle set` (replacing the rules it has). No rule expires
//       anything under processed/: only the lake-upkeep job deletes Iceberg files.
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

function tableName(value, previous = []) {
  if (!/^[a-z][a-z0-9_]*$/.test(value)) throw new InvalidArgumentError("a table name, like shopify_orders");
  return [...previous, value];
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

const program = new Command("lake").description("The lake's Iceberg tables outside R2");

program
  .command("pull")
  .description("copy each Iceberg table's current snapshot into a folder DuckDB's iceberg extension opens")
  .option("--table <name>", "only this table (repeatable)", tableName)
  .option("--out <dir>", "where to write", "lake-export")
  .option("--persist-to <dir>", "local state directory, as given to wrangler dev", join(root, ".wrangler", "state"))
  .option("--remote", "read the deployed bucket (needs `wrangler login`)", false)
  .addHelpText(
    "after",
    `
Each table keeps the bucket's layout: processed/{source}/{table}/metadata/ (version-hint.text, the
current vN.metadata.json, manifest list, manifests) and data/ (Parquet data and equality-delete files).
The metadata names files by absolute s3://commerce-lake/... URIs; DuckDB relocates them into the folder:
  duckdb -init <out>/lake.sql        (INSTALL/LOAD iceberg, one view per table)
  SELECT count(*) FROM iceberg_scan('<out>/processed/shopify/shopify_orders', allow_moved_paths = true);
PyIceberg resolves the s3:// paths itself: read the bucket through R2's S3 endpoint instead,
  StaticTable.from_metadata("s3://commerce-lake/processed/<source>/<table>/metadata/vN.metadata.json",
    properties={"s3.endpoint": "https://<ACCOUNT_ID>.r2.cloudflarestorage.com", ...})
(N from the table's version-hint.text; see docs/lake.md for its limits on delete files).`,
  )
  .action(async (opts) => {
    const { bucket, close } = await openBucket({ remote: opts.remote, persistTo: opts.persistTo });
    try {
      const result = await pullLake(bucket, opts.out, { tables: opts.table, log: (l) => console.log(`  ${l}`) });
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
