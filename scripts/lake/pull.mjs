// Copies the lake's processed tables out of an R2 bucket binding (local state or a deployed bucket,
// see scripts/lake.mjs) into a folder DuckDB opens: every table's current/ snapshot and schema
// document, the dt= change partitions of the last `days` UTC days, and lake.sql with one view per
// table. Keys become paths, so the folder has the bucket's layout and the README's queries work
// on it with the local path in place of r2://commerce-lake.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const DAY_MS = 86_400_000;

async function keysUnder(bucket, prefix) {
  const keys = [];
  let cursor;
  do {
    const page = await bucket.list({ prefix, cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return keys;
}

/** The UTC days from `days - 1` days before `now` to `now`'s day, oldest first. */
export function lastDays(now, days) {
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return Array.from({ length: days }, (_, i) => new Date(today - (days - 1 - i) * DAY_MS).toISOString().slice(0, 10));
}

/**
 * @param {{ list: Function, get: Function }} bucket an R2 bucket binding
 * @param {string} outDir
 * @param {{ days?: number, now?: Date, log?: (line: string) => void }} [options]
 * @returns {Promise<{ tables: string[], objects: number, bytes: number, sql: string }>}
 */
export async function pullLake(bucket, outDir, options = {}) {
  const days = options.days ?? 0;
  const log = options.log ?? (() => {});
  const out = resolve(outDir);
  let objects = 0;
  let bytes = 0;
  const copy = async (key) => {
    const object = await bucket.get(key);
    if (object === null) return; // deleted between list and get (a compaction replaced it)
    const body = new Uint8Array(await object.arrayBuffer());
    const path = join(out, ...key.split("/"));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body);
    objects++;
    bytes += body.byteLength;
  };

  const schemaKeys = (await keysUnder(bucket, "metadata/schemas/")).filter((k) => k.endsWith(".json")).sort();
  const views = ["SET TimeZone = 'UTC';"];
  const tables = [];
  for (const key of schemaKeys) {
    await copy(key);
    const object = await bucket.get(key);
    if (object === null) continue;
    const doc = JSON.parse(new TextDecoder().decode(await object.arrayBuffer()));
    const base = `processed/${doc.source}/${doc.table}/`;
    const current = await keysUnder(bucket, `${base}current/`);
    for (const k of current) await copy(k);
    let changes = 0;
    for (const day of days > 0 ? lastDays(options.now ?? new Date(), days) : []) {
      for (const k of await keysUnder(bucket, `${base}dt=${day}/`)) {
        await copy(k);
        changes++;
      }
    }
    tables.push(doc.table);
    const at = (rest) => join(out, ...base.split("/"), rest).replaceAll("'", "''");
    if (current.length > 0) {
      views.push(`CREATE OR REPLACE VIEW ${doc.table} AS SELECT * FROM read_parquet('${at("current/*.parquet")}');`);
    }
    if (changes > 0) {
      views.push(
        `CREATE OR REPLACE VIEW ${doc.table}_changes AS SELECT * FROM read_parquet('${at("dt=*/*.parquet")}', hive_partitioning = true, union_by_name = true);`,
      );
    }
    log(`${doc.table}: ${current.length} current part(s), ${changes} change part(s)`);
  }
  const sql = join(out, "lake.sql");
  mkdirSync(out, { recursive: true });
  writeFileSync(sql, `${views.join("\n")}\n`);
  return { tables, objects, bytes, sql };
}
