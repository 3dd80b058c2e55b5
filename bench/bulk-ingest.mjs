// Bulk-ingest benchmark: a generated gzipped bulk-export JSONL (orders with line items as
// `__parentId` child lines, some far from their parent) of 10 MB and 200 MB (uncompressed),
// written on the fly to bench/out/ (git-ignored), streamed through the coordinator's own
// passes — streamArchive (gunzip + line split + id scan, each parent held in a window with the
// children that follow it, then parse + map to the webhook rows + the D1 statements, sent to a D1
// that only counts them; strays staged in SQLite, node:sqlite standing in for the Durable Object's)
// and, for the parents strays named, collectStrays + applyBatch — each run in a fresh process so
// its peak memory (max RSS) is its own.
// Baseline in the same run: zlib gunzip + readline + JSON.parse per line over the same file. Also the
// floor of the design (Worker streams, id scan, the 1,000-parent window, JSON.parse; no mapping, no SQL).
// Goals: peak memory flat (200 MB within 1.5x of 10 MB, under 128 MB); throughput >= 0.7x baseline.
// Each run is a fresh Node process with the same V8 heap cap (64 MB old space), like a Worker isolate.
import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createGunzip, createGzip } from "node:zlib";
import { bundle } from "./lib/bundle.mjs";

const OUT = fileURLToPath(new URL("./out/", import.meta.url));
const SIZES_MB = (process.env.BENCH_BULK_SIZES_MB ?? "10,200").split(",").map(Number);
const SHOP = "bench-bulk.myshopify.com";

// ---- data ----------------------------------------------------------------------------------

function money(amount) {
  return { shopMoney: { amount, currencyCode: "USD" }, presentmentMoney: { amount, currencyCode: "USD" } };
}

/** Yields JSONL text chunks: orders (parents) and their line items, children up to ~200 lines late. */
function* generate(targetBytes) {
  let written = 0;
  let id = 5_000_000_000_000n;
  let pending = []; // [dueAtOrder, line]
  for (let n = 0; written < targetBytes; n++) {
    const orderId = `gid://shopify/Order/${id++}`;
    const at = new Date(Date.UTC(2025, 0, 1) + n * 60_000).toISOString().replace(".000Z", "Z");
    const order = {
      id: orderId,
      name: `#${1000 + n}`,
      confirmationNumber: `C${n}`,
      // The customer's address: 5,000 customers, each with several orders (as in a real shop).
      email: `Buyer${n % 5000}@Example.com`,
      phone: null,
      createdAt: at,
      updatedAt: at,
      processedAt: at,
      closedAt: null,
      cancelledAt: null,
      cancelReason: null,
      displayFinancialStatus: "PAID",
      displayFulfillmentStatus: n % 3 ? "FULFILLED" : "UNFULFILLED",
      test: false,
      confirmed: true,
      customerAcceptsMarketing: n % 2 === 0,
      currencyCode: "USD",
      presentmentCurrencyCode: "USD",
      totalPriceSet: money("129.95"),
      subtotalPriceSet: money("119.95"),
      totalDiscountsSet: money("10.00"),
      totalTaxSet: money("9.60"),
      totalShippingPriceSet: money("5.00"),
      currentTotalPriceSet: money("129.95"),
      discountCodes: n % 4 ? [] : ["WELCOME10"],
      tags: n % 5 ? ["online"] : ["Subscription", "online"],
      note: n % 7 ? null : "Leave at the door, please.",
      paymentGatewayNames: ["shopify_payments"],
      sourceName: "web",
      customerJourneySummary: {
        firstVisit: {
          landingPage: `https://shop.example/?utm_source=news&utm_campaign=c${n % 9}`,
          referrerUrl: "https://www.google.com/",
        },
      },
      shippingAddress: {
        city: "Ottawa",
        province: "Ontario",
        provinceCode: "ON",
        zip: "K2P 1L4",
        country: "Canada",
        countryCodeV2: "CA",
      },
      billingAddress: {
        city: "Ottawa",
        province: "Ontario",
        provinceCode: "ON",
        zip: "K2P 1L4",
        country: "Canada",
        countryCodeV2: "CA",
      },
      customer: {
        id: `gid://shopify/Customer/${7_000_000 + (n % 5000)}`,
        numberOfOrders: String(1 + (n % 9)),
        amountSpent: money("500.00").shopMoney,
      },
    };
    let chunk = `${JSON.stringify(order)}\n`;
    const items = 2 + (n % 5);
    for (let l = 0; l < items; l++) {
      const line = JSON.stringify({
        id: `gid://shopify/LineItem/${id++}`,
        sku: `SKU-${l}-${n % 100}`,
        title: `Product ${l}`,
        variantTitle: "M / Blue",
        vendor: "Bench Vendor",
        quantity: 1 + (l % 3),
        isGiftCard: false,
        product: { id: `gid://shopify/Product/${100 + l}` },
        variant: { id: `gid://shopify/ProductVariant/${200 + l}` },
        originalUnitPriceSet: money("19.99"),
        totalDiscountSet: money("0.00"),
        __parentId: orderId,
      });
      // Most children follow their parent; every 10th arrives ~200 orders later.
      if (l === 1 && n % 10 === 0) pending.push([n + 200, line]);
      else chunk += `${line}\n`;
    }
    while (pending.length > 0 && pending[0][0] <= n) chunk += `${pending.shift()[1]}\n`;
    written += chunk.length;
    yield chunk;
  }
  for (const [, line] of pending) yield `${line}\n`;
  pending = [];
}

export async function writeData(mb) {
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, `bulk-${mb}mb.jsonl.gz`);
  await pipeline(Readable.from(generate(mb * 1024 * 1024)), createGzip({ level: 1 }), createWriteStream(file));
  return file;
}

// ---- child runs ----------------------------------------------------------------------------

/** Baseline 1: Node's native gunzip and readline, JSON.parse per line. */
async function baselineNative(file) {
  const rl = createInterface({
    input: createReadStream(file).pipe(createGunzip()),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lines = 0;
  let sink = 0;
  for await (const line of rl) {
    if (line.length === 0) continue;
    sink += JSON.parse(line).id.length;
    lines++;
  }
  return { lines, sink };
}

/** Baseline 2: the Worker's stream primitives (DecompressionStream, the same line splitter), JSON.parse per line. */
async function baselineStream(file, m) {
  const text = await m.gunzipIfNeeded(Readable.toWeb(createReadStream(file)));
  let lines = 0;
  let sink = 0;
  for await (const batch of m.jsonlLines(text)) {
    for (const line of batch.lines) {
      sink += JSON.parse(line).id.length;
      lines++;
    }
  }
  return { lines, sink };
}

/**
 * Floor of the design: what the pipeline does before any mapping or SQL. The Worker streams, the
 * line splitter and the id scan, each parent held in a window of the last 1,000 with the children
 * that follow it, and JSON.parse of the parent and its children as it leaves the window.
 */
async function floorWindow(file, m) {
  const text = await m.gunzipIfNeeded(Readable.toWeb(createReadStream(file)));
  const queue = [];
  let head = 0;
  const window = new Map();
  let lines = 0;
  let sink = 0;
  const evict = () => {
    const p = queue[head++];
    if (window.get(p.id) === p) window.delete(p.id);
    sink += JSON.parse(p.line).id.length;
    for (const kid of p.kids) sink += JSON.parse(kid).id.length;
    if (head >= 1024) {
      queue.splice(0, head);
      head = 0;
    }
  };
  for await (const batch of m.jsonlLines(text)) {
    for (const line of batch.lines) {
      lines++;
      const ids = m.lineIds(line);
      if (ids.parentId === null) {
        const p = { id: ids.id, line, kids: [] };
        queue.push(p);
        window.set(ids.id, p);
        if (queue.length - head > 1000) evict();
      } else {
        const p = window.get(ids.parentId);
        if (p) p.kids.push(line);
        else sink += JSON.parse(line).id.length;
      }
    }
  }
  while (head < queue.length) evict();
  return { lines, sink };
}

const MODULES = {
  lineIds: "src/durable/bulk/stream.ts#lineIds",
  gunzipIfNeeded: "src/durable/bulk/stream.ts#gunzipIfNeeded",
  jsonlLines: "src/durable/bulk/stream.ts#jsonlLines",
  JobStore: "src/durable/job-store.ts#JobStore",
  newJob: "src/durable/job.ts#newJob",
  streamArchive: "src/durable/bulk/stage.ts#streamArchive",
  collectStrays: "src/durable/bulk/stage.ts#collectStrays",
  applyBatch: "src/durable/bulk/apply.ts#applyBatch",
  parseSubscriptionRules: "src/mapping/shopify.ts#parseSubscriptionRules",
};

/** A D1 binding that only counts: the bench measures the coordinator's work, not the network. */
function countingD1() {
  const d1 = {
    statements: 0,
    batches: 0,
    prepare: () => {
      // Reads (the privacy check for erased people) find nothing, as in a pipeline that erased nobody.
      const st = { bind: () => st, first: async () => null, all: async () => ({ results: [] }) };
      return st;
    },
    batch: async (statements) => {
      d1.statements += statements.length;
      d1.batches++;
      return statements.map(() => ({ meta: { changes: 1 }, results: [] }));
    },
  };
  return d1;
}

async function ours(file, m) {
  const { DatabaseSync } = await import("node:sqlite");
  const dbFile = `${file}.stage.sqlite`;
  rmSync(dbFile, { force: true });
  const db = new DatabaseSync(dbFile);
  // A Durable Object commits to local SQLite without an fsync per transaction (durability
  // comes from replication before output is released); synchronous=OFF is the closest match.
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;");
  const statements = new Map();
  // Rows written to the coordinator's SQLite (a Durable Object bills each one): staged lines and window rows.
  const rowsWritten = { lines: 0, window: 0 };
  // What each statement text writes, read once per text (the count is the bench's, not the coordinator's work).
  const writes = new Map();
  const writesOf = (query) => {
    let w = writes.get(query);
    if (w === undefined) {
      const into = /^\s*INSERT(?: OR \w+)? INTO (lines|window|staged)_/.exec(query)?.[1];
      w = into ? { kind: into === "window" ? "window" : "lines", rows: (query.match(/\(\?/g) ?? []).length } : null;
      writes.set(query, w);
    }
    return w;
  };
  const runner = {
    exec(query, ...params) {
      const w = writesOf(query);
      if (w) rowsWritten[w.kind] += w.rows;
      let st = statements.get(query);
      if (!st) {
        st = db.prepare(query);
        statements.set(query, st);
      }
      if (/^\s*SELECT/i.test(query)) return st.all(...params);
      st.run(...params);
      return [];
    },
    transaction(fn) {
      db.exec("BEGIN");
      try {
        const out = fn();
        db.exec("COMMIT");
        return out;
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    },
  };
  const store = new m.JobStore(runner);
  const now = () => new Date().toISOString();
  const init = { id: "bo_bench", backfillId: "bf_bench", shop: SHOP, resource: "orders", since: null };
  let job = { ...m.newJob(init, now()), status: "staging", r2Key: "bench/result.jsonl.gz" };

  // The coordinator's own passes (src/durable/bulk/runner.ts), with the file standing in for the R2
  // object and its settings (src/durable/shop-coordinator.ts): 20,000-line chunks, 50 parents per D1 batch.
  const bucket = { get: async () => ({ body: Readable.toWeb(createReadStream(file)) }) };
  const d1 = countingD1();
  const mapContext = { subscriptions: m.parseSubscriptionRules("Subscription", ""), shopCurrency: "USD" };
  // The subject index entries are computed (hashed) as in the Worker; the shard calls answer at once.
  const index = async () => 0;
  const apply = {
    db: d1,
    store,
    mapContext,
    parentsPerBatch: 50,
    maxStatements: 400,
    now,
    privacyKey: "bench-key",
    index,
  };
  const stage = { bucket, store, chunkLines: 20_000, now };
  const t0 = performance.now();
  // Pass 1: stream, apply each parent with the children that follow it, stage the strays.
  for (;;) {
    const out = await m.streamArchive({ ...stage, apply }, job);
    job = out.job;
    if (out.kind === "done") break;
  }
  const stagedRows = store.stagedCount(job.id);
  const t1 = performance.now();
  // Pass 2, only for the parents strays named: read again, join in SQLite, apply again whole.
  if (stagedRows > 0) {
    job = { ...job, status: "applying", collectedLines: 0, applyAfterLine: -1 };
    for (;;) {
      const out = await m.collectStrays(stage, job);
      job = out.job;
      if (out.kind === "done") break;
    }
    for (;;) {
      const out = await m.applyBatch(apply, job);
      job = out.job;
      if (out.kind === "done") break;
    }
  }
  const t2 = performance.now();
  db.close();
  rmSync(dbFile, { force: true });
  rmSync(`${dbFile}-wal`, { force: true });
  rmSync(`${dbFile}-shm`, { force: true });
  return {
    lines: job.linesRead,
    entities: job.entitiesApplied,
    rows: job.rowsApplied,
    invalid: job.invalid,
    stagedRows,
    rowsWritten,
    d1Statements: d1.statements,
    d1Batches: d1.batches,
    stageMs: t1 - t0,
    mapMs: t2 - t1,
  };
}

async function child(mode, file, bundled) {
  const m = mode === "native" ? null : await import(bundled);
  const start = performance.now();
  const result =
    mode === "native"
      ? await baselineNative(file)
      : mode === "stream"
        ? await baselineStream(file, m)
        : mode === "floor"
          ? await floorWindow(file, m)
          : await ours(file, m);
  const ms = performance.now() - start;
  const mu = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({ ...result, ms, maxRssMb: process.resourceUsage().maxRSS / 1024, heapTotalMb: mu.heapTotal / 1048576, externalMb: mu.external / 1048576 })}\n`,
  );
}

function measure(mode, file, bundled) {
  // Every run gets the same V8 heap cap, near a Worker isolate's 128 MB: V8 otherwise grows its heap
  // lazily when there is room, and RSS would measure that headroom instead of what the run holds. A
  // run that kept the file (or a growing share of it) in memory would fail under this cap.
  const heap = ["--max-old-space-size=64", "--max-semi-space-size=4"];
  const args = ["--no-warnings", ...heap, fileURLToPath(import.meta.url), "--child", mode, file, bundled];
  const out = spawnSync(process.execPath, args, {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (out.status !== 0) throw new Error(`${mode} run failed:\n${out.stderr}`);
  return JSON.parse(out.stdout.trim().split("\n").pop());
}

export async function run() {
  // Bundled once here, so no child pays for (or measures the memory of) esbuild.
  await bundle("bulk-ingest", MODULES);
  const bundled = pathToFileURL(join(OUT, "bulk-ingest.bundle.mjs")).href;
  const results = [];
  for (const mb of SIZES_MB) {
    const file = await writeData(mb);
    const gzMb = statSync(file).size / 1024 / 1024;
    const native = measure("native", file, bundled);
    const stream = measure("stream", file, bundled);
    const floor = measure("floor", file, bundled);
    const mine = measure("pipeline", file, bundled);
    const base = native;
    rmSync(file, { force: true });
    const mbps = (r) => mb / (r.ms / 1000);
    results.push({ mb, base, stream, floor, mine });
    console.log(
      `  ${String(mb).padStart(4)} MB JSONL (${gzMb.toFixed(1)} MB gz, ${mine.lines} lines, ${mine.entities} orders, ${mine.rows} rows, invalid ${mine.invalid}; ` +
        `${mine.stagedRows} strays staged, ${mine.d1Statements} D1 statements in ${mine.d1Batches} batches; ` +
        `rows written to the coordinator's SQLite: ${mine.rowsWritten.lines} lines + ${mine.rowsWritten.window} window)`,
    );
    console.log(
      `       baseline native gunzip+readline+JSON.parse ${mbps(base).toFixed(1).padStart(6)} MB/s  peak RSS ${base.maxRssMb.toFixed(0).padStart(4)} MB`,
    );
    console.log(
      `       baseline Worker streams+JSON.parse         ${mbps(stream).toFixed(1).padStart(6)} MB/s  peak RSS ${stream.maxRssMb.toFixed(0).padStart(4)} MB`,
    );
    console.log(
      `       floor (streams + id scan + window + parse) ${mbps(floor).toFixed(1).padStart(6)} MB/s  peak RSS ${floor.maxRssMb.toFixed(0).padStart(4)} MB` +
        `  = ${(mbps(floor) / mbps(base)).toFixed(2)}x native (the design before any mapping or SQL)`,
    );
    console.log(
      `       pipeline (stream + parse + map + SQL)      ${mbps(mine).toFixed(1).padStart(6)} MB/s  peak RSS ${mine.maxRssMb.toFixed(0).padStart(4)} MB` +
        `  (pass 1 ${(mine.stageMs / 1000).toFixed(2)} s, pass 2 for ${mine.stagedRows} strays ${(mine.mapMs / 1000).toFixed(2)} s)`,
    );
    console.log(
      `       ratio pipeline/native ${(mbps(mine) / mbps(base)).toFixed(2)}x, pipeline/Worker-streams ${(mbps(mine) / mbps(stream)).toFixed(2)}x; ` +
        `pass 1 alone ${(mb / (mine.stageMs / 1000)).toFixed(1)} MB/s = ${(mb / (mine.stageMs / 1000) / mbps(base)).toFixed(2)}x native`,
    );
  }
  const small = results.find((r) => r.mb === Math.min(...SIZES_MB));
  const large = results.find((r) => r.mb === Math.max(...SIZES_MB));
  if (small && large && small !== large) {
    const growth = large.mine.maxRssMb / small.mine.maxRssMb;
    console.log(
      `  peak memory ${large.mb} MB / ${small.mb} MB = ${growth.toFixed(2)}x (goal <= 1.5x), ${large.mine.maxRssMb.toFixed(0)} MB (goal < 128 MB); ` +
        `throughput ratio at ${large.mb} MB = ${(large.base.ms / large.mine.ms).toFixed(2)}x native baseline, ` +
        `${(large.stream.ms / large.mine.ms).toFixed(2)}x Worker-streams baseline (goal >= 0.7x native); ` +
        `the design's floor is ${(large.base.ms / large.floor.ms).toFixed(2)}x native, and mapping + SQL + hashing take ` +
        `${(((large.mine.ms - large.floor.ms) / large.mine.ms) * 100).toFixed(0)}% of the pipeline's time`,
    );
  }
  return results;
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") await child(argv[1], argv[2], argv[3]);
else if (import.meta.url === `file://${process.argv[1]}`) await run();
