// Copies the lake's Iceberg tables out of an R2 bucket binding (local state or a deployed bucket,
// see scripts/lake.mjs) into a folder with the bucket's layout: for every table its current
// snapshot, whole (the version hint, that metadata file, its manifest list, the manifests, and
// every data and delete file they name as live), plus the schema documents, and lake.sql with one
// view per table over DuckDB's iceberg_scan. Keys become paths. The metadata names every file by
// its absolute s3://commerce-lake/… URI, as the bucket serves them; a local reader relocates them
// into the folder (DuckDB: allow_moved_paths), since each file sits under its table's metadata/ or
// data/ folder exactly as in the bucket. Only the current snapshot is copied: the metadata still
// lists older snapshots, whose files stay in the bucket (time travel reads the bucket, not this).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { avroMetadata, avroRead } from "icebird";

const HINT = "metadata/version-hint.text";
/** Times a table is read again when one of its files vanished mid-copy (a commit or upkeep ran). */
const ATTEMPTS = 3;

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

async function bytesOf(bucket, key) {
  const object = await bucket.get(key);
  return object === null ? null : new Uint8Array(await object.arrayBuffer());
}

class Vanished extends Error {}

async function mustRead(bucket, key) {
  const bytes = await bytesOf(bucket, key);
  if (bytes === null) throw new Vanished(key);
  return bytes;
}

/** The records of an Avro object container file (a manifest list or a manifest). */
async function avroRecords(bytes) {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  const { metadata, syncMarker } = await avroMetadata(reader);
  return avroRead({ reader, metadata, syncMarker });
}

/**
 * The table at `base` (`processed/{namespace}/{table}/`) as its current snapshot: the metadata
 * objects (held, they are small) and the keys of its live data and delete files. Null when the
 * table has no version hint yet.
 */
async function snapshotOf(bucket, base) {
  const hint = await bytesOf(bucket, `${base}${HINT}`);
  if (hint === null) return null;
  const text = new TextDecoder().decode(hint).trim();
  if (!/^\d+$/.test(text)) throw new Error(`${base}${HINT} holds "${text.slice(0, 20)}", not a version number`);
  const version = Number(text);
  const metadataKey = `${base}metadata/v${version}.metadata.json`;
  const metadataBytes = await mustRead(bucket, metadataKey);
  const metadata = JSON.parse(new TextDecoder().decode(metadataBytes));
  // The bucket's root URI: the table's location less its key (`s3://commerce-lake/`).
  const location = String(metadata.location).replace(/\/+$/, "");
  const tableKey = base.replace(/\/$/, "");
  if (!location.endsWith(`/${tableKey}`)) throw new Error(`${metadataKey}: location ${location} is not ${tableKey}`);
  const root = location.slice(0, -tableKey.length);
  const keyOf = (uri) => {
    if (!uri.startsWith(root)) throw new Error(`${metadataKey} names ${uri}, outside the bucket ${root}`);
    return uri.slice(root.length);
  };
  const meta = new Map([[metadataKey, metadataBytes]]);
  const id = metadata["current-snapshot-id"];
  const snapshot =
    id === null || id === undefined || id < 0 ? undefined : metadata.snapshots?.find((s) => s["snapshot-id"] === id);
  const files = [];
  if (snapshot !== undefined) {
    const listKey = keyOf(snapshot["manifest-list"]);
    const list = await mustRead(bucket, listKey);
    meta.set(listKey, list);
    for (const manifest of await avroRecords(list)) {
      const manifestKey = keyOf(manifest.manifest_path);
      const bytes = await mustRead(bucket, manifestKey);
      meta.set(manifestKey, bytes);
      // Status 2 entries record files the snapshot removed: no longer part of the table.
      for (const entry of await avroRecords(bytes)) {
        if (entry.status !== 2) files.push(keyOf(entry.data_file.file_path));
      }
    }
  }
  return { version, snapshotId: snapshot === undefined ? null : snapshot["snapshot-id"], meta, files, hint };
}

/**
 * @param {{ list: Function, get: Function }} bucket an R2 bucket binding
 * @param {string} outDir
 * @param {{ tables?: string[], log?: (line: string) => void }} [options]
 * @returns {Promise<{ tables: { namespace: string, table: string, version: number, snapshotId: number | null, keys: string[] }[], objects: number, bytes: number, sql: string }>}
 */
export async function pullLake(bucket, outDir, options = {}) {
  const log = options.log ?? (() => {});
  const out = resolve(outDir);
  let objects = 0;
  let bytes = 0;
  const write = (key, body) => {
    const path = join(out, ...key.split("/"));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body);
    objects++;
    bytes += body.byteLength;
  };

  // The schema documents name every table the compact job writes, and where it lives.
  const schemaKeys = (await keysUnder(bucket, "metadata/schemas/")).filter((k) => k.endsWith(".json")).sort();
  const views = [
    "-- The lake's Iceberg tables in this folder (npm run lake -- pull): duckdb -init lake.sql",
    "INSTALL iceberg;",
    "LOAD iceberg;",
    "SET TimeZone = 'UTC';",
  ];
  const tables = [];
  for (const key of schemaKeys) {
    const body = await bytesOf(bucket, key);
    if (body === null) continue;
    const doc = JSON.parse(new TextDecoder().decode(body));
    if (options.tables !== undefined && !options.tables.includes(doc.table)) continue;
    write(key, body);
    const base = typeof doc.location === "string" ? doc.location : `processed/${doc.source}/${doc.table}/`;
    // Data and delete files first, then the metadata, then the hint: a folder cut short has no
    // hint naming files it lacks. A file gone mid-copy (a commit or lake-upkeep ran) means reading
    // the table again from its new hint; files already copied are kept (names are never reused).
    let table = null;
    const copied = new Set();
    for (let attempt = 1; table === null; attempt++) {
      try {
        const snapshot = await snapshotOf(bucket, base);
        if (snapshot === null) break;
        for (const k of snapshot.files) {
          if (copied.has(k)) continue;
          write(k, await mustRead(bucket, k));
          copied.add(k);
        }
        table = snapshot;
      } catch (err) {
        if (!(err instanceof Vanished) || attempt >= ATTEMPTS) throw err;
        log(`${doc.table}: ${err.message} vanished (a commit ran): reading the table again`);
      }
    }
    if (table === null) {
      log(`${doc.table}: no Iceberg table yet`);
      continue;
    }
    const hintKey = `${base}${HINT}`;
    for (const [k, b] of table.meta) write(k, b);
    write(hintKey, table.hint);
    tables.push({
      namespace: doc.source,
      table: doc.table,
      version: table.version,
      snapshotId: table.snapshotId,
      keys: [...table.files, ...table.meta.keys(), hintKey],
    });
    const at = join(out, ...base.split("/").filter((p) => p !== "")).replaceAll("'", "''");
    views.push(`CREATE OR REPLACE VIEW ${doc.table} AS SELECT * FROM iceberg_scan('${at}', allow_moved_paths = true);`);
    log(`${doc.table}: v${table.version}, ${table.files.length} data and delete file(s)`);
  }
  const sql = join(out, "lake.sql");
  mkdirSync(out, { recursive: true });
  writeFileSync(sql, `${views.join("\n")}\n`);
  return { tables, objects, bytes, sql };
}
