/**
 * Bulk-export lines (GraphQL-shaped: gid ids, camelCase, `…Set { shopMoney }`, enums in
 * capitals) → the same rows the webhook path writes. Each node is renamed into the REST
 * webhook shape and handed to the webhook mappers (`mapOrder`, `mapCustomer`,
 * `mapProduct`), so both paths share one zod validation, one money conversion and one
 * set of derived columns (subscription rules, UTM, email normalization). Values are
 * passed through unconverted, so a field of the wrong type still fails that validation.
 * Orders first try `bulkOrderDoc` (./fast-order.ts), which builds the validated document
 * straight from the node, and fall back to this rename + validation for anything it refuses.
 *
 * Lines are read with JSON.parse, not the lossless reader: every field the bulk queries
 * select is a string (gid ids, Decimal and Money amounts, UnsignedInt64 counts), a
 * boolean or a GraphQL Int (32-bit by the spec), so no digit can be lost, and it is
 * several times faster on multi-GB exports.
 *
 * Fulfillments and refunds come as lists inline in an order's line (one line can hold
 * several). Shopify refuses the connections inside them in a bulk query, so two things the
 * webhook payload has are missing: a fulfillment's line items (its `line_item_count` stays
 * NULL; `total_quantity` comes from GraphQL's `totalQuantity`), and a refund's lines and
 * transactions (no refund line rows; `refunded_amount_minor` comes from `totalRefundedSet`,
 * the line sums stay NULL and the rows are marked `partial`, so what a webhook stored is kept).
 * A caller that parsed the parent line already (for its subjects) passes the value in `parsed`.
 * Inventory items and locations are renamed by src/mapping/shopify-inventory.ts, which
 * reconciliation shares; an item's line carries its levels as child lines.
 * REST's `processed_at` and `restock` have no GraphQL counterpart on Refund and stay NULL too.
 */
import { toMinor } from "../../mapping/money";
import {
  type EventMeta,
  type MapContext,
  type MapResult,
  mapCustomer,
  mapFulfillment,
  mapOrder,
  mapProduct,
  mapRefund,
  orderRows,
  type ShopifyRows,
} from "../../mapping/shopify";
import {
  inventoryItemDoc,
  inventoryLevelDoc,
  locationDoc,
  mapInventoryItem,
  mapInventoryLevel,
  mapLocation,
} from "../../mapping/shopify-inventory";
import type { BulkResource } from "../../shared/schema/operations";
import { bulkOrderDoc } from "./fast-order";
import { lineItemsTotal } from "./line-total";

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : null;
}

/** REST sends counts as JSON numbers, which the webhook mappers receive as their source text. */
function intText(v: unknown): unknown {
  return typeof v === "number" && Number.isInteger(v) ? String(v) : v;
}

function lower(v: unknown): unknown {
  return typeof v === "string" ? v.toLowerCase() : v;
}

function amount(set: unknown): unknown {
  return asObj(asObj(set)?.shopMoney)?.amount ?? null;
}

function idOf(v: unknown): unknown {
  return asObj(v)?.id ?? null;
}

function address(v: unknown): Obj | null {
  const a = asObj(v);
  if (!a) return null;
  return {
    city: a.city,
    province: a.province,
    province_code: a.provinceCode,
    zip: a.zip,
    country: a.country,
    country_code: a.countryCodeV2,
  };
}

/** GraphQL OrderDisplayFulfillmentStatus → REST fulfillment_status (null means unfulfilled). */
function fulfillmentStatus(v: unknown): unknown {
  if (typeof v !== "string") return v;
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

export function restOrder(node: Obj, lines: Obj[]): Obj {
  const visit = asObj(asObj(node.customerJourneySummary)?.firstVisit);
  const customer = asObj(node.customer);
  const spent = asObj(customer?.amountSpent);
  const name = typeof node.name === "string" ? node.name : null;
  const number = name ? /^\D*(\d{1,15})\D*$/.exec(name)?.[1] : undefined;
  return {
    id: node.id,
    name: node.name,
    order_number: number,
    confirmation_number: node.confirmationNumber,
    email: node.email,
    phone: node.phone,
    customer: customer
      ? {
          id: customer.id,
          orders_count: intText(customer.numberOfOrders),
          total_spent: spent?.amount,
          currency: spent?.currencyCode,
        }
      : null,
    created_at: node.createdAt,
    updated_at: node.updatedAt,
    processed_at: node.processedAt,
    closed_at: node.closedAt,
    cancelled_at: node.cancelledAt,
    cancel_reason: lower(node.cancelReason),
    financial_status: lower(node.displayFinancialStatus),
    fulfillment_status: fulfillmentStatus(node.displayFulfillmentStatus),
    test: node.test,
    confirmed: node.confirmed,
    buyer_accepts_marketing: node.customerAcceptsMarketing,
    currency: node.currencyCode,
    presentment_currency: node.presentmentCurrencyCode,
    total_price: amount(node.totalPriceSet),
    subtotal_price: amount(node.subtotalPriceSet),
    total_line_items_price: lineItemsTotal(lines, node.currencyCode),
    total_discounts: amount(node.totalDiscountsSet),
    total_tax: amount(node.totalTaxSet),
    current_total_price: amount(node.currentTotalPriceSet),
    total_shipping_price_set: asObj(node.totalShippingPriceSet)
      ? { shop_money: { amount: amount(node.totalShippingPriceSet), currency_code: node.currencyCode } }
      : null,
    discount_codes: Array.isArray(node.discountCodes) ? node.discountCodes.map((code) => ({ code })) : null,
    tags: node.tags,
    note: node.note,
    payment_gateway_names: node.paymentGatewayNames,
    source_name: node.sourceName,
    referring_site: visit?.referrerUrl ?? null,
    landing_site: visit?.landingPage ?? null,
    shipping_address: address(node.shippingAddress),
    billing_address: address(node.billingAddress),
    line_items: lines.map((l) => ({
      id: l.id,
      product_id: idOf(l.product),
      variant_id: idOf(l.variant),
      sku: l.sku,
      title: l.title,
      variant_title: l.variantTitle,
      vendor: l.vendor,
      quantity: intText(l.quantity),
      price: amount(l.originalUnitPriceSet),
      total_discount: amount(l.totalDiscountSet),
      gift_card: l.isGiftCard,
    })),
  };
}

export function restCustomer(node: Obj): Obj {
  const email = asObj(node.defaultEmailAddress);
  const phone = asObj(node.defaultPhoneNumber);
  const spent = asObj(node.amountSpent);
  return {
    id: node.id,
    email: email?.emailAddress ?? null,
    first_name: node.firstName,
    last_name: node.lastName,
    phone: phone?.phoneNumber ?? null,
    state: lower(node.state),
    verified_email: node.verifiedEmail,
    tax_exempt: node.taxExempt,
    tags: node.tags,
    currency: spent?.currencyCode ?? null,
    orders_count: intText(node.numberOfOrders),
    total_spent: spent?.amount ?? null,
    email_marketing_consent: email
      ? {
          state: lower(email.marketingState),
          opt_in_level: lower(email.marketingOptInLevel),
          consent_updated_at: email.marketingUpdatedAt,
        }
      : null,
    sms_marketing_consent: phone ? { state: lower(phone.marketingState) } : null,
    default_address: address(node.defaultAddress),
    created_at: node.createdAt,
    updated_at: node.updatedAt,
  };
}

export function restProduct(node: Obj, variants: Obj[]): Obj {
  return {
    id: node.id,
    title: node.title,
    handle: node.handle,
    product_type: node.productType,
    vendor: node.vendor,
    status: lower(node.status),
    tags: node.tags,
    published_at: node.publishedAt,
    created_at: node.createdAt,
    updated_at: node.updatedAt,
    variants: variants.map((v) => ({
      id: v.id,
      position: intText(v.position),
      title: v.title,
      sku: v.sku,
      barcode: v.barcode,
      price: v.price,
      compare_at_price: v.compareAtPrice,
      inventory_item_id: idOf(v.inventoryItem),
      inventory_quantity: intText(v.inventoryQuantity),
      created_at: v.createdAt,
      updated_at: v.updatedAt,
    })),
  };
}

/** REST shipment_status values; GraphQL's displayStatus also names fulfillment states, which are not one. */
const SHIPMENT_STATUSES = new Set([
  "label_printed",
  "label_purchased",
  "attempted_delivery",
  "ready_for_pickup",
  "confirmed",
  "in_transit",
  "out_for_delivery",
  "delivered",
  "failure",
]);

function shipmentStatus(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const s = v.toLowerCase();
  return SHIPMENT_STATUSES.has(s) ? s : null;
}

function texts(list: Obj[], key: string): unknown[] {
  return list.map((t) => t[key]).filter((v) => v !== null && v !== undefined);
}

/** A GraphQL fulfillment (inline in its order's line) in the REST webhook shape, without line items. */
export function restFulfillment(node: Obj, orderId: unknown): Obj {
  const tracking = Array.isArray(node.trackingInfo) ? node.trackingInfo.map(asObj).filter((t) => t !== null) : [];
  return {
    id: node.id,
    order_id: orderId,
    name: node.name,
    status: lower(node.status),
    shipment_status: shipmentStatus(node.displayStatus),
    service: asObj(node.service)?.handle ?? null,
    location_id: idOf(node.location),
    tracking_company: tracking[0]?.company ?? null,
    tracking_number: tracking[0]?.number ?? null,
    tracking_numbers: texts(tracking, "number"),
    tracking_url: tracking[0]?.url ?? null,
    tracking_urls: texts(tracking, "url"),
    created_at: node.createdAt,
    updated_at: node.updatedAt,
  };
}

/** A GraphQL refund (inline in its order's line) in the REST webhook shape, without lines or transactions. */
export function restRefund(node: Obj, orderId: unknown): Obj {
  return { id: node.id, order_id: orderId, note: node.note, created_at: node.createdAt };
}

function bulkFulfillment(node: Obj, orderId: unknown, meta: EventMeta): MapResult {
  const mapped = mapFulfillment(restFulfillment(node, orderId), meta);
  if (!mapped.ok || mapped.rows.kind !== "fulfillment") return mapped;
  const q = node.totalQuantity;
  const totalQuantity = typeof q === "number" && Number.isSafeInteger(q) ? q : null;
  return { ok: true, rows: { ...mapped.rows, fulfillment: { ...mapped.rows.fulfillment, totalQuantity } } };
}

function bulkRefund(node: Obj, orderId: unknown, meta: EventMeta, ctx: MapContext): MapResult {
  const money = asObj(asObj(node.totalRefundedSet)?.shopMoney);
  const currency = typeof money?.currencyCode === "string" ? money.currencyCode.toUpperCase() : ctx.shopCurrency;
  const mapped = mapRefund(restRefund(node, orderId), meta, { ...ctx, shopCurrency: currency });
  if (!mapped.ok || mapped.rows.kind !== "refund") return mapped;
  const refunded = typeof money?.amount === "string" && currency ? toMinor(money.amount, currency) : null;
  if (money && refunded === null) return { ok: false, detail: "refund: totalRefundedSet is not an amount" };
  return {
    ok: true,
    rows: {
      kind: "refund",
      partial: true,
      lineItems: [],
      refund: {
        ...mapped.rows.refund,
        refundedAmountMinor: refunded,
        lineSubtotalMinor: null,
        lineTaxMinor: null,
        lineCount: null,
      },
    },
  };
}

export type BulkMapResult = { ok: true; rows: ShopifyRows[] } | { ok: false; detail: string };

/**
 * Maps one parent line and its child lines to the rows of every entity it holds: one for
 * orders, customers and products, one per fulfillment or refund in an order's line (none when
 * the order has none). Any entity that fails validation fails the whole line.
 */
export function mapBulkRows(
  resource: BulkResource,
  parentLine: string,
  childLines: readonly string[],
  meta: EventMeta,
  ctx: MapContext,
  parsed?: { value: unknown },
): BulkMapResult {
  if (resource === "inventory") return mapBulkInventory(parentLine, childLines, meta, ctx, parsed);
  if (resource !== "fulfillments" && resource !== "refunds") {
    const one = mapBulkEntity(resource, parentLine, childLines, meta, ctx, parsed);
    return one.ok ? { ok: true, rows: [one.rows] } : one;
  }
  let order: Obj | null;
  try {
    order = asObj(parsed ? parsed.value : JSON.parse(parentLine));
  } catch (err) {
    return { ok: false, detail: `not JSON: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300) };
  }
  if (!order) return { ok: false, detail: "line is not a JSON object" };
  const list = order[resource];
  if (list === null || list === undefined) return { ok: true, rows: [] };
  if (!Array.isArray(list)) return { ok: false, detail: `${resource}: expected a list` };
  const rows: ShopifyRows[] = [];
  for (const item of list) {
    const node = asObj(item);
    if (!node) return { ok: false, detail: `${resource}: an entry is not an object` };
    const mapped =
      resource === "fulfillments" ? bulkFulfillment(node, order.id, meta) : bulkRefund(node, order.id, meta, ctx);
    if (!mapped.ok) return mapped;
    rows.push(mapped.rows);
  }
  return { ok: true, rows };
}

/** A parent line (or its parse) and its child lines as objects; children that are not objects are left out. */
function parseLines(
  parentLine: string,
  childLines: readonly string[],
  parsed?: { value: unknown },
): { ok: true; node: Obj; children: Obj[] } | { ok: false; detail: string } {
  let node: Obj | null;
  const children: Obj[] = [];
  try {
    node = asObj(parsed ? parsed.value : JSON.parse(parentLine));
    for (const c of childLines) {
      const child = asObj(JSON.parse(c));
      if (child) children.push(child);
    }
  } catch (err) {
    return { ok: false, detail: `not JSON: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300) };
  }
  if (!node) return { ok: false, detail: "line is not a JSON object" };
  return { ok: true, node, children };
}

/**
 * An inventory item's line and its levels' child lines (`__parentId` the item): the item's row and
 * one level row per location, through the webhook mappers. A level that fails (no location, say)
 * fails the whole line, as a product's bad variant does.
 */
function mapBulkInventory(
  parentLine: string,
  childLines: readonly string[],
  meta: EventMeta,
  ctx: MapContext,
  parsed?: { value: unknown },
): BulkMapResult {
  const lines = parseLines(parentLine, childLines, parsed);
  if (!lines.ok) return lines;
  const { node, children } = lines;
  const item = mapInventoryItem(inventoryItemDoc(node), meta, ctx.shopCurrency);
  if (!item.ok) return item;
  const rows: ShopifyRows[] = [item.rows];
  for (const child of children) {
    const level = mapInventoryLevel(inventoryLevelDoc(child, node.id), meta);
    if (!level.ok) return level;
    rows.push(level.rows);
  }
  return { ok: true, rows };
}

/** Maps one parent line and its child lines to rows, via the webhook mappers. */
export function mapBulkEntity(
  resource: Exclude<BulkResource, "fulfillments" | "refunds" | "inventory">,
  parentLine: string,
  childLines: readonly string[],
  meta: EventMeta,
  ctx: MapContext,
  parsed?: { value: unknown },
): MapResult {
  const lines = parseLines(parentLine, childLines, parsed);
  if (!lines.ok) return lines;
  const { node, children } = lines;
  switch (resource) {
    case "orders": {
      // The bulk-shaped reader when it can decide; the webhook path for anything else (same answer).
      const doc = bulkOrderDoc(node, children);
      return doc ? { ok: true, rows: orderRows(doc, meta, ctx) } : mapOrder(restOrder(node, children), meta, ctx);
    }
    case "customers":
      return mapCustomer(restCustomer(node), meta);
    case "products":
      return mapProduct(restProduct(node, children), meta, ctx);
    case "locations":
      return mapLocation(locationDoc(node), meta);
  }
}
