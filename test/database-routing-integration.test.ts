// SHOP_DATABASES routes routed-shop.myshopify.com to a second local D1 database, DB_ROUTED
// (vitest.config.ts declares both). Its events land there, every other shop's in DB; the status
// page totals both; Shopify reconciliation looks the routed shop's stored versions up in its own
// database; a setting naming a binding the Worker lacks retries the event and says what to do.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runJob } from "../src/cron/jobs";
import type { ReconcileResult } from "../src/cron/reconcile/reconcile";
import worker from "../src/index";
import { opsData } from "../src/ingress/admin/ops-data";
import type { PipelineStatus } from "../src/ingress/admin/status";
import type { Envelope } from "../src/shared/envelope";
import { DatabaseRoutingError, everyDatabase, shopDatabase } from "../src/tables/database";
import {
  CaptureQueue,
  consumeBodies,
  consumeCaptured,
  iso,
  MINUTE,
  registerShopToken,
  routeFetch,
} from "./cron-helpers";
import { FakeShopifyAdmin } from "./fakes/shopify-admin";
import { makeShopData } from "./fakes/shopify-data";
import customerFixture from "./fixtures/shopify/customers__create.json?raw";
import orderFixture from "./fixtures/shopify/orders__create.json?raw";
import { adminRequest } from "./helpers/requests";
import { indexEntries } from "./helpers/subject-index";

const ROUTED = "routed-shop.myshopify.com";
const OTHER = "unrouted-shop.myshopify.com";

const shopifyFakes: FakeShopifyAdmin[] = [];
beforeEach(() => {
  routeFetch(() => shopifyFakes);
});
afterEach(() => vi.restoreAllMocks());

let seq = 0;
function envelope(shop: string, topic: string, body: string): Envelope {
  return {
    v: 1,
    source: "shopify",
    topic,
    eventId: `routing-${++seq}`,
    shop,
    receivedAt: "2026-11-21T10:00:01.000Z",
    eventAt: "2026-11-21T10:00:00.000Z",
    apiVersion: "2026-01",
    origin: "webhook",
    body,
  };
}

async function count(db: D1Database, sql: string, ...params: unknown[]): Promise<number> {
  const r = await db
    .prepare(`SELECT count(*) AS n FROM ${sql}`)
    .bind(...params)
    .first<{ n: number }>();
  return r?.n ?? -1;
}

describe("a shop routed to its own D1 database", () => {
  it("stores the routed shop's events, rows and identities in DB_ROUTED and every other shop's in DB", async () => {
    const routedOrder = envelope(ROUTED, "orders/create", orderFixture);
    const otherOrder = envelope(OTHER, "orders/create", orderFixture);
    const routedCustomer = envelope(ROUTED, "customers/create", customerFixture);
    const result = await consumeBodies([routedOrder, otherOrder, routedCustomer]);
    expect(result.explicitAcks).toHaveLength(3);
    expect(result.retryMessages).toEqual([]);

    const orderId = "820982911946154508";
    const lineItems = (JSON.parse(orderFixture) as { line_items: unknown[] }).line_items.length;
    for (const [db, shop, here] of [
      [env.DB_ROUTED, ROUTED, 1],
      [env.DB, ROUTED, 0],
      [env.DB, OTHER, 1],
      [env.DB_ROUTED, OTHER, 0],
    ] as const) {
      expect(await count(db, "shopify_orders WHERE shop = ?1 AND id = ?2", shop, orderId), `${shop}`).toBe(here);
      expect(await count(db, "shopify_order_line_items WHERE shop = ?1 AND order_id = ?2", shop, orderId)).toBe(
        here * lineItems,
      );
      expect(await count(db, "webhook_events WHERE shop = ?1 AND status = 'applied'", shop)).toBe(
        shop === ROUTED ? here * 2 : here,
      );
    }
    // The subject index is not routed: its shards hold every shop's objects.
    for (const shop of [ROUTED, OTHER]) expect((await indexEntries({ shop })).length, shop).toBeGreaterThan(0);
    expect(
      await count(env.DB_ROUTED, "customer_identities WHERE source = 'shopify' AND shop = ?1", ROUTED),
    ).toBeGreaterThan(0);
    expect(await count(env.DB, "customer_identities WHERE shop = ?1", ROUTED)).toBe(0);
    expect(await count(env.DB_ROUTED, "shopify_customers WHERE shop = ?1", ROUTED)).toBe(1);
    expect(await count(env.DB, "shopify_customers WHERE shop = ?1", ROUTED)).toBe(0);

    // The status page totals the ledger of both databases and lists both sizes.
    const res = await worker.fetch(adminRequest("/admin/status"), env, createExecutionContext());
    expect(res.status).toBe(200);
    const status = (await res.json()) as PipelineStatus;
    const applied = status.ledger.find((l) => l.source === "shopify" && l.status === "applied")?.count;
    expect(applied).toBe(
      (await count(env.DB, "webhook_events WHERE source = 'shopify' AND status = 'applied'")) +
        (await count(env.DB_ROUTED, "webhook_events WHERE source = 'shopify' AND status = 'applied'")),
    );
    expect(status.databases.map((d) => d.binding)).toEqual(["DB", "DB_ROUTED"]);
    expect(status.databases.every((d) => d.bytes === null || d.bytes > 0)).toBe(true);

    // One event's ledger row, and the newest rows, are found in whichever database holds them.
    const one = await worker.fetch(
      adminRequest(`/admin/events?source=shopify&eventId=${routedOrder.eventId}`),
      env,
      createExecutionContext(),
    );
    expect(one.status).toBe(200);
    const { events: rows } = (await one.json()) as {
      events: Array<{ event_id: string; shop: string; status: string }>;
    };
    expect(rows).toEqual([expect.objectContaining({ event_id: routedOrder.eventId, shop: ROUTED, status: "applied" })]);
    const { events: newest } = (await (
      await worker.fetch(adminRequest("/admin/events?source=shopify&limit=500"), env, createExecutionContext())
    ).json()) as { events: Array<{ event_id: string; received_at: string }> };
    for (const e of [routedOrder, otherOrder, routedCustomer])
      expect(newest.map((r) => r.event_id)).toContain(e.eventId);
    const received = newest.map((r) => r.received_at);
    expect(received).toEqual([...received].sort().reverse());

    // The ops page's streams count the routed shop's events too.
    const ops = await opsData(env);
    const stream = ops.streams.find((x) => x.source === "shopify" && x.shop === ROUTED);
    expect(stream?.byStatus.applied).toBe(
      await count(env.DB_ROUTED, "webhook_events WHERE shop = ?1 AND status = 'applied'", ROUTED),
    );
  });

  it("reconciles the routed shop against its own database: what was repaired is found there next run", async () => {
    const NOW = Date.parse("2033-02-10T12:00:00Z");
    const data = makeShopData(ROUTED, {
      orders: 3,
      lineItemsPerOrder: 2,
      customers: 1,
      products: 1,
      variantsPerProduct: 2,
      since: iso(NOW - 50 * MINUTE),
      firstId: 9_007_199_254_880_001n,
    });
    const fake = new FakeShopifyAdmin(ROUTED, data);
    shopifyFakes.push(fake);
    registerShopToken(ROUTED, fake.token);
    const queue = new CaptureQueue();
    const e = { ...env, EVENTS: queue };
    const reconcile = async (now: number) => {
      const run = await runJob(e, "reconcile", {
        now: new Date(now),
        options: { sources: ["shopify"], shops: [ROUTED] },
      });
      if (run.job !== "reconcile") throw new Error("not a reconcile run");
      const s = (run.result as ReconcileResult).scopes.find((x) => x.source === "shopify");
      if (!s) throw new Error("no shopify scope");
      return Object.values(s.resources).reduce((n, r) => n + r.missing, 0);
    };

    expect(await reconcile(NOW)).toBe(5);
    await consumeCaptured(queue);
    const orderId = (data.orders[0]?.id ?? "").split("/").pop();
    expect(await count(env.DB_ROUTED, "shopify_orders WHERE shop = ?1 AND id = ?2", ROUTED, orderId)).toBe(1);
    expect(await count(env.DB, "shopify_orders WHERE shop = ?1 AND id = ?2", ROUTED, orderId)).toBe(0);
    // Had the lookup read DB, the same five would be missing again.
    queue.clear();
    expect(await reconcile(NOW + 15 * MINUTE)).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it("retries an event whose shop is routed to a binding the Worker lacks, naming what to add", async () => {
    const broken = { ...env, SHOP_DATABASES: JSON.stringify({ [ROUTED]: "DB_MISSING" }) };
    expect(() => shopDatabase(broken, ROUTED)).toThrow(DatabaseRoutingError);
    expect(() => shopDatabase(broken, ROUTED)).toThrow(/no D1 binding DB_MISSING: add a \[\[d1_databases\]\] entry/);
    expect(shopDatabase(broken, OTHER)).toBe(env.DB);

    const e = envelope(ROUTED, "orders/create", orderFixture);
    const result = await consumeBodies([e], broken);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    for (const db of [env.DB, env.DB_ROUTED])
      expect(await count(db, "webhook_events WHERE event_id = ?1", e.eventId)).toBe(0);
  });

  it("refuses a malformed setting with the shape it expects", () => {
    for (const value of ["{not json", '{"big.myshopify.com": "db-big"}', '{"Big Shop": "DB_BIG"}', '["DB_BIG"]']) {
      const e = { ...env, SHOP_DATABASES: value };
      expect(() => shopDatabase(e, "big.myshopify.com"), value).toThrow(DatabaseRoutingError);
      expect(() => everyDatabase(e), value).toThrow(/SHOP_DATABASES is not/);
    }
    expect(everyDatabase({ ...env, SHOP_DATABASES: "" }).map((d) => d.name)).toEqual(["DB"]);
    expect(everyDatabase(env).map((d) => d.name)).toEqual(["DB", "DB_ROUTED"]);
  });
});
