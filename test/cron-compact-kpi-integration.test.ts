import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runCompact } from "../src/cron/compact/compact";
import { PEOPLE_VIEWS } from "../src/cron/compact/kpi-people";
import { KPI_VIEWS } from "../src/cron/compact/kpi-views";
import * as kpis from "../src/cron/compact/kpis";
import { runUpkeep, type UpkeepOptions } from "../src/cron/compact/upkeep";
import { inInvocation, onStatement, type StatementCost } from "./fakes/limits";
import { lakeFiles, lakeMetadata, readLakeTable } from "./helpers/iceberg-read";
import { expectSnapshotsEqualD1 } from "./helpers/kpi-snapshots";

// The KPI snapshots follow their inputs: `compact` marks a view owed when it commits a table the
// view reads, and `lake-upkeep` replaces the view's table with the view as D1 computes it. Rows of
// their own: currency XPT (no other test writes it), ids prefixed `kpilake-`, days in May 2031.

/** A view whose refresh spends this many more D1 queries: past the run's KPI budget (KPI_QUERIES, 400). */
const heavy = { view: null as string | null, queries: 450 };
const writeSnapshot = kpis.writeKpiSnapshot;

beforeEach(() => {
  vi.spyOn(kpis, "writeKpiSnapshot").mockImplementation(async (...a) => {
    const report = await writeSnapshot(...a);
    // A large per-person view pages through D1: here one view reads as much as a big one would.
    if (a[2].table === heavy.view) for (let i = 0; i < heavy.queries; i++) await a[0].DB.prepare("SELECT 1").first();
    return report;
  });
});

afterEach(() => {
  heavy.view = null;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const SHOP = "kpilake.myshopify.com";
const MRR_VIEWS = KPI_VIEWS.filter((v) => v.inputs.includes("recharge_subscriptions")).map((v) => v.table);
const MRR_KEY = "source, subscription_id, effective_at";
const ORDER_VIEWS = KPI_VIEWS.filter((v) => v.inputs.includes("shopify_orders")).map((v) => v.table);

let runs = 0;
const runId = (job: string) => `${job}-kpi-test-${++runs}`;

async function compact(tables: string[]) {
  const result = await inInvocation("job compact", () =>
    runCompact(env, { runId: runId("compact"), now: new Date() }, { tables }),
  );
  if (result.skipped) throw new Error("compact was skipped");
  return result;
}

async function upkeep(options: UpkeepOptions = {}) {
  const result = await inInvocation("job lake-upkeep", () =>
    runUpkeep(env, { runId: runId("upkeep"), now: new Date() }, options),
  );
  if (result.skipped) throw new Error("lake-upkeep was skipped");
  expect(result.failed).toEqual([]);
  return result;
}

async function owed(): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT table_name FROM lake_changes WHERE dt = 'snapshot' AND table_name LIKE 'analytics_%' ORDER BY table_name",
  ).all<{ table_name: string }>();
  return results.map((r) => r.table_name);
}

async function seed() {
  const at = "2031-05-02T08:00:00.000Z";
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO customer_profiles (id, email, created_at, updated_at, last_event_id) VALUES ('kpilake-p1', 'p1@kpilake.test', ?1, ?1, 'kpilake-e0')",
    ).bind(at),
    env.DB.prepare(
      `INSERT INTO customer_identities (source, external_id, shop, profile_id, matched_by, created_at, updated_at, last_event_id)
       VALUES ('shopify', 'kpilake-sc1', ?1, 'kpilake-p1', 'email', ?2, ?2, 'kpilake-e0'),
              ('recharge', 'kpilake-c1', '', 'kpilake-p1', 'email', ?2, ?2, 'kpilake-e0')`,
    ).bind(SHOP, at),
    env.DB.prepare(
      `INSERT INTO shopify_orders (shop, id, customer_id, currency, total_price_minor, financial_status, utm_source,
         landing_site, created_at, processed_at, updated_at, event_at, last_event_id, origin)
       VALUES (?1, 'kpilake-o1', 'kpilake-sc1', 'XPT', 9007199254740993, 'paid', 'kpilake', 'https://x.test/p?q=1', ?2, ?2, ?2, ?2, 'kpilake-e1', 'webhook'),
              (?1, 'kpilake-o2', 'kpilake-sc1', 'XPT', -500, 'refunded', NULL, NULL, ?3, ?3, ?3, ?3, 'kpilake-e2', 'webhook')`,
    ).bind(SHOP, at, "2031-05-02T09:30:00.123Z"),
    env.DB.prepare(
      `INSERT INTO recharge_subscriptions (id, customer_id, status, currency, price_minor, quantity, order_interval_unit,
         order_interval_frequency, charge_interval_frequency, max_retries_reached, created_at, updated_at, last_event_id)
       VALUES ('kpilake-1', 'kpilake-c1', 'active', 'XPT', 750, 2, 'month', 1, 1, 1, ?1, ?1, 'kpilake-e3')`,
    ).bind(at),
  ]);
}

describe("KPI views in the lake", () => {
  it("snapshots every view as D1 computes it, and refreshes the views of a changed input, replacing their rows", async () => {
    await seed();
    const inputs = [
      "customer_profiles",
      "customer_identities",
      "shopify_orders",
      "recharge_subscriptions",
      "subscription_mrr_history",
    ];
    await compact(inputs);
    // Every view reads one of them: all are owed.
    expect(await owed()).toEqual(KPI_VIEWS.map((v) => v.table).sort());
    const first = await upkeep({ kpiRefreshHours: 0 });
    expect(first.snapshots.map((s) => s.view).sort()).toEqual(KPI_VIEWS.map((v) => v.table).sort());
    expect(await owed()).toEqual([]);
    await expectSnapshotsEqualD1(KPI_VIEWS.map((v) => v.table));

    // The seeded rows are in it, exact: ids text, money in minor units (past 2^53 too), instants.
    const orders = (await readLakeTable("kpi", "analytics_customer_orders")).filter(
      (r) => r.profile_id === "kpilake-p1",
    );
    expect(orders.map((r) => [r.id, r.gross_minor, r.order_number, r.occurred_at])).toEqual([
      ["kpilake-o1", 9007199254740993n, 1n, new Date("2031-05-02T08:00:00.000Z")],
      ["kpilake-o2", -500n, 2n, new Date("2031-05-02T09:30:00.123Z")],
    ]);
    const mrr = (await readLakeTable("kpi", "analytics_subscription_mrr")).filter(
      (r) => r.subscription_id === "kpilake-1",
    );
    expect(mrr).toEqual([
      {
        source: "recharge",
        subscription_id: "kpilake-1",
        customer_id: "kpilake-c1",
        currency: "XPT",
        effective_at: new Date("2031-05-02T08:00:00.000Z"),
        mrr_minor: 1500n,
        change_minor: 1500n,
      },
    ]);
    expect(
      (await readLakeTable("kpi", "analytics_customers_at_risk")).filter((r) => r.subscription_id === "kpilake-1"),
    ).toEqual([expect.objectContaining({ profile_id: "kpilake-p1", max_retries_reached: true, amount_minor: 1500n })]);
    // Emails stay out of the snapshots (customer_profiles has them by profile id).
    const ltv = await readLakeTable("kpi", "analytics_customer_ltv");
    expect(ltv.some((r) => "email" in r)).toBe(false);
    expect(ltv.filter((r) => r.profile_id === "kpilake-p1")).toEqual([
      expect.objectContaining({ currency: "XPT", orders: 2n, gross_minor: 9007199254740993n - 500n }),
    ]);
    const asOf = (await lakeMetadata("kpi", "analytics_customer_orders")).snapshots.at(-1)?.summary as Record<
      string,
      string
    >;
    expect(asOf["commerce.as-of"]?.slice(0, 10)).toBe(new Date().toISOString().slice(0, 10));

    // A write to a table no view reads owes nothing.
    await env.DB.prepare(
      `INSERT INTO shopify_products (shop, id, title, status, updated_at, event_at, origin, last_event_id)
       VALUES (?1, 'kpilake-p', 'Unrelated', 'active', ?2, ?2, 'webhook', 'kpilake-p1')`,
    )
      .bind(SHOP, "2031-05-03T09:00:00.000Z")
      .run();
    await compact(["shopify_products"]);
    expect(await owed()).toEqual([]);

    // A price change and a deleted order: only the views reading those tables are owed.
    await env.DB.prepare("UPDATE recharge_subscriptions SET price_minor = 900, updated_at = ?1 WHERE id = 'kpilake-1'")
      .bind("2031-05-03T09:00:00.000Z")
      .run();
    await env.DB.prepare("DELETE FROM shopify_orders WHERE shop = ?1 AND id = 'kpilake-o2'").bind(SHOP).run();
    await compact(["recharge_subscriptions", "subscription_mrr_history", "shopify_orders"]);
    expect(await owed()).toEqual([...new Set([...MRR_VIEWS, ...ORDER_VIEWS])].sort());
    // Refreshes are paced (KPI_REFRESH_HOURS): snapshots made just now stay owed.
    const paced = await upkeep();
    expect(paced.snapshots).toEqual([]);
    expect(paced.owed).toBe((await owed()).length);
    const ordersBefore = await lakeMetadata("kpi", "analytics_customer_orders");

    const second = await upkeep({ kpiRefreshHours: 0 });
    expect(second.snapshots.map((s) => s.view).sort()).toEqual([...new Set([...MRR_VIEWS, ...ORDER_VIEWS])].sort());
    expect(await owed()).toEqual([]);
    await expectSnapshotsEqualD1(KPI_VIEWS.map((v) => v.table));
    expect(
      (await readLakeTable("kpi", "analytics_subscription_mrr"))
        .filter((r) => r.subscription_id === "kpilake-1")
        .map((r) => [r.mrr_minor, r.change_minor]),
    ).toEqual([
      [1500n, 1500n],
      [1800n, 300n],
    ]);
    // Overwrite: the deleted order's row is gone, and the snapshot holds only its own data file.
    expect(
      (await readLakeTable("kpi", "analytics_customer_orders"))
        .filter((r) => r.profile_id === "kpilake-p1")
        .map((r) => r.id),
    ).toEqual(["kpilake-o1"]);
    const after = await lakeMetadata("kpi", "analytics_customer_orders");
    const snapshot = after.snapshots.at(-1) as { "parent-snapshot-id": number; summary: Record<string, string> };
    expect(snapshot["parent-snapshot-id"]).toBe(ordersBefore["current-snapshot-id"]);
    expect(snapshot.summary.operation).toBe("overwrite");
    const files = await lakeFiles("kpi", "analytics_customer_orders");
    expect(files.map((f) => f.content)).toEqual([0]);
  });

  it("leaves the views past the run's KPI budget owed, and the next run refreshes them", async () => {
    await env.DB.prepare("UPDATE recharge_subscriptions SET quantity = 3, updated_at = ?1 WHERE id = 'kpilake-1'")
      .bind("2031-05-04T09:00:00.000Z")
      .run();
    await compact(["recharge_subscriptions", "subscription_mrr_history"]);
    expect(await owed()).toEqual([...MRR_VIEWS].sort());
    // The first owed view's refresh takes the budget: the others wait, still marked.
    const first = KPI_VIEWS.find((v) => MRR_VIEWS.includes(v.table))?.table ?? "";
    heavy.view = first;
    const spent = await upkeep({ kpiRefreshHours: 0 });
    expect(spent.snapshots.map((s) => s.view)).toEqual([first]);
    expect(spent.owed).toBe(MRR_VIEWS.length - 1);
    expect(await owed()).toEqual(MRR_VIEWS.filter((v) => v !== first).sort());
    await expectSnapshotsEqualD1([first]);

    heavy.view = null;
    const next = await upkeep({ kpiRefreshHours: 0 });
    expect(next.snapshots.map((s) => s.view).sort()).toEqual(MRR_VIEWS.filter((v) => v !== first).sort());
    expect(await owed()).toEqual([]);
    await expectSnapshotsEqualD1(MRR_VIEWS);
  });

  it("reads analytics_subscription_mrr by ranges of subscriptions, each at the cost of its own rows, in the view's order", async () => {
    // 210 Recharge and 5 Stripe subscriptions, 1 to 3 states each; one deleted (left out of the view).
    const at = "2031-05-05T08:00:00.000Z";
    await env.DB.batch([
      env.DB.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 210)
         INSERT INTO recharge_subscriptions (id, customer_id, status, currency, price_minor, quantity, order_interval_unit,
           order_interval_frequency, charge_interval_frequency, created_at, updated_at, last_event_id)
         SELECT printf('kpirange-%03d', i), 'kpirange-c', 'active', 'XPT', 100 + i, 1, 'month', 1, 1, ?1, ?1, 'kpirange-e' FROM n`,
      ).bind(at),
      env.DB.prepare(
        `UPDATE recharge_subscriptions SET price_minor = price_minor * 2, updated_at = ?1
         WHERE id LIKE 'kpirange-%' AND CAST(substr(id, 10) AS INTEGER) % 2 = 0`,
      ).bind("2031-05-06T08:00:00.000Z"),
      env.DB.prepare(
        `UPDATE recharge_subscriptions SET status = 'cancelled', cancelled_at = ?1, updated_at = ?1
         WHERE id LIKE 'kpirange-%' AND CAST(substr(id, 10) AS INTEGER) % 3 = 0`,
      ).bind("2031-05-07T08:00:00.000Z"),
      env.DB.prepare("UPDATE recharge_subscriptions SET deleted_at = ?1 WHERE id = 'kpirange-007'").bind(at),
      env.DB.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5)
         INSERT INTO stripe_subscriptions (id, customer_id, status, currency, start_date, quantity, unit_amount_minor,
           price_interval, price_interval_count, livemode, event_created, updated_at, last_event_id)
         SELECT 'sub_kpirange' || i, 'cus_kpirange', 'active', 'XPT', ?1, 1, 1000 * i, 'year', 1, 1, 1, ?1, 'kpirange-e' FROM n`,
      ).bind(at),
    ]);
    await compact(["recharge_subscriptions", "stripe_subscriptions", "subscription_mrr_history"]);
    expect(await owed()).toEqual([...MRR_VIEWS].sort());
    const history = await env.DB.prepare(
      "SELECT count(*) AS n, count(DISTINCT source || ' ' || subscription_id) AS subscriptions FROM subscription_mrr_history",
    ).first<{ n: number; subscriptions: number }>();
    expect(history?.subscriptions).toBeGreaterThanOrEqual(215);

    // A range of one history row takes one subscription with all its states: 2 queries a
    // subscription, past the run's KPI budget (KPI_QUERIES, 400). A snapshot is read whole in the run
    // that starts it (a run starts none past the budget): the views after it stay owed.
    const mrr = KPI_VIEWS.find((v) => v.ranges !== null);
    expect(mrr?.table).toBe("analytics_subscription_mrr");
    const statements: StatementCost[] = [];
    const stop = onStatement((s) => statements.push(s));
    let spent: Awaited<ReturnType<typeof upkeep>>;
    try {
      spent = await upkeep({ kpiRefreshHours: 0, kpiRangeRows: 1 });
    } finally {
      stop();
    }
    expect(spent.snapshots.map((s) => s.view)).toEqual(["analytics_subscription_mrr"]);
    expect(spent.owed).toBe(MRR_VIEWS.length - 1);
    expect(await owed()).toEqual(MRR_VIEWS.filter((v) => v !== mrr?.table).sort());
    // The snapshot is the view, row for row in its key order (the order the keyset pages read it in).
    await expectSnapshotsEqualD1(["analytics_subscription_mrr"], { ordered: true });

    // A range per subscription and a last, empty one per source (its bound query finds no row). D1
    // reads a range's own rows: the ranges together read about what one read of the whole view does,
    // which each keyset page read (here one page of 5,000 rows would be the whole view).
    const ranges = statements.filter((s) => s.sql.includes(`FROM "analytics_subscription_mrr" v WHERE`));
    expect(ranges.length).toBe((history?.subscriptions ?? 0) + 2);
    const whole = (await env.DB.prepare(`SELECT * FROM analytics_subscription_mrr ORDER BY ${MRR_KEY}`).all()).meta
      .rows_read;
    expect(whole).toBeGreaterThan(history?.n ?? 0);
    expect(Math.max(...ranges.map((s) => s.rowsRead))).toBeLessThan(whole / 10);
    expect(ranges.reduce((sum, s) => sum + s.rowsRead, 0)).toBeLessThan(2 * whole);

    // The next run refreshes the views left owed.
    const next = await upkeep({ kpiRefreshHours: 0 });
    expect(next.snapshots.map((s) => s.view).sort()).toEqual(MRR_VIEWS.filter((v) => v !== mrr?.table).sort());
    expect(await owed()).toEqual([]);
    await expectSnapshotsEqualD1(MRR_VIEWS);
  });

  it("refreshes the views that count up to today on a new UTC day, with nothing owed", async () => {
    expect(await owed()).toEqual([]);
    expect((await upkeep()).snapshots).toEqual([]);
    // Tomorrow (only Date is faked: timers, D1 and R2 run as usual).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 86_400_000);
    const tomorrow = await upkeep();
    // A per-person view that counts up to today takes the other three of its pass along.
    const people = PEOPLE_VIEWS.map((v) => v.table);
    const clocked = KPI_VIEWS.filter((v) => v.clock).map((v) => v.table);
    const due = clocked.some((t) => people.includes(t)) ? [...new Set([...clocked, ...people])] : clocked;
    expect(tomorrow.snapshots.map((s) => s.view).sort()).toEqual(due.sort());
    expect((await upkeep()).snapshots).toEqual([]);
  });
});
