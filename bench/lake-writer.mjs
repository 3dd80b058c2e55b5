// Lake Parquet writer benchmark: 100,000 Shopify orders and their 500,000 line items (the two
// widest tables, with bench/compact.mjs's rows: what D1 hands the compact job) written three ways
// in one run, each in its own process so its memory is its own:
//   ours    src/lake/parquet's ParquetFileWriter, one file per table, BENCH_ROW_GROUP rows a row
//           group, Snappy, streamed to a file; rows already converted to Parquet values, pushed as
//           objects (push) and, separately, as arrays in column order (pushValues);
//   duckdb  DuckDB's COPY … TO parquet (Snappy, the same row-group size) from the same typed rows
//           already loaded into a DuckDB table: only the COPY is timed, on 1 thread and then 2;
//   old     the compact job's PartBuffer (hyparquet-writer, 10,000-row parts encoded whole); its push
//           converts D1 text, so its time includes the conversion (printed apart for ours).
// Rows are made (and converted) 1,000 at a time outside the clock. Wall and CPU time are both
// printed: CPU time is steadier on a shared machine. Memory: `ours-live` measures the JS heap and
// array buffers left after a full GC each time a row group is done (what the writer holds), and
// `ours-capped` runs with V8's heap capped far under a Worker's 128 MB; max RSS is printed for all.
// The column lists are fixed here, not read from the schema, so figures compare across commits.
// BENCH_ORDERS (default 100000), BENCH_ROW_GROUP (default 20000), BENCH_ROUNDS (default 1: best
// of n for the timed sides). A side alone, e.g. to profile: node --cpu-prof bench/lake-writer.mjs ours /tmp/dir
import { spawnSync } from "node:child_process";
import { closeSync, createWriteStream, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./lib/bundle.mjs";

const ORDERS = Number(process.env.BENCH_ORDERS ?? 100_000);
const ROW_GROUP = Number(process.env.BENCH_ROW_GROUP ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const LINES = 5;
const BATCH = 1000;
const OLD_PART_ROWS = 10_000;

/** `name:kind`, `?` when nullable: shopify_orders and shopify_order_line_items as of this bench. */
const TABLES = [
  {
    table: "shopify_orders",
    perOrder: 1,
    columns: `shop:string id:string name:string? order_number:int64? confirmation_number:string? email:string?
      phone:string? customer_id:string? customer_orders_count:int64? customer_total_spent_minor:int64?
      created_at:timestamp? processed_at:timestamp? closed_at:timestamp? cancelled_at:timestamp?
      cancel_reason:string? financial_status:string? fulfillment_status:string? test:boolean? confirmed:boolean?
      buyer_accepts_marketing:boolean? currency:string? presentment_currency:string? total_price_minor:int64?
      subtotal_price_minor:int64? total_line_items_price_minor:int64? total_discounts_minor:int64?
      total_tax_minor:int64? total_shipping_minor:int64? current_total_price_minor:int64? discount_codes:json?
      tags:json? note:string? payment_gateway_names:json? source_name:string? referring_site:string?
      landing_site:string? landing_site_ref:string? utm_source:string? utm_medium:string? utm_campaign:string?
      utm_content:string? utm_term:string? checkout_token:string? cart_token:string? shipping_city:string?
      shipping_province:string? shipping_province_code:string? shipping_zip:string? shipping_country:string?
      shipping_country_code:string? billing_city:string? billing_province:string? billing_province_code:string?
      billing_zip:string? billing_country:string? billing_country_code:string? line_item_count:int64?
      total_quantity:int64? is_subscription:boolean? subscription_type:string? updated_at:timestamp
      deleted_at:timestamp? last_event_id:string event_at:timestamp origin:string`,
  },
  {
    table: "shopify_order_line_items",
    perOrder: LINES,
    columns: `shop:string id:string order_id:string position:int64 product_id:string? variant_id:string? sku:string?
      title:string? variant_title:string? vendor:string? quantity:int64 currency:string? price_minor:int64?
      discount_minor:int64? gift_card:boolean? fulfillment_status:string? updated_at:timestamp
      deleted_at:timestamp? last_event_id:string event_at:timestamp origin:string`,
  },
].map((t) => ({
  ...t,
  columns: t.columns
    .trim()
    .split(/\s+/)
    .map((c, i) => {
      const [name, kind] = c.split(":");
      return { name, kind: kind.replace("?", ""), nullable: kind.endsWith("?"), fieldId: i + 1 };
    }),
}));

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

/** The Parquet value of a D1 value (what the compact job's toParquetValue gives, without its checks). */
function toValue(column, text) {
  if (text === null) return null;
  switch (column.kind) {
    case "timestamp":
      return BigInt(Date.parse(text));
    case "int64":
      return BigInt(text);
    case "boolean":
      return text === "1";
    case "json":
      return JSON.parse(text);
    default:
      return text;
  }
}

/** Calls `each(batch)` with the table's D1 rows, BATCH at a time, in order. */
async function batches(spec, each) {
  const total = ORDERS * spec.perOrder;
  for (let first = 0; first < total; first += BATCH) {
    const batch = [];
    for (let i = first; i < Math.min(total, first + BATCH); i++) {
      const row = {};
      for (const c of spec.columns) row[c.name] = value(c, Math.floor(i / spec.perOrder), i % spec.perOrder);
      batch.push(row);
    }
    // Through JSON, as D1 hands rows over: flat strings, not the generator's concatenations.
    await each(JSON.parse(JSON.stringify(batch)));
  }
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The JS heap and array buffers left after a full GC (the side runs with --expose-gc). */
const liveBytes = () => {
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** A clock for the timed parts only: wall and CPU time. */
function clock() {
  const t = { ms: 0, cpu: 0 };
  return {
    t,
    async time(f) {
      const start = performance.now();
      const startCpu = cpuMs();
      await f();
      t.ms += performance.now() - start;
      t.cpu += cpuMs() - startCpu;
    },
  };
}

/**
 * `api`: "rows" pushes objects keyed by column (push), "values" arrays in column order
 * (pushValues). `live`: measure memory each time a row group reaches the sink.
 */
async function ours(dir, compression, api, live) {
  const { ParquetFileWriter } = await bundle("lake-writer-bench-ours", {
    ParquetFileWriter: "src/lake/parquet/index.ts#ParquetFileWriter",
  });
  const { t, time } = clock();
  const baseRss = process.memoryUsage().rss;
  const baseLive = live ? liveBytes() : 0;
  let peakLive = 0;
  let convertMs = 0;
  let bytes = 0;
  let rows = 0;
  for (const spec of TABLES) {
    const fd = openSync(join(dir, `${spec.table}.ours.parquet`), "w");
    const sink = {
      write: async (chunk) => {
        writeSync(fd, chunk);
        if (live) peakLive = Math.max(peakLive, liveBytes());
      },
    };
    const writer = new ParquetFileWriter({
      columns: spec.columns,
      rowGroupRows: ROW_GROUP,
      keyValueMetadata: { "commerce.table": spec.table },
      createdBy: "lake-writer bench",
      sink,
      compression,
    });
    await batches(spec, async (d1) => {
      const start = performance.now();
      const batch =
        api === "values"
          ? d1.map((r) => spec.columns.map((c) => toValue(c, r[c.name])))
          : d1.map((r) => {
              const row = {};
              for (const c of spec.columns) row[c.name] = toValue(c, r[c.name]);
              return row;
            });
      convertMs += performance.now() - start;
      await time(async () => {
        for (const row of batch) {
          const flushed = api === "values" ? writer.pushValues(row) : writer.push(row);
          if (flushed !== undefined) await flushed;
        }
      });
      rows += batch.length;
    });
    await time(async () => {
      bytes += (await writer.finish()).bytes;
    });
    closeSync(fd);
  }
  return { rows, ...t, bytes, convertMs, baseRss, baseLive, peakLive };
}

async function old() {
  const { PartBuffer } = await bundle("lake-writer-bench-old", {
    PartBuffer: "src/cron/compact/parquet.ts#PartBuffer",
  });
  const { t, time } = clock();
  const baseRss = process.memoryUsage().rss;
  let bytes = 0;
  let rows = 0;
  for (const spec of TABLES) {
    const buffer = new PartBuffer(spec);
    const meta = { "commerce.table": spec.table };
    const encode = () => {
      bytes += buffer.encode(meta).byteLength;
    };
    await batches(spec, async (batch) => {
      await time(() => {
        for (const row of batch) buffer.push(row);
        if (buffer.rows >= OLD_PART_ROWS) encode();
      });
      rows += batch.length;
    });
    await time(() => buffer.rows > 0 && encode());
  }
  return { rows, ...t, bytes, baseRss };
}

const SQL_TYPE = {
  string: "VARCHAR",
  json: "JSON",
  timestamp: "TIMESTAMPTZ",
  int64: "BIGINT",
  boolean: "BOOLEAN",
  float64: "DOUBLE",
};

async function duckdb(dir) {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  const conn = await instance.connect();
  // The typed rows as JSON lines (int64 as bare digits, json lists as lists), loaded into a table.
  const line = (spec, row) => {
    const fields = spec.columns.map((c) => {
      const v = row[c.name];
      const text =
        v === null || c.kind === "int64" || c.kind === "json"
          ? String(v)
          : c.kind === "boolean"
            ? String(v === "1")
            : JSON.stringify(v);
      return `${JSON.stringify(c.name)}:${text}`;
    });
    return `{${fields.join(",")}}\n`;
  };
  for (const spec of TABLES) {
    const file = join(dir, `${spec.table}.jsonl`);
    const stream = createWriteStream(file);
    await batches(spec, async (batch) => {
      if (!stream.write(batch.map((r) => line(spec, r)).join(""))) await new Promise((r) => stream.once("drain", r));
    });
    await new Promise((r) => stream.end(r));
    const columns = spec.columns.map((c) => `${JSON.stringify(c.name)}: '${SQL_TYPE[c.kind]}'`).join(", ");
    await conn.run(`CREATE TABLE ${spec.table} AS SELECT * FROM read_json('${file}', columns = {${columns}})`);
    rmSync(file);
  }
  const results = {};
  for (const threads of [1, 2]) {
    await conn.run(`SET threads = ${threads}`);
    const { t, time } = clock();
    let bytes = 0;
    for (const { table } of TABLES) {
      const out = join(dir, `${table}.duckdb.parquet`);
      await time(() =>
        conn.run(`COPY ${table} TO '${out}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${ROW_GROUP})`),
      );
      bytes += statSync(out).size;
    }
    results[threads] = { ...t, bytes };
  }
  conn.closeSync();
  const [one, two] = [results[1], results[2]];
  return { rows: ORDERS * (1 + LINES), ms: one.ms, cpu: one.cpu, bytes: one.bytes, ms2: two.ms };
}

/** DuckDB reads our files back: row counts and a hash of every column, against its own files. */
async function verify(dir) {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const conn = await (await DuckDBInstance.create(":memory:")).connect();
  const problems = [];
  for (const spec of TABLES) {
    const hashes = spec.columns.map((c) => `hash(list(${JSON.stringify(c.name)}::VARCHAR ORDER BY id))`).join(", ");
    const digest = async (which) => {
      const file = join(dir, `${spec.table}.${which}.parquet`);
      return JSON.stringify((await conn.runAndReadAll(`SELECT count(*), ${hashes} FROM '${file}'`)).getRowsJson());
    };
    if ((await digest("ours")) !== (await digest("duckdb"))) problems.push(spec.table);
  }
  conn.closeSync();
  return problems;
}

/** A V8 heap far under a Worker's 128 MB (old space 32 MB, young 3 × 4 MB): the run must still finish. */
const CAPPED = ["--max-old-space-size=32", "--max-semi-space-size=4"];

function side(mode, dir) {
  const flags = { "ours-live": ["--expose-gc"], "ours-capped": CAPPED }[mode] ?? [];
  const child = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), mode, dir], {
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
    const keep = (mode, x) => {
      if (!res[mode] || x.ms < res[mode].ms) res[mode] = x;
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ["ours", "ours-values", "duckdb"]) keep(mode, side(mode, dir));
    }
    for (const mode of ["ours-plain", "old", "ours-live", "ours-capped"]) {
      try {
        res[mode] = side(mode, dir);
      } catch (error) {
        console.log(`  ${mode}: not run (${String(error.message).split("\n").slice(0, 4).join(" ")})`);
      }
    }
    const rate = (x, ms = x.ms) => (x.rows * 1000) / ms;
    const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `lake-writer: ${ORDERS} orders + ${ORDERS * LINES} line items, row groups of ${ROW_GROUP}, best of ${ROUNDS}`,
    );
    console.log(`  ${"".padEnd(28)} ${"rows/s".padStart(8)} ${"rows/cpu-s".padStart(10)} ${"output".padStart(10)}`);
    const print = (label, x, note = "") =>
      console.log(
        `  ${label.padEnd(28)} ${rate(x).toFixed(0).padStart(8)} ${rate(x, x.cpu).toFixed(0).padStart(10)} ${mib(x.bytes).padStart(10)}${note}`,
      );
    if (res.ours) print("ours, push(row)", res.ours);
    if (res["ours-values"]) print("ours, pushValues(array)", res["ours-values"]);
    if (res["ours-plain"]) print("ours, pushValues, no Snappy", res["ours-plain"]);
    if (res.duckdb) {
      print("duckdb COPY, 1 thread", res.duckdb);
      console.log(
        `  ${"duckdb COPY, 2 threads".padEnd(28)} ${rate(res.duckdb, res.duckdb.ms2).toFixed(0).padStart(8)}`,
      );
    }
    if (res.old) print("old PartBuffer", res.old, "  (includes D1 text -> values)");
    if (res.ours) console.log(`  D1 text -> values, not timed for ours: ${(res.ours.convertMs / 1000).toFixed(1)} s`);
    for (const [label, x] of [
      ["push(row)", res.ours],
      ["pushValues", res["ours-values"]],
    ]) {
      if (!x) continue;
      const parts = [];
      if (res.duckdb) {
        parts.push(
          `ours/duckdb ${(rate(x) / rate(res.duckdb)).toFixed(2)} wall, ${(rate(x, x.cpu) / rate(res.duckdb, res.duckdb.cpu)).toFixed(2)} cpu (2 DuckDB threads: ${(rate(x) / rate(res.duckdb, res.duckdb.ms2)).toFixed(2)})`,
        );
      }
      if (res.old) {
        // Old's time includes turning D1 text into values; ours with that conversion added compares like for like.
        const converted = (x.rows * 1000) / (x.ms + x.convertMs);
        parts.push(
          `ours/old ${(rate(x) / rate(res.old)).toFixed(2)} (${(converted / rate(res.old)).toFixed(2)} with the conversion)`,
        );
      }
      console.log(`  ${label}: ${parts.join("; ")}`);
    }
    const rss = (x) => `max RSS ${(x.maxRssKb / 1024).toFixed(0)} MiB (${mib(x.baseRss)} before writing)`;
    const live = res["ours-live"];
    if (live) {
      console.log(
        `  ours, live memory at row-group ends: ${mib(live.peakLive)} at most (${mib(live.peakLive - live.baseLive)} over the ${mib(live.baseLive)} before writing)`,
      );
    }
    if (res["ours-capped"])
      console.log(`  ours, V8 heap capped (${CAPPED.join(" ")}): finished, ${rss(res["ours-capped"])}`);
    if (res.ours) console.log(`  ours, uncapped: ${rss(res.ours)}`);
    if (res.old) console.log(`  old: ${rss(res.old)}`);
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
  ours: () => ours(dir, "snappy", "rows", false),
  "ours-values": () => ours(dir, "snappy", "values", false),
  "ours-plain": () => ours(dir, "none", "values", false),
  "ours-live": () => ours(dir, "snappy", "rows", true),
  "ours-capped": () => ours(dir, "snappy", "rows", false),
  duckdb: () => duckdb(dir),
  old: () => old(),
};
if (mode in SIDES) {
  const res = await SIDES[mode]();
  console.log(JSON.stringify({ ...res, maxRssKb: process.resourceUsage().maxRSS }));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}
