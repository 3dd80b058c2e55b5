import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mapBulkRows } from "../src/durable/bulk/map";
import { bulkQuery } from "../src/durable/bulk/queries";
import worker from "../src/index";
import { type EventMeta, type MapContext, mapShopifyEvent, type ShopifyRows } from "../src/mapping/shopify";
import type { Envelope } from "../src/shared/envelope";
import { BULK_RESOURCES, bulkOperations } from "../src/shared/schema/operations";
import {
  adminRequest,
  allFinished,
  count,
  drive,
  fakeShop,
  operation,
  useFakeShopify,
} from "./fakes/coordinator-harness";
import type { FakeNode } from "./fakes/shopify-data";
import { expectMatchesMigration } from "./helpers/schema-match";
import { indexEntries } from "./helpers/subject-index";

useFakeShopify();

type Obj = Record<string, unknown>;
const num = (gid: unknown) => String(gid).split("/").pop() ?? "";
/** A REST id: a JSON integer with every digit (ids here exceed 2^53, so never through a double). */
const restId = (gid: unknown) => `#int:${num(gid)}`;
/** The webhook body as Shopify writes it: REST ids as bare JSON integers. */
const restJson = (body: Obj) => JSON.stringify(body).replace(/"#int:(\d+)"/g, "$1");
const obj = (v: unknown) => v as Obj;
const shopMoney = (set: unknown) => obj(obj(set).shopMoney);
/** REST writes local times with an offset; the rows must hold the same UTC instant. */
const local = (iso: unknown) =>
  new Date(Date.parse(String(iso)) - 5 * 3600_000).toISOString().replace(".000Z", "-05:00");

/** The `fulfillments/create` webhook body Shopify sends for a fake fulfillment (REST shape, written out by hand). */
function fulfillmentWebhook(order: FakeNode, f: Obj): Obj {
  const tracking = f.trackingInfo as Obj[];
  const lines = f.fulfillmentLineItems as Obj[];
  const display = String(f.displayStatus);
  return {
    id: restId(f.id),
    order_id: restId(order.id),
    name: f.name,
    status: String(f.status).toLowerCase(),
    shipment_status: display === "FULFILLED" ? null : display.toLowerCase(),
    service: "manual",
    location_id: restId(obj(f.location).id),
    tracking_company: tracking[0]?.company ?? null,
    tracking_number: tracking[0]?.number ?? null,
    tracking_numbers: tracking.map((t) => t.number),
    tracking_url: tracking[0]?.url ?? null,
    tracking_urls: tracking.map((t) => t.url).filter((u) => u !== null),
    line_items: lines.map((l) => ({
      id: restId(obj(l.lineItem).id),
      quantity: l.quantity,
      fulfillment_status: "fulfilled",
    })),
    created_at: local(f.createdAt),
    updated_at: local(f.updatedAt),
  };
}

/** The `refunds/create` webhook body for a fake refund. */
function refundWebhook(order: FakeNode, r: Obj): Obj {
  const lines = r.refundLineItems as Obj[];
  const tx = r.transactions as Obj[];
  return {
    id: restId(r.id),
    order_id: restId(order.id),
    note: r.note,
    restock: true,
    created_at: local(r.createdAt),
    processed_at: local(r.createdAt),
    refund_line_items: lines.map((l) => ({
      id: restId(l.id),
      line_item_id: restId(obj(l.lineItem).id),
      quantity: l.quantity,
      restock_type: String(l.restockType).toLowerCase(),
      location_id: restId(obj(l.location).id),
      subtotal: Number(shopMoney(l.subtotalSet).amount),
      total_tax: Number(shopMoney(l.totalTaxSet).amount),
      subtotal_set: { shop_money: { amount: shopMoney(l.subtotalSet).amount, currency_code: "USD" } },
    })),
    transactions: tx.map((t) => ({
      kind: String(t.kind).toLowerCase(),
      status: String(t.status).toLowerCase(),
      amount: shopMoney(t.amountSet).amount,
      currency: "USD",
    })),
  };
}

/** The order's line as Shopify's bulk export writes it for the resource's query. */
function bulkLine(order: FakeNode, resource: "fulfillments" | "refunds"): string {
  const pick = (o: Obj, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k] ?? null]));
  const list = (order[resource] as Obj[]).map((x) =>
    resource === "fulfillments"
      ? pick(x, [
          "id",
          "name",
          "status",
          "displayStatus",
          "totalQuantity",
          "createdAt",
          "updatedAt",
          "location",
          "service",
          "trackingInfo",
        ])
      : pick(x, ["id", "note", "createdAt", "updatedAt", "totalRefundedSet"]),
  );
  return JSON.stringify({
    id: order.id,
    email: order.email,
    customer: { id: obj(order.customer).id },
    [resource]: list,
  });
}

async function deliver(shop: string, topic: string, eventId: string, body: Obj) {
  const envelope: Envelope = {
    v: 1,
    source: "shopify",
    topic,
    eventId,
    shop,
    receivedAt: new Date().toISOString(),
    eventAt: new Date().toISOString(),
    apiVersion: "2026-01",
    origin: "webhook",
    body: restJson(body),
  };
  const batch = createMessageBatch("commerce-events", [
    { id: `m-${eventId}`, timestamp: new Date(), attempts: 1, body: envelope },
  ]);
  await worker.queue(batch, env);
  expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(1);
}

async function rows(sql: string, ...binds: unknown[]): Promise<Obj[]> {
  return (
    await env.DB.prepare(sql)
      .bind(...binds)
      .all<Obj>()
  ).results;
}

const PROVENANCE = ["last_event_id", "event_at", "origin"];
const withoutProvenance = (list: Obj[]) =>
  list.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !PROVENANCE.includes(k))));

describe("bulk exports of fulfillments and refunds", { timeout: 30_000 }, () => {
  it("map each order's inline fulfillments and refunds to the webhook mapper's rows for the same records", () => {
    const { fake } = fakeShop("bf-fr-map", { orders: 8, lineItemsPerOrder: 3, customers: 2 });
    const meta: EventMeta = { shop: fake.shop, eventId: "evt-1", eventAt: "2026-02-01T00:00:00.000Z", origin: "bulk" };
    const ctx: MapContext = { subscriptions: { tags: [], skus: [] }, shopCurrency: "USD" };
    let fulfillments = 0;
    let refunds = 0;
    for (const order of fake.data.orders) {
      const fromBulk = mapBulkRows("fulfillments", bulkLine(order, "fulfillments"), [], meta, ctx);
      if (!fromBulk.ok) throw new Error(fromBulk.detail);
      const expected = (order.fulfillments as Obj[]).map((f) => {
        const hook = mapShopifyEvent("fulfillment", restJson(fulfillmentWebhook(order, f)), meta, ctx);
        if (!hook.ok) throw new Error(hook.detail);
        // Line items are a connection inside a list: a bulk query cannot read them.
        const row = (hook.rows as Extract<ShopifyRows, { kind: "fulfillment" }>).fulfillment;
        return { kind: "fulfillment", fulfillment: { ...row, lineItemCount: null } };
      });
      expect(fromBulk.rows).toEqual(expected);
      fulfillments += expected.length;

      const refundsFromBulk = mapBulkRows("refunds", bulkLine(order, "refunds"), [], meta, ctx);
      if (!refundsFromBulk.ok) throw new Error(refundsFromBulk.detail);
      const expectedRefunds = (order.refunds as Obj[]).map((r) => {
        const hook = mapShopifyEvent("refund", restJson(refundWebhook(order, r)), meta, ctx);
        if (!hook.ok) throw new Error(hook.detail);
        const row = (hook.rows as Extract<ShopifyRows, { kind: "refund" }>).refund;
        expect(row.refundedAmountMinor).toBeGreaterThan(0);
        return {
          kind: "refund",
          partial: true,
          lineItems: [],
          refund: {
            ...row,
            restock: null,
            processedAt: null,
            lineSubtotalMinor: null,
            lineTaxMinor: null,
            lineCount: null,
          },
        };
      });
      expect(refundsFromBulk.rows).toEqual(expectedRefunds);
      refunds += expectedRefunds.length;
    }
    expect({ fulfillments, refunds }).toEqual({ fulfillments: 7, refunds: 6 });
  });

  it("refuse a malformed entry for the whole line, and read an order without any as no rows", () => {
    const meta: EventMeta = {
      shop: "x.myshopify.com",
      eventId: "e",
      eventAt: "2026-02-01T00:00:00.000Z",
      origin: "bulk",
    };
    const ctx: MapContext = { subscriptions: { tags: [], skus: [] }, shopCurrency: "USD" };
    const order = '{"id":"gid://shopify/Order/1"';
    expect(mapBulkRows("fulfillments", `${order},"fulfillments":[]}`, [], meta, ctx)).toEqual({ ok: true, rows: [] });
    expect(mapBulkRows("refunds", `${order},"refunds":null}`, [], meta, ctx)).toEqual({ ok: true, rows: [] });
    const bad = mapBulkRows(
      "fulfillments",
      `${order},"fulfillments":[{"id":"gid://shopify/Fulfillment/2","status":"SUCCESS"},{"id":"gid://shopify/Fulfillment/3","updatedAt":"yesterday"}]}`,
      [],
      meta,
      ctx,
    );
    expect(bad.ok).toBe(false);
    const money = mapBulkRows(
      "refunds",
      `${order},"refunds":[{"id":"gid://shopify/Refund/2","totalRefundedSet":{"shopMoney":{"amount":"ten","currencyCode":"USD"}}}]}`,
      [],
      meta,
      ctx,
    );
    expect(money).toEqual({ ok: false, detail: "refund: totalRefundedSet is not an amount" });
    expect(mapBulkRows("refunds", `${order},"refunds":{"id":"x"}}`, [], meta, ctx)).toEqual({
      ok: false,
      detail: "refunds: expected a list",
    });
  });

  it("the queries walk orders and select no connection inside a list, which the fake refuses as Shopify does", async () => {
    const { fake } = fakeShop("bf-fr-query", { orders: 1 });
    for (const resource of ["fulfillments", "refunds"] as const) {
      expect(bulkQuery(resource, null)).toMatch(/^\{ orders \{ edges \{ node \{ id email customer \{ id \} /);
      expect(bulkQuery(resource, "2026-01-01T00:00:00Z")).toContain(
        `orders(query: "updated_at:>'2026-01-01T00:00:00Z'")`,
      );
    }
    const refused = await fake.handle(
      new Request(`https://${fake.shop}/admin/api/2026-01/graphql.json`, {
        method: "POST",
        headers: { "x-shopify-access-token": fake.token, "content-type": "application/json" },
        body: JSON.stringify({
          query:
            "mutation R($query: String!) { bulkOperationRunQuery(query: $query) { bulkOperation { id } userErrors { field message code } } }",
          variables: {
            query: "{ orders { edges { node { id refunds { id refundLineItems { edges { node { id } } } } } } } }",
          },
        }),
      }),
    );
    const body = (await refused.json()) as { data: { bulkOperationRunQuery: { userErrors: Obj[] } } };
    expect(body.data.bulkOperationRunQuery.userErrors).toEqual([
      {
        field: ["query"],
        message: "Queries that contain a connection field within a list field are not currently supported.",
        code: "INVALID",
      },
    ]);
    expect(fake.stats.bulkRuns).toBe(0);
  });

  it("backfill through the coordinator into the webhook tables, keep what webhooks stored, and index the snapshots", async () => {
    const { shop, fake, stub } = fakeShop("bf-fr", { orders: 12, lineItemsPerOrder: 3, customers: 3 });
    const orders = fake.data.orders;
    const listOf = (i: number, key: "fulfillments" | "refunds") => (orders[i] as FakeNode)[key] as Obj[];
    // Two records arrive by webhook first: the export must leave their rows (and refund lines) as they were.
    const hookOrder = orders[3] as FakeNode; // 0 fulfillments, 2 refunds
    const hookFulfillment = listOf(2, "fulfillments")[0] as Obj;
    await deliver(shop, "fulfillments/create", "evt-f1", fulfillmentWebhook(orders[2] as FakeNode, hookFulfillment));
    await deliver(shop, "refunds/create", "evt-r1", refundWebhook(hookOrder, (hookOrder.refunds as Obj[])[0] as Obj));
    const fulfillmentSql = "SELECT * FROM shopify_fulfillments WHERE shop = ?1 AND id = ?2";
    const refundSql = "SELECT * FROM shopify_refunds WHERE shop = ?1 AND id = ?2";
    const linesSql = "SELECT * FROM shopify_refund_line_items WHERE shop = ?1 AND refund_id = ?2 ORDER BY id";
    const hookRefundId = num((hookOrder.refunds as Obj[])[0]?.id);
    const before = {
      fulfillment: await rows(fulfillmentSql, shop, num(hookFulfillment.id)),
      refund: await rows(refundSql, shop, hookRefundId),
      lines: await rows(linesSql, shop, hookRefundId),
    };
    expect(before.fulfillment).toHaveLength(1);
    expect(before.fulfillment[0]).toMatchObject({ line_item_count: 1, origin: "webhook" });
    expect(before.lines).toHaveLength(1);
    // One order's entry is broken: that order's line is counted invalid, the others load.
    listOf(5, "fulfillments")[1] = {
      ...(listOf(5, "fulfillments")[1] as Obj),
      updatedAt: "yesterday",
    };

    const res = await adminRequest("POST", "/admin/backfill", { shop, resources: ["fulfillments", "refunds"] });
    expect(res.status).toBe(202);
    await drive(stub, () => allFinished(shop, 2));

    // Orders i % 3 fulfillments (12 over 12 orders, less order 5's two); refunds 1 or 2 per order i % 4 ∈ {1, 3}.
    expect(await operation(shop, "fulfillments")).toMatchObject({
      status: "completed",
      parents: 12,
      children: 0,
      invalid: 1,
      entitiesApplied: 10,
      rowsApplied: 10,
    });
    expect((await operation(shop, "fulfillments"))?.r2Key).toMatch(/^raw\/shopify\/fulfillments\/snapshots\/dt=/);
    expect(await operation(shop, "refunds")).toMatchObject({
      status: "completed",
      parents: 12,
      invalid: 0,
      entitiesApplied: 9,
    });
    expect(await count("shopify_fulfillments", shop)).toBe(10);
    expect(await count("shopify_refunds", shop)).toBe(9);
    expect(await count("shopify_orders", shop)).toBe(0); // these exports write no order rows

    // The webhook rows are unchanged but for provenance: the export took the version (same updated_at).
    const after = {
      fulfillment: await rows(fulfillmentSql, shop, num(hookFulfillment.id)),
      refund: await rows(refundSql, shop, hookRefundId),
      lines: await rows(linesSql, shop, hookRefundId),
    };
    expect(withoutProvenance(after.fulfillment)).toEqual(withoutProvenance(before.fulfillment));
    expect(after.fulfillment[0]?.origin).toBe("bulk");
    expect(withoutProvenance(after.refund)).toEqual(withoutProvenance(before.refund));
    expect(after.lines).toEqual(before.lines);

    // A record only the export brought: exact values, line columns unknown.
    const order7 = orders[7] as FakeNode;
    const r7 = (order7.refunds as Obj[])[1] as Obj;
    expect((await rows(refundSql, shop, num(r7.id)))[0]).toMatchObject({
      order_id: num(order7.id),
      currency: "USD",
      refunded_amount_minor: Math.round(Number(shopMoney(r7.totalRefundedSet).amount) * 100),
      line_count: null,
      line_subtotal_minor: null,
      created_at: `${String(r7.createdAt).slice(0, 19)}.000Z`,
      origin: "bulk",
    });
    // Its webhook arriving later (same version) fills in what the export could not read.
    await deliver(shop, "refunds/create", "evt-r7", refundWebhook(order7, r7));
    expect((await rows(refundSql, shop, num(r7.id)))[0]).toMatchObject({
      line_count: 1,
      restock: 1,
      origin: "webhook",
    });
    expect(await rows(linesSql, shop, num(r7.id))).toHaveLength(1);
    const f1 = listOf(1, "fulfillments")[0] as Obj;
    expect((await rows(fulfillmentSql, shop, num(f1.id)))[0]).toMatchObject({
      order_id: num(orders[1]?.id),
      status: "success",
      shipment_status: "delivered",
      service: "manual",
      location_id: "7001",
      tracking_company: "UPS",
      tracking_number: "1Z1001",
      tracking_numbers: JSON.stringify(["1Z1001", "1Z2001"]),
      line_item_count: null,
      total_quantity: f1.totalQuantity,
    });

    // Each snapshot is in the subject index (under the parts of its folder) with the customers and
    // e-mails its orders name, the invalid line's too (the snapshot holds it all the same).
    for (const resource of ["fulfillments", "refunds"]) {
      const key = (await operation(shop, resource))?.r2Key ?? "";
      const indexed = await indexEntries({ keyPrefix: key, kind: "shopify_customer" });
      expect([...new Set(indexed.map((r) => r.id))].sort()).toEqual(fake.data.customers.map((c) => num(c.id)).sort());
      expect((await indexEntries({ keyPrefix: key, kind: "email" })).length).toBe(12);
    }
  });

  it("bulk_operations admits exactly the bulk resources, and its drizzle definition matches the rebuilt table", async () => {
    await expectMatchesMigration(bulkOperations);
    const sql = await env.DB.prepare("SELECT sql FROM sqlite_master WHERE name = 'bulk_operations'").first<{
      sql: string;
    }>();
    const allowed = /resource TEXT NOT NULL CHECK \(resource IN \(([^)]*)\)\)/.exec(sql?.sql ?? "")?.[1];
    expect(allowed?.split(",").map((s) => s.trim().replace(/'/g, ""))).toEqual([...BULK_RESOURCES]);
    const insert = (id: string, resource: string) =>
      env.DB.prepare(
        "INSERT INTO bulk_operations (id, backfill_id, shop, resource, status, requested_at, updated_at) VALUES (?1, 'bf', 's', ?2, 'queued', 'now', 'now')",
      )
        .bind(id, resource)
        .run();
    await insert("bo_ok", "refunds");
    await expect(insert("bo_bad", "checkouts")).rejects.toThrow(/CHECK constraint failed/);
    const bad = await adminRequest("POST", "/admin/backfill", { shop: "x.myshopify.com", resources: ["checkouts"] });
    expect(bad.status).toBe(400);
  });
});
