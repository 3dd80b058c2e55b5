/**
 * The bulk path's order reader: a GraphQL bulk order node and its line-item children → the
 * validated order document (`OrderDoc`) the webhook mapper builds rows from, without the REST
 * rename and the zod pass in between (they were most of the bulk path's CPU). It checks exactly
 * what `restOrder` + the order schema check, for the fields the bulk query selects, and reads
 * nothing else. Anything it does not accept returns null, and the caller takes the webhook path
 * (`mapOrder(restOrder(...))`), which gives the same answer or the same validation error: so this
 * is a shortcut, never a second opinion. A test compares both paths on generated records.
 */
import type { OrderDoc } from "../../mapping/shopify";
import { toUtcIso } from "../../shared/time";
import { lineItemsTotal } from "./line-total";

type Obj = Record<string, unknown>;

/** Thrown inside the reader when a value is outside what the schema accepts: the caller falls back. */
const REJECT = Symbol("reject");

function obj(v: unknown): Obj | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : null;
}

const DIGITS = /^\d{1,32}$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT = /^-?\d+$/;
const CURRENCY = /^[A-Za-z]{3}$/;

function id(v: unknown): string {
  if (typeof v !== "string") throw REJECT;
  if (DIGITS.test(v)) return v;
  return gidNumber(v) ?? reject();
}

const GID_HEAD = "gid://shopify/";

/** GID's number, read without a match array (an export has several ids per line). */
function gidNumber(v: string): string | null {
  if (!v.startsWith(GID_HEAD)) return null;
  const cut = v.lastIndexOf("/");
  if (cut <= GID_HEAD.length || cut === v.length - 1) return null;
  for (let i = GID_HEAD.length; i < cut; i++) if (!isWordChar(v.charCodeAt(i))) return null;
  for (let i = cut + 1; i < v.length; i++) if (!isDigit(v.charCodeAt(i))) return null;
  return v.slice(cut + 1);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** RegExp `\w`: ASCII letters, digits and `_`. */
function isWordChar(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function idOrNull(v: unknown): string | null | undefined {
  return v === null || v === undefined ? v : id(v);
}

function str(v: unknown): string | null | undefined {
  if (typeof v === "string" || v === null || v === undefined) return v;
  throw REJECT;
}

function bool(v: unknown): boolean | null | undefined {
  if (typeof v === "boolean" || v === null || v === undefined) return v;
  throw REJECT;
}

function ts(v: unknown): string | null | undefined {
  if (v === null || v === undefined) return v;
  if (typeof v !== "string") throw REJECT;
  const iso = toUtcIso(v);
  if (iso === null) throw REJECT;
  return iso;
}

function decimal(v: unknown): string | null | undefined {
  if (v === null || v === undefined) return v;
  if (typeof v !== "string" || !DECIMAL.test(v)) throw REJECT;
  return v;
}

/** The schema's `int` after `intText`: a JSON integer, or its decimal text, that is a safe integer. */
function int(v: unknown): number {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw REJECT;
    return v === 0 ? 0 : v; // String(-0) is "0"
  }
  if (typeof v !== "string" || !INT.test(v)) throw REJECT;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw REJECT;
  return n;
}

function intOrNull(v: unknown): number | null | undefined {
  return v === null || v === undefined ? v : int(v);
}

function currency(v: unknown): string {
  if (typeof v !== "string" || !CURRENCY.test(v)) throw REJECT;
  return v.toUpperCase();
}

function currencyOrNull(v: unknown): string | null | undefined {
  return v === null || v === undefined ? v : currency(v);
}

function strings(v: unknown): string[] | null | undefined {
  if (v === null || v === undefined) return v;
  if (!Array.isArray(v)) throw REJECT;
  for (const s of v) if (typeof s !== "string") throw REJECT;
  return v as string[];
}

/** `amount(set)` of the bulk mapper: shopMoney.amount, else null. */
function amount(set: unknown): unknown {
  return obj(obj(set)?.shopMoney)?.amount ?? null;
}

function lower(v: unknown): unknown {
  return typeof v === "string" ? v.toLowerCase() : v;
}

function fulfillment(v: unknown): string | null | undefined {
  if (typeof v !== "string") return str(v);
  switch (v) {
    case "UNFULFILLED":
      return null;
    case "FULFILLED":
      return "fulfilled";
    case "PARTIALLY_FULFILLED":
      return "partial";
    default:
      return v.toLowerCase();
  }
}

type Address = NonNullable<OrderDoc["shipping_address"]>;

function address(v: unknown): Address | null {
  const a = obj(v);
  if (!a) return null;
  return {
    city: str(a.city),
    province: str(a.province),
    province_code: str(a.provinceCode),
    zip: str(a.zip),
    country: str(a.country),
    country_code: str(a.countryCodeV2),
  };
}

function tags(v: unknown): string | string[] | null | undefined {
  return typeof v === "string" ? v : strings(v);
}

const NAME_NUMBER = /^\D*(\d{1,15})\D*$/;

/** The validated order document for a bulk order node, or null when the webhook path must decide. */
export function bulkOrderDoc(node: Obj, lines: readonly Obj[]): OrderDoc | null {
  try {
    return read(node, lines);
  } catch (err) {
    if (err === REJECT) return null;
    throw err;
  }
}

function read(node: Obj, lines: readonly Obj[]): OrderDoc {
  const visit = obj(obj(node.customerJourneySummary)?.firstVisit);
  const customer = obj(node.customer);
  const spent = obj(customer?.amountSpent);
  const name = str(node.name);
  const number = typeof name === "string" ? NAME_NUMBER.exec(name)?.[1] : undefined;
  const shipping = obj(node.totalShippingPriceSet);
  const codes = Array.isArray(node.discountCodes)
    ? node.discountCodes.map((code) => {
        if (typeof code !== "string") throw REJECT;
        return { code };
      })
    : null;
  const doc: OrderDoc = {
    id: id(node.id),
    name,
    order_number: number === undefined ? undefined : Number(number),
    confirmation_number: str(node.confirmationNumber),
    email: str(node.email),
    contact_email: undefined,
    phone: str(node.phone),
    customer: customer
      ? {
          id: idOrNull(customer.id),
          orders_count: intOrNull(customer.numberOfOrders),
          total_spent: decimal(spent?.amount),
          currency: currencyOrNull(spent?.currencyCode),
        }
      : null,
    created_at: ts(node.createdAt),
    updated_at: ts(node.updatedAt),
    processed_at: ts(node.processedAt),
    closed_at: ts(node.closedAt),
    cancelled_at: ts(node.cancelledAt),
    cancel_reason: str(lower(node.cancelReason)),
    financial_status: str(lower(node.displayFinancialStatus)),
    fulfillment_status: fulfillment(node.displayFulfillmentStatus),
    test: bool(node.test),
    confirmed: bool(node.confirmed),
    buyer_accepts_marketing: bool(node.customerAcceptsMarketing),
    currency: currency(node.currencyCode),
    presentment_currency: currencyOrNull(node.presentmentCurrencyCode),
    total_price: decimal(amount(node.totalPriceSet)),
    subtotal_price: decimal(amount(node.subtotalPriceSet)),
    total_line_items_price: decimal(lineItemsTotal(lines, node.currencyCode)),
    total_discounts: decimal(amount(node.totalDiscountsSet)),
    total_tax: decimal(amount(node.totalTaxSet)),
    current_total_price: decimal(amount(node.currentTotalPriceSet)),
    total_shipping_price_set: shipping
      ? {
          shop_money: {
            amount: decimal(amount(shipping)) ?? reject(),
            currency_code: currencyOrNull(node.currencyCode),
          },
        }
      : null,
    shipping_lines: undefined,
    discount_codes: codes,
    tags: tags(node.tags),
    note: str(node.note),
    payment_gateway_names: strings(node.paymentGatewayNames),
    source_name: str(node.sourceName),
    referring_site: str(visit?.referrerUrl ?? null),
    landing_site: str(visit?.landingPage ?? null),
    landing_site_ref: undefined,
    checkout_token: undefined,
    cart_token: undefined,
    shipping_address: address(node.shippingAddress),
    billing_address: address(node.billingAddress),
    line_items: lines.map((l) => ({
      id: id(l.id),
      product_id: idOrNull(obj(l.product)?.id ?? null),
      variant_id: idOrNull(obj(l.variant)?.id ?? null),
      sku: str(l.sku),
      title: str(l.title),
      variant_title: str(l.variantTitle),
      vendor: str(l.vendor),
      quantity: int(l.quantity),
      price: decimal(amount(l.originalUnitPriceSet)),
      total_discount: decimal(amount(l.totalDiscountSet)),
      discount_allocations: undefined,
      gift_card: bool(l.isGiftCard),
      fulfillment_status: undefined,
    })),
  };
  return doc;
}

function reject(): never {
  throw REJECT;
}
