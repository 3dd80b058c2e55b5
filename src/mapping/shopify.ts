/**
 * Shopify REST webhook payload → `shopify_*` rows. Pure: no I/O, so it is unit-tested
 * without bindings and a bulk-export ingester can build the same row types.
 * The body is read with `parseLossless`, so every JSON number arrives as its source
 * text: ids keep all 18+ digits and money converts to minor units without a float.
 * Validation is deliberately narrow: only the fields we store are checked (unknown
 * fields stay in the raw archive), but a stored field of the wrong shape fails the
 * whole event, which is then quarantined rather than half-written.
 * Row rules: a row's version (`updated_at`) is the payload's, else the event time;
 * refunds never change, so theirs is `created_at`. Checkouts are keyed by `id`, else the
 * digits of their "#<id>" name. Amounts use the payload's currency; variants (and refunds
 * naming none) use the shop currency from the context, and stay NULL when it is unknown.
 * Timestamps in rows are always `toUtcIso` output, so text comparison is time order.
 */
import { z } from "zod";
import type { Origin } from "../shared/envelope";
import { parseLossless } from "../shared/json";
import type {
  ShopifyCheckoutRow,
  ShopifyCustomerRow,
  ShopifyFulfillmentRow,
  ShopifyOrderLineItemRow,
  ShopifyOrderRow,
  ShopifyProductRow,
  ShopifyProductVariantRow,
  ShopifyRefundLineItemRow,
  ShopifyRefundRow,
} from "../shared/schema/shopify";
import { normalizeEmail } from "./common";
import { toMinor } from "./money";
import { restOrderDoc } from "./order-reader";
import { type InventoryRows, mapInventoryItem, mapInventoryLevel, mapLocation } from "./shopify-inventory";
import {
  address,
  bool,
  currency,
  decimal,
  discountCodes,
  id,
  int,
  moneySet,
  type OrderDoc,
  parseOrderDoc,
  quantities,
  str,
  tags,
  ts,
} from "./shopify-schema";
import { BUILT_BODY, carries, type PayloadRules } from "./shopify-versions";

export type { OrderDoc };

/** The event a row version comes from. `eventAt` must already be UTC ISO with milliseconds. */
export interface EventMeta {
  shop: string;
  eventId: string;
  eventAt: string;
  origin: Origin;
  /** The API version of the payload (recorded in `api_version`); null when unknown. */
  apiVersion?: string | null;
  /** Which fields the payload carries (./shopify-versions.ts); a body built from GraphQL when absent. */
  rules?: PayloadRules;
}

export interface SubscriptionRules {
  /** Order tags (case-insensitive, exact) → subscription type; first rule that matches wins. */
  tags: Array<{ tag: string; type: string }>;
  /** Line-item SKU globs (`*` = anything, case-insensitive) → type; tried after the tag rules. */
  skus: Array<{ pattern: RegExp; type: string }>;
}

export interface MapContext {
  subscriptions: SubscriptionRules;
  /** The shop's currency as stored orders show it; products, inventory items and some refunds do not name one. */
  shopCurrency: string | null;
}

export type DeletableEntity = "orders" | "customers" | "products" | "checkouts" | "inventory_items" | "locations";

export type ShopifyRows =
  | { kind: "order"; order: ShopifyOrderRow; lineItems: ShopifyOrderLineItemRow[] }
  | { kind: "customer"; customer: ShopifyCustomerRow }
  | { kind: "product"; product: ShopifyProductRow; variants: ShopifyProductVariantRow[] }
  | { kind: "fulfillment"; fulfillment: ShopifyFulfillmentRow }
  | {
      kind: "refund";
      refund: ShopifyRefundRow;
      lineItems: ShopifyRefundLineItemRow[];
      /** A header without its lines (bulk exports cannot read them): stored lines and line sums stay. */
      partial?: true;
    }
  | { kind: "checkout"; checkout: ShopifyCheckoutRow }
  | { kind: "customerPatch"; patch: CustomerPatch }
  | InventoryRows
  | { kind: "delete"; entity: DeletableEntity; id: string; meta: EventMeta };

/**
 * One group of a customer's columns from a topic that carries only that group (API 2025-01 on):
 * `row` has the key, the group's columns and its as-of column, and the version columns. Tags come
 * as changes to the stored list, applied when they are not older than the last full list.
 */
export type CustomerPatch =
  | { group: "purchasing" | "emailConsent" | "smsConsent"; row: ShopifyCustomerRow }
  | { group: "tags"; row: ShopifyCustomerRow; added: string[]; removed: string[]; occurredAt: string };

export type MapResult = { ok: true; rows: ShopifyRows } | { ok: false; detail: string };

/** Customer topics that carry one group of the customer's columns (see `CustomerPatch`). */
export type CustomerPatchFamily = "purchasing" | "emailConsent" | "smsConsent" | "tagsAdded" | "tagsRemoved";

export type ShopifyFamily =
  | Exclude<ShopifyRows["kind"], "delete" | "customerPatch">
  | CustomerPatchFamily
  | `delete:${DeletableEntity}`;

/** Topics with a table. Every other Shopify topic (compliance, app, carts, ...) is archive-only. */
const FAMILIES: Record<string, ShopifyFamily> = {
  "orders/create": "order",
  "orders/updated": "order",
  "orders/paid": "order",
  "orders/fulfilled": "order",
  "orders/partially_fulfilled": "order",
  "orders/cancelled": "order",
  "orders/delete": "delete:orders",
  "customers/create": "customer",
  "customers/update": "customer",
  "customers/enable": "customer",
  "customers/disable": "customer",
  "customers/delete": "delete:customers",
  "customers/purchasing_summary": "purchasing",
  "customers_email_marketing_consent/update": "emailConsent",
  "customers_marketing_consent/update": "smsConsent",
  "customer.tags_added": "tagsAdded",
  "customer.tags_removed": "tagsRemoved",
  "products/create": "product",
  "products/update": "product",
  "products/delete": "delete:products",
  "fulfillments/create": "fulfillment",
  "fulfillments/update": "fulfillment",
  "refunds/create": "refund",
  "checkouts/create": "checkout",
  "checkouts/update": "checkout",
  "checkouts/delete": "delete:checkouts",
  "inventory_items/create": "inventoryItem",
  "inventory_items/update": "inventoryItem",
  "inventory_items/delete": "delete:inventory_items",
  "inventory_levels/update": "inventoryLevel",
  "locations/create": "location",
  "locations/update": "location",
  "locations/delete": "delete:locations",
};

export function shopifyFamily(topic: string): ShopifyFamily | null {
  return FAMILIES[topic] ?? null;
}

export function mapShopifyEvent(family: ShopifyFamily, body: string, meta: EventMeta, ctx: MapContext): MapResult {
  let doc: unknown;
  try {
    doc = parseLossless(body);
  } catch (err) {
    if (err instanceof SyntaxError) return { ok: false, detail: `not JSON: ${err.message}` };
    throw err; // a runtime without JSON source text access: retry, do not quarantine good events
  }
  switch (family) {
    case "order":
      return mapOrder(doc, meta, ctx);
    case "customer":
      return mapCustomer(doc, meta);
    case "product":
      return mapProduct(doc, meta, ctx);
    case "fulfillment":
      return mapFulfillment(doc, meta);
    case "refund":
      return mapRefund(doc, meta, ctx);
    case "checkout":
      return mapCheckout(doc, meta);
    case "purchasing":
      return mapPurchasingSummary(doc, meta);
    case "emailConsent":
      return mapEmailConsent(doc, meta);
    case "smsConsent":
      return mapSmsConsent(doc, meta);
    case "tagsAdded":
    case "tagsRemoved":
      return mapTagChange(family, doc, meta);
    case "inventoryItem":
      return mapInventoryItem(doc, meta, ctx.shopCurrency);
    case "inventoryLevel":
      return mapInventoryLevel(doc, meta);
    case "location":
      return mapLocation(doc, meta);
    default:
      return mapDelete(family.slice("delete:".length) as DeletableEntity, doc, meta);
  }
}

export function mapOrder(doc: unknown, meta: EventMeta, ctx: MapContext): MapResult {
  // The field-by-field reader when it accepts the payload; the schema for anything else (it gives
  // the same document, or refuses with its own message).
  const read = restOrderDoc(doc);
  if (read !== null) return { ok: true, rows: orderRows(read, meta, ctx) };
  const parsed = parseOrderDoc(doc);
  if (!parsed.success) return invalid("order", parsed.error);
  return { ok: true, rows: orderRows(parsed.data, meta, ctx) };
}

/** The rows of a validated order (bulk exports build the document without zod: src/durable/bulk/fast-order.ts). */
export function orderRows(o: OrderDoc, meta: EventMeta, ctx: MapContext): Extract<ShopifyRows, { kind: "order" }> {
  const cur = o.currency;
  const v = version(meta, o.updated_at);
  const lines = uniqueById(o.line_items);
  const tagList = splitTags(o.tags);
  const subscription = detectSubscription(
    tagList,
    lines.map((l) => l.sku ?? null),
    ctx.subscriptions,
  );
  const ship = o.shipping_address;
  const bill = o.billing_address;
  const order: ShopifyOrderRow = {
    shop: meta.shop,
    id: o.id,
    name: o.name ?? null,
    orderNumber: o.order_number ?? null,
    confirmationNumber: o.confirmation_number ?? null,
    email: normalizeEmail(o.email) ?? normalizeEmail(o.contact_email),
    phone: o.phone ?? null,
    customerId: o.customer?.id ?? null,
    // order.customer has no counts in the webhook payloads (./shopify-versions.ts): kept as stored.
    ...(carries(rulesOf(meta), "order", "order.customerPurchasing", o.customer, "orders_count")
      ? {
          customerOrdersCount: o.customer?.orders_count ?? null,
          customerTotalSpentMinor: minor(o.customer?.total_spent, o.customer?.currency ?? cur),
        }
      : {}),
    createdAt: o.created_at ?? null,
    processedAt: o.processed_at ?? null,
    closedAt: o.closed_at ?? null,
    cancelledAt: o.cancelled_at ?? null,
    cancelReason: o.cancel_reason ?? null,
    financialStatus: o.financial_status ?? null,
    fulfillmentStatus: o.fulfillment_status ?? null,
    test: o.test ?? null,
    confirmed: o.confirmed ?? null,
    buyerAcceptsMarketing: o.buyer_accepts_marketing ?? null,
    currency: cur,
    presentmentCurrency: o.presentment_currency ?? null,
    totalPriceMinor: minor(o.total_price, cur),
    subtotalPriceMinor: minor(o.subtotal_price, cur),
    totalLineItemsPriceMinor: minor(o.total_line_items_price, cur),
    totalDiscountsMinor: minor(o.total_discounts, cur),
    totalTaxMinor: minor(o.total_tax, cur),
    totalShippingMinor: o.total_shipping_price_set
      ? minor(o.total_shipping_price_set.shop_money.amount, cur)
      : sumMinor(
          o.shipping_lines?.map((s) => s.price),
          cur,
        ),
    currentTotalPriceMinor: minor(o.current_total_price, cur),
    discountCodes: (o.discount_codes ?? []).map((d) => d.code),
    tags: tagList,
    note: o.note ?? null,
    paymentGatewayNames: o.payment_gateway_names ?? [],
    sourceName: o.source_name ?? null,
    referringSite: o.referring_site ?? null,
    landingSite: o.landing_site ?? null,
    landingSiteRef: o.landing_site_ref ?? null,
    ...utmFromLandingSite(o.landing_site),
    checkoutToken: o.checkout_token ?? null,
    cartToken: o.cart_token ?? null,
    shippingCity: ship?.city ?? null,
    shippingProvince: ship?.province ?? null,
    shippingProvinceCode: ship?.province_code ?? null,
    shippingZip: ship?.zip ?? null,
    shippingCountry: ship?.country ?? null,
    shippingCountryCode: ship?.country_code ?? null,
    billingCity: bill?.city ?? null,
    billingProvince: bill?.province ?? null,
    billingProvinceCode: bill?.province_code ?? null,
    billingZip: bill?.zip ?? null,
    billingCountry: bill?.country ?? null,
    billingCountryCode: bill?.country_code ?? null,
    lineItemCount: lines.length,
    totalQuantity: lines.reduce((n, l) => n + l.quantity, 0),
    isSubscription: subscription.isSubscription,
    subscriptionType: subscription.type,
    ...v,
  };
  const lineItems = lines.map(
    (l, i): ShopifyOrderLineItemRow => ({
      shop: meta.shop,
      id: l.id,
      orderId: o.id,
      position: i + 1,
      productId: l.product_id ?? null,
      variantId: l.variant_id ?? null,
      sku: l.sku ?? null,
      title: l.title ?? null,
      variantTitle: l.variant_title ?? null,
      vendor: l.vendor ?? null,
      quantity: l.quantity,
      currency: cur,
      priceMinor: minor(l.price, cur),
      // Shopify reports discounts as allocations; total_discount stays 0 for those.
      discountMinor: l.discount_allocations?.length
        ? sumMinor(
            l.discount_allocations.map((d) => d.amount),
            cur,
          )
        : minor(l.total_discount, cur),
      giftCard: l.gift_card ?? null,
      fulfillmentStatus: l.fulfillment_status ?? null,
      ...v,
    }),
  );
  return { kind: "order", order, lineItems };
}

// ---- customers ------------------------------------------------------------------------------

const customerSchema = z.object({
  id,
  email: str,
  first_name: str,
  last_name: str,
  phone: str,
  state: str,
  verified_email: bool,
  tax_exempt: bool,
  tags,
  currency: currency.nullish(),
  orders_count: int.nullish(),
  total_spent: decimal.nullish(),
  last_order_id: id.nullish(),
  accepts_marketing: bool,
  email_marketing_consent: z.object({ state: str, opt_in_level: str, consent_updated_at: ts.nullish() }).nullish(),
  sms_marketing_consent: z.object({ state: str }).nullish(),
  default_address: address,
  created_at: ts.nullish(),
  updated_at: ts.nullish(),
});

export function mapCustomer(doc: unknown, meta: EventMeta): MapResult {
  const parsed = customerSchema.safeParse(doc);
  if (!parsed.success) return invalid("customer", parsed.error);
  const c = parsed.data;
  const consent = c.email_marketing_consent;
  const addr = c.default_address;
  const v = version(meta, c.updated_at);
  // Groups the payload does not carry (./shopify-versions.ts) stay out of the row: never erased.
  const has = (field: Parameters<typeof carries>[2], key: string) =>
    carries(rulesOf(meta), "customer", field, doc, key);
  const customer: ShopifyCustomerRow = {
    shop: meta.shop,
    id: c.id,
    email: normalizeEmail(c.email),
    firstName: c.first_name ?? null,
    lastName: c.last_name ?? null,
    phone: c.phone ?? null,
    state: c.state ?? null,
    verifiedEmail: c.verified_email ?? null,
    taxExempt: c.tax_exempt ?? null,
    ...(has("customer.tags", "tags") ? { tags: splitTags(c.tags), tagsAsOf: v.updatedAt } : {}),
    currency: c.currency ?? null,
    ...(has("customer.purchasing", "orders_count") || has("customer.purchasing", "total_spent")
      ? {
          ordersCount: c.orders_count ?? null,
          totalSpentMinor: minor(c.total_spent, c.currency),
          lastOrderId: c.last_order_id ?? null,
          purchasingAsOf: v.updatedAt,
        }
      : {}),
    ...(has("customer.emailConsent", "email_marketing_consent") || has("customer.emailConsent", "accepts_marketing")
      ? {
          // Newer API versions dropped accepts_marketing in favour of the consent object.
          acceptsMarketing: c.accepts_marketing ?? (consent?.state ? consent.state === "subscribed" : null),
          emailMarketingState: consent?.state ?? null,
          emailMarketingOptInLevel: consent?.opt_in_level ?? null,
          emailMarketingUpdatedAt: consent?.consent_updated_at ?? null,
          emailConsentAsOf: v.updatedAt,
        }
      : {}),
    ...(has("customer.smsConsent", "sms_marketing_consent")
      ? { smsMarketingState: c.sms_marketing_consent?.state ?? null, smsConsentAsOf: v.updatedAt }
      : {}),
    city: addr?.city ?? null,
    province: addr?.province ?? null,
    provinceCode: addr?.province_code ?? null,
    zip: addr?.zip ?? null,
    country: addr?.country ?? null,
    countryCode: addr?.country_code ?? null,
    createdAt: c.created_at ?? null,
    ...v,
  };
  return { ok: true, rows: { kind: "customer", customer } };
}

// ---- customer topics that carry one group of columns (API 2025-01 on) --------------------------

const purchasingSummarySchema = z.object({
  customerId: id,
  numberOfOrders: int.nullish(),
  amountSpent: z.object({ amount: decimal, currencyCode: currency }).nullish(),
  lastOrderId: id.nullish(),
  occurredAt: ts.nullish(),
});

/** `customers/purchasing_summary`: orders count, amount spent and last order. */
export function mapPurchasingSummary(doc: unknown, meta: EventMeta): MapResult {
  const parsed = purchasingSummarySchema.safeParse(doc);
  if (!parsed.success) return invalid("customers/purchasing_summary", parsed.error);
  const p = parsed.data;
  const asOf = p.occurredAt ?? meta.eventAt;
  const spent = p.amountSpent;
  const row: ShopifyCustomerRow = {
    shop: meta.shop,
    id: p.customerId,
    ordersCount: p.numberOfOrders ?? null,
    // The amount's currency is the customer's: the two columns are written together.
    ...(spent ? { currency: spent.currencyCode, totalSpentMinor: minor(spent.amount, spent.currencyCode) } : {}),
    lastOrderId: p.lastOrderId ?? null,
    purchasingAsOf: asOf,
    ...version(meta, asOf),
  };
  return { ok: true, rows: { kind: "customerPatch", patch: { group: "purchasing", row } } };
}

const consentSchema = z.object({ state: str, opt_in_level: str, consent_updated_at: ts.nullish() });

const emailConsentSchema = z.object({ customer_id: id, email_marketing_consent: consentSchema });

/** `customers_email_marketing_consent/update`: the email marketing consent. */
export function mapEmailConsent(doc: unknown, meta: EventMeta): MapResult {
  const parsed = emailConsentSchema.safeParse(doc);
  if (!parsed.success) return invalid("customers_email_marketing_consent/update", parsed.error);
  const { customer_id, email_marketing_consent: consent } = parsed.data;
  const asOf = consent.consent_updated_at ?? meta.eventAt;
  const row: ShopifyCustomerRow = {
    shop: meta.shop,
    id: customer_id,
    acceptsMarketing: consent.state ? consent.state === "subscribed" : null,
    emailMarketingState: consent.state ?? null,
    emailMarketingOptInLevel: consent.opt_in_level ?? null,
    emailMarketingUpdatedAt: consent.consent_updated_at ?? null,
    emailConsentAsOf: asOf,
    ...version(meta, asOf),
  };
  return { ok: true, rows: { kind: "customerPatch", patch: { group: "emailConsent", row } } };
}

const smsConsentSchema = z.object({ id, sms_marketing_consent: consentSchema.nullish() });

/** `customers_marketing_consent/update`: the SMS marketing consent. */
export function mapSmsConsent(doc: unknown, meta: EventMeta): MapResult {
  const parsed = smsConsentSchema.safeParse(doc);
  if (!parsed.success) return invalid("customers_marketing_consent/update", parsed.error);
  const { id: customerId, sms_marketing_consent: consent } = parsed.data;
  const asOf = consent?.consent_updated_at ?? meta.eventAt;
  const row: ShopifyCustomerRow = {
    shop: meta.shop,
    id: customerId,
    smsMarketingState: consent?.state ?? null,
    smsConsentAsOf: asOf,
    ...version(meta, asOf),
  };
  return { ok: true, rows: { kind: "customerPatch", patch: { group: "smsConsent", row } } };
}

const tagChangeSchema = z.object({ customerId: id, tags: z.array(z.string()), occurredAt: ts.nullish() });

/** `customer.tags_added` / `customer.tags_removed`: a change to the stored tag list. */
export function mapTagChange(family: "tagsAdded" | "tagsRemoved", doc: unknown, meta: EventMeta): MapResult {
  const parsed = tagChangeSchema.safeParse(doc);
  if (!parsed.success)
    return invalid(family === "tagsAdded" ? "customer.tags_added" : "customer.tags_removed", parsed.error);
  const { customerId, tags: changed, occurredAt } = parsed.data;
  const list = splitTags(changed);
  const added = family === "tagsAdded" ? list : [];
  const removed = family === "tagsRemoved" ? list : [];
  const at = occurredAt ?? meta.eventAt;
  // A customer not stored yet starts from the added tags; its list is complete once a full one arrives.
  const row: ShopifyCustomerRow = { shop: meta.shop, id: customerId, tags: added, ...version(meta, at) };
  return { ok: true, rows: { kind: "customerPatch", patch: { group: "tags", row, added, removed, occurredAt: at } } };
}

// ---- products -------------------------------------------------------------------------------

const variantSchema = z.object({
  id,
  position: int.nullish(),
  title: str,
  sku: str,
  barcode: str,
  price: decimal.nullish(),
  compare_at_price: decimal.nullish(),
  inventory_item_id: id.nullish(),
  inventory_quantity: int.nullish(),
  created_at: ts.nullish(),
  updated_at: ts.nullish(),
});

const productSchema = z.object({
  id,
  title: str,
  handle: str,
  product_type: str,
  vendor: str,
  status: str,
  tags,
  published_at: ts.nullish(),
  created_at: ts.nullish(),
  updated_at: ts.nullish(),
  variants: z.array(variantSchema).nullish(),
});

export function mapProduct(doc: unknown, meta: EventMeta, ctx: MapContext): MapResult {
  const parsed = productSchema.safeParse(doc);
  if (!parsed.success) return invalid("product", parsed.error);
  const p = parsed.data;
  const v = version(meta, p.updated_at);
  const cur = ctx.shopCurrency;
  const product: ShopifyProductRow = {
    shop: meta.shop,
    id: p.id,
    title: p.title ?? null,
    handle: p.handle ?? null,
    productType: p.product_type ?? null,
    vendor: p.vendor ?? null,
    status: p.status ?? null,
    tags: splitTags(p.tags),
    publishedAt: p.published_at ?? null,
    createdAt: p.created_at ?? null,
    ...v,
  };
  const variants = uniqueById(p.variants ?? []).map(
    (x): ShopifyProductVariantRow => ({
      shop: meta.shop,
      id: x.id,
      productId: p.id,
      position: x.position ?? null,
      title: x.title ?? null,
      sku: x.sku ?? null,
      barcode: x.barcode ?? null,
      currency: cur,
      priceMinor: cur === null ? null : minor(x.price, cur),
      compareAtPriceMinor: cur === null ? null : minor(x.compare_at_price, cur),
      inventoryItemId: x.inventory_item_id ?? null,
      inventoryQuantity: x.inventory_quantity ?? null,
      createdAt: x.created_at ?? null,
      ...v,
      // A variant keeps its own updated_at; the product's version guards the set.
      updatedAt: x.updated_at ?? v.updatedAt,
    }),
  );
  return { ok: true, rows: { kind: "product", product, variants } };
}

// ---- fulfillments ---------------------------------------------------------------------------

const fulfillmentSchema = z.object({
  id,
  order_id: id,
  name: str,
  status: str,
  shipment_status: str,
  service: str,
  location_id: id.nullish(),
  tracking_company: str,
  tracking_number: str,
  tracking_numbers: z.array(z.string()).nullish(),
  tracking_url: str,
  tracking_urls: z.array(z.string()).nullish(),
  line_items: quantities,
  created_at: ts.nullish(),
  updated_at: ts.nullish(),
});

export function mapFulfillment(doc: unknown, meta: EventMeta): MapResult {
  const parsed = fulfillmentSchema.safeParse(doc);
  if (!parsed.success) return invalid("fulfillment", parsed.error);
  const f = parsed.data;
  const numbers = f.tracking_numbers ?? (f.tracking_number ? [f.tracking_number] : []);
  const fulfillment: ShopifyFulfillmentRow = {
    shop: meta.shop,
    id: f.id,
    orderId: f.order_id,
    name: f.name ?? null,
    status: f.status ?? null,
    shipmentStatus: f.shipment_status ?? null,
    service: f.service ?? null,
    locationId: f.location_id ?? null,
    trackingCompany: f.tracking_company ?? null,
    trackingNumber: f.tracking_number ?? numbers[0] ?? null,
    trackingUrl: f.tracking_url ?? f.tracking_urls?.[0] ?? null,
    trackingNumbers: numbers,
    lineItemCount: f.line_items?.length ?? null,
    totalQuantity: f.line_items ? f.line_items.reduce((n, l) => n + l.quantity, 0) : null,
    createdAt: f.created_at ?? null,
    ...version(meta, f.updated_at),
  };
  return { ok: true, rows: { kind: "fulfillment", fulfillment } };
}

// ---- refunds --------------------------------------------------------------------------------

const refundSchema = z.object({
  id,
  order_id: id,
  note: str,
  restock: bool,
  created_at: ts.nullish(),
  processed_at: ts.nullish(),
  total_duties_set: moneySet,
  refund_line_items: z
    .array(
      z.object({
        id,
        line_item_id: id.nullish(),
        quantity: int,
        restock_type: str,
        location_id: id.nullish(),
        subtotal: decimal.nullish(),
        total_tax: decimal.nullish(),
        subtotal_set: moneySet,
      }),
    )
    .nullish(),
  transactions: z
    .array(z.object({ kind: str, status: str, amount: decimal.nullish(), currency: currency.nullish() }))
    .nullish(),
});

export function mapRefund(doc: unknown, meta: EventMeta, ctx: MapContext): MapResult {
  const parsed = refundSchema.safeParse(doc);
  if (!parsed.success) return invalid("refund", parsed.error);
  const r = parsed.data;
  const lines = uniqueById(r.refund_line_items ?? []);
  // Sample refunds leave transaction currency null; the *_set shop money names the shop currency.
  const cur =
    lines.find((l) => l.subtotal_set?.shop_money.currency_code)?.subtotal_set?.shop_money.currency_code ??
    r.total_duties_set?.shop_money.currency_code ??
    r.transactions?.find((t) => t.currency)?.currency ??
    ctx.shopCurrency;
  const refunded = r.transactions
    ?.filter((t) => t.kind === "refund" && t.status === "success" && (t.currency ?? cur) === cur)
    .map((t) => t.amount);
  // Refunds are immutable once created, so their creation time is their version.
  const v = version(meta, r.created_at ?? r.processed_at);
  const refund: ShopifyRefundRow = {
    shop: meta.shop,
    id: r.id,
    orderId: r.order_id,
    note: r.note ?? null,
    restock: r.restock ?? null,
    currency: cur,
    refundedAmountMinor: refunded === undefined ? null : sumMinor(refunded, cur),
    lineSubtotalMinor: sumMinor(
      lines.map((l) => l.subtotal_set?.shop_money.amount ?? l.subtotal),
      cur,
    ),
    lineTaxMinor: sumMinor(
      lines.map((l) => l.total_tax),
      cur,
    ),
    lineCount: lines.length,
    createdAt: r.created_at ?? null,
    processedAt: r.processed_at ?? null,
    ...v,
  };
  const lineItems = lines.map(
    (l): ShopifyRefundLineItemRow => ({
      shop: meta.shop,
      id: l.id,
      refundId: r.id,
      orderId: r.order_id,
      lineItemId: l.line_item_id ?? null,
      quantity: l.quantity,
      restockType: l.restock_type ?? null,
      locationId: l.location_id ?? null,
      currency: cur,
      subtotalMinor: minor(l.subtotal_set?.shop_money.amount ?? l.subtotal, cur),
      totalTaxMinor: minor(l.total_tax, cur),
      ...v,
    }),
  );
  return { ok: true, rows: { kind: "refund", refund, lineItems } };
}

// ---- checkouts ------------------------------------------------------------------------------

const checkoutSchema = z.object({
  id: id.nullish(),
  token: str,
  cart_token: str,
  name: str,
  email: str,
  phone: str,
  customer: z.object({ id: id.nullish() }).nullish(),
  abandoned_checkout_url: str,
  source_name: str,
  referring_site: str,
  landing_site: str,
  buyer_accepts_marketing: bool,
  currency: currency.nullish(),
  presentment_currency: currency.nullish(),
  total_price: decimal.nullish(),
  subtotal_price: decimal.nullish(),
  total_line_items_price: decimal.nullish(),
  total_discounts: decimal.nullish(),
  total_tax: decimal.nullish(),
  discount_codes: discountCodes,
  line_items: quantities,
  shipping_address: address,
  created_at: ts.nullish(),
  completed_at: ts.nullish(),
  closed_at: ts.nullish(),
  updated_at: ts.nullish(),
});

export function mapCheckout(doc: unknown, meta: EventMeta): MapResult {
  const parsed = checkoutSchema.safeParse(doc);
  if (!parsed.success) return invalid("checkout", parsed.error);
  const c = parsed.data;
  // From 2026-04 checkouts/create|update carry no `id`; Shopify names a checkout "#<id>", so the key
  // stays the id checkouts/delete (which still sends `id`) and older versions use. The token is stored too.
  const ownId = carries(rulesOf(meta), "checkout", "checkout.id", doc, "id") ? (c.id ?? undefined) : undefined;
  const checkoutId = ownId ?? /^#(\d+)$/.exec(c.name ?? "")?.[1];
  if (checkoutId === undefined) {
    const where = meta.apiVersion ? ` (API version ${meta.apiVersion})` : "";
    return { ok: false, detail: `checkout: no id and no "#<id>" name${where}` };
  }
  const cur = c.currency ?? c.presentment_currency ?? null;
  const m = (amount: string | null | undefined) => (cur === null ? null : minor(amount, cur));
  const checkout: ShopifyCheckoutRow = {
    shop: meta.shop,
    id: checkoutId,
    token: c.token ?? null,
    cartToken: c.cart_token ?? null,
    name: c.name ?? null,
    email: normalizeEmail(c.email),
    phone: c.phone ?? null,
    customerId: c.customer?.id ?? null,
    abandonedCheckoutUrl: c.abandoned_checkout_url ?? null,
    sourceName: c.source_name ?? null,
    referringSite: c.referring_site ?? null,
    landingSite: c.landing_site ?? null,
    ...utmFromLandingSite(c.landing_site),
    buyerAcceptsMarketing: c.buyer_accepts_marketing ?? null,
    currency: cur,
    presentmentCurrency: c.presentment_currency ?? null,
    totalPriceMinor: m(c.total_price),
    subtotalPriceMinor: m(c.subtotal_price),
    totalLineItemsPriceMinor: m(c.total_line_items_price),
    totalDiscountsMinor: m(c.total_discounts),
    totalTaxMinor: m(c.total_tax),
    discountCodes: (c.discount_codes ?? []).map((d) => d.code),
    lineItemCount: c.line_items?.length ?? null,
    totalQuantity: c.line_items ? c.line_items.reduce((n, l) => n + l.quantity, 0) : null,
    shippingCountryCode: c.shipping_address?.country_code ?? null,
    shippingProvinceCode: c.shipping_address?.province_code ?? null,
    createdAt: c.created_at ?? null,
    completedAt: c.completed_at ?? null,
    closedAt: c.closed_at ?? null,
    ...version(meta, c.updated_at),
  };
  return { ok: true, rows: { kind: "checkout", checkout } };
}

// ---- deletes --------------------------------------------------------------------------------

const deleteSchema = z.object({ id });

/** Delete topics carry little more than the id; the statement builder turns this into a tombstone. */
export function mapDelete(entity: DeletableEntity, doc: unknown, meta: EventMeta): MapResult {
  const parsed = deleteSchema.safeParse(doc);
  if (!parsed.success) return invalid(`${entity} delete`, parsed.error);
  return { ok: true, rows: { kind: "delete", entity, id: parsed.data.id, meta } };
}

// ---- helpers --------------------------------------------------------------------------------

function invalid(what: string, error: z.ZodError): MapResult {
  return { ok: false, detail: `${what}: ${z.prettifyError(error)}`.slice(0, 1000) };
}

/** The version columns of a row: the payload's updated_at, else the event's time. */
function version(meta: EventMeta, updatedAt: string | null | undefined) {
  return {
    updatedAt: updatedAt ?? meta.eventAt,
    deletedAt: null,
    lastEventId: meta.eventId,
    eventAt: meta.eventAt,
    origin: meta.origin,
    apiVersion: meta.apiVersion ?? null,
  };
}

function rulesOf(meta: EventMeta): PayloadRules {
  return meta.rules ?? BUILT_BODY;
}

function minor(amount: string | null | undefined, cur: string | null | undefined): number | null {
  return cur ? toMinor(amount, cur) : null;
}

/** Sum in minor units; null when there is nothing to sum or any part is unknown. */
function sumMinor(amounts: Array<string | null | undefined> | undefined, cur: string | null): number | null {
  if (!amounts) return null;
  let total = 0;
  for (const a of amounts) {
    const m = minor(a, cur);
    if (m === null) return null;
    total += m;
  }
  return total;
}

/** Later duplicates win: a repeated child id must not fail the batch on its primary key. */
function uniqueById<T extends { id: string }>(items: T[]): T[] {
  return [...new Map(items.map((x) => [x.id, x])).values()];
}

export function splitTags(value: string | string[] | null | undefined): string[] {
  const parts = typeof value === "string" ? value.split(",") : (value ?? []);
  return parts.map((t) => t.trim()).filter((t) => t !== "");
}

export interface Utm {
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmContent: string | null;
  utmTerm: string | null;
}

/** utm_* from a landing site, which Shopify sends as a path with query ("/?utm_source=x") or a full URL. */
export function utmFromLandingSite(landingSite: string | null | undefined): Utm {
  const found = new Map<string, string>();
  if (landingSite) {
    try {
      for (const [key, value] of new URL(landingSite, "https://landing.invalid").searchParams) {
        const k = key.toLowerCase();
        if (!found.has(k) && value.trim() !== "") found.set(k, value.trim());
      }
    } catch {
      // An unparsable landing site has no attribution; the raw text is still stored.
    }
  }
  const get = (k: string) => found.get(k) ?? null;
  return {
    utmSource: get("utm_source"),
    utmMedium: get("utm_medium"),
    utmCampaign: get("utm_campaign"),
    utmContent: get("utm_content"),
    utmTerm: get("utm_term"),
  };
}

/**
 * Rules from vars: comma-separated `pattern` or `pattern=type` entries (type defaults to
 * "subscription"). Tags match whole and case-insensitively; SKU patterns are globs with `*`.
 */
export function parseSubscriptionRules(tagsVar: string | undefined, skusVar: string | undefined): SubscriptionRules {
  return {
    tags: ruleEntries(tagsVar).map(({ pattern, type }) => ({ tag: pattern.toLowerCase(), type })),
    skus: ruleEntries(skusVar).map(({ pattern, type }) => ({
      pattern: new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`, "i"),
      type,
    })),
  };
}

function ruleEntries(value: string | undefined): Array<{ pattern: string; type: string }> {
  return (value ?? "")
    .split(",")
    .map((entry) => {
      const eq = entry.lastIndexOf("=");
      const pattern = (eq < 0 ? entry : entry.slice(0, eq)).trim();
      const type = eq < 0 ? "" : entry.slice(eq + 1).trim();
      return { pattern, type: type || "subscription" };
    })
    .filter((r) => r.pattern !== "");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function detectSubscription(
  orderTags: string[],
  skus: Array<string | null>,
  rules: SubscriptionRules,
): { isSubscription: boolean; type: string | null } {
  const tagSet = new Set(orderTags.map((t) => t.toLowerCase()));
  const byTag = rules.tags.find((r) => tagSet.has(r.tag));
  if (byTag) return { isSubscription: true, type: byTag.type };
  const bySku = rules.skus.find((r) => skus.some((s) => s !== null && r.pattern.test(s)));
  if (bySku) return { isSubscription: true, type: bySku.type };
  return { isSubscription: false, type: null };
}
