/**
 * Property tests of the payload → row mappers with generated orders, charges and
 * subscriptions: random currencies of exponent 0, 2 and 3, amounts as strings and as bare
 * JSON numbers, 18–19-digit ids, any UTC offset (including both sides of a DST fold). Money
 * must equal exact decimal arithmetic (BigInt), ids must come back as the same text, and
 * every timestamp must be the same instant, written in UTC with a `Z`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toMinor } from "../src/mapping/money";
import { mapRechargeEvent } from "../src/mapping/recharge";
import { type EventMeta, mapShopifyEvent, parseSubscriptionRules } from "../src/mapping/shopify";
import { mapStripeEvent } from "../src/mapping/stripe";
import { toUtcIso } from "../src/shared/time";
import { fuzzParams } from "./helpers/fuzz";
import { num, toJson } from "./helpers/json-text";

const CURRENCIES = [
  ["JPY", 0],
  ["krw", 0],
  ["USD", 2],
  ["eur", 2],
  ["GBP", 2],
  ["KWD", 3],
  ["bhd", 3],
  ["TND", 3],
] as const;
const currencyArb = fc.constantFrom(...CURRENCIES);

/** Exact reference: shift the decimal point by BigInt, round half away from zero. */
function exactMinor(text: string, exponent: number): number {
  const negative = text.startsWith("-");
  const [whole = "0", frac = ""] = text.replace(/^[-+]/, "").split(".");
  const digits = `${whole || "0"}${frac.padEnd(exponent + 1, "0")}`;
  const cut = (whole || "0").length + exponent;
  let minor = BigInt(digits.slice(0, cut));
  if ((digits[cut] ?? "0") >= "5") minor += 1n;
  const n = Number(minor);
  return negative && n !== 0 ? -n : n;
}

/** Decimal text as a shop writes it: up to 12 integer digits, 0–4 fraction digits. */
const amountArb = fc
  .tuple(fc.bigInt({ min: 0n, max: 999_999_999_999n }), fc.integer({ min: 0, max: 4 }), fc.nat({ max: 9999 }))
  .map(([whole, fracDigits, frac]) =>
    fracDigits === 0 ? String(whole) : `${whole}.${String(frac % 10 ** fracDigits).padStart(fracDigits, "0")}`,
  );
const idArb = fc.tuple(fc.integer({ min: 18, max: 19 }), fc.bigInt({ min: 0n, max: 10n ** 19n })).map(
  ([len, n]) =>
    `${1 + Number(n % 9n)}${String(n)
      .padStart(len, "0")
      .slice(-(len - 1))}`,
);

/** An instant and how a source writes it: a local wall time with an offset (any of −12:00…+14:00, 15-minute steps). */
const timeArb = fc
  .tuple(
    fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2099, 11, 31) }),
    fc.integer({ min: -48, max: 56 }).map((q) => q * 15),
    fc.constantFrom("", "ms", "ns"),
  )
  .map(([ms, offsetMin, precision]) => {
    const instant = precision === "" ? Math.floor(ms / 1000) * 1000 : ms;
    return { instant, text: withOffset(instant, offsetMin, precision) };
  });

function withOffset(instant: number, offsetMin: number, precision: string): string {
  const local = new Date(instant + offsetMin * 60_000).toISOString().slice(0, 23);
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  const base = precision === "" ? local.slice(0, 19) : precision === "ms" ? local : `${local}123456`;
  return `${base}${zone}`;
}

const sameInstant = (iso: string | null | undefined, instant: number) => {
  expect(iso).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  expect(Date.parse(iso as string)).toBe(instant);
};

const meta: EventMeta = {
  shop: "fuzz.myshopify.com",
  eventId: "fuzz-1",
  eventAt: "2026-11-20T12:00:00.000Z",
  origin: "webhook",
};
const ctx = { subscriptions: parseSubscriptionRules("", ""), shopCurrency: null };

describe("toMinor under fuzzing", { timeout: 30_000 }, () => {
  it("equals exact decimal arithmetic for every currency exponent", () => {
    fc.assert(
      fc.property(currencyArb, amountArb, fc.boolean(), ([currency, exponent], amount, negative) => {
        const text = negative ? `-${amount}` : amount;
        expect(toMinor(text, currency)).toBe(exactMinor(text, exponent));
      }),
      fuzzParams(2000),
    );
  });

  it("answers any exponent at once, with null or a safe integer", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[+-]?\d{0,20}(\.\d{0,20})?$/).filter((s) => /\d/.test(s)),
        fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }),
        currencyArb,
        (mantissa, exp, [currency]) => {
          const started = Date.now();
          const minor = toMinor(`${mantissa}e${exp}`, currency);
          expect(Date.now() - started).toBeLessThan(100);
          if (minor !== null) expect(Number.isSafeInteger(minor)).toBe(true);
        },
      ),
      fuzzParams(300),
    );
  });
});

describe("toUtcIso under fuzzing", { timeout: 30_000 }, () => {
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, "0"));
  // Any digits in each field, valid dates or not (30 February, hour 24, second 60).
  const utcText = fc
    .tuple(fc.integer({ min: 0, max: 9999 }), two(13), two(32), two(25), two(61), two(61), fc.boolean(), two(99))
    .map(
      ([y, mo, d, h, mi, sec, millis, ms]) =>
        `${String(y).padStart(4, "0")}-${mo}-${d}T${h}:${mi}:${sec}${millis ? `.${ms}0` : ""}Z`,
    );

  it("reads `…Z` text as the same instant as its `+00:00` spelling, or refuses both", () => {
    fc.assert(
      fc.property(utcText, (text) => {
        expect(toUtcIso(text)).toBe(toUtcIso(text.replace(/Z$/, "+00:00")));
      }),
      fuzzParams(3000),
    );
  });
});

describe("Shopify order mapper under fuzzing", { timeout: 30_000 }, () => {
  const lineArb = fc.record({
    id: idArb,
    product: idArb,
    price: amountArb,
    quantity: fc.integer({ min: 1, max: 50 }),
    bare: fc.boolean(),
  });

  it("keeps ids as text, money exact in minor units, times as the same UTC instant", () => {
    fc.assert(
      fc.property(
        idArb,
        currencyArb,
        amountArb,
        amountArb,
        fc.uniqueArray(lineArb, { minLength: 1, maxLength: 50, selector: (l) => l.id }),
        timeArb,
        timeArb,
        (id, [currency, exponent], total, tax, lines, created, updated) => {
          const body = toJson({
            id: num(id),
            currency,
            total_price: total,
            total_tax: num(tax),
            created_at: created.text,
            updated_at: updated.text,
            line_items: lines.map((l) => ({
              id: num(l.id),
              product_id: num(l.product),
              quantity: num(String(l.quantity)),
              price: l.bare ? num(l.price) : l.price,
            })),
          });
          const result = mapShopifyEvent("order", body, meta, ctx);
          if (!result.ok) throw new Error(result.detail);
          if (result.rows.kind !== "order") throw new Error(result.rows.kind);
          const { order, lineItems } = result.rows;
          expect(order.id).toBe(id);
          expect(order.currency).toBe(currency.toUpperCase());
          expect(order.totalPriceMinor).toBe(exactMinor(total, exponent));
          expect(order.totalTaxMinor).toBe(exactMinor(tax, exponent));
          sameInstant(order.createdAt, created.instant);
          sameInstant(order.updatedAt, updated.instant);
          expect(order.totalQuantity).toBe(lines.reduce((n, l) => n + l.quantity, 0));
          expect(lineItems.map((l) => [l.id, l.productId, l.priceMinor, l.quantity])).toEqual(
            lines.map((l) => [l.id, l.product, exactMinor(l.price, exponent), l.quantity]),
          );
        },
      ),
      fuzzParams(300),
    );
  });

  it("maps both sides of a DST fold to two instants an hour apart", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 2090 }), (year) => {
        // 01:30 happens twice when New York falls back: first at −04:00, then at −05:00.
        const at = (zone: string) => {
          const r = mapShopifyEvent(
            "order",
            toJson({
              id: num("900000000000000001"),
              currency: "USD",
              updated_at: `${year}-11-01T01:30:00${zone}`,
              line_items: [],
            }),
            meta,
            ctx,
          );
          if (!r.ok || r.rows.kind !== "order") throw new Error("not mapped");
          return r.rows.order.updatedAt;
        };
        const first = at("-04:00");
        const second = at("-05:00");
        expect(first).toBe(`${year}-11-01T05:30:00.000Z`);
        expect(Date.parse(second) - Date.parse(first)).toBe(3_600_000);
      }),
      fuzzParams(50),
    );
  });
});

describe("Stripe charge mapper under fuzzing", { timeout: 30_000 }, () => {
  it("keeps the integer amount, the id text and the created instant", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9]{14,24}$/),
        idArb,
        currencyArb,
        fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
        fc.integer({ min: 1, max: 4_102_444_800 }),
        (suffix, cus, [currency], amount, created) => {
          const body = toJson({
            id: `evt_${suffix}`,
            type: "charge.succeeded",
            created: num(String(created)),
            data: {
              object: {
                id: `ch_${suffix}`,
                object: "charge",
                customer: `cus_${cus}`,
                amount: num(String(amount)),
                currency,
                created: num(String(created)),
              },
            },
          });
          const result = mapStripeEvent(body, `evt_${suffix}`);
          if (!result.ok) throw new Error(result.detail);
          if (result.value.kind !== "rows" || result.value.rows.table !== "charges") throw new Error("not a charge");
          const row = result.value.rows.row;
          expect(row.id).toBe(`ch_${suffix}`);
          expect(row.customerId).toBe(`cus_${cus}`);
          expect(row.amountMinor).toBe(Number(amount));
          expect(row.currency).toBe(currency.toUpperCase());
          sameInstant(row.createdAt, created * 1000);
        },
      ),
      fuzzParams(300),
    );
  });
});

describe("Recharge mappers under fuzzing", { timeout: 30_000 }, () => {
  it("charges: exact minor units per currency, ids as text, zone-less times read as UTC", () => {
    fc.assert(
      fc.property(
        idArb,
        idArb,
        currencyArb,
        amountArb,
        amountArb,
        timeArb,
        timeArb,
        (id, order, [currency, exponent], total, tax, processed, updated) => {
          const zoneless = new Date(updated.instant).toISOString().slice(0, 19);
          const body = toJson({
            charge: {
              id: num(id),
              currency,
              total_price: total,
              total_tax: num(tax),
              external_order_id: { ecommerce: order },
              processed_at: processed.text,
              created_at: processed.text,
              updated_at: zoneless,
            },
          });
          const result = mapRechargeEvent("charge/paid", body, "rc_fuzz");
          if (!result.ok) throw new Error(result.detail);
          if (result.value.kind !== "rows" || result.value.rows.table !== "charges") throw new Error("not a charge");
          const row = result.value.rows.row;
          expect(row.id).toBe(id);
          expect(row.shopifyOrderId).toBe(order);
          expect(row.totalPriceMinor).toBe(exactMinor(total, exponent));
          expect(row.totalTaxMinor).toBe(exactMinor(tax, exponent));
          sameInstant(row.processedAt, processed.instant);
          sameInstant(row.updatedAt, Math.floor(updated.instant / 1000) * 1000);
        },
      ),
      fuzzParams(300),
    );
  });

  it("subscriptions: the price in minor units and its decimal text", () => {
    fc.assert(
      fc.property(idArb, currencyArb, amountArb, timeArb, (id, [currency, exponent], price, updated) => {
        const body = toJson({
          subscription: {
            id: num(id),
            currency,
            price,
            quantity: num("1"),
            created_at: updated.text,
            updated_at: updated.text,
          },
        });
        const result = mapRechargeEvent("subscription/updated", body, "rc_fuzz");
        if (!result.ok) throw new Error(result.detail);
        if (result.value.kind !== "rows" || result.value.rows.table !== "subscriptions")
          throw new Error("not a subscription");
        const row = result.value.rows.row;
        expect(row.id).toBe(id);
        expect(row.priceMinor).toBe(exactMinor(price, exponent));
        expect(row.priceDecimal).toBe(price);
        sameInstant(row.updatedAt, updated.instant);
      }),
      fuzzParams(300),
    );
  });
});
