/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import {
  detectSubscription,
  type EventMeta,
  type MapContext,
  type MapResult,
  mapShopifyEvent,
  parseSubscriptionRules,
  type ShopifyFamily,
  type ShopifyRows,
  shopifyFamily,
  utmFromLandingSite,
} from "../src/mapping/shopify";
import { MAX_BOUND_PARAMETERS } from "../src/tables/d1";
import { orderStatements, productStatements } from "../src/tables/shopify";
import checkoutFixture from "./fixtures/shopify/checkouts__create.json?raw";
import customerFixture from "./fixtures/shopify/customers__create.json?raw";
import fulfillmentFixture from "./fixtures/shopify/fulfillments__create.json?raw";
import orderFixture from "./fixtures/shopify/orders__create.json?raw";
import productFixture from "./fixtures/shopify/products__create.json?raw";
import refundFixture from "./fixtures/shopify/refunds__create.json?raw";
import { num, toJson } from "./helpers/json-text";
import { recordingDb } from "./helpers/recording-db";

const meta: EventMeta = {
  shop: "unit-shop.myshopify.com",
  eventId: "evt-unit-1",
  eventAt: "2026-11-20T12:00:00.000Z",
  origin: "webhook",
};
const rules = parseSubscriptionRules(
  "Subscription Recurring Order=recurring,Subscription First Order=first,Subscription=subscription",
  "SUB-*=sku-subscription,*-BOX",
);
const ctx: MapContext = { subscriptions: rules, shopCurrency: null };

function line(n: number, over: Record<string, unknown> = {}) {
  return {
    id: num(`91000000000000${String(n).padStart(4, "0")}`),
    product_id: num("920000000000000001"),
    variant_id: num("930000000000000001"),
    sku: `SKU-${n}`,
    title: `Item ${n}`,
    quantity: num("1"),
    price: "10.00",
    total_discount: "0.00",
    ...over,
  };
}

function order(over: Record<string, unknown> = {}) {
  return {
    id: num("900000000000000001"),
    name: "#1001",
    order_number: num("1001"),
    email: "  Buyer@Example.COM ",
    created_at: "2026-03-01T10:00:00+09:00",
    updated_at: "2026-03-01T10:00:00+09:00",
    currency: "USD",
    total_price: "10.00",
    subtotal_price: "10.00",
    total_line_items_price: "10.00",
    total_discounts: "0.00",
    total_tax: "0.00",
    tags: "",
    line_items: [line(1)],
    ...over,
  };
}

function map(family: ShopifyFamily, body: string, c: MapContext = ctx): MapResult {
  return mapShopifyEvent(family, body, meta, c);
}

function rowsOf<K extends ShopifyRows["kind"]>(result: MapResult, kind: K): Extract<ShopifyRows, { kind: K }> {
  if (!result.ok) throw new Error(`expected rows, got: ${result.detail}`);
  expect(result.rows.kind).toBe(kind);
  return result.rows as Extract<ShopifyRows, { kind: K }>;
}

describe("shopifyFamily", () => {
  it("routes table topics and leaves the rest archive-only", () => {
    expect(shopifyFamily("orders/create")).toBe("order");
    expect(shopifyFamily("orders/cancelled")).toBe("order");
    expect(shopifyFamily("orders/delete")).toBe("delete:orders");
    expect(shopifyFamily("customers/disable")).toBe("customer");
    expect(shopifyFamily("products/delete")).toBe("delete:products");
    expect(shopifyFamily("refunds/create")).toBe("refund");
    expect(shopifyFamily("checkouts/delete")).toBe("delete:checkouts");
    expect(shopifyFamily("inventory_items/update")).toBe("inventoryItem");
    expect(shopifyFamily("inventory_items/delete")).toBe("delete:inventory_items");
    expect(shopifyFamily("inventory_levels/update")).toBe("inventoryLevel");
    expect(shopifyFamily("locations/delete")).toBe("delete:locations");
    for (const topic of [
      "customers/redact",
      "customers/data_request",
      "shop/redact",
      "app/uninstalled",
      "carts/create",
      "inventory_levels/connect",
      "bulk_operations/finish",
      "orders/edited",
      "order_transactions/create",
    ]) {
      expect(shopifyFamily(topic), topic).toBeNull();
    }
  });
});

describe("mapOrder", () => {
  it("maps the docs sample exactly: 18-digit ids, UTC times, minor units, addresses", () => {
    const { order, lineItems } = rowsOf(map("order", orderFixture), "order");
    expect(order).toMatchObject({
      shop: meta.shop,
      id: "820982911946154508",
      name: "#9999",
      orderNumber: 1234,
      email: "jon@example.com",
      customerId: "115310627314723954",
      createdAt: "2022-01-01T00:00:00.000Z",
      cancelledAt: "2022-01-01T00:00:00.000Z",
      updatedAt: "2022-01-01T00:00:00.000Z",
      cancelReason: "customer",
      financialStatus: "voided",
      fulfillmentStatus: null,
      test: true,
      confirmed: false,
      currency: "USD",
      totalPriceMinor: 40495,
      subtotalPriceMinor: 40495,
      totalLineItemsPriceMinor: 41495,
      totalDiscountsMinor: 2000,
      totalTaxMinor: 0,
      totalShippingMinor: 1000,
      currentTotalPriceMinor: 41495,
      tags: ["tag1", "tag2"],
      discountCodes: [],
      paymentGatewayNames: ["visa", "bogus"],
      sourceName: "web",
      landingSite: null,
      utmSource: null,
      shippingCity: "Shippington",
      shippingProvinceCode: "KY",
      shippingZip: "40003",
      shippingCountryCode: "US",
      billingCity: "Shippington",
      lineItemCount: 5,
      totalQuantity: 5,
      isSubscription: false,
      subscriptionType: null,
      deletedAt: null,
      lastEventId: meta.eventId,
      eventAt: meta.eventAt,
      origin: "webhook",
    });
    expect(lineItems.map((l) => l.id)).toEqual([
      "487817672276298554",
      "789012345678901234",
      "890123456789012345",
      "976318377106520349",
      "315789986012684393",
    ]);
    expect(lineItems[0]).toMatchObject({
      orderId: "820982911946154508",
      position: 1,
      productId: "788032119674292922",
      variantId: null,
      sku: "SKU2006-001",
      quantity: 1,
      currency: "USD",
      priceMinor: 8999,
      discountMinor: 0,
      giftCard: false,
    });
    expect(lineItems[1]?.productId).toBeNull();
  });

  it("converts JPY and KWD totals with their own exponents", () => {
    const jpy = rowsOf(
      map(
        "order",
        toJson(order({ currency: "JPY", total_price: num("1500"), line_items: [line(1, { price: "1500" })] })),
      ),
      "order",
    );
    expect(jpy.order).toMatchObject({ currency: "JPY", totalPriceMinor: 1500 });
    expect(jpy.lineItems[0]?.priceMinor).toBe(1500);
    const kwd = rowsOf(
      map("order", toJson(order({ currency: "kwd", total_price: "12.345", total_tax: num("0.125") }))),
      "order",
    );
    expect(kwd.order).toMatchObject({ currency: "KWD", totalPriceMinor: 12345, totalTaxMinor: 125 });
  });

  it("keeps ids longer than 2^53 (and 2^63) digit for digit", () => {
    const body = toJson(
      order({ id: num("98765432109876543210"), customer: { id: num("9007199254740993") }, line_items: [] }),
    );
    const { order: row } = rowsOf(map("order", body), "order");
    expect(row.id).toBe("98765432109876543210");
    expect(row.customerId).toBe("9007199254740993");
  });

  it("normalizes offset timestamps to UTC Z and the email to lower case", () => {
    const body = toJson(order({ processed_at: "2026-03-01T18:30:00.123456789-05:00" }));
    const { order: row } = rowsOf(map("order", body), "order");
    expect(row.createdAt).toBe("2026-03-01T01:00:00.000Z");
    expect(row.processedAt).toBe("2026-03-01T23:30:00.123Z");
    expect(row.email).toBe("buyer@example.com");
  });

  it("leaves missing optional objects empty: no customer, no addresses, no landing site", () => {
    const { order: row } = rowsOf(map("order", toJson(order())), "order");
    // Without a customer object its counts are not carried: left out of the row, so never erased.
    expect(row.customerOrdersCount).toBeUndefined();
    expect(row).toMatchObject({
      customerId: null,
      shippingCity: null,
      shippingCountryCode: null,
      billingZip: null,
      utmSource: null,
      totalShippingMinor: null,
      paymentGatewayNames: [],
    });
  });

  it("parses utm_* from a relative landing site and sums shipping lines without a shipping set", () => {
    const body = toJson(
      order({
        landing_site: "/products/tee?utm_source=Google&UTM_MEDIUM=cpc&utm_campaign=spring%20sale&utm_term=t+shirt",
        shipping_lines: [{ price: "4.50" }, { price: num("1.25") }],
      }),
    );
    const { order: row } = rowsOf(map("order", body), "order");
    expect(row).toMatchObject({
      utmSource: "Google",
      utmMedium: "cpc",
      utmCampaign: "spring sale",
      utmContent: null,
      utmTerm: "t shirt",
      totalShippingMinor: 575,
    });
  });

  it("uses discount allocations for a line's discount when Shopify reports them", () => {
    const body = toJson(
      order({
        line_items: [
          line(1, { total_discount: "0.00", discount_allocations: [{ amount: "1.50" }, { amount: "0.25" }] }),
        ],
      }),
    );
    expect(rowsOf(map("order", body), "order").lineItems[0]?.discountMinor).toBe(175);
  });

  it("detects subscriptions from tag rules before SKU rules", () => {
    const byTag = toJson(
      order({ tags: "vip, subscription recurring order, Subscription", line_items: [line(1, { sku: "SUB-1" })] }),
    );
    expect(rowsOf(map("order", byTag), "order").order).toMatchObject({
      isSubscription: true,
      subscriptionType: "recurring",
    });
    const bySku = toJson(order({ line_items: [line(1, { sku: "plain" }), line(2, { sku: "sub-coffee" })] }));
    expect(rowsOf(map("order", bySku), "order").order).toMatchObject({
      isSubscription: true,
      subscriptionType: "sku-subscription",
    });
    const none = toJson(order({ tags: "subscriber", line_items: [line(1, { sku: "SUBX" })] }));
    expect(rowsOf(map("order", none), "order").order).toMatchObject({ isSubscription: false, subscriptionType: null });
  });

  it("keeps one row per repeated line item id (the later one)", () => {
    const body = toJson(order({ line_items: [line(1, { quantity: num("1") }), line(1, { quantity: num("4") })] }));
    const { order: row, lineItems } = rowsOf(map("order", body), "order");
    expect(lineItems).toHaveLength(1);
    expect(lineItems[0]?.quantity).toBe(4);
    expect(row.totalQuantity).toBe(4);
  });

  it("falls back to the event time when the payload has no updated_at", () => {
    const { order: row } = rowsOf(map("order", toJson(order({ updated_at: undefined }))), "order");
    expect(row.updatedAt).toBe(meta.eventAt);
  });

  it.each([
    ["a non-numeric id", order({ id: "abc" })],
    ["line_items that is not a list", order({ line_items: "oops" })],
    ["a timestamp without a zone", order({ created_at: "2026-03-01 10:00:00" })],
    ["a missing currency", order({ currency: undefined })],
    ["an amount that is not a number", order({ total_price: "ten" })],
    ["one bad line among good ones", order({ line_items: [line(1), line(2, { quantity: "two" })] })],
    ["a body that is not an object", []],
  ])("fails validation on %s", (_name, payload) => {
    const result = map("order", toJson(payload));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.detail).toMatch(/^order: /);
  });
});

describe("other topic families", () => {
  it("maps the customer sample with a normalized email and consent", () => {
    const body = customerFixture.replace('"bob@biller.com"', '"Bob@Biller.com"');
    const { customer } = rowsOf(map("customer", body), "customer");
    expect(customer).toMatchObject({
      id: "706405506930370084",
      email: "bob@biller.com",
      firstName: "Bob",
      state: "disabled",
      verifiedEmail: true,
      currency: "USD",
      city: "Ottawa",
      countryCode: "CA",
      createdAt: "2022-01-01T00:00:00.000Z",
      updatedAt: "2022-01-01T00:00:00.000Z",
    });
    // The 2026-07 sample has no tags (they moved to customer.tags_added|removed): left out, never erased.
    expect(customer.tags).toBeUndefined();
    const consent = toJson({
      id: num("1"),
      email_marketing_consent: {
        state: "subscribed",
        opt_in_level: "single_opt_in",
        consent_updated_at: "2026-01-01T00:00:00+01:00",
      },
      orders_count: num("3"),
      total_spent: "199.65",
      currency: "USD",
    });
    expect(rowsOf(map("customer", consent), "customer").customer).toMatchObject({
      acceptsMarketing: true,
      emailMarketingState: "subscribed",
      emailMarketingUpdatedAt: "2025-12-31T23:00:00.000Z",
      ordersCount: 3,
      totalSpentMinor: 19965,
    });
  });

  it("maps products and variants, pricing variants only when the shop currency is known", () => {
    const unknown = rowsOf(map("product", productFixture), "product");
    expect(unknown.product).toMatchObject({
      id: "788032119674292922",
      title: "Example T-Shirt",
      status: "active",
      tags: ["example", "mens", "t-shirt"],
      createdAt: null,
      publishedAt: "2022-01-01T00:00:00.000Z",
    });
    expect(unknown.variants.map((v) => [v.id, v.productId, v.priceMinor, v.currency])).toEqual([
      ["642667041472713922", "788032119674292922", null, null],
      ["757650484644203962", "788032119674292922", null, null],
    ]);
    const known = rowsOf(map("product", productFixture, { ...ctx, shopCurrency: "USD" }), "product");
    expect(known.variants[0]).toMatchObject({
      priceMinor: 1999,
      compareAtPriceMinor: 2499,
      currency: "USD",
      inventoryQuantity: 75,
      updatedAt: "2021-12-31T00:00:00.000Z",
    });
  });

  it("maps the fulfillment sample with its tracking", () => {
    const { fulfillment } = rowsOf(map("fulfillment", fulfillmentFixture), "fulfillment");
    expect(fulfillment).toMatchObject({
      id: "123456",
      orderId: "820982911946154508",
      status: "pending",
      trackingCompany: "UPS",
      trackingNumber: "1z827wk74630",
      trackingNumbers: ["1z827wk74630"],
      trackingUrl: "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630",
      name: "#9999.1",
    });
  });

  it("maps the refund sample: refunded amount from successful refund transactions, line refs as rows", () => {
    const { refund, lineItems } = rowsOf(map("refund", refundFixture), "refund");
    expect(refund).toMatchObject({
      id: "890088186047892319",
      orderId: "820982911946154508",
      currency: "USD",
      refundedAmountMinor: 8500,
      lineSubtotalMinor: 41495,
      lineTaxMinor: 0,
      lineCount: 5,
      restock: false,
      updatedAt: "2022-01-01T00:00:00.000Z",
    });
    expect(lineItems[0]).toMatchObject({
      id: "487817672276298627",
      refundId: "890088186047892319",
      lineItemId: "487817672276298554",
      quantity: 1,
      subtotalMinor: 8999,
      restockType: "no_restock",
    });
  });

  it("maps the checkout sample, taking its id from the #<id> name the sample carries", () => {
    const { checkout } = rowsOf(map("checkout", checkoutFixture), "checkout");
    expect(checkout).toMatchObject({
      id: "981820079255243537",
      token: "123123123",
      email: "example@email.com",
      customerId: "603851970716743426",
      completedAt: null,
      totalPriceMinor: 42188,
      totalTaxMinor: 2388,
      lineItemCount: 2,
      totalQuantity: 2,
      shippingCountryCode: "US",
    });
    const withId = toJson({
      id: num("981820079255243999"),
      token: "t",
      name: "#1",
      currency: "JPY",
      total_price: "500",
    });
    expect(rowsOf(map("checkout", withId), "checkout").checkout).toMatchObject({
      id: "981820079255243999",
      totalPriceMinor: 500,
    });
    expect(map("checkout", toJson({ token: "t", name: "draft" })).ok).toBe(false);
  });

  it("maps deletes to the id alone, exactly", () => {
    const rows = rowsOf(map("delete:orders", '{"id": 820982911946154508}'), "delete");
    expect(rows).toEqual({ kind: "delete", entity: "orders", id: "820982911946154508", meta });
    expect(rowsOf(map("delete:products", '{"id":"gid://shopify/Product/42"}'), "delete").id).toBe("42");
    expect(map("delete:customers", "{}").ok).toBe(false);
  });
});

describe("helpers", () => {
  it("reads attribution from full URLs and ignores what does not parse", () => {
    expect(utmFromLandingSite("https://shop.example/?utm_source=ig&utm_content=reel#x").utmSource).toBe("ig");
    expect(utmFromLandingSite("https://shop.example/?utm_source=ig&utm_content=reel#x").utmContent).toBe("reel");
    expect(utmFromLandingSite("/collections/all").utmSource).toBeNull();
    expect(utmFromLandingSite("http://[broken").utmSource).toBeNull();
    expect(utmFromLandingSite(null).utmCampaign).toBeNull();
  });

  it("parses subscription rules from comma lists with optional types", () => {
    const r = parseSubscriptionRules(" Sub A = alpha ,, Sub B", "");
    expect(r.tags).toEqual([
      { tag: "sub a", type: "alpha" },
      { tag: "sub b", type: "subscription" },
    ]);
    expect(r.skus).toEqual([]);
    expect(detectSubscription(["SUB B"], [], r)).toEqual({ isSubscription: true, type: "subscription" });
    expect(detectSubscription([], ["x.box"], parseSubscriptionRules("", "*.BOX=box"))).toEqual({
      isSubscription: true,
      type: "box",
    });
    // Regex metacharacters in a pattern are literal: only `*` is a wildcard.
    expect(detectSubscription([], ["xxbox"], parseSubscriptionRules("", "*.BOX=box")).isSubscription).toBe(false);
  });
});

describe("statement builders", () => {
  it("writes 520 line items in one statement binding one JSON value, guarded by the parent's event", () => {
    const lines = Array.from({ length: 520 }, (_, i) => line(i + 1));
    const { order: row, lineItems } = rowsOf(map("order", toJson(order({ line_items: lines }))), "order");
    const { db, statements } = recordingDb();
    expect(orderStatements(db, row, lineItems)).toHaveLength(statements.length);
    for (const s of statements) expect(s.params.length).toBeLessThanOrEqual(MAX_BOUND_PARAMETERS);
    const [upsert, del, insert, ...rest] = statements;
    expect(rest).toEqual([]);
    expect(upsert?.sql).toMatch(/^insert into "shopify_orders" .* on conflict .* where excluded\.updated_at >= /);
    expect(del?.sql).toMatch(/^DELETE FROM "shopify_order_line_items" .* JOIN "shopify_orders" p ON .*"last_event_id"/);
    // The parent's key and event, and the ids of its new set (the stored lines it leaves out go).
    const newSet = lines.map((_, i) => `91${String(i + 1).padStart(16, "0")}`);
    expect(del?.params).toEqual([JSON.stringify([[meta.shop, "900000000000000001", meta.eventId, newSet]])]);
    expect(insert?.sql).toMatch(
      /^INSERT INTO "shopify_order_line_items" .* FROM json_each\(\?1\) j JOIN "shopify_orders" p ON .* ON CONFLICT \("shop", "id"\) DO UPDATE/,
    );
    expect(insert?.params).toHaveLength(1);
    // Every line is carried exactly once, by its exact id as text, after its parent's key.
    const tuples = JSON.parse(String(insert?.params[0])) as unknown[][];
    expect(tuples).toHaveLength(520);
    for (const t of tuples) expect(t.slice(0, 3)).toEqual([meta.shop, "900000000000000001", meta.eventId]);
    const ids = tuples.map((t) => t[3]);
    expect(ids.every((id) => typeof id === "string" && /^9100/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(520);
  });

  it("binds booleans as 0/1 and lists as JSON text", () => {
    const { product, variants } = rowsOf(map("product", productFixture), "product");
    const { db, statements } = recordingDb();
    productStatements(db, product, variants);
    expect(statements[0]?.params).toContain('["example","mens","t-shirt"]');
    const { order: row, lineItems } = rowsOf(map("order", orderFixture), "order");
    const rec = recordingDb();
    orderStatements(rec.db, row, lineItems);
    expect(rec.statements[0]?.params).toContain('["visa","bogus"]');
    expect(rec.statements[0]?.params).not.toContain(true);
  });
});
