import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { restOrderDoc } from "../src/mapping/order-reader";
import { type EventMeta, mapShopifyEvent, parseSubscriptionRules } from "../src/mapping/shopify";
import { parseOrderDoc } from "../src/mapping/shopify-schema";
import { parseLossless } from "../src/shared/json";
import orderFixture from "./fixtures/shopify/orders__create.json?raw";
import { fuzzParams } from "./helpers/fuzz";

// The webhook path reads orders field by field; the order schema is the reference. For any
// document, the reader must give the schema's document when the schema accepts it, and refuse
// (null: the mapper then asks the schema) exactly when it does not.

/** Mostly valid values (so that many whole documents are), with the odd wrong one. */
const some = <T, U>(valid: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 80, arbitrary: valid }, { weight: 1, arbitrary: odd });
const nothing = fc.constantFrom(null, undefined);
const oddValue = fc.oneof(
  fc.constantFrom(5, -0, 1.5, true, false, "", " ", [], {}, [1], { a: 1 }),
  fc.string({ maxLength: 4 }),
);
/** An optional field: a valid value or nothing, else the odd wrong value or a near miss. */
const optional = <T, U>(valid: fc.Arbitrary<T>, nearMiss: fc.Arbitrary<U> = oddValue as fc.Arbitrary<U>) =>
  some(fc.oneof({ weight: 3, arbitrary: valid }, nothing), fc.oneof(oddValue, nearMiss));

// The lossless reader gives every JSON number as its source text: ids and counts are strings.
const digits = fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String);
const validId = fc.oneof(
  digits,
  digits.map((d) => `gid://shopify/Order/${d}`),
);
const badId = fc.constantFrom(
  "gid://shopify/Order/x",
  "gid://shopify//1",
  "gid://shopify/A-B/1",
  "1".repeat(33),
  "12 ",
);
const id = some(validId, fc.oneof(oddValue, badId));
const validInt = fc.oneof(fc.integer({ min: -5, max: 5000 }).map(String), fc.constantFrom("-0", "007"));
const badInt = fc.constantFrom("9007199254740993", "1.0", "1e3", " 3", 3);
const text = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("Ottawa", "#1001"));
const validTime = fc.oneof(
  fc
    .date({ min: new Date("1990-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom("2026-02-01T10:00:00-05:00", "2026-02-01T10:00:00+0530", "2026-02-01 10:00:00Z", "2026-02-01T10:00Z"),
);
const badTime = fc.constantFrom("2026-02-01T10:00:00", "yesterday", "2026-13-01T00:00:00Z");
const validDecimal = fc.oneof(
  fc.tuple(fc.nat(99999), fc.nat(99)).map(([a, b]) => `${a}.${String(b).padStart(2, "0")}`),
  fc.constantFrom("0", "-5.5", ".5", "5.", "1e2", "+1.2"),
);
const badDecimal = fc.constantFrom("1,00", "abc", "1.2.3", "");
const validCurrency = fc.constantFrom("USD", "jpy", "KWD");
const badCurrency = fc.constantFrom("EURO", "U1D", "US");
const strings = fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 });
const address = fc.record(
  {
    city: optional(text),
    province: optional(text),
    province_code: optional(text),
    zip: optional(text),
    country: optional(text),
    country_code: optional(text),
  },
  { requiredKeys: [] },
);
const lineItem = fc.record(
  {
    id,
    product_id: optional(validId, badId),
    variant_id: optional(validId, badId),
    sku: optional(fc.constantFrom("SUB-1", "SKU-2")),
    title: optional(text),
    variant_title: optional(text),
    vendor: optional(text),
    quantity: some(validInt, fc.oneof(oddValue, badInt, nothing)),
    price: optional(validDecimal, badDecimal),
    total_discount: optional(validDecimal, badDecimal),
    discount_allocations: optional(
      fc.array(some(fc.record({ amount: some(validDecimal, fc.oneof(badDecimal, nothing)) }), oddValue), {
        maxLength: 2,
      }),
    ),
    gift_card: optional(fc.boolean()),
    fulfillment_status: optional(text),
    properties: fc.constant([{ name: "engraving", value: "A" }]),
  },
  { requiredKeys: ["id", "quantity"] },
);
const order = fc.record(
  {
    id,
    name: optional(text),
    order_number: optional(validInt, badInt),
    confirmation_number: optional(text),
    email: optional(text),
    contact_email: optional(text),
    phone: optional(text),
    customer: optional(
      fc.record(
        {
          id: optional(validId, badId),
          orders_count: optional(validInt, badInt),
          total_spent: optional(validDecimal, badDecimal),
          currency: optional(validCurrency, badCurrency),
        },
        { requiredKeys: [] },
      ),
    ),
    created_at: optional(validTime, badTime),
    updated_at: optional(validTime, badTime),
    processed_at: optional(validTime, badTime),
    closed_at: optional(validTime, badTime),
    cancelled_at: optional(validTime, badTime),
    cancel_reason: optional(text),
    financial_status: optional(text),
    fulfillment_status: optional(text),
    test: optional(fc.boolean()),
    confirmed: optional(fc.boolean()),
    buyer_accepts_marketing: optional(fc.boolean()),
    currency: some(validCurrency, fc.oneof(oddValue, badCurrency, nothing)),
    presentment_currency: optional(validCurrency, badCurrency),
    total_price: optional(validDecimal, badDecimal),
    subtotal_price: optional(validDecimal, badDecimal),
    total_line_items_price: optional(validDecimal, badDecimal),
    total_discounts: optional(validDecimal, badDecimal),
    total_tax: optional(validDecimal, badDecimal),
    current_total_price: optional(validDecimal, badDecimal),
    total_shipping_price_set: optional(
      fc.record({
        shop_money: some(
          fc.record(
            {
              amount: some(validDecimal, fc.oneof(badDecimal, nothing)),
              currency_code: optional(validCurrency, badCurrency),
            },
            { requiredKeys: ["amount"] },
          ),
          fc.oneof(oddValue, nothing),
        ),
        presentment_money: fc.constant({ amount: "1.00" }),
      }),
    ),
    shipping_lines: optional(
      fc.array(some(fc.record({ price: some(validDecimal, fc.oneof(badDecimal, nothing)) }), oddValue), {
        maxLength: 2,
      }),
    ),
    discount_codes: optional(
      fc.array(some(fc.record({ code: some(text, fc.oneof(oddValue, nothing)), amount: validDecimal }), oddValue), {
        maxLength: 2,
      }),
    ),
    tags: optional(fc.oneof(text, strings), fc.constant([1])),
    note: optional(text),
    payment_gateway_names: optional(strings, fc.constant(["a", 1])),
    source_name: optional(text),
    referring_site: optional(text),
    landing_site: optional(fc.constantFrom("/?utm_source=news", "https://s.example/p?utm_campaign=fall")),
    landing_site_ref: optional(text),
    checkout_token: optional(text),
    cart_token: optional(text),
    shipping_address: optional(address),
    billing_address: optional(address),
    line_items: some(fc.array(some(lineItem, oddValue), { maxLength: 4 }), fc.oneof(nothing, oddValue)),
    admin_graphql_api_id: fc.constant("gid://shopify/Order/1"),
  },
  { requiredKeys: ["id", "currency", "line_items"] },
);

describe("the REST order reader", () => {
  it("gives the order schema's document for any document it accepts, and refuses exactly what it refuses", () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 20, arbitrary: order }, { weight: 1, arbitrary: oddValue }), (doc) => {
        const reference = parseOrderDoc(doc);
        const read = restOrderDoc(doc);
        if (reference.success) {
          accepted++;
          expect(read).toEqual(reference.data);
        } else {
          expect(read).toBeNull();
        }
      }),
      fuzzParams(4000),
    );
    // Both branches must be exercised: many generated documents are valid, many are not.
    expect(accepted).toBeGreaterThan(400);
    expect(accepted).toBeLessThan(3600);
  });

  it("reads the sample order webhook itself, with the mapper's rows unchanged", () => {
    const doc = parseLossless(orderFixture);
    const read = restOrderDoc(doc);
    const reference = parseOrderDoc(doc);
    expect(reference.success).toBe(true);
    expect(read).toEqual(reference.data);
    const meta: EventMeta = {
      shop: "s.myshopify.com",
      eventId: "e1",
      eventAt: "2026-01-01T00:00:00.000Z",
      origin: "webhook",
    };
    const mapped = mapShopifyEvent("order", orderFixture, meta, {
      subscriptions: parseSubscriptionRules("", ""),
      shopCurrency: null,
    });
    expect(mapped.ok).toBe(true);
  });

  it("leaves a wrong type to the schema, whose message the mapper reports", () => {
    const doc = { ...(parseLossless(orderFixture) as Record<string, unknown>), test: "yes" };
    expect(restOrderDoc(doc)).toBeNull();
    const meta: EventMeta = {
      shop: "s.myshopify.com",
      eventId: "e1",
      eventAt: "2026-01-01T00:00:00.000Z",
      origin: "webhook",
    };
    const mapped = mapShopifyEvent("order", JSON.stringify(doc), meta, {
      subscriptions: parseSubscriptionRules("", ""),
      shopCurrency: null,
    });
    expect(mapped).toMatchObject({ ok: false, detail: expect.stringContaining("test") });
  });
});
