import { env } from "cloudflare:workers";
import { parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { runCompact } from "../src/cron/compact/compact";

// The KPI snapshots follow their inputs. Rows of their own: currency XPT (no other test writes
// it), ids prefixed `kpilake-`, days in May 2031. D1 and R2 are shared by every test file, so
// only these rows are asserted on.
async function rowsUnder(prefix: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  const page = await env.LAKE.list({ prefix });
  for (const o of page.objects) {
    const object = await env.LAKE.get(o.key);
    if (object === null) throw new Error(`no object at ${o.key}`);
    rows.push(...(await parquetReadObjects({ file: await object.arrayBuffer() })));
  }
  return rows;
}

async function compact(tables: string[]) {
  const result = await runCompact(
    env,
    { runId: `compact-kpi-${crypto.randomUUID().slice(0, 8)}`, now: new Date("2031-05-03T12:35:00Z") },
    { tables },
  );
  if (result.skipped) throw new Error("skipped");
  return result;
}

const snapshots = (result: Awaited<ReturnType<typeof compact>>) =>
  result.current.filter((c) => c.table.startsWith("analytics_")).map((c) => c.table);

describe("KPI views in the lake", () => {
  it("rebuilds the snapshots of the views whose inputs changed, and only those", async () => {
    // Publishes every schema and takes the day's refresh of the views that count up to today.
    await compact(["recharge_subscriptions"]);

    await env.DB.prepare(
      `INSERT INTO recharge_subscriptions (id, customer_id, status, currency, price_minor, quantity, order_interval_unit,
        order_interval_frequency, charge_interval_frequency, created_at, updated_at, last_event_id)
       VALUES ('kpilake-1', 'kpilake-c1', 'active', 'XPT', 750, 2, 'month', 1, 1, ?1, ?1, 'kpilake-e1')`,
    )
      .bind("2031-05-02T08:00:00.000Z")
      .run();
    const mrrRun = await compact(["recharge_subscriptions", "subscription_mrr_history"]);
    // subscription_mrr_history is compacted by its day, like an entity table.
    expect(mrrRun.tables).toContainEqual(
      expect.objectContaining({ table: "subscription_mrr_history", dt: "2031-05-02", status: "ok" }),
    );
    const history = (await rowsUnder("processed/kpi/subscription_mrr_history/dt=2031-05-02/")).filter(
      (r) => r.subscription_id === "kpilake-1",
    );
    expect(history).toEqual([
      {
        source: "recharge",
        subscription_id: "kpilake-1",
        effective_at: new Date("2031-05-02T08:00:00.000Z"),
        paying: 1n,
        amount_minor: 1500n,
        interval_unit: "month",
        interval_count: 1n,
      },
    ]);
    // Every view reading the subscription tables, and none of the order views.
    expect(snapshots(mrrRun).sort()).toEqual(
      [
        "analytics_customers_at_risk",
        "analytics_mrr_by_day",
        "analytics_mrr_movements",
        "analytics_subscription_mrr",
      ].sort(),
    );
    const mrr = (await rowsUnder("processed/kpi/analytics_subscription_mrr/current/")).filter(
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
    const movements = (await rowsUnder("processed/kpi/analytics_mrr_movements/current/")).filter(
      (r) => r.currency === "XPT",
    );
    expect(movements).toEqual([
      expect.objectContaining({
        month: "2031-05",
        new_mrr_minor: 1500n,
        net_new_mrr_minor: 1500n,
        new_subscriptions: 1n,
      }),
    ]);
    const parts = await env.LAKE.list({ prefix: "processed/kpi/analytics_subscription_mrr/current/" });
    const head = await env.LAKE.head(parts.objects[0]?.key ?? "");
    expect(head?.customMetadata?.as_of?.slice(0, 10)).toBe(new Date().toISOString().slice(0, 10));

    // A price change is a new state; a write to a table no view reads refreshes nothing.
    await env.DB.prepare("UPDATE recharge_subscriptions SET price_minor = 900, updated_at = ?1 WHERE id = 'kpilake-1'")
      .bind("2031-05-03T09:00:00.000Z")
      .run();
    await env.DB.prepare(
      `INSERT INTO shopify_products (shop, id, title, status, updated_at, event_at, origin, last_event_id)
       VALUES ('kpilake.myshopify.com', '9100000000000000099', 'Unrelated', 'active', ?1, ?1, 'webhook', 'kpilake-p1')`,
    )
      .bind("2031-05-03T09:00:00.000Z")
      .run();
    expect(snapshots(await compact(["shopify_products"]))).toEqual([]);
    expect(snapshots(await compact(["subscription_mrr_history"]))).toContain("analytics_subscription_mrr");
    const after = (await rowsUnder("processed/kpi/analytics_subscription_mrr/current/"))
      .filter((r) => r.subscription_id === "kpilake-1")
      .map((r) => [r.mrr_minor, r.change_minor]);
    expect(after).toEqual([
      [1500n, 1500n],
      [1800n, 300n],
    ]);
  });
});
