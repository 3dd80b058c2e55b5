import { describe, expect, it } from "vitest";
import { mapBulkEntity } from "../src/durable/bulk/map";
import { bulkQuery } from "../src/durable/bulk/queries";
import { gunzipIfNeeded, jsonlLines, lineIds, skipBytes } from "../src/durable/bulk/stream";
import type { EventMeta, MapContext } from "../src/mapping/shopify";
import { parseSubscriptionRules } from "../src/mapping/shopify";
import bulkProducts from "./fixtures/shopify/bulk_products.jsonl?raw";

function streamOf(...chunks: Array<string | Uint8Array>): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(typeof chunk === "string" ? enc.encode(chunk) : chunk);
      c.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of jsonlLines(stream)) out.push(...batch.lines);
  return out;
}

async function gzip(text: string): Promise<Uint8Array> {
  return new Uint8Array(await new Response(streamOf(text).pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
}

describe("bulk JSONL streaming", () => {
  it("splits lines across chunk boundaries, including a multi-byte character cut in two", async () => {
    const bytes = new TextEncoder().encode('{"id":"a","t":"é"}\r\n\n{"id":"b"}');
    const cut = bytes.indexOf(0xc3) + 1; // inside "é"
    const lines = await collect(streamOf(bytes.slice(0, cut), bytes.slice(cut)));
    expect(lines).toEqual(['{"id":"a","t":"é"}', '{"id":"b"}']);
  });

  it("gunzips gzip bytes (sniffed, not labelled) and passes plain text through", async () => {
    const text = `${bulkProducts.trim()}\n`;
    const gz = await gzip(text);
    expect(await collect(await gunzipIfNeeded(streamOf(gz.slice(0, 7), gz.slice(7))))).toHaveLength(11);
    expect(await collect(await gunzipIfNeeded(streamOf(text)))).toHaveLength(11);
    expect(await new Response(skipBytes(streamOf("abc", "defg"), 4)).text()).toBe("efg");
  });

  it("reads ids and parent ids without parsing, and falls back to JSON.parse for other layouts", () => {
    const lines = bulkProducts.trim().split("\n");
    expect(lineIds(lines[0] ?? "")).toEqual({ id: "gid://shopify/Product/1921569226808", parentId: null });
    expect(lineIds(lines[10] ?? "")).toEqual({
      id: "gid://shopify/ProductVariant/19435458986123",
      parentId: "gid://shopify/Product/1921569226808",
    });
    expect(lineIds('{"title":"x","id":"gid://shopify/Order/1","__parentId":"gid://shopify/Order/0","n":1}')).toEqual({
      id: "gid://shopify/Order/1",
      parentId: "gid://shopify/Order/0",
    });
    // A parent whose note mentions __parentId is still a parent.
    expect(lineIds('{"id":"gid://shopify/Order/2","note":"\\"__parentId\\":\\"gid://x\\""}')).toEqual({
      id: "gid://shopify/Order/2",
      parentId: null,
    });
    expect(lineIds("not json")).toBeNull();
    expect(lineIds('{"title":"no id"}')).toBeNull();
  });
});

describe("bulk lines → the webhook rows", () => {
  const meta: EventMeta = {
    shop: "map.myshopify.com",
    eventId: "bulk-42",
    eventAt: "2026-03-01T00:00:00.000Z",
    origin: "bulk",
  };
  const ctx: MapContext = { subscriptions: parseSubscriptionRules("Subscription", "SUB-*=box"), shopCurrency: "USD" };

  it("maps an order with its line items (gid → digits, money → minor units, enums → REST values)", () => {
    const order = {
      id: "gid://shopify/Order/820982911946154508",
      name: "#1001",
      email: " Jon@Example.COM ",
      createdAt: "2026-02-01T10:00:00-05:00",
      updatedAt: "2026-02-02T10:00:00-05:00",
      cancelReason: null,
      displayFinancialStatus: "PARTIALLY_REFUNDED",
      displayFulfillmentStatus: "PARTIALLY_FULFILLED",
      test: false,
      currencyCode: "KWD",
      totalPriceSet: { shopMoney: { amount: "12.345", currencyCode: "KWD" } },
      totalShippingPriceSet: { shopMoney: { amount: "1.000", currencyCode: "KWD" } },
      discountCodes: ["SAVE"],
      tags: ["vip"],
      customerJourneySummary: {
        firstVisit: {
          landingPage: "https://s.example/?utm_source=ig&utm_campaign=fall",
          referrerUrl: "https://ig.example/",
        },
      },
      shippingAddress: { city: "Kuwait City", countryCodeV2: "KW", country: "Kuwait" },
      customer: {
        id: "gid://shopify/Customer/9007199254740993",
        numberOfOrders: "3",
        amountSpent: { amount: "30.000", currencyCode: "KWD" },
      },
    };
    const lines = [
      {
        id: "gid://shopify/LineItem/1",
        sku: "SUB-7",
        quantity: 2,
        originalUnitPriceSet: { shopMoney: { amount: "5.250" } },
        product: { id: "gid://shopify/Product/5" },
        __parentId: order.id,
      },
      {
        id: "gid://shopify/LineItem/2",
        sku: "X",
        quantity: 1,
        originalUnitPriceSet: { shopMoney: { amount: "0.100" } },
        product: null,
        __parentId: order.id,
      },
    ];
    const r = mapBulkEntity(
      "orders",
      JSON.stringify(order),
      lines.map((l) => JSON.stringify(l)),
      meta,
      ctx,
    );
    expect(r.ok).toBe(true);
    if (!r.ok || r.rows.kind !== "order") return;
    expect(r.rows.order).toMatchObject({
      shop: "map.myshopify.com",
      id: "820982911946154508",
      orderNumber: 1001,
      email: "jon@example.com",
      createdAt: "2026-02-01T15:00:00.000Z",
      updatedAt: "2026-02-02T15:00:00.000Z",
      financialStatus: "partially_refunded",
      fulfillmentStatus: "partial",
      currency: "KWD",
      totalPriceMinor: 12345,
      totalShippingMinor: 1000,
      totalLineItemsPriceMinor: 10600,
      customerId: "9007199254740993",
      customerOrdersCount: 3,
      customerTotalSpentMinor: 30000,
      utmSource: "ig",
      utmCampaign: "fall",
      lineItemCount: 2,
      totalQuantity: 3,
      isSubscription: true,
      subscriptionType: "box",
      lastEventId: "bulk-42",
      origin: "bulk",
    });
    expect(r.rows.lineItems.map((l) => [l.id, l.orderId, l.priceMinor, l.productId])).toEqual([
      ["1", "820982911946154508", 5250, "5"],
      ["2", "820982911946154508", 100, null],
    ]);
  });

  it("maps customers and products (variant prices in the shop's currency)", () => {
    const customer = mapBulkEntity(
      "customers",
      JSON.stringify({
        id: "gid://shopify/Customer/7",
        firstName: "Ada",
        state: "ENABLED",
        updatedAt: "2026-01-01T00:00:00Z",
        numberOfOrders: "12",
        amountSpent: { amount: "1500", currencyCode: "JPY" },
        defaultEmailAddress: {
          emailAddress: "ADA@x.io",
          marketingState: "SUBSCRIBED",
          marketingOptInLevel: "SINGLE_OPT_IN",
        },
        tags: ["a", "b"],
      }),
      [],
      meta,
      ctx,
    );
    expect(customer.ok && customer.rows.kind === "customer" && customer.rows.customer).toMatchObject({
      id: "7",
      email: "ada@x.io",
      state: "enabled",
      ordersCount: 12,
      totalSpentMinor: 1500,
      emailMarketingState: "subscribed",
      emailMarketingOptInLevel: "single_opt_in",
      acceptsMarketing: true,
      tags: ["a", "b"],
    });

    const lines = bulkProducts.trim().split("\n");
    const product = mapBulkEntity(
      "products",
      lines[0] ?? "",
      [lines[1] ?? "", lines[10] ?? ""].map((l) =>
        l.replace("}", ',"price":"19.99","updatedAt":"2026-01-01T00:00:00Z"}'),
      ),
      meta,
      ctx,
    );
    expect(product.ok).toBe(true);
    if (!product.ok || product.rows.kind !== "product") return;
    expect(product.rows.product.id).toBe("1921569226808");
    expect(product.rows.variants.map((v) => [v.id, v.productId, v.priceMinor, v.currency])).toEqual([
      ["19435458986040", "1921569226808", 1999, "USD"],
      ["19435458986123", "1921569226808", 1999, "USD"],
    ]);
  });

  it("rejects a node that fails the webhook mapper's validation (not half-written)", () => {
    const r = mapBulkEntity("customers", '{"id":"gid://shopify/Customer/1","updatedAt":"yesterday"}', [], meta, ctx);
    expect(r.ok).toBe(false);
    expect(mapBulkEntity("orders", "{oops", [], meta, ctx).ok).toBe(false);
  });

  it("filters incremental exports with Shopify's search syntax", () => {
    expect(bulkQuery("orders", "2026-01-01T00:00:00Z")).toContain(
      `orders(query: "updated_at:>'2026-01-01T00:00:00Z'")`,
    );
    expect(bulkQuery("customers", null)).toMatch(/^\{ customers \{ edges/);
  });
});
