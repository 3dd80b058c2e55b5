/**
 * Recharge webhook → rows. Pure: the wrapped body (`{"charge": {...}}`) in, complete
 * rows out, no I/O. Accepts both the 2021-01 and 2021-11 API shapes (Shopify ids
 * moved from `shopify_*_id` to `external_*_id.ecommerce`), and numbers where the
 * API documents strings. Money needs a currency for its exponent: with no currency
 * in the payload the store's currency is used (passed in by the consumer), and
 * without that `*_minor` stays NULL rather than guessing two decimals.
 */
import { z } from "zod";
import { parseLossless } from "../shared/json";
import type {
  RechargeChargeLineItemRow,
  RechargeChargeRow,
  RechargeCustomerRow,
  RechargeSubscriptionRow,
} from "../shared/schema/recharge";
import { toUtcIso } from "../shared/time";
// The result type and the email/issue helpers are shared with the Stripe mapper.
import { describeIssues, normalizeEmail } from "./common";
import { toMinor } from "./money";
import type { MapResult } from "./stripe";

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Recharge times to UTC `…Z`. A zone-less time is read as UTC (as ingress does for
 * `eventAt`, so both agree); a bare date (`next_charge_scheduled_at`) is midnight UTC.
 */
export function rechargeTime(value: string): string | null {
  const v = value.trim();
  if (DATE_ONLY.test(v)) return toUtcIso(`${v}T00:00:00Z`);
  return toUtcIso(v) ?? toUtcIso(`${v}Z`);
}

type IssueSink = { addIssue(issue: { code: "custom"; message: string }): void };
function checkedTime(value: string, ctx: IssueSink): string {
  const iso = rechargeTime(value);
  if (iso === null) ctx.addIssue({ code: "custom", message: "expected an ISO-8601 time" });
  return iso ?? z.NEVER;
}
const isoTime = z.string().transform(checkedTime);
/** Optional time; blank is treated as absent. */
const time = z
  .string()
  .nullish()
  .transform((v, ctx) => (v == null || v.trim() === "" ? null : checkedTime(v, ctx)));
const id = z.string().min(1);
const str = z.string().nullish();
const int = z
  .string()
  .regex(/^-?\d+$/, "expected an integer")
  .transform(Number)
  .refine(Number.isSafeInteger, "integer out of range")
  .nullish();
/** Decimal money text ("49.00", or a JSON number's source text); blank is treated as absent. */
const decimal = z
  .union([z.literal(""), z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, "expected a decimal amount")])
  .nullish()
  .transform((v) => v || null);
const bool = z
  .union([z.boolean(), z.enum(["0", "1"])])
  .nullish()
  .transform((v) => (v == null ? null : v === true || v === "1"));
const external = z
  .object({ ecommerce: str })
  .nullish()
  .transform((v) => v?.ecommerce ?? null);
const lower = (v: string | null | undefined) => (v ? v.toLowerCase() : null);
/** A total only when every part is known: a partial sum would look exact and be wrong. */
function sum(parts: Array<number | null> | undefined): number | null {
  if (parts === undefined) return null;
  let total = 0;
  for (const p of parts) {
    if (p === null) return null;
    total += p;
  }
  return total;
}

/** `updated_at` is the ordering key, so it is required; `deleted` topics stamp it as `deleted_at`. */
const owned = { created_at: time, updated_at: isoTime };
interface Ctx {
  eventId: string;
  deleted: boolean;
  /** The store's currency (`recharge_store`), for a payload that names none; null when unknown. */
  storeCurrency: string | null;
}
const tail = (o: { created_at: string | null; updated_at: string }, ctx: Ctx) => ({
  createdAt: o.created_at,
  updatedAt: o.updated_at,
  deletedAt: ctx.deleted ? o.updated_at : null,
  lastEventId: ctx.eventId,
});

const customerSchema = z.object({
  id,
  email: str,
  first_name: str,
  last_name: str,
  phone: str,
  status: str,
  external_customer_id: external,
  shopify_customer_id: str,
  subscriptions_active_count: int,
  subscriptions_total_count: int,
  has_valid_payment_method: bool,
  has_payment_method_in_dunning: bool,
  // 2021-01 names of the same three fields (renamed in 2021-11).
  number_active_subscriptions: int,
  number_subscriptions: int,
  has_card_error_in_dunning: bool,
  first_charge_processed_at: time,
  ...owned,
});
/** 2021-11 customers have no status field; the activation topics say it instead. */
const STATUS_BY_ACTION: Record<string, string> = { activated: "active", deactivated: "inactive" };
function customerRow(o: z.output<typeof customerSchema>, ctx: Ctx, action: string): RechargeCustomerRow {
  return {
    id: o.id,
    shopifyCustomerId: o.external_customer_id ?? o.shopify_customer_id ?? null,
    email: normalizeEmail(o.email),
    firstName: o.first_name ?? null,
    lastName: o.last_name ?? null,
    phone: o.phone ?? null,
    status: lower(o.status) ?? STATUS_BY_ACTION[action] ?? null,
    subscriptionsActiveCount: o.subscriptions_active_count ?? o.number_active_subscriptions ?? null,
    subscriptionsTotalCount: o.subscriptions_total_count ?? o.number_subscriptions ?? null,
    hasValidPaymentMethod: o.has_valid_payment_method,
    hasPaymentMethodInDunning: o.has_payment_method_in_dunning ?? o.has_card_error_in_dunning,
    firstChargeProcessedAt: o.first_charge_processed_at,
    ...tail(o, ctx),
  };
}

const subscriptionSchema = z.object({
  id,
  customer_id: str,
  address_id: str,
  email: str,
  shopify_customer_id: str,
  customer: z.object({ email: str, external_customer_id: external }).nullish(),
  status: str,
  product_title: str,
  variant_title: str,
  external_product_id: external,
  external_variant_id: external,
  shopify_product_id: str,
  shopify_variant_id: str,
  sku: str,
  presentment_currency: str,
  currency: str,
  price: decimal,
  quantity: int,
  order_interval_unit: str,
  order_interval_frequency: int,
  charge_interval_frequency: int,
  order_day_of_month: int,
  order_day_of_week: int,
  expire_after_specific_number_of_charges: int,
  next_charge_scheduled_at: time,
  is_prepaid: bool,
  is_skippable: bool,
  is_swappable: bool,
  max_retries_reached: bool,
  cancelled_at: time,
  cancellation_reason: str,
  cancellation_reason_comments: str,
  ...owned,
});
function subscriptionRow(o: z.output<typeof subscriptionSchema>, ctx: Ctx): RechargeSubscriptionRow {
  const currency = (o.presentment_currency || o.currency || ctx.storeCurrency)?.toUpperCase() ?? null;
  return {
    id: o.id,
    customerId: o.customer_id ?? null,
    shopifyCustomerId: o.customer?.external_customer_id ?? o.shopify_customer_id ?? null,
    email: normalizeEmail(o.customer?.email ?? o.email),
    addressId: o.address_id ?? null,
    status: lower(o.status),
    productTitle: o.product_title ?? null,
    variantTitle: o.variant_title ?? null,
    shopifyProductId: o.external_product_id ?? o.shopify_product_id ?? null,
    shopifyVariantId: o.external_variant_id ?? o.shopify_variant_id ?? null,
    sku: o.sku ?? null,
    currency,
    priceMinor: currency ? toMinor(o.price, currency) : null,
    priceDecimal: o.price,
    quantity: o.quantity ?? null,
    orderIntervalUnit: lower(o.order_interval_unit),
    orderIntervalFrequency: o.order_interval_frequency ?? null,
    chargeIntervalFrequency: o.charge_interval_frequency ?? null,
    orderDayOfMonth: o.order_day_of_month ?? null,
    orderDayOfWeek: o.order_day_of_week ?? null,
    expireAfterSpecificNumberOfCharges: o.expire_after_specific_number_of_charges ?? null,
    nextChargeScheduledAt: o.next_charge_scheduled_at,
    isPrepaid: o.is_prepaid,
    isSkippable: o.is_skippable,
    isSwappable: o.is_swappable,
    maxRetriesReached: o.max_retries_reached,
    cancelledAt: o.cancelled_at,
    cancellationReason: o.cancellation_reason ?? null,
    cancellationReasonComments: o.cancellation_reason_comments ?? null,
    ...tail(o, ctx),
  };
}

const lineItemSchema = z.object({
  purchase_item_id: str,
  subscription_id: str,
  purchase_item_type: str,
  external_product_id: external,
  external_variant_id: external,
  shopify_product_id: str,
  shopify_variant_id: str,
  sku: str,
  title: str,
  variant_title: str,
  quantity: int,
  unit_price: decimal,
  price: decimal,
  total_price: decimal,
  tax_due: decimal,
});
const chargeSchema = z.object({
  id,
  customer: z.object({ id: str, email: str, external_customer_id: external }).nullish(),
  customer_id: str,
  email: str,
  shopify_customer_id: str,
  address_id: str,
  status: str,
  type: str,
  currency: str,
  subtotal_price: decimal,
  total_price: decimal,
  total_tax: decimal,
  total_discounts: decimal,
  total_refunds: decimal,
  total_line_items_price: decimal,
  total_duties: decimal,
  shipping_lines: z.array(z.object({ price: decimal })).nullish(),
  line_items: z.array(lineItemSchema).nullish(),
  scheduled_at: time,
  processed_at: time,
  retry_date: time,
  charge_attempts: int,
  number_times_tried: int,
  // Documented as a string; anything else is kept as its JSON rather than refused.
  // Absent on successful charges; a string or an object on failed ones.
  error: z
    .unknown()
    .optional()
    .transform((v) => (v == null ? null : typeof v === "string" ? v : JSON.stringify(v))),
  error_type: str,
  external_order_id: external,
  shopify_order_id: str,
  payment_processor: str,
  external_transaction_id: z.object({ payment_processor: str }).nullish(),
  tags: str,
  ...owned,
});
function chargeRows(
  o: z.output<typeof chargeSchema>,
  ctx: Ctx,
): { row: RechargeChargeRow; lineItems: RechargeChargeLineItemRow[] | null } {
  const currency = (o.currency || ctx.storeCurrency)?.toUpperCase() ?? null;
  const minor = (v: string | null) => (currency && v !== null ? toMinor(v, currency) : null);
  const row: RechargeChargeRow = {
    id: o.id,
    customerId: o.customer?.id ?? o.customer_id ?? null,
    shopifyCustomerId: o.customer?.external_customer_id ?? o.shopify_customer_id ?? null,
    email: normalizeEmail(o.customer?.email ?? o.email),
    addressId: o.address_id ?? null,
    status: lower(o.status),
    type: lower(o.type),
    currency,
    subtotalMinor: minor(o.subtotal_price),
    totalPriceMinor: minor(o.total_price),
    totalTaxMinor: minor(o.total_tax),
    totalDiscountsMinor: minor(o.total_discounts),
    totalRefundsMinor: minor(o.total_refunds),
    totalLineItemsPriceMinor: minor(o.total_line_items_price),
    totalDutiesMinor: minor(o.total_duties),
    totalShippingMinor: sum(o.shipping_lines?.map((l) => minor(l.price))),
    lineItemCount: o.line_items?.length ?? null,
    scheduledAt: o.scheduled_at,
    processedAt: o.processed_at,
    retryDate: o.retry_date,
    chargeAttempts: o.charge_attempts ?? o.number_times_tried ?? null,
    error: o.error,
    errorType: o.error_type ?? null,
    shopifyOrderId: o.external_order_id ?? o.shopify_order_id ?? null,
    paymentProcessor: o.payment_processor ?? null,
    externalTransactionId: o.external_transaction_id?.payment_processor ?? null,
    tags: o.tags ?? null,
    ...tail(o, ctx),
  };
  const lineItems =
    o.line_items?.map(
      (li, position): RechargeChargeLineItemRow => ({
        chargeId: o.id,
        position,
        purchaseItemId: li.purchase_item_id ?? li.subscription_id ?? null,
        purchaseItemType: li.purchase_item_type ?? null,
        shopifyProductId: li.external_product_id ?? li.shopify_product_id ?? null,
        shopifyVariantId: li.external_variant_id ?? li.shopify_variant_id ?? null,
        sku: li.sku ?? null,
        title: li.title ?? null,
        variantTitle: li.variant_title ?? null,
        quantity: li.quantity ?? null,
        currency,
        unitPriceMinor: minor(li.unit_price ?? li.price),
        totalPriceMinor: minor(li.total_price),
        taxDueMinor: minor(li.tax_due),
        updatedAt: row.updatedAt,
        lastEventId: ctx.eventId,
      }),
    ) ?? null;
  return { row, lineItems };
}

export type RechargeRows =
  | { table: "customers"; row: RechargeCustomerRow }
  | { table: "subscriptions"; row: RechargeSubscriptionRow }
  /** `lineItems` is null when the payload has no `line_items` (the stored ones are left alone). */
  | { table: "charges"; row: RechargeChargeRow; lineItems: RechargeChargeLineItemRow[] | null };

export type RechargeMapping = { kind: "rows"; rows: RechargeRows } | { kind: "skip"; note: string };

/** Topics whose body must be the wrapped object; other actions of these families are mapped when wrapped. */
const KNOWN: Record<string, ReadonlySet<string>> = {
  subscription: new Set(["created", "updated", "activated", "cancelled", "deleted", "skipped", "unskipped", "swapped"]),
  charge: new Set([
    "created",
    "paid",
    "failed",
    "max_retries_reached",
    "refunded",
    "upcoming",
    "uncaptured",
    "deleted",
  ]),
  customer: new Set(["created", "updated", "activated", "deactivated", "deleted"]),
};

/**
 * Maps a Recharge webhook body for `topic` (`family/action`). `eventId` is the ledger's id;
 * `storeCurrency` is the store's currency, used when the payload names none (else money stays NULL).
 */
export function mapRechargeEvent(
  topic: string,
  text: string,
  eventId: string,
  storeCurrency: string | null = null,
): MapResult<RechargeMapping> {
  const [family = "", action = ""] = topic.split("/");
  const known = Object.hasOwn(KNOWN, family) ? KNOWN[family] : undefined;
  if (known === undefined) return { ok: true, value: { kind: "skip", note: `no table for Recharge topic ${topic}` } };

  let doc: unknown;
  try {
    doc = parseLossless(text);
  } catch {
    return { ok: false, reason: "invalid_payload", detail: "body is not JSON" };
  }
  const inner =
    typeof doc === "object" && doc !== null && !Array.isArray(doc)
      ? (doc as Record<string, unknown>)[family]
      : undefined;
  if (inner === undefined) {
    if (!known.has(action)) return { ok: true, value: { kind: "skip", note: `${topic} has no ${family} object` } };
    return { ok: false, reason: "invalid_payload", detail: `expected a {"${family}": {...}} body` };
  }

  const ctx: Ctx = { eventId, deleted: action === "deleted", storeCurrency };
  const invalid = (error: z.ZodError): MapResult<RechargeMapping> => ({
    ok: false,
    reason: "invalid_payload",
    detail: describeIssues(error, family),
  });
  switch (family) {
    case "customer": {
      const o = customerSchema.safeParse(inner);
      if (!o.success) return invalid(o.error);
      return { ok: true, value: { kind: "rows", rows: { table: "customers", row: customerRow(o.data, ctx, action) } } };
    }
    case "subscription": {
      const o = subscriptionSchema.safeParse(inner);
      if (!o.success) return invalid(o.error);
      return { ok: true, value: { kind: "rows", rows: { table: "subscriptions", row: subscriptionRow(o.data, ctx) } } };
    }
    default: {
      const o = chargeSchema.safeParse(inner);
      if (!o.success) return invalid(o.error);
      return { ok: true, value: { kind: "rows", rows: { table: "charges", ...chargeRows(o.data, ctx) } } };
    }
  }
}
