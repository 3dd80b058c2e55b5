import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bulkOrderDoc } from "../src/durable/bulk/fast-order";
import { mapBulkEntity, restOrder } from "../src/durable/bulk/map";
import { type EventMeta, type MapContext, mapOrder, orderRows, parseSubscriptionRules } from "../src/mapping/shopify";

// The bulk path reads orders without zod; the webhook path (REST rename + order schema) is the
// reference. Both must give the same rows, or the same refusal, for any record.

const meta: EventMeta = {
  shop: "fast.myshopify.com",
  eventId: "bulk-7",
  eventAt: "2026-03-01T00:00:00.000Z",
  origin: "bulk",
};
const ctx: MapContext = { subscriptions: parseSubscriptionRules("Subscription", "SUB-*=box"), shopCurrency: "USD" };

type Obj = Record<string, unknown>;

/** Mostly valid values, with the odd wrong one: the shortcut must refuse exactly what the schema refuses. */
const some = <T, U>(valid: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: odd });
const nothing = fc.constantFrom(null, undefined);
const oddValue = fc.oneof(fc.constantFrom(5, -0, 1.5, true, "", " ", [], {}, [1]), fc.string({ maxLength: 4 }));

const digits = fc.bigInt({ min: 1n, max: 10n ** 19n }).map(String);
const gid = (kind: string) => digits.map((d) => `gid://shopify/${kind}/${d}`);
const idOf = (kind: string) =>
  some(
    fc.oneof(gid(kind), digits),
    fc.oneof(
      oddValue,
      fc.constantFrom(
        `gid://shopify/${kind}/x`,
        `gid://shopify/${kind}/`,
        `gid://shopify/${kind}/1/2`,
        `gid://shopify/${kind}/12 `,
        `gid://shopify/${kind}/\u0661`,
        "gid://shopify//12",
        "gid://shopify/Line-Item/12",
        "gid://shopify/Line_Item9/12",
        "gid://shopify/12",
        "gid://other/Order/12",
        `${"9".repeat(40)}`,
      ),
    ),
  );
const time = some(
  fc.oneof(
    fc
      .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
      .map((d) => d.toISOString()),
    fc.constantFrom(
      "2026-02-01T10:00:00-05:00",
      "2026-02-01T10:00:00+0530",
      "2026-02-01T10:00Z",
      "2026-02-01 10:00:00Z",
    ),
  ),
  fc.oneof(nothing, oddValue, fc.constantFrom("2026-02-01T10:00:00", "2026-13-01T00:00:00Z", "yesterday")),
);
const text = some(fc.oneof(fc.string({ maxLength: 12 }), fc.constant(null)), fc.oneof(nothing, oddValue));
const flag = some(fc.oneof(fc.boolean(), fc.constant(null)), fc.oneof(nothing, oddValue));
const decimal = some(
  fc.oneof(
    fc.tuple(fc.nat(99999), fc.nat(99)).map(([a, b]) => `${a}.${String(b).padStart(2, "0")}`),
    fc.constantFrom("0", "1500", "-5.5", ".5", "1e2", "1.255", "12.3456"),
  ),
  fc.oneof(nothing, oddValue, fc.constantFrom("1,00", "abc", "1.2.3")),
);
const currency = some(
  fc.constantFrom("USD", "JPY", "KWD", "eur"),
  fc.oneof(nothing, oddValue, fc.constantFrom("US", "EURO")),
);
const moneySet = some(
  fc.record({ shopMoney: fc.record({ amount: decimal, currencyCode: currency }) }),
  fc.oneof(nothing, oddValue, fc.constant({ shopMoney: null }), fc.constant({ shopMoney: { amount: null } })),
);
const quantity = some(fc.integer({ min: 0, max: 50 }), fc.oneof(nothing, oddValue, fc.constantFrom("3", -0, 2 ** 60)));
const strings = some(fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), fc.oneof(nothing, oddValue));
const address = some(
  fc.record({ city: text, province: text, provinceCode: text, zip: text, country: text, countryCodeV2: text }),
  fc.oneof(nothing, oddValue),
);
const lineItem = some(
  fc.record({
    id: idOf("LineItem"),
    sku: some(fc.constantFrom("SUB-1", "SKU-2", null), oddValue),
    title: text,
    variantTitle: text,
    vendor: text,
    quantity,
    isGiftCard: flag,
    product: some(fc.record({ id: idOf("Product") }), fc.oneof(nothing, oddValue)),
    variant: some(fc.record({ id: idOf("ProductVariant") }), fc.oneof(nothing, oddValue)),
    originalUnitPriceSet: moneySet,
    totalDiscountSet: moneySet,
  }),
  fc.record({ id: idOf("LineItem") }),
);
const order = fc.record(
  {
    id: idOf("Order"),
    name: some(
      fc.oneof(
        fc.nat(99999).map((n) => `#${n}`),
        fc.constantFrom("", "A-12-B", "#1234567890123456"),
      ),
      oddValue,
    ),
    confirmationNumber: text,
    email: text,
    phone: text,
    createdAt: time,
    updatedAt: time,
    processedAt: time,
    closedAt: time,
    cancelledAt: time,
    cancelReason: some(fc.constantFrom("CUSTOMER", "FRAUD", null), oddValue),
    displayFinancialStatus: some(fc.constantFrom("PAID", "PARTIALLY_REFUNDED", null), oddValue),
    displayFulfillmentStatus: some(
      fc.constantFrom("UNFULFILLED", "FULFILLED", "PARTIALLY_FULFILLED", "RESTOCKED", null),
      oddValue,
    ),
    test: flag,
    confirmed: flag,
    customerAcceptsMarketing: flag,
    currencyCode: currency,
    presentmentCurrencyCode: currency,
    totalPriceSet: moneySet,
    subtotalPriceSet: moneySet,
    totalDiscountsSet: moneySet,
    totalTaxSet: moneySet,
    totalShippingPriceSet: moneySet,
    currentTotalPriceSet: moneySet,
    discountCodes: strings,
    tags: some(fc.oneof(strings, fc.constant("Subscription, vip")), oddValue),
    note: text,
    paymentGatewayNames: strings,
    sourceName: text,
    customerJourneySummary: some(
      fc.record({
        firstVisit: some(
          fc.record({
            landingPage: some(
              fc.constantFrom("https://s.example/?utm_source=news", "/p?utm_campaign=fall", null),
              oddValue,
            ),
            referrerUrl: text,
          }),
          oddValue,
        ),
      }),
      fc.oneof(nothing, oddValue),
    ),
    shippingAddress: address,
    billingAddress: address,
    customer: some(
      fc.record({
        id: idOf("Customer"),
        numberOfOrders: some(fc.oneof(fc.nat(500).map(String), fc.nat(500)), fc.oneof(nothing, oddValue)),
        amountSpent: some(fc.record({ amount: decimal, currencyCode: currency }), fc.oneof(nothing, oddValue)),
      }),
      fc.oneof(nothing, oddValue),
    ),
  },
  { requiredKeys: ["id", "currencyCode"] },
);
const records = fc.tuple(order, fc.array(lineItem, { maxLength: 4 }));

describe("the bulk order reader", () => {
  it("gives exactly the webhook path's rows, or its refusal, for any bulk order record", () => {
    let fast = 0;
    fc.assert(
      fc.property(records, ([node, lines]) => {
        const reference = mapOrder(restOrder(node as Obj, lines as Obj[]), meta, ctx);
        const doc = bulkOrderDoc(node as Obj, lines as Obj[]);
        if (doc === null) return; // the bulk path then takes the webhook path itself
        fast++;
        expect(reference.ok).toBe(true);
        if (reference.ok) expect(orderRows(doc, meta, ctx)).toEqual(reference.rows);
      }),
      { numRuns: 3000 },
    );
    // Most generated records are valid: the shortcut must be the path they take.
    expect(fast).toBeGreaterThan(300);
  });

  it("maps JSONL lines to the same result as the webhook path, refusals included", () => {
    fc.assert(
      fc.property(records, ([node, lines]) => {
        const parentLine = JSON.stringify(node);
        const childLines = lines.map((l) => JSON.stringify(l));
        // What the lines say once read back (JSON drops undefined and writes -0 as 0).
        const reference = mapOrder(
          restOrder(
            JSON.parse(parentLine) as Obj,
            childLines.map((l) => JSON.parse(l) as Obj),
          ),
          meta,
          ctx,
        );
        expect(mapBulkEntity("orders", parentLine, childLines, meta, ctx)).toEqual(reference);
      }),
      { numRuns: 1500 },
    );
  });

  it("takes the shortcut for an ordinary bulk order", () => {
    const node = {
      id: "gid://shopify/Order/820982911946154508",
      name: "#1001",
      createdAt: "2026-02-01T10:00:00-05:00",
      updatedAt: "2026-02-01T10:00:00-05:00",
      currencyCode: "USD",
      totalPriceSet: { shopMoney: { amount: "39.98", currencyCode: "USD" } },
      customer: { id: "gid://shopify/Customer/115310627314723954", numberOfOrders: "3" },
    };
    const lines = [
      {
        id: "gid://shopify/LineItem/866550311766439020",
        quantity: 2,
        originalUnitPriceSet: { shopMoney: { amount: "19.99" } },
      },
    ];
    const doc = bulkOrderDoc(node, lines);
    expect(doc).not.toBeNull();
    const rows = orderRows(doc as NonNullable<typeof doc>, meta, ctx);
    expect(rows.order).toMatchObject({
      id: "820982911946154508",
      orderNumber: 1001,
      customerId: "115310627314723954",
      customerOrdersCount: 3,
      totalPriceMinor: 3998,
      totalLineItemsPriceMinor: 3998,
      updatedAt: "2026-02-01T15:00:00.000Z",
    });
    expect(rows.lineItems.map((l) => [l.id, l.quantity, l.priceMinor])).toEqual([["866550311766439020", 2, 1999]]);
    // A wrong type is left to the webhook path, which refuses it with its message.
    expect(bulkOrderDoc({ ...node, test: "yes" }, lines)).toBeNull();
    const refused = mapBulkEntity("orders", JSON.stringify({ ...node, test: "yes" }), [], meta, ctx);
    expect(refused.ok).toBe(false);
  });
});
