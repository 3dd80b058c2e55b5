/// <reference types="vite/client" />
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import type { Envelope } from "../src/shared/envelope";
import { SHOPIFY_TABLES } from "../src/shared/schema/shopify";
import checkoutFixture from "./fixtures/shopify/checkouts__create.json?raw";
import customerFixture from "./fixtures/shopify/customers__create.json?raw";
import dataRequestFixture from "./fixtures/shopify/customers__data_request.json?raw";
import redactFixture from "./fixtures/shopify/customers__redact.json?raw";
import fulfillmentFixture from "./fixtures/shopify/fulfillments__create.json?raw";
import orderFixture from "./fixtures/shopify/orders__create.json?raw";
import productFixture from "./fixtures/shopify/products__create.json?raw";
import refundFixture from "./fixtures/shopify/refunds__create.json?raw";
import shopRedactFixture from "./fixtures/shopify/shop__redact.json?raw";
import { num, toJson } from "./helpers/json-text";
import { expectMatchesMigration } from "./helpers/schema-match";

// Tests share one local D1: every test uses its own shop domain.
let seq = 0;
const run = `${Date.now()}`;
const newShop = () => `it-${run}-${++seq}.myshopify.com`;

function envelope(shop: string, topic: string, body: string, over: Partial<Envelope> = {}): Envelope {
  return {
    v: 1,
    source: "shopify",
    topic,
    eventId: `shopify-it-${run}-${++seq}`,
    shop,
    receivedAt: "2026-11-20T12:00:01.000Z",
    eventAt: "2026-11-20T12:00:00Z",
    apiVersion: "2026-01",
    origin: "webhook",
    body,
    ...over,
  };
}

/** Runs one queue batch through the worker's real consumer against local D1 and R2. */
async function deliver(envelopes: Envelope[], bindings: Env = env) {
  const batch = createMessageBatch(
    "commerce-events",
    envelopes.map((body, i) => ({ id: `m-${++seq}-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  const handler: ExportedHandler<Env> = worker;
  await handler.queue?.(batch, bindings, ctx);
  const result = await getQueueResult(batch, ctx);
  expect(result.retryMessages).toEqual([]);
  expect(result.explicitAcks).toHaveLength(envelopes.length);
  return result;
}

type Row = Record<string, unknown>;
async function rows(table: string, shop: string, where = "1 = 1", ...params: unknown[]): Promise<Row[]> {
  const r = await env.DB.prepare(`SELECT * FROM ${table} WHERE shop = ? AND (${where}) ORDER BY id`)
    .bind(shop, ...params)
    .all<Row>();
  return r.results;
}
async function one(table: string, shop: string, id: string): Promise<Row | undefined> {
  return (await rows(table, shop, "id = ?", id))[0];
}
async function ledger(eventId: string) {
  return env.DB.prepare(
    "SELECT status, note, deliveries, r2_key FROM webhook_events WHERE source = 'shopify' AND event_id = ?",
  )
    .bind(eventId)
    .first<{ status: string; note: string | null; deliveries: number; r2_key: string | null }>();
}

const ORDER_ID = "950000000000000001";

function line(n: number, over: Record<string, unknown> = {}) {
  return {
    id: num(`96000000000000${String(n).padStart(4, "0")}`),
    product_id: num("970000000000000001"),
    variant_id: num("980000000000000001"),
    sku: `SKU-${n}`,
    title: `Item ${n}`,
    quantity: num("1"),
    price: "10.00",
    total_discount: "0.00",
    ...over,
  };
}
function order(over: Record<string, unknown> = {}) {
  return toJson({
    id: num(ORDER_ID),
    name: "#2001",
    order_number: num("2001"),
    email: "Buyer@Example.com",
    created_at: "2026-05-01T09:00:00-05:00",
    updated_at: "2026-05-01T09:00:00-05:00",
    currency: "USD",
    total_price: "20.00",
    financial_status: "paid",
    tags: "",
    line_items: [line(1), line(2)],
    ...over,
  });
}

describe("drizzle schema", () => {
  it("matches every migrated table: columns, types, not-null, primary key and indexes", async () => {
    for (const table of SHOPIFY_TABLES) await expectMatchesMigration(table);
  });
});

describe("Shopify events through the consumer", () => {
  it("applies every Shopify topic that has a table, keyed by shop and exact id", async () => {
    const cases: Array<[topic: string, body: string, table: string, id: string]> = [
      ["orders/create", orderFixture, "shopify_orders", "820982911946154508"],
      ["orders/updated", orderFixture, "shopify_orders", "820982911946154508"],
      ["orders/paid", orderFixture, "shopify_orders", "820982911946154508"],
      ["orders/fulfilled", orderFixture, "shopify_orders", "820982911946154508"],
      ["orders/partially_fulfilled", orderFixture, "shopify_orders", "820982911946154508"],
      ["orders/cancelled", orderFixture, "shopify_orders", "820982911946154508"],
      ["orders/delete", '{"id":820982911946154508}', "shopify_orders", "820982911946154508"],
      ["customers/create", customerFixture, "shopify_customers", "706405506930370084"],
      ["customers/update", customerFixture, "shopify_customers", "706405506930370084"],
      ["customers/enable", customerFixture, "shopify_customers", "706405506930370084"],
      ["customers/disable", customerFixture, "shopify_customers", "706405506930370084"],
      ["customers/delete", '{"id":706405506930370084,"addresses":[]}', "shopify_customers", "706405506930370084"],
      ["products/create", productFixture, "shopify_products", "788032119674292922"],
      ["products/update", productFixture, "shopify_products", "788032119674292922"],
      ["products/delete", '{"id":788032119674292922}', "shopify_products", "788032119674292922"],
      ["fulfillments/create", fulfillmentFixture, "shopify_fulfillments", "123456"],
      ["fulfillments/update", fulfillmentFixture, "shopify_fulfillments", "123456"],
      ["refunds/create", refundFixture, "shopify_refunds", "890088186047892319"],
      ["checkouts/create", checkoutFixture, "shopify_checkouts", "981820079255243537"],
      ["checkouts/update", checkoutFixture, "shopify_checkouts", "981820079255243537"],
      ["checkouts/delete", '{"id":981820079255243537,"cart_token":"x"}', "shopify_checkouts", "981820079255243537"],
    ];
    const items = cases.map(([topic, body, table, id]) => ({ e: envelope(newShop(), topic, body), table, id }));
    await deliver(items.map((i) => i.e));
    for (const { e, table, id } of items) {
      expect(await ledger(e.eventId), e.topic).toMatchObject({ status: "applied" });
      const row = await one(table, e.shop as string, id);
      expect(row, e.topic).toMatchObject({ id, last_event_id: e.eventId, origin: "webhook" });
      expect(row?.deleted_at, e.topic).toBe(e.topic.endsWith("/delete") ? "2026-11-20T12:00:00.000Z" : null);
    }
  });

  it("archives topics without a table and writes no rows for them", async () => {
    const shop = newShop();
    const cases: Array<[string, string]> = [
      ["customers/redact", redactFixture.replaceAll("{shop}.myshopify.com", shop)],
      ["customers/data_request", dataRequestFixture.replaceAll("{shop}.myshopify.com", shop)],
      ["shop/redact", shopRedactFixture.replaceAll("{shop}.myshopify.com", shop)],
      ["app/uninstalled", '{"id":1,"name":"x"}'],
      ["app_subscriptions/update", '{"app_subscription":{"status":"ACTIVE"}}'],
      ["carts/create", '{"id":"c1","token":"c1","line_items":[]}'],
      ["carts/update", '{"id":"c1","token":"c1","line_items":[]}'],
      ["inventory_levels/connect", '{"inventory_item_id":1,"location_id":2,"available":3}'],
      ["locations/activate", '{"id":1,"name":"x"}'],
      ["bulk_operations/finish", '{"admin_graphql_api_id":"gid://shopify/BulkOperation/1","status":"completed"}'],
      ["orders/edited", '{"order_edit":{"id":1,"order_id":2}}'],
      ["order_transactions/create", '{"id":1,"order_id":2,"kind":"sale","amount":"1.00"}'],
      ["fulfillment_events/create", '{"id":1,"fulfillment_id":2}'],
      ["fulfillment_orders/placed_on_hold", '{"fulfillment_order":{"id":"gid://shopify/FulfillmentOrder/1"}}'],
      ["product_listings/add", '{"product_listing":{"product_id":1}}'],
      ["customer_tags/added", '{"customerId":"gid://shopify/Customer/1","tags":["a"]}'],
    ];
    const es = cases.map(([topic, body]) => envelope(shop, topic, body));
    await deliver(es);
    // Compliance topics and app/uninstalled write no entity rows either: they record a privacy request or
    // mark the shop (tests of their own).
    const compliance = new Set(["customers/redact", "customers/data_request", "shop/redact", "app/uninstalled"]);
    for (const e of es) {
      const status = compliance.has(e.topic) ? "applied" : "archived";
      expect(await ledger(e.eventId), e.topic).toMatchObject({ status });
    }
    for (const table of SHOPIFY_TABLES) {
      const name = getTableConfig(table).name;
      const written = await env.DB.prepare(`SELECT count(*) AS n FROM ${name} WHERE shop = ?`).bind(shop).first("n");
      expect(written, name).toBe(0);
    }
  });

  it("stores the order sample exactly: ids, UTC times, minor units, JSON lists, line items", async () => {
    const shop = newShop();
    const e = envelope(shop, "orders/create", orderFixture);
    await deliver([e]);
    expect(await one("shopify_orders", shop, "820982911946154508")).toMatchObject({
      name: "#9999",
      order_number: 1234,
      email: "jon@example.com",
      customer_id: "115310627314723954",
      created_at: "2022-01-01T00:00:00.000Z",
      updated_at: "2022-01-01T00:00:00.000Z",
      cancelled_at: "2022-01-01T00:00:00.000Z",
      currency: "USD",
      total_price_minor: 40495,
      total_line_items_price_minor: 41495,
      total_discounts_minor: 2000,
      total_shipping_minor: 1000,
      test: 1,
      confirmed: 0,
      tags: '["tag1","tag2"]',
      payment_gateway_names: '["visa","bogus"]',
      shipping_country_code: "US",
      line_item_count: 5,
      total_quantity: 5,
      is_subscription: 0,
      event_at: "2026-11-20T12:00:00.000Z",
    });
    const lines = await rows("shopify_order_line_items", shop, "order_id = ?", "820982911946154508");
    expect(lines.map((l) => [l.id, l.position, l.product_id, l.price_minor])).toEqual([
      ["315789986012684393", 5, "788032119674292922", 11999],
      ["487817672276298554", 1, "788032119674292922", 8999],
      ["789012345678901234", 2, null, 1999],
      ["890123456789012345", 3, null, 2499],
      ["976318377106520349", 4, "788032119674292922", 15999],
    ]);
    for (const l of lines)
      expect(l).toMatchObject({ last_event_id: e.eventId, updated_at: "2022-01-01T00:00:00.000Z" });
  });

  it("settles duplicates: the same event twice, in one batch and again later, leaves one version", async () => {
    const shop = newShop();
    const e = envelope(shop, "orders/create", order());
    await deliver([e, e]);
    await deliver([e]);
    expect(await rows("shopify_orders", shop)).toHaveLength(1);
    expect(await one("shopify_orders", shop, ORDER_ID)).toMatchObject({
      last_event_id: e.eventId,
      total_price_minor: 2000,
    });
    expect(await rows("shopify_order_line_items", shop)).toHaveLength(2);
    expect(await ledger(e.eventId)).toMatchObject({ status: "applied", deliveries: 3 });
  });

  it("keeps the newest version when two updates arrive newest-first, in separate batches or one", async () => {
    for (const together of [false, true]) {
      const shop = newShop();
      const newer = envelope(
        shop,
        "orders/updated",
        order({
          updated_at: "2026-05-02T10:00:00+02:00",
          total_price: "30.00",
          financial_status: "refunded",
          line_items: [line(3, { quantity: num("3") })],
        }),
      );
      const older = envelope(
        shop,
        "orders/updated",
        order({ updated_at: "2026-05-02T07:59:59.999Z", total_price: "10.00" }),
      );
      if (together) await deliver([newer, older]);
      else {
        await deliver([newer]);
        await deliver([older]);
      }
      expect(await one("shopify_orders", shop, ORDER_ID)).toMatchObject({
        updated_at: "2026-05-02T08:00:00.000Z",
        total_price_minor: 3000,
        financial_status: "refunded",
        total_quantity: 3,
        last_event_id: newer.eventId,
      });
      const lines = await rows("shopify_order_line_items", shop);
      expect(lines.map((l) => [l.id, l.quantity, l.last_event_id])).toEqual([["960000000000000003", 3, newer.eventId]]);
      // The stale event is recorded and archived; it just did not change the row.
      expect(await ledger(older.eventId)).toMatchObject({ status: "applied" });
    }
  });

  it("writes a batch's line items in one DELETE and one INSERT, ending as one event per batch would", async () => {
    const A = "950000000000000201";
    const B = "950000000000000202";
    const C = "950000000000000203";
    const at = (h: number) => `2026-05-0${h}T00:00:00Z`;
    // Versions out of order, repeats, a shrinking set, and a line id that moves between orders.
    const bodies: Array<[topic: string, body: string]> = [
      ["orders/create", order({ id: num(A), updated_at: at(1), line_items: [line(1), line(2), line(3)] })],
      ["orders/create", order({ id: num(B), updated_at: at(3), line_items: [line(4), line(5)] })],
      ["orders/updated", order({ id: num(A), updated_at: at(2), line_items: [line(2, { quantity: num("7") })] })],
      ["orders/updated", order({ id: num(B), updated_at: at(2), line_items: [line(6)] })],
      ["orders/create", order({ id: num(C), updated_at: at(1), line_items: [line(8), line(9)] })],
      ["orders/updated", order({ id: num(A), updated_at: at(2), line_items: [line(2), line(9)] })],
      ["orders/updated", order({ id: num(C), updated_at: at(4), line_items: [] })],
    ];
    const shapes = async (shop: string, events: Envelope[]) => {
      const index = new Map(events.map((e, i) => [e.eventId, i]));
      const lines = await env.DB.prepare(
        "SELECT * FROM shopify_order_line_items WHERE shop = ? ORDER BY order_id, position",
      )
        .bind(shop)
        .all<Row>();
      const orders = await rows("shopify_orders", shop);
      const strip = (r: Row): Row => ({ ...r, shop: null, last_event_id: index.get(String(r.last_event_id)) });
      return { lines: lines.results.map(strip), orders: orders.map(strip) };
    };

    const together = newShop();
    const batchEvents = bodies.map(([topic, body]) => envelope(together, topic, body));
    const prepared: string[] = [];
    const counting = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare") {
          return (text: string) => {
            prepared.push(text);
            return target.prepare(text);
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await deliver([...batchEvents, batchEvents[1] as Envelope], { ...env, DB: counting });
    const childWrites = prepared.filter((t) => /^(DELETE FROM|INSERT INTO) "shopify_order_line_items"/.test(t));
    expect(childWrites).toHaveLength(2);

    const alone = newShop();
    const singleEvents = bodies.map(([topic, body]) => envelope(alone, topic, body));
    for (const e of [...singleEvents, singleEvents[1] as Envelope]) await deliver([e]);

    const expected = await shapes(alone, singleEvents);
    expect(await shapes(together, batchEvents)).toEqual(expected);
    // And that state is the newest version of each order, with exactly its lines.
    expect(expected.lines.map((l) => [l.order_id, l.id, l.quantity, l.last_event_id])).toEqual([
      [A, "960000000000000002", 1, 5],
      [A, "960000000000000009", 1, 5],
      [B, "960000000000000004", 1, 1],
      [B, "960000000000000005", 1, 1],
    ]);
  });

  it("keeps tokens and the order number when a reconciled version cannot supply them", async () => {
    const shop = newShop();
    await deliver([
      envelope(
        shop,
        "orders/create",
        order({ checkout_token: "chk-1", cart_token: "cart-1", landing_site_ref: "ref-1" }),
      ),
    ]);
    const repaired = envelope(
      shop,
      "orders/updated",
      order({
        updated_at: "2026-05-03T09:00:00Z",
        order_number: null,
        checkout_token: null,
        cart_token: null,
        landing_site_ref: null,
        financial_status: "refunded",
      }),
      { origin: "reconcile" },
    );
    await deliver([repaired]);
    expect(await one("shopify_orders", shop, ORDER_ID)).toMatchObject({
      order_number: 2001,
      checkout_token: "chk-1",
      cart_token: "cart-1",
      landing_site_ref: "ref-1",
      financial_status: "refunded",
      origin: "reconcile",
      last_event_id: repaired.eventId,
    });
  });

  it("replaces line items with the order: a later version with fewer lines leaves no leftovers", async () => {
    const shop = newShop();
    await deliver([envelope(shop, "orders/create", order({ line_items: [line(1), line(2), line(3)] }))]);
    const later = envelope(
      shop,
      "orders/updated",
      order({ updated_at: "2026-05-03T00:00:00Z", line_items: [line(2)] }),
    );
    await deliver([later]);
    const lines = await rows("shopify_order_line_items", shop);
    expect(lines.map((l) => [l.id, l.last_event_id, l.updated_at])).toEqual([
      ["960000000000000002", later.eventId, "2026-05-03T00:00:00.000Z"],
    ]);
  });

  it("updates the lines an order keeps in place, deletes the one it drops, and writes none for a redelivery", async () => {
    const shop = newShop();
    const created = envelope(shop, "orders/create", order({ line_items: [line(1), line(2), line(3)] }));
    await deliver([created]);
    const rowids = async () =>
      (
        await env.DB.prepare("SELECT id, rowid AS r FROM shopify_order_line_items WHERE shop = ? ORDER BY id")
          .bind(shop)
          .all<{ id: string; r: number }>()
      ).results;
    const before = await rowids();

    // The child statements' billed rows, read from each batch result's meta.
    const written: number[] = [];
    const metered = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return async (statements: D1PreparedStatement[]) => {
            const texts = statements.map((s) => String((s as unknown as { statement?: string }).statement ?? ""));
            const results = await target.batch(statements);
            results.forEach((r, i) => {
              if (/^(DELETE FROM|INSERT INTO) "shopify_order_line_items"/.test(texts[i] ?? ""))
                written.push(r.meta.rows_written);
            });
            return results;
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await deliver([created], { ...env, DB: metered });
    expect(written.length).toBeGreaterThan(0);
    expect(written.reduce((a, b) => a + b, 0)).toBe(0);

    const later = envelope(
      shop,
      "orders/updated",
      order({ updated_at: "2026-05-03T00:00:00Z", line_items: [line(1), line(3, { quantity: num("4") })] }),
    );
    await deliver([later]);
    const after = await rowids();
    // Lines 1 and 3 were updated where they stood (same rowid); line 2 is gone.
    expect(after).toEqual(before.filter((l) => l.id !== "960000000000000002"));
    const lines = await rows("shopify_order_line_items", shop);
    expect(lines.map((l) => [l.id, l.quantity, l.last_event_id, l.updated_at])).toEqual([
      ["960000000000000001", 1, later.eventId, "2026-05-03T00:00:00.000Z"],
      ["960000000000000003", 4, later.eventId, "2026-05-03T00:00:00.000Z"],
    ]);
  });

  it("moves a line item id that shows up under another order instead of failing the batch", async () => {
    const shop = newShop();
    await deliver([envelope(shop, "orders/create", order({ line_items: [line(1)] }))]);
    await deliver([envelope(shop, "orders/create", order({ id: num("950000000000000002"), line_items: [line(1)] }))]);
    expect((await rows("shopify_order_line_items", shop)).map((l) => [l.id, l.order_id])).toEqual([
      ["960000000000000001", "950000000000000002"],
    ]);
  });

  it("converts JPY and KWD totals with their currency's exponent", async () => {
    const shop = newShop();
    const jpy = order({
      id: num("950000000000000101"),
      currency: "JPY",
      total_price: num("1500"),
      total_tax: "136",
      line_items: [line(1, { price: "1500" })],
    });
    const kwd = order({
      id: num("950000000000000102"),
      currency: "KWD",
      total_price: "12.345",
      total_tax: num("1.005"),
      line_items: [line(2, { price: "12.345" })],
    });
    await deliver([envelope(shop, "orders/create", jpy), envelope(shop, "orders/create", kwd)]);
    expect(await one("shopify_orders", shop, "950000000000000101")).toMatchObject({
      currency: "JPY",
      total_price_minor: 1500,
      total_tax_minor: 136,
    });
    expect(await one("shopify_orders", shop, "950000000000000102")).toMatchObject({
      currency: "KWD",
      total_price_minor: 12345,
      total_tax_minor: 1005,
    });
    expect((await rows("shopify_order_line_items", shop)).map((l) => [l.currency, l.price_minor])).toEqual([
      ["JPY", 1500],
      ["KWD", 12345],
    ]);
  });

  it("writes an order with 520 line items, then replaces them all with a smaller version", async () => {
    const shop = newShop();
    const lines = Array.from({ length: 520 }, (_, i) => line(i + 1, { quantity: num(String((i % 3) + 1)) }));
    await deliver([envelope(shop, "orders/create", order({ line_items: lines }))]);
    expect(await one("shopify_orders", shop, ORDER_ID)).toMatchObject({ line_item_count: 520, total_quantity: 1039 });
    const stored = await env.DB.prepare(
      "SELECT count(*) AS n, sum(quantity) AS q, min(position) AS lo, max(position) AS hi FROM shopify_order_line_items WHERE shop = ?",
    )
      .bind(shop)
      .first();
    expect(stored).toEqual({ n: 520, q: 1039, lo: 1, hi: 520 });

    await deliver([
      envelope(shop, "orders/updated", order({ updated_at: "2026-06-01T00:00:00Z", line_items: lines.slice(0, 3) })),
    ]);
    expect(await rows("shopify_order_line_items", shop)).toHaveLength(3);
  });

  it("stores an order without customer, addresses or landing site as NULLs", async () => {
    const shop = newShop();
    const e = envelope(shop, "orders/create", order({ customer: null, shipping_address: null }));
    await deliver([e]);
    expect(await one("shopify_orders", shop, ORDER_ID)).toMatchObject({
      customer_id: null,
      customer_orders_count: null,
      shipping_city: null,
      shipping_country_code: null,
      billing_zip: null,
      utm_source: null,
      email: "buyer@example.com",
    });
    expect(await ledger(e.eventId)).toMatchObject({ status: "applied" });
  });

  it("detects subscriptions from the tag rule in vars and from SKU patterns set in vars", async () => {
    const shop = newShop();
    await deliver([envelope(shop, "orders/create", order({ id: num("1"), tags: "Subscription First Order" }))]);
    await deliver(
      [envelope(shop, "orders/create", order({ id: num("2"), line_items: [line(3, { sku: "BOX-COFFEE-12" })] }))],
      { ...env, SUBSCRIPTION_SKU_PATTERNS: "BOX-*=box" },
    );
    await deliver([envelope(shop, "orders/create", order({ id: num("3"), line_items: [line(4), line(5)] }))]);
    expect((await rows("shopify_orders", shop)).map((o) => [o.id, o.is_subscription, o.subscription_type])).toEqual([
      ["1", 1, "first"],
      ["2", 1, "box"],
      ["3", 0, null],
    ]);
  });

  it("parses attribution from the landing site", async () => {
    const shop = newShop();
    const body = order({
      landing_site: "/?utm_source=newsletter&utm_medium=email&utm_campaign=may&utm_content=hero&utm_term=coffee",
      referring_site: "https://mail.example/",
      source_name: "web",
    });
    await deliver([envelope(shop, "orders/create", body)]);
    expect(await one("shopify_orders", shop, ORDER_ID)).toMatchObject({
      utm_source: "newsletter",
      utm_medium: "email",
      utm_campaign: "may",
      utm_content: "hero",
      utm_term: "coffee",
      referring_site: "https://mail.example/",
    });
  });

  it("soft-deletes an order and its lines; a late older update neither overwrites nor resurrects it", async () => {
    const shop = newShop();
    await deliver([envelope(shop, "orders/create", order())]);
    const del = envelope(shop, "orders/delete", `{"id":${ORDER_ID}}`, { eventAt: "2026-05-05T00:00:00Z" });
    await deliver([del]);
    const late = envelope(shop, "orders/updated", order({ updated_at: "2026-05-04T00:00:00Z", total_price: "99.00" }));
    await deliver([late]);
    expect(await one("shopify_orders", shop, ORDER_ID)).toMatchObject({
      deleted_at: "2026-05-05T00:00:00.000Z",
      updated_at: "2026-05-05T00:00:00.000Z",
      total_price_minor: 2000,
      email: "buyer@example.com",
      last_event_id: del.eventId,
    });
    const lines = await rows("shopify_order_line_items", shop);
    expect(lines.map((l) => l.deleted_at)).toEqual(["2026-05-05T00:00:00.000Z", "2026-05-05T00:00:00.000Z"]);
  });

  it("leaves a tombstone for a delete that arrives before the create", async () => {
    const shop = newShop();
    const del = envelope(shop, "products/delete", '{"id":788032119674292922}', { eventAt: "2026-01-01T00:00:00Z" });
    await deliver([del, envelope(shop, "products/create", productFixture)]);
    expect(await one("shopify_products", shop, "788032119674292922")).toMatchObject({
      deleted_at: "2026-01-01T00:00:00.000Z",
      title: null,
      last_event_id: del.eventId,
    });
    expect(await rows("shopify_product_variants", shop)).toEqual([]);
  });

  it("keeps deleted_at when a newer customer version arrives after the delete", async () => {
    const shop = newShop();
    const id = "706405506930370084";
    await deliver([envelope(shop, "customers/create", customerFixture)]);
    await deliver([envelope(shop, "customers/delete", `{"id":${id}}`, { eventAt: "2022-06-01T00:00:00Z" })]);
    const newer = customerFixture
      .replace('"updated_at": "2021-12-31T19:00:00-05:00"', '"updated_at": "2022-07-01T00:00:00Z"')
      .replace('"Bob"', '"Robert"');
    await deliver([envelope(shop, "customers/update", newer)]);
    expect(await one("shopify_customers", shop, id)).toMatchObject({
      first_name: "Robert",
      email: "bob@biller.com",
      updated_at: "2022-07-01T00:00:00.000Z",
      deleted_at: "2022-06-01T00:00:00.000Z",
    });
  });

  it("quarantines a payload that fails validation and writes no rows", async () => {
    const shop = newShop();
    const bad = envelope(shop, "orders/create", order({ line_items: [line(1), line(2, { quantity: "two" })] }));
    await deliver([bad]);
    expect(await ledger(bad.eventId)).toMatchObject({ status: "quarantined", note: "invalid_payload" });
    expect(await rows("shopify_orders", shop)).toEqual([]);
    expect(await rows("shopify_order_line_items", shop)).toEqual([]);
    const stored = await env.LAKE.get(`quarantine/shopify/dt=2026-11-20/${bad.eventId}.json`);
    const doc = (await stored?.json()) as { reason: string; detail: string; payload_text: string } | undefined;
    expect(doc).toMatchObject({ reason: "invalid_payload", payload_text: bad.body });
    expect(doc?.detail).toContain("line_items");
  });

  it("maps the remaining samples: customer, product variants priced in the shop currency, fulfillment, refund, checkout", async () => {
    const shop = newShop();
    // The product arrives before any order: the shop currency is unknown, so no prices yet.
    await deliver([envelope(shop, "products/create", productFixture)]);
    expect((await rows("shopify_product_variants", shop)).map((v) => v.price_minor)).toEqual([null, null]);
    await deliver([envelope(shop, "orders/create", order({ currency: "JPY", total_price: "2000" }))]);
    await deliver([
      envelope(shop, "products/update", productFixture.replace('"price": "19.99"', '"price": "1999"')),
      envelope(shop, "customers/create", customerFixture),
      envelope(shop, "fulfillments/create", fulfillmentFixture),
      envelope(shop, "refunds/create", refundFixture),
      envelope(shop, "checkouts/create", checkoutFixture),
    ]);
    expect((await rows("shopify_product_variants", shop)).map((v) => [v.id, v.currency, v.price_minor])).toEqual([
      ["642667041472713922", "JPY", 1999],
      ["757650484644203962", "JPY", 20],
    ]);
    expect(await one("shopify_customers", shop, "706405506930370084")).toMatchObject({
      email: "bob@biller.com",
      country_code: "CA",
      created_at: "2022-01-01T00:00:00.000Z",
    });
    expect(await one("shopify_fulfillments", shop, "123456")).toMatchObject({
      order_id: "820982911946154508",
      tracking_company: "UPS",
      tracking_number: "1z827wk74630",
      tracking_numbers: '["1z827wk74630"]',
      line_item_count: 5,
    });
    expect(await one("shopify_refunds", shop, "890088186047892319")).toMatchObject({
      order_id: "820982911946154508",
      currency: "USD",
      refunded_amount_minor: 8500,
      line_count: 5,
    });
    const refundLines = await rows("shopify_refund_line_items", shop, "refund_id = ?", "890088186047892319");
    expect(refundLines.map((l) => [l.line_item_id, l.subtotal_minor])).toEqual([
      ["315789986012684393", 11999],
      ["487817672276298554", 8999],
      ["789012345678901234", 1999],
      ["890123456789012345", 2499],
      ["976318377106520349", 15999],
    ]);
    expect(await one("shopify_checkouts", shop, "981820079255243537")).toMatchObject({
      token: "123123123",
      email: "example@email.com",
      completed_at: null,
      total_price_minor: 42188,
      abandoned_checkout_url: "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token",
    });
  });
});
