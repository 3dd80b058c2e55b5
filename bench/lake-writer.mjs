// Lake Parquet writer benchmark: 100,000 Shopify orders and their 500,000 line items (the two
// widest tables, as bench/compact.mjs makes them: what D1 hands the compact job) written three
// ways in one run, each in its own process so its peak memory (max RSS) is its own:
//   old     the compact job's PartBuffer (hyparquet-writer, a whole part in memory, 10,000-row parts;
//           its push converts D1 text, so its time includes that conversion);
//   ours    src/lake/parquet's streaming ParquetFileWriter (one file per table, BENCH_ROW_GROUP rows
//           per row group, Snappy) over rows already converted to Parquet values, streamed to a file;
//           `ours-plain` is the same without compression;
//   duckdb  DuckDB's COPY … TO parquet (Snappy, the same row-group size, 1 thread and then 2) from the
//           same typed rows already loaded into a DuckDB table: only the COPY is timed.
// Rows are made (and, for ours, converted) in batches of 1,000 outside the clock. The conversion
// D1 text -> Parquet values is timed on its own and printed, for comparing with old.
// BENCH_ORDERS (default 100000), BENCH_ROW_GROUP (default 20000). `--cpu-prof` profiles a side:
//   node --cpu-prof bench/lake-writer.mjs ours
import { spawnSync } from "node:child_process";
import { closeSync, createWriteStream, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./lib/bundle.mjs";

const ORDERS = Number(process.env.BENCH_ORDERS ?? 100_000);
const ROW_GROUP = Number(process.env.BENCH_ROW_GROUP ?? 20_000);
const LINES = 5;
const BATCH = 1000;
const OLD_PART_ROWS = 10_000;
const TABLES = [
  ["shopify_orders", 1],
  ["shopify_order_line_items", LINES],
];

/** A D1 value for a column, as the compact job reads it (bench/compact.mjs's rows, unchanged). */
function value(column, n, position) {
  if (column.nullable && (n + column.name.length) % 3 === 0 && !["currency", "updated_at"].includes(column.name)) {
    return null;
  }
  switch (column.kind) {
    case "timestamp":
      return new Date(Date.UTC(2026, 9, 1) + n * 25_000 + position * 1000).toISOString();
    case "int64":
      return String(column.name.endsWith("_minor") ? 1000 + ((n * 37) % 90_000) : (n % 17) + position);
    case "boolean":
      return n % 5 === 0 ? "1" : "0";
    case "json":
      return n % 4 === 0 ? '["vip","wholesale"]' : "[]";
    default:
      if (column.name === "shop") return "bench-shop.myshopify.com";
      if (column.name === "id") return String(820982911946154508n + BigInt(n * 10 + position));
      if (column.name.endsWith("_id")) return String(7390000000000000000n + BigInt(n));
      if (column.name === "currency") return n % 3 === 0 ? "EUR" : "USD";
      if (column.name === "origin") return "webhook";
      return `${column.name.replaceAll("_", " ")} ${n % 1000}`;
  }
}

function d1Row(spec, n, position) {
  const row = {};
  for (const c of spec.columns) row[c.name] = value(c, n, position);
  return row;
}

/** Calls `each(batch)` with the table's D1 rows, BATCH at a time, in order. */
async function batches(spec, perOrder, each) {
  const total = ORDERS * perOrder;
  for (let first = 0; first < total; first += BATCH) {
    const batch = [];
    for (let i = first; i < Math.min(total, first + BATCH); i++) {
      batch.push(d1Row(spec, Math.floor(i / perOrder), i % perOrder));
    }
    // Through JSON, as D1 hands rows over: flat strings, not the generator's concatenations
    // (a Map lookup of a concatenation flattens it first, which no D1 row would cost).
    await each(JSON.parse(JSON.stringify(batch)));
  }
}

async function specs() {
  return bundle("lake-writer-bench-specs", {
    COMPACT_TABLES: "src/cron/compact/tables.ts#COMPACT_TABLES",
    toParquetValue: "src/cron/compact/tables.ts#toParquetValue",
  });
}

async function old() {
  const { COMPACT_TABLES } = await specs();
  const { PartBuffer } = await bundle("lake-writer-bench-old", {
    PartBuffer: "src/cron/compact/parquet.ts#PartBuffer",
  });
  const baseRss = process.memoryUsage().rss;
  let ms = 0;
  let cpu = 0;
  let bytes = 0;
  let rows = 0;
  let peakHeap = 0;
  for (const [table, perOrder] of TABLES) {
    const spec = COMPACT_TABLES.find((t) => t.table === table);
    const buffer = new PartBuffer(spec);
    const meta = { "commerce.table": table };
    await batches(spec, perOrder, (batch) => {
      const start = performance.now();
      const startCpu = cpuMs();
      for (const row of batch) buffer.push(row);
      if (buffer.rows >= OLD_PART_ROWS) bytes += buffer.encode(meta).byteLength;
      ms += performance.now() - start;
      cpu += cpuMs() - startCpu;
      rows += batch.length;
      peakHeap = Math.max(peakHeap, heapBytes());
    });
    const start = performance.now();
    const startCpu = cpuMs();
    if (buffer.rows > 0) bytes += buffer.encode(meta).byteLength;
    ms += performance.now() - start;
    cpu += cpuMs() - startCpu;
  }
  return { rows, ms, cpu, bytes, baseRss, peakHeap };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The JS heap and array buffers in use: what a Worker's 128 MB is counted against, roughly. */
const heapBytes = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** `api`: "rows" pushes objects keyed by column (push), "values" arrays in column order (pushValues). */
async function ours(dir, compression, api) {
  const { COMPACT_TABLES, toParquetValue } = await specs();
  const { ParquetFileWriter } = await bundle("lake-writer-bench-ours", {
    ParquetFileWriter: "src/lake/parquet/index.ts#ParquetFileWriter",
  });
  const baseRss = process.memoryUsage().rss;
  let ms = 0;
  let cpu = 0;
  let convertMs = 0;
  let bytes = 0;
  let rows = 0;
  let peakHeap = 0;
  for (const [table, perOrder] of TABLES) {
    const spec = COMPACT_TABLES.find((t) => t.table === table);
    const columns = spec.columns.map((c, i) => ({ ...c, fieldId: i + 1 }));
    const fd = openSync(join(dir, `${table}.ours.parquet`), "w");
    const sink = { write: async (chunk) => void writeSync(fd, chunk) };
    const writer = new ParquetFileWriter({
      columns,
      rowGroupRows: ROW_GROUP,
      keyValueMetadata: { "commerce.table": table },
      createdBy: "lake-writer bench",
      sink,
      compression,
    });
    await batches(spec, perOrder, async (d1) => {
      let start = performance.now();
      const batch =
        api === "values"
          ? d1.map((r) => spec.columns.map((c) => toParquetValue(spec, c, r[c.name])))
          : d1.map((r) => {
              const row = {};
              for (const c of spec.columns) row[c.name] = toParquetValue(spec, c, r[c.name]);
              return row;
            });
      convertMs += performance.now() - start;
      start = performance.now();
      const startCpu = cpuMs();
      for (const row of batch) {
        const flushed = api === "values" ? writer.pushValues(row) : writer.push(row);
        if (flushed !== undefined) await flushed;
      }
      ms += performance.now() - start;
      cpu += cpuMs() - startCpu;
      rows += batch.length;
      peakHeap = Math.max(peakHeap, heapBytes());
    });
    const start = performance.now();
    const startCpu = cpuMs();
    bytes += (await writer.finish()).bytes;
    ms += performance.now() - start;
    cpu += cpuMs() - startCpu;
    closeSync(fd);
  }
  return { rows, ms, cpu, bytes, baseRss, convertMs, peakHeap };
}

async function duckdb(dir) {
  const { COMPACT_TABLES } = await specs();
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  const conn = await instance.connect();
  const SQL_TYPE = {
    string: "VARCHAR",
    json: "JSON",
    timestamp: "TIMESTAMPTZ",
    int64: "BIGINT",
    boolean: "BOOLEAN",
    float64: "DOUBLE",
  };
  // The typed rows as JSON lines (int64 as bare digits, json lists as lists), loaded into a table.
  const line = (spec, row) => {
    const parts = spec.columns.map((c) => {
      const v = row[c.name];
      const text =
        v === null
          ? "null"
          : c.kind === "int64"
            ? v
            : c.kind === "boolean"
              ? String(v === "1")
              : c.kind === "json"
                ? v
                : JSON.stringify(v);
      return `${JSON.stringify(c.name)}:${text}`;
    });
    return `{${parts.join(",")}}\n`;
  };
  for (const [table, perOrder] of TABLES) {
    const spec = COMPACT_TABLES.find((t) => t.table === table);
    const file = join(dir, `${table}.jsonl`);
    const stream = createWriteStream(file);
    await batches(spec, perOrder, async (batch) => {
      if (!stream.write(batch.map((r) => line(spec, r)).join(""))) await new Promise((r) => stream.once("drain", r));
    });
    await new Promise((r) => stream.end(r));
    const columns = spec.columns.map((c) => `${JSON.stringify(c.name)}: '${SQL_TYPE[c.kind]}'`).join(", ");
    await conn.run(`CREATE TABLE ${table} AS SELECT * FROM read_json('${file}', columns = {${columns}})`);
    rmSync(file);
  }
  const results = {};
  for (const threads of [1, 2]) {
    await conn.run(`SET threads = ${threads}`);
    const start = performance.now();
    const startCpu = cpuMs();
    let bytes = 0;
    for (const [table] of TABLES) {
      const out = join(dir, `${table}.duckdb.parquet`);
      await conn.run(`COPY ${table} TO '${out}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${ROW_GROUP})`);
      bytes += statSync(out).size;
    }
    results[threads] = { ms: performance.now() - start, cpu: cpuMs() - startCpu, bytes };
  }
  conn.closeSync();
  const [one, two] = [results[1], results[2]];
  return { rows: ORDERS * (1 + LINES), ms: one.ms, cpu: one.cpu, bytes: one.bytes, ms2: two.ms };
}

/** DuckDB reads our files back: row counts and a checksum of every column against its own files. */
async function verify(dir) {
  const { COMPACT_TABLES } = await specs();
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const conn = await (await DuckDBInstance.create(":memory:")).connect();
  const problems = [];
  for (const [table] of TABLES) {
    const spec = COMPACT_TABLES.find((t) => t.table === table);
    const sums = spec.columns.map((c) => `hash(list(${JSON.stringify(c.name)}::VARCHAR ORDER BY id))`).join(", ");
    const digest = async (which) =>
      JSON.stringify(
        (await conn.runAndReadAll(`SELECT count(*), ${sums} FROM '${join(dir, `${table}.${which}.parquet`)}'`))
          .getRowsJson()
          .at(0),
      );
    if ((await digest("ours")) !== (await digest("duckdb"))) problems.push(table);
  }
  conn.closeSync();
  return problems;
}

function side(mode, dir) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), mode, dir], {
    encoding: "utf8",
    env: { ...process.env, BENCH_ORDERS: String(ORDERS) },
    maxBuffer: 1 << 24,
  });
  if (child.status !== 0) throw new Error(`${mode} failed:\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").pop());
}

export async function run() {
  const dir = mkdtempSync(join(tmpdir(), "lake-writer-bench-"));
  try {
    const res = {};
    for (const mode of ["ours", "ours-values", "ours-plain", "duckdb", "old"]) {
      try {
        res[mode] = side(mode, dir);
      } catch (error) {
        console.log(`  ${mode}: not run (${String(error.message).split("\n").slice(0, 3).join(" ")})`);
      }
    }
    // Wall-clock rows/s, and rows per CPU-second (steadier on a shared machine).
    const rate = (x, ms = x.ms) => (x.rows * 1000) / ms;
    const mb = (b) => (b / 2 ** 20).toFixed(1);
    console.log(`lake-writer: ${ORDERS} orders + ${ORDERS * LINES} line items, row groups of ${ROW_GROUP}`);
    console.log(
      `  ${"".padEnd(26)} ${"rows/s".padStart(8)} ${"rows/cpu-s".padStart(10)} ${"MiB out".padStart(8)} ${"peak RSS".padStart(9)} ${"peak heap".padStart(9)}`,
    );
    const print = (label, x, note = "") =>
      console.log(
        `  ${label.padEnd(26)} ${rate(x).toFixed(0).padStart(8)} ${rate(x, x.cpu).toFixed(0).padStart(10)} ${mb(x.bytes).padStart(8)} ${`${(x.maxRssKb / 1024).toFixed(0)} MiB`.padStart(9)} ${(x.peakHeap ? `${mb(x.peakHeap)} MiB` : "").padStart(9)}${note}`,
      );
    if (res.ours) print("ours, push(row)", res.ours);
    if (res["ours-values"]) print("ours, pushValues(array)", res["ours-values"]);
    if (res["ours-plain"]) print("ours, pushValues, no snappy", res["ours-plain"]);
    if (res.duckdb) {
      print("duckdb COPY, 1 thread", res.duckdb, "  (RSS holds the loaded table)");
      console.log(
        `  ${"duckdb COPY, 2 threads".padEnd(26)} ${rate(res.duckdb, res.duckdb.ms2).toFixed(0).padStart(8)}`,
      );
    }
    if (res.old) print("old PartBuffer", res.old, "  (its time includes D1 text -> values)");
    const base = res.ours ?? res["ours-values"];
    if (base) {
      const rss = (x) => `${((x.maxRssKb * 1024 - x.baseRss) / 2 ** 20).toFixed(0)} MiB`;
      console.log(
        `  peak RSS above the process before writing: ours ${rss(base)}${res.old ? `, old ${rss(res.old)}` : ""}`,
      );
      console.log(`  D1 text -> values (the caller's, not timed above): ${base.convertMs.toFixed(0)} ms`);
    }
    for (const [label, x] of [
      ["push(row)", res.ours],
      ["pushValues", res["ours-values"]],
    ]) {
      if (!x) continue;
      if (res.duckdb) {
        console.log(
          `  ${label}: ours/duckdb(1 thread) = ${(rate(x) / rate(res.duckdb)).toFixed(2)} wall, ${(rate(x, x.cpu) / rate(res.duckdb, res.duckdb.cpu)).toFixed(2)} cpu; ours/duckdb(2 threads) = ${(rate(x) / rate(res.duckdb, res.duckdb.ms2)).toFixed(2)}`,
        );
      }
      if (res.old) {
        const withConversion = x.rows / ((x.ms + x.convertMs) / 1000);
        console.log(
          `  ${label}: ours/old = ${(rate(x) / rate(res.old)).toFixed(2)}; with the conversion old includes, ${(withConversion / rate(res.old)).toFixed(2)}`,
        );
      }
    }
    if (res.ours && res.duckdb) {
      const problems = await verify(dir);
      console.log(
        `  DuckDB reads ours back equal to its own: ${problems.length === 0 ? "yes" : `NO (${problems.join(", ")})`}`,
      );
    }
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [mode, dir] = process.argv.slice(2);
const SIDES = {
  old: () => old(),
  ours: () => ours(dir, "snappy", "rows"),
  "ours-values": () => ours(dir, "snappy", "values"),
  "ours-plain": () => ours(dir, "none", "values"),
  duckdb: () => duckdb(dir),
};
if (mode in SIDES) {
  const res = await SIDES[mode]();
  console.log(JSON.stringify({ ...res, maxRssKb: process.resourceUsage().maxRSS }));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}
