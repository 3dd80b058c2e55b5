// Reconciliation benchmark: a window of 10,000 changed orders in one shop, of which a few hundred
// never reached the pipeline (never delivered: missing in D1; or an update lost: stale in D1).
// The real reconcile code (src/cron/reconcile/shopify.ts, bundled with esbuild) runs against the
// fake Admin API through the coordinator's ShopifyAdmin client and RateBudget, with D1 played by
// node:sqlite carrying the real migrations. Time on the API side is simulated: a virtual clock
// advances when the rate budget waits, so the run takes CPU time only and "API time" is what the
// same calls would take at Shopify's standard restore rate (100 points/s, bucket 2,000).
// Printed: wall time, simulated API time, points and requests, repaired vs withheld, and then
// everything repaired is applied through the Shopify mapper and a second run must find 0 drift.
// Baseline in the same run: the same code against an empty D1, i.e. reconciling without the
// id + updated_at comparison (every changed order fetched in full and re-sent).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { bundle } from "./lib/bundle.mjs";

const ORDERS = Number(process.env.BENCH_ORDERS ?? 10_000);
const MISSING = Number(process.env.BENCH_MISSING ?? 400);
const STALE = Number(process.env.BENCH_STALE ?? 100);
const SHOP = "bench-reconcile.myshopify.com";
const NOW = Date.parse("2026-11-20T12:00:00.000Z");
const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");

export async function run() {
  const m = await bundle("reconcile", {
    reconcileShopifyShop: "src/cron/reconcile/shopify.ts#reconcileShopifyShop",
    cronSettings: "src/shared/settings.ts#cronSettings",
    ShopifyAdmin: "src/durable/admin-graphql.ts#ShopifyAdmin",
    RateBudget: "src/durable/rate-budget.ts#RateBudget",
    RunBudget: "src/cron/reconcile/budget.ts#RunBudget",
    FakeShopifyAdmin: "test/fakes/shopify-admin.ts#FakeShopifyAdmin",
    makeShopData: "test/fakes/shopify-data.ts#makeShopData",
    mapShopifyEvent: "src/mapping/shopify.ts#mapShopifyEvent",
    shopifyStatements: "src/tables/shopify.ts#shopifyStatements",
  });

  const data = m.makeShopData(SHOP, { orders: ORDERS, lineItemsPerOrder: 3 });
  // The window: every order changed within the last hour, oldest first.
  const start = NOW - 55 * 60_000;
  data.orders.forEach((o, i) => {
    o.updatedAt = new Date(start + Math.floor((i * 50 * 60_000) / ORDERS)).toISOString().replace(/\.\d{3}Z$/, "Z");
  });
  // Withheld from webhooks: every k-th order never delivered, the next one delivered in an older version.
  const step = Math.floor(ORDERS / (MISSING + STALE));
  const missing = new Set();
  const stale = new Set();
  for (let i = 0; i < MISSING + STALE; i++) (i < MISSING ? missing : stale).add(i * step);

  const ours = await reconcileOnce(m, data, (d1) => seedDelivered(d1, data, missing, stale));
  const baseline = await reconcileOnce(m, data, () => {});

  // Apply what ours repaired through the mapper, then reconcile the same window again.
  const applied = applyRepairs(m, ours.d1, ours.sent);
  const again = await reconcileOnce(m, data, () => {}, ours.d1);

  const line = (name, r) =>
    `  ${name.padEnd(9)} wall ${String(r.wallMs).padStart(6)} ms   API time ${r.apiSeconds.toFixed(1).padStart(7)} s   ` +
    `points ${String(r.points).padStart(7)}   requests ${String(r.requests).padStart(5)}   THROTTLED ${r.throttled}   ` +
    `looked at ${r.tally.lookedAt}   missing ${r.tally.missing}   stale ${r.tally.stale}   repaired ${r.tally.repaired}`;
  console.log(
    `  ${ORDERS} changed orders in the window; withheld from webhooks: ${MISSING} never delivered + ${STALE} updates lost = ${MISSING + STALE}`,
  );
  console.log(line("reconcile", ours));
  console.log(line("baseline", baseline));
  console.log(line("re-run", again));
  console.log(
    `  repaired ${ours.tally.repaired} of ${MISSING + STALE} withheld (${ours.tally.repaired === MISSING + STALE ? "equal" : "MISMATCH"}); ` +
      `${applied} applied through the mapper; re-run drift ${again.tally.missing + again.tally.stale}`,
  );
  console.log(
    `  ratio baseline/reconcile: points ${(baseline.points / ours.points).toFixed(1)}x, API time ${(baseline.apiSeconds / ours.apiSeconds).toFixed(1)}x, ` +
      `wall ${(baseline.wallMs / ours.wallMs).toFixed(1)}x`,
  );
  return { ours: strip(ours), baseline: strip(baseline), again: strip(again) };
}

const strip = ({ d1: _d1, sent: _sent, ...r }) => r;

async function reconcileOnce(m, data, seed, existing) {
  const d1 = existing ?? freshD1();
  seed(d1);
  const clock = new VirtualClock(NOW);
  const fake = new m.FakeShopifyAdmin(SHOP, data, { bucketSize: 2000, restoreRate: 100, now: () => clock.now() });
  const admin = new m.ShopifyAdmin({
    shop: SHOP,
    token: fake.token,
    apiVersion: "2026-01",
    url: `https://${SHOP}/admin/api/2026-01/graphql.json`,
    fetch: (input, init) => fake.handle(new Request(input, init)),
    clock,
    budget: new m.RateBudget(clock),
  });
  const sent = [];
  const env = {
    DB: d1,
    EVENTS: {
      sendBatch: async (msgs) => void sent.push(...[...msgs].map((x) => x.body)),
      send: async (b) => void sent.push(b),
    },
    LAKE: null,
    METRICS: undefined,
    RECONCILE_LOOKBACK_MINUTES: "60",
    RECONCILE_MAX_PAGES: "1000",
  };
  // The whole window in one go (what a window costs, not what one 30 s run reads): a budget with no
  // wall-time bound on the virtual clock; subrequests and D1 queries are not metered here.
  const budget = new m.RunBudget(Number.MAX_SAFE_INTEGER, 1000, () => clock.now()).scope(1);
  const ctx = { env, settings: m.cronSettings(env), runId: "bench", now: new Date(NOW), budget };
  const wall = performance.now();
  const report = await m.reconcileShopifyShop(ctx, SHOP, (q, v, o) => admin.request(q, v, o), "2026-01");
  const wallMs = Math.round(performance.now() - wall);
  if (report.status !== "ok") throw new Error(`reconcile ended ${report.status}: ${report.note ?? report.error}`);
  return {
    d1,
    sent,
    wallMs,
    apiSeconds: (clock.now() - NOW) / 1000,
    points: fake.stats.pointsCharged,
    requests: fake.stats.requests,
    throttled: fake.stats.throttled,
    tally: report.resources.orders,
  };
}

/** What the webhooks did deliver: every order but the missing ones, the stale ones a minute older. */
function seedDelivered(d1, data, missing, stale) {
  const insert = d1.sqlite.prepare(
    "INSERT INTO shopify_orders (shop, id, updated_at, last_event_id, event_at, origin) VALUES (?, ?, ?, 'webhook', ?, 'webhook')",
  );
  d1.sqlite.exec("BEGIN");
  data.orders.forEach((o, i) => {
    if (missing.has(i)) return;
    const at = Date.parse(o.updatedAt) - (stale.has(i) ? 60_000 : 0);
    const iso = new Date(at).toISOString();
    insert.run(SHOP, o.id.split("/").pop(), iso, iso);
  });
  d1.sqlite.exec("COMMIT");
}

function applyRepairs(m, d1, envelopes) {
  let n = 0;
  const ctx = { subscriptions: { tags: [], skus: [] }, shopCurrency: null };
  for (const e of envelopes) {
    const mapped = m.mapShopifyEvent(
      "order",
      e.body,
      { shop: SHOP, eventId: e.eventId, eventAt: e.eventAt, origin: "reconcile" },
      ctx,
    );
    if (!mapped.ok) throw new Error(`repaired order did not map: ${mapped.detail}`);
    d1.batchSync(m.shopifyStatements(d1, mapped.rows));
    n++;
  }
  return n;
}

/** Virtual time: a timer fires on the next turn with the clock moved to its due time. */
class VirtualClock {
  constructor(t) {
    this.t = t;
  }
  now() {
    return this.t;
  }
  setTimeout(fn, ms) {
    const handle = { at: this.t + ms, cancelled: false };
    setImmediate(() => {
      if (handle.cancelled) return;
      this.t = Math.max(this.t, handle.at);
      fn();
    });
    return handle;
  }
  clearTimeout(handle) {
    if (handle) handle.cancelled = true;
  }
}

/** The part of the D1 API the reconcile and apply code uses, over node:sqlite. */
function freshD1() {
  const sqlite = new DatabaseSync(":memory:");
  const dir = join(root, "migrations");
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith(".sql"))
    .sort())
    sqlite.exec(readFileSync(join(dir, f), "utf8"));
  const norm = (params) => params.map((v) => (v === undefined ? null : typeof v === "boolean" ? Number(v) : v));
  class Statement {
    constructor(sql, params = []) {
      this.sql = sql;
      this.params = params;
    }
    bind(...params) {
      return new Statement(this.sql, params);
    }
    rows() {
      return sqlite.prepare(this.sql).all(...norm(this.params));
    }
    async all() {
      return { success: true, results: this.rows(), meta: {} };
    }
    async first(column) {
      const row = sqlite.prepare(this.sql).get(...norm(this.params));
      if (!row) return null;
      return column ? row[column] : row;
    }
    async run() {
      const info = sqlite.prepare(this.sql).run(...norm(this.params));
      return { success: true, results: [], meta: { changes: Number(info.changes) } };
    }
    async raw() {
      return this.rows().map((r) => Object.values(r));
    }
  }
  const d1 = {
    sqlite,
    prepare: (sql) => new Statement(sql),
    batchSync(statements) {
      sqlite.exec("BEGIN");
      try {
        const out = statements.map((s) => ({ success: true, results: s.rows(), meta: {} }));
        sqlite.exec("COMMIT");
        return out;
      } catch (err) {
        sqlite.exec("ROLLBACK");
        throw err;
      }
    },
    async batch(statements) {
      return d1.batchSync(statements);
    },
  };
  return d1;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
