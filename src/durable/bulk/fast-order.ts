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
import {
  bool,
  currency,
  currencyOrNull,
  decimal,
  id,
  idOrNull,
  intText,
  type Obj,
  obj,
  orNull,
  reject,
  str,
  strings,
  tags,
  ts,
} from "../../mapping/strict-fields";
import { lineItemsTotal } from "./line-total";

/** The schema's `int` after the bulk rename's `intText`: a JSON integer that is safe, or its text. */
function int(v: unknown): number {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) reject();
    return v === 0 ? 0 : v; // String(-0) is "0"
  }
  return intText(v);
}

function intOrNull(v: unknown): number | null | undefined {
  return v === null || v === undefined ? v : int(v);
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

const NAME_NUMBER = /^\D*(\d{1,15})\D*$/;

/** The validated order document for a bulk order node, or null when the webhook path must decide. */
export function bulkOrderDoc(node: Obj, lines: readonly Obj[]): OrderDoc | null {
  return orNull(() => read(node, lines));
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
        if (typeof code !== "string") reject();
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
