// Compaction benchmark: 100,000 Shopify orders with 5 line items each (600,000 rows of the two
// widest tables, every column as D1 hands it to the job: text, integers as text, 0/1 flags)
// encoded by the compact job's own Parquet writer (PartBuffer, parts of PART_ROWS), against a
// baseline in the same run: DuckDB writing the same rows to Parquet from a JSON file. Each side
// runs in its own process, so peak memory (max RSS) is its own. Also: Parquet bytes per order
// against the raw webhook JSON bytes of the same orders. D1 reads are not part of either side.
// BENCH_ORDERS (default 100000) orders; BENCH_ROUNDS (default 1) runs per side.
import { spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./lib/bundle.mjs";

const ORDERS = Number(process.env.BENCH_ORDERS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const LINES = 5;

/** A D1 value for a column, as the compact job reads it (everything text), NULL for a third of the optional ones. */
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

function rowsOf(spec, n, position) {
  const row = {};
  for (const c of spec.columns) row[c.name] = value(c, n, position);
  return row;
}

/** The webhook body Shopify would have sent for the order: what raw/ keeps per event. */
function rawOrderBytes(n) {
  const lines = Array.from(
    { length: LINES },
    (_, i) =>
      `{"id":${820982911946154508n + BigInt(n * 10 + i + 1)},"product_id":632910392,"variant_id":808950810,"sku":"SKU-${i}","title":"Line ${i}","quantity":${1 + (i % 3)},"price":"${(10 + i).toFixed(2)}","total_discount":"0.00","gift_card":false,"fulfillment_status":null,"tax_lines":[],"discount_allocations":[]}`,
  ).join(",");
  const body = `{"id":${820982911946154508n + BigInt(n * 10)},"name":"#${1000 + n}","order_number":${1000 + n},"email":"buyer${n}@example.com","customer":{"id":${7390000000000000000n + BigInt(n)},"email":"buyer${n}@example.com","orders_count":3,"total_spent":"120.00","currency":"USD"},"created_at":"2026-10-01T10:00:00-04:00","updated_at":"2026-10-01T10:05:00-04:00","processed_at":"2026-10-01T10:00:00-04:00","financial_status":"paid","fulfillment_status":null,"test":false,"confirmed":true,"currency":"USD","total_price":"65.00","subtotal_price":"60.00","total_line_items_price":"60.00","total_discounts":"0.00","total_tax":"0.00","total_shipping_price_set":{"shop_money":{"amount":"5.00","currency_code":"USD"}},"discount_codes":[],"tags":"","source_name":"web","landing_site":"/?utm_source=google&utm_medium=cpc","referring_site":"https://www.google.com/","shipping_address":{"city":"Ottawa","province":"Ontario","province_code":"ON","zip":"K2P 1L4","country":"Canada","country_code":"CA"},"billing_address":{"city":"Ottawa","province":"Ontario","province_code":"ON","zip":"K2P 1L4","country":"Canada","country_code":"CA"},"line_items":[${lines}]}`;
  // The archive wraps the body with the event's fields.
  return Buffer.byteLength(body) + 230;
}

async function ours() {
  const { COMPACT_TABLES, PartBuffer, PART_ROWS } = await bundle("compact-bench", {
    COMPACT_TABLES: "src/cron/compact/tables.ts#COMPACT_TABLES",
    PartBuffer: "src/cron/compact/parquet.ts#PartBuffer",
    PART_ROWS: "src/cron/compact/compact.ts#PART_ROWS",
  });
  const orders = COMPACT_TABLES.find((t) => t.table === "shopify_orders");
  const items = COMPACT_TABLES.find((t) => t.table === "shopify_order_line_items");
  // Rows are made a part at a time outside the clock, as D1 pages would arrive; the clock runs
  // over what the job does with them: conversion, column buffers, encoding.
  let ms = 0;
  let bytes = 0;
  let rows = 0;
  for (const [spec, perOrder] of [
    [orders, 1],
    [items, LINES],
  ]) {
    const buffer = new PartBuffer(spec);
    const meta = { "commerce.table": spec.table, "commerce.dt": "2026-10-01", "commerce.run_id": "bench" };
    const total = ORDERS * perOrder;
    for (let first = 0; first < total; first += PART_ROWS) {
      const page = [];
      for (let i = first; i < Math.min(total, first + PART_ROWS); i++) {
        page.push(rowsOf(spec, Math.floor(i / perOrder), i % perOrder));
      }
      const start = performance.now();
      for (const row of page) buffer.push(row);
      bytes += buffer.encode(meta).byteLength;
      ms += performance.now() - start;
      rows += page.length;
    }
  }
  return { rows, ms, bytes };
}

async function duckdb() {
  const { COMPACT_TABLES } = await bundle("compact-bench-specs", {
    COMPACT_TABLES: "src/cron/compact/tables.ts#COMPACT_TABLES",
  });
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const dir = mkdtempSync(join(tmpdir(), "compact-bench-"));
  try {
    const typed = (spec, row) => {
      const out = {};
      for (const c of spec.columns) {
        const v = row[c.name];
        out[c.name] = v === null ? null : c.kind === "int64" ? Number(v) : c.kind === "boolean" ? v === "1" : v;
      }
      return out;
    };
    const files = [];
    for (const [table, perOrder] of [
      ["shopify_orders", 1],
      ["shopify_order_line_items", LINES],
    ]) {
      const spec = COMPACT_TABLES.find((t) => t.table === table);
      const file = join(dir, `${table}.json`);
      const stream = createWriteStream(file);
      for (let n = 0; n < ORDERS; n++) {
        for (let p = 0; p < perOrder; p++) {
          if (!stream.write(`${JSON.stringify(typed(spec, rowsOf(spec, n, p)))}\n`)) {
            await new Promise((r) => stream.once("drain", r));
          }
        }
      }
      await new Promise((r) => stream.end(r));
      files.push([table, file]);
    }
    const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
    const conn = await instance.connect();
    const start = performance.now();
    let bytes = 0;
    for (const [table, file] of files) {
      const out = join(dir, `${table}.parquet`);
      await conn.run(
        `COPY (SELECT * FROM read_json('${file}', format = 'newline_delimited')) TO '${out}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 10000)`,
      );
      bytes += statSync(out).size;
    }
    const ms = performance.now() - start;
    conn.closeSync();
    return { rows: ORDERS * (1 + LINES), ms, bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function side(mode) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), mode], {
    encoding: "utf8",
    env: { ...process.env, BENCH_ORDERS: String(ORDERS) },
    maxBuffer: 1 << 24,
  });
  if (child.status !== 0) throw new Error(`${mode} failed:\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").pop());
}

export async function run() {
  const results = { ours: [], duckdb: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 === 0 ? ["ours", "duckdb"] : ["duckdb", "ours"]) {
      const res = side(mode);
      results[mode].push(res);
      console.log(
        `  round ${r + 1} ${mode.padEnd(6)} ${res.rows} rows in ${res.ms.toFixed(0)} ms, ${(res.bytes / 1e6).toFixed(1)} MB Parquet, peak RSS ${(res.maxRssKb / 1024).toFixed(0)} MB`,
      );
    }
  }
  const best = (xs) => xs.reduce((a, b) => (a.ms <= b.ms ? a : b));
  const o = best(results.ours);
  const d = best(results.duckdb);
  let raw = 0;
  for (let n = 0; n < ORDERS; n++) raw += rawOrderBytes(n);
  const rate = (x) => (x.rows * 1000) / x.ms;
  console.log(`compact: ${ORDERS} orders x ${LINES} line items (${o.rows} rows), best of ${ROUNDS}`);
  console.log(
    `  compact job  ${rate(o).toFixed(0).padStart(7)} rows/s   peak RSS ${(o.maxRssKb / 1024).toFixed(0)} MB   ${(o.bytes / ORDERS).toFixed(0)} Parquet bytes/order`,
  );
  console.log(
    `  duckdb       ${rate(d).toFixed(0).padStart(7)} rows/s   peak RSS ${(d.maxRssKb / 1024).toFixed(0)} MB   ${(d.bytes / ORDERS).toFixed(0)} Parquet bytes/order (JSON file -> Parquet, 1 thread)`,
  );
  console.log(
    `  ratio compact/duckdb rows/s = ${(rate(o) / rate(d)).toFixed(2)}; raw webhook JSON ${(raw / ORDERS).toFixed(0)} bytes/order, Parquet/raw = ${(o.bytes / raw).toFixed(3)}`,
  );
  return { ours: rate(o), duckdb: rate(d), bytesPerOrder: o.bytes / ORDERS, rawPerOrder: raw / ORDERS };
}

const mode = process.argv[2];
if (mode === "ours" || mode === "duckdb") {
  const res = mode === "ours" ? await ours() : await duckdb();
  console.log(JSON.stringify({ ...res, maxRssKb: process.resourceUsage().maxRSS }));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}
