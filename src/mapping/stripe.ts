/**
 * Stripe event → rows. Pure: the payload text in, complete rows out, no I/O.
 * The table is chosen by `data.object.object`, not by the event type, because
 * several `customer.*` and `charge.*` types carry other objects (discounts,
 * sources, tax ids); unknown objects are archive-only. Every Stripe row is
 * ordered by the event's `created`, the only clock Stripe gives a webhook, so two
 * events in the same second tie and the later delivery wins.
 * Each payload is read by the rules of its own API version (`api_version`, see
 * src/shared/stripe-version.ts): a version without rules is quarantined, never guessed at.
 */
import { z } from "zod";
import { parseLossless } from "../shared/json";
import type {
  StripeChargeRow,
  StripeCheckoutLineItemRow,
  StripeCheckoutSessionRow,
  StripeCustomerRow,
  StripeDisputeRow,
  StripeInvoicePaymentRow,
  StripeInvoiceRow,
  StripePaymentIntentRow,
  StripeRefundRow,
  StripeSubscriptionRow,
} from "../shared/schema/stripe";
import { type StripeRules, stripeRulesFor } from "../shared/stripe-version";
import { fromUnixSeconds } from "../shared/time";
import { describeIssues, normalizeEmail } from "./common";

export type MapResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: "invalid_payload" | "unsupported_version"; detail: string };

// Lossless JSON gives every number as its source text, so numeric fields are validated strings.
const int = z
  .string()
  .regex(/^-?\d+$/, "expected an integer")
  .transform(Number)
  .refine(Number.isSafeInteger, "integer out of range");
const str = z.string().nullish();
const bool = z.boolean().nullish();
const unix = int.nullish();
const metadata = z.record(z.string(), z.string()).nullish();
/** An expandable reference: the id, or the expanded object carrying it. */
const ref = z
  .union([z.string(), z.object({ id: z.string() })])
  .nullish()
  .transform((v) => (typeof v === "object" && v !== null ? v.id : (v ?? null)));

const eventSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  created: int,
  api_version: z.string().max(64).nullish(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

/** Who wrote the row and when: the event, not the object (Stripe objects carry no updated time). */
interface Ctx {
  eventId: string;
  eventCreated: number;
  at: string;
  deletedAt: string | null;
  /** The payload's `api_version` (recorded on the row) and the rules it is read by. */
  apiVersion: string | null;
  rules: StripeRules;
}

/**
 * A field only versions before 2025-03-31 (basil) carry; under basil rules it is not read at all.
 * Unversioned payloads read whatever is there. The invoice ↔ payment links read this way keep
 * their stored value when null (src/tables/stripe.ts), so a basil payload never erases them.
 */
const legacyOnly = <T>(ctx: Ctx, value: T | null): T | null => (ctx.rules === "basil" ? null : value);

const time = (seconds: number | null | undefined) => (seconds == null ? null : fromUnixSeconds(seconds));
const currency = (value: string | null | undefined) => (value ? value.toUpperCase() : null);
const json = (value: Record<string, string> | null | undefined) => (value ? JSON.stringify(value) : null);
const tail = (ctx: Ctx, created: number | null | undefined) => ({
  createdAt: time(created),
  eventCreated: ctx.eventCreated,
  updatedAt: ctx.at,
  deletedAt: ctx.deletedAt,
  lastEventId: ctx.eventId,
  apiVersion: ctx.apiVersion,
});

/** Metadata keys merchants commonly use for their own ids; the first present wins. */
const ORDER_KEYS = ["order_id", "orderId", "shopify_order_id"];
const CUSTOMER_KEYS = ["customer_id", "customerId", "shopify_customer_id"];
const USER_KEYS = ["user_id", "userId", "uid"];
function pick(meta: Record<string, string> | null | undefined, keys: string[]): string | null {
  for (const key of keys) {
    const value = meta?.[key]?.trim();
    if (value) return value;
  }
  return null;
}

const customerSchema = z.object({
  id: z.string().min(1),
  email: str,
  name: str,
  phone: str,
  description: str,
  currency: str,
  balance: int.nullish(),
  delinquent: bool,
  address: z.object({ country: str, postal_code: str }).nullish(),
  metadata,
  livemode: bool,
  created: unix,
});
function customerRow(o: z.infer<typeof customerSchema>, ctx: Ctx): StripeCustomerRow {
  return {
    id: o.id,
    email: normalizeEmail(o.email),
    name: o.name ?? null,
    phone: o.phone ?? null,
    description: o.description ?? null,
    currency: currency(o.currency),
    balanceMinor: o.balance ?? null,
    delinquent: o.delinquent ?? null,
    addressCountry: o.address?.country ?? null,
    addressPostalCode: o.address?.postal_code ?? null,
    metadata: json(o.metadata),
    livemode: o.livemode ?? null,
    ...tail(ctx, o.created),
  };
}

const chargeSchema = z.object({
  id: z.string().min(1),
  customer: ref,
  payment_intent: ref,
  invoice: ref,
  billing_details: z.object({ email: str }).nullish(),
  receipt_email: str,
  amount: int,
  amount_captured: int.nullish(),
  amount_refunded: int.nullish(),
  currency: z.string().min(1),
  status: str,
  paid: bool,
  captured: bool,
  refunded: bool,
  disputed: bool,
  failure_code: str,
  failure_message: str,
  outcome: z.object({ type: str }).nullish(),
  payment_method: str,
  payment_method_details: z.object({ type: str, card: z.object({ brand: str }).nullish() }).nullish(),
  description: str,
  metadata,
  livemode: bool,
  created: unix,
});
function chargeRow(o: z.infer<typeof chargeSchema>, ctx: Ctx): StripeChargeRow {
  return {
    id: o.id,
    customerId: o.customer,
    paymentIntentId: o.payment_intent,
    invoiceId: legacyOnly(ctx, o.invoice),
    email: normalizeEmail(o.billing_details?.email) ?? normalizeEmail(o.receipt_email),
    amountMinor: o.amount,
    amountCapturedMinor: o.amount_captured ?? null,
    amountRefundedMinor: o.amount_refunded ?? null,
    currency: o.currency.toUpperCase(),
    status: o.status ?? null,
    paid: o.paid ?? null,
    captured: o.captured ?? null,
    refunded: o.refunded ?? null,
    disputed: o.disputed ?? null,
    failureCode: o.failure_code ?? null,
    failureMessage: o.failure_message ?? null,
    outcomeType: o.outcome?.type ?? null,
    paymentMethodId: o.payment_method ?? null,
    paymentMethodType: o.payment_method_details?.type ?? null,
    cardBrand: o.payment_method_details?.card?.brand ?? null,
    description: o.description ?? null,
    metadataOrderId: pick(o.metadata, ORDER_KEYS),
    metadataCustomerId: pick(o.metadata, CUSTOMER_KEYS),
    metadata: json(o.metadata),
    livemode: o.livemode ?? null,
    ...tail(ctx, o.created),
  };
}

const paymentIntentSchema = z.object({
  id: z.string().min(1),
  customer: ref,
  receipt_email: str,
  amount: int,
  amount_received: int.nullish(),
  amount_capturable: int.nullish(),
  currency: z.string().min(1),
  status: str,
  capture_method: str,
  latest_charge: ref,
  payment_method: ref,
  invoice: ref,
  description: str,
  cancellation_reason: str,
  canceled_at: unix,
  last_payment_error: z.object({ code: str, message: str }).nullish(),
  metadata,
  livemode: bool,
  created: unix,
});
function paymentIntentRow(o: z.infer<typeof paymentIntentSchema>, ctx: Ctx): StripePaymentIntentRow {
  return {
    id: o.id,
    customerId: o.customer,
    email: normalizeEmail(o.receipt_email),
    amountMinor: o.amount,
    amountReceivedMinor: o.amount_received ?? null,
    amountCapturableMinor: o.amount_capturable ?? null,
    currency: o.currency.toUpperCase(),
    status: o.status ?? null,
    captureMethod: o.capture_method ?? null,
    latestChargeId: o.latest_charge,
    paymentMethodId: o.payment_method,
    invoiceId: legacyOnly(ctx, o.invoice),
    description: o.description ?? null,
    cancellationReason: o.cancellation_reason ?? null,
    canceledAt: time(o.canceled_at),
    lastErrorCode: o.last_payment_error?.code ?? null,
    lastErrorMessage: o.last_payment_error?.message ?? null,
    metadataOrderId: pick(o.metadata, ORDER_KEYS),
    metadataCustomerId: pick(o.metadata, CUSTOMER_KEYS),
    metadata: json(o.metadata),
    livemode: o.livemode ?? null,
    ...tail(ctx, o.created),
  };
}

const invoiceSchema = z.object({
  id: z.string().min(1),
  number: str,
  customer: ref,
  customer_email: str,
  // Before API 2025-03-31 the subscription sat on the invoice; since then under `parent`.
  subscription: ref,
  parent: z.object({ type: str, subscription_details: z.object({ subscription: ref }).nullish() }).nullish(),
  payment_intent: ref,
  charge: ref,
  status: str,
  billing_reason: str,
  collection_method: str,
  currency: z.string().min(1),
  amount_due: int.nullish(),
  amount_paid: int.nullish(),
  amount_remaining: int.nullish(),
  subtotal: int.nullish(),
  total: int.nullish(),
  tax: int.nullish(),
  total_taxes: z.array(z.object({ amount: int })).nullish(),
  attempt_count: int.nullish(),
  attempted: bool,
  next_payment_attempt: unix,
  due_date: unix,
  period_start: unix,
  period_end: unix,
  status_transitions: z.object({ paid_at: unix }).nullish(),
  metadata,
  livemode: bool,
  created: unix,
});
function invoiceRow(o: z.infer<typeof invoiceSchema>, ctx: Ctx): StripeInvoiceRow {
  const parentSubscription =
    o.parent?.type === "subscription_details" ? (o.parent.subscription_details?.subscription ?? null) : null;
  // Legacy versions name the subscription on the invoice, basil under `parent`.
  const subscriptionId =
    ctx.rules === "legacy"
      ? o.subscription
      : ctx.rules === "basil"
        ? parentSubscription
        : (o.subscription ?? parentSubscription);
  const taxes = o.total_taxes?.reduce((sum, t) => sum + t.amount, 0);
  return {
    id: o.id,
    number: o.number ?? null,
    customerId: o.customer,
    email: normalizeEmail(o.customer_email),
    subscriptionId,
    paymentIntentId: legacyOnly(ctx, o.payment_intent),
    chargeId: legacyOnly(ctx, o.charge),
    status: o.status ?? null,
    billingReason: o.billing_reason ?? null,
    collectionMethod: o.collection_method ?? null,
    currency: o.currency.toUpperCase(),
    amountDueMinor: o.amount_due ?? null,
    amountPaidMinor: o.amount_paid ?? null,
    amountRemainingMinor: o.amount_remaining ?? null,
    subtotalMinor: o.subtotal ?? null,
    totalMinor: o.total ?? null,
    taxMinor: o.tax ?? taxes ?? null,
    attemptCount: o.attempt_count ?? null,
    attempted: o.attempted ?? null,
    nextPaymentAttemptAt: time(o.next_payment_attempt),
    dueAt: time(o.due_date),
    periodStart: time(o.period_start),
    periodEnd: time(o.period_end),
    paidAt: time(o.status_transitions?.paid_at),
    metadata: json(o.metadata),
    livemode: o.livemode ?? null,
    ...tail(ctx, o.created),
  };
}

/**
 * An invoice payment (API 2025-03-31+): which payment intent, or charge without one, pays which
 * invoice. Its `payment` names one of them by `type` (a payment record, for payments outside
 * Stripe, names neither).
 */
const invoicePaymentSchema = z.object({
  id: z.string().min(1),
  invoice: ref,
  is_default: bool,
  amount_paid: int.nullish(),
  amount_requested: int.nullish(),
  currency: z.string().min(1),
  payment: z.object({ type: str, payment_intent: ref, charge: ref }).nullish(),
  status: str,
  status_transitions: z.object({ paid_at: unix, canceled_at: unix }).nullish(),
  livemode: bool,
  created: unix,
});
function invoicePaymentRow(o: z.infer<typeof invoicePaymentSchema>, ctx: Ctx): StripeInvoicePaymentRow {
  return {
    id: o.id,
    invoiceId: o.invoice,
    paymentType: o.payment?.type ?? null,
    paymentIntentId: o.payment?.payment_intent ?? null,
    chargeId: o.payment?.charge ?? null,
    status: o.status ?? null,
    isDefault: o.is_default ?? null,
    amountPaidMinor: o.amount_paid ?? null,
    amountRequestedMinor: o.amount_requested ?? null,
    currency: o.currency.toUpperCase(),
    paidAt: time(o.status_transitions?.paid_at),
    canceledAt: time(o.status_transitions?.canceled_at),
    livemode: o.livemode ?? null,
    ...tail(ctx, o.created),
  };
}

const disputeSchema = z.object({
  id: z.string().min(1),
  charge: ref,
  payment_intent: ref,
  amount: int,
  currency: z.string().min(1),
  reason: str,
  status: str,
  is_charge_refundable: bool,
  evidence_details: z.object({ due_by: unix }).nullish(),
  payment_method_details: z.object({ card: z.object({ network_reason_code: str }).nullish() }).nullish(),
  metadata,
  livemode: bool,
  created: unix,
});
function disputeRow(o: z.infer<typeof disputeSchema>, ctx: Ctx): StripeDisputeRow {
  return {
    id: o.id,
    chargeId: o.charge,
    paymentIntentId: o.payment_intent,
    amountMinor: o.amount,
    currency: o.currency.toUpperCase(),
    reason: o.reason ?? null,
    status: o.status ?? null,
    isChargeRefundable: o.is_charge_refundable ?? null,
    evidenceDueBy: time(o.evidence_details?.due_by),
    networkReasonCode: o.payment_method_details?.card?.network_reason_code ?? null,
    metadata: json(o.metadata),
    livemode: o.livemode ?? null,
    ...tail(ctx, o.created),
  };
}

const refundSchema = z.object({
  id: z.string().min(1),
  charge: ref,
  payment_intent: ref,
  amount: int,
  currency: z.string().min(1),
  status: str,
  reason: str,
  failure_reason: str,
  metadata,
  created: unix,
});
function refundRow(o: z.infer<typeof refundSchema>, ctx: Ctx): StripeRefundRow {
  return {
    id: o.id,
    chargeId: o.charge,
    paymentIntentId: o.payment_intent,
    amountMinor: o.amount,
    currency: o.currency.toUpperCase(),
    status: o.status ?? null,
    reason: o.reason ?? null,
    failureReason: o.failure_reason ?? null,
    metadata: json(o.metadata),
    ...tail(ctx, o.created),
  };
}

const subscriptionItem = z.object({
  quantity: int.nullish(),
  // Since API 2025-03-31 the current period is per item, no longer on the subscription.
  current_period_start: unix,
  current_period_end: unix,
  price: z
    .object({
      id: z.string(),
      product: ref,
      unit_amount: int.nullish(),
      recurring: z.object({ interval: str, interval_count: int.nullish(), usage_type: str }).nullish(),
    })
    .nullish(),
});
const subscriptionSchema = z.object({
  id: z.string().min(1),
  customer: ref,
  status: str,
  currency: str,
  collection_method: str,
  cancel_at_period_end: bool,
  cancel_at: unix,
  canceled_at: unix,
  ended_at: unix,
  cancellation_details: z.object({ reason: str, feedback: str, comment: str }).nullish(),
  start_date: unix,
  trial_start: unix,
  trial_end: unix,
  current_period_start: unix,
  current_period_end: unix,
  latest_invoice: ref,
  default_payment_method: ref,
  items: z.object({ data: z.array(subscriptionItem), has_more: bool }).nullish(),
  metadata,
  livemode: bool,
  created: unix,
});
/** Intervals per year of each unit (`amount × perYear / 12` is an interval amount per month). */
const PER_YEAR: Record<string, bigint> = { day: 365n, week: 52n, month: 12n, year: 1n };
const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/**
 * The subscription's MRR in minor units: every licensed item's unit amount × quantity per its own
 * interval (flexible billing lets items differ), normalized to a month (day × 365/12, week × 52/12,
 * year ÷ 12, divided by the interval count) and summed exactly, then rounded half away from zero,
 * as analytics_subscription_mrr rounds. Metered items bill usage, which is not known ahead: they
 * add nothing. Null when it cannot be known: an item without a unit amount (tiered) or a known
 * interval, or a partial item list.
 */
export function subscriptionMrrMinor(items: z.infer<typeof subscriptionSchema>["items"]): number | null {
  if (!items || items.has_more === true) return null;
  let num = 0n;
  let den = 1n;
  for (const item of items.data) {
    const recurring = item.price?.recurring;
    if (recurring?.usage_type === "metered") continue;
    const perYear = PER_YEAR[(recurring?.interval ?? "").toLowerCase()];
    const amount = item.price?.unit_amount;
    if (perYear === undefined || amount === null || amount === undefined) return null;
    const count = BigInt(Math.max(1, recurring?.interval_count ?? 1));
    // amount × quantity × perYear / (12 × count), added to num/den over a common denominator.
    const n = BigInt(amount) * BigInt(item.quantity ?? 1) * perYear;
    const d = 12n * count;
    const common = (den / gcd(den, d)) * d;
    num = num * (common / den) + n * (common / d);
    den = common;
  }
  const negative = num < 0n;
  const abs = negative ? -num : num;
  const rounded = (2n * abs + den) / (2n * den);
  const value = Number(negative ? -rounded : rounded);
  return Number.isSafeInteger(value) ? value : null;
}

function subscriptionRow(o: z.infer<typeof subscriptionSchema>, ctx: Ctx): StripeSubscriptionRow {
  const first = o.items?.data[0];
  return {
    id: o.id,
    customerId: o.customer,
    status: o.status ?? null,
    currency: currency(o.currency),
    collectionMethod: o.collection_method ?? null,
    cancelAtPeriodEnd: o.cancel_at_period_end ?? null,
    cancelAt: time(o.cancel_at),
    canceledAt: time(o.canceled_at),
    endedAt: time(o.ended_at),
    cancellationReason: o.cancellation_details?.reason ?? null,
    cancellationFeedback: o.cancellation_details?.feedback ?? null,
    cancellationComment: o.cancellation_details?.comment ?? null,
    startDate: time(o.start_date),
    trialStart: time(o.trial_start),
    trialEnd: time(o.trial_end),
    // Legacy versions keep the current period on the subscription, basil on each item.
    currentPeriodStart: time(
      ctx.rules === "basil" ? first?.current_period_start : (o.current_period_start ?? first?.current_period_start),
    ),
    currentPeriodEnd: time(
      ctx.rules === "basil" ? first?.current_period_end : (o.current_period_end ?? first?.current_period_end),
    ),
    latestInvoiceId: o.latest_invoice,
    defaultPaymentMethodId: o.default_payment_method,
    itemCount: o.items ? o.items.data.length : null,
    priceId: first?.price?.id ?? null,
    productId: first?.price?.product ?? null,
    quantity: first?.quantity ?? null,
    unitAmountMinor: first?.price?.unit_amount ?? null,
    priceInterval: first?.price?.recurring?.interval ?? null,
    priceIntervalCount: first?.price?.recurring?.interval_count ?? null,
    mrrMinor: subscriptionMrrMinor(o.items),
    metadata: json(o.metadata),
    livemode: o.livemode ?? null,
    ...tail(ctx, o.created),
  };
}

const lineItemSchema = z.object({
  id: str,
  description: str,
  quantity: int.nullish(),
  currency: str,
  amount_subtotal: int.nullish(),
  amount_discount: int.nullish(),
  amount_tax: int.nullish(),
  amount_total: int.nullish(),
  price: z.object({ id: z.string(), product: ref, unit_amount: int.nullish() }).nullish(),
});
export type StripeLineItem = z.infer<typeof lineItemSchema>;
/** A page of `GET /v1/checkout/sessions/{id}/line_items`, or the expanded `line_items` of a session. */
const lineItemList = z.object({ data: z.array(lineItemSchema), has_more: z.boolean() });

const address = z.object({ line1: str, line2: str, city: str, state: str, postal_code: str, country: str });
const shipping = z.object({ name: str, address: address.nullish() }).nullish();
const checkoutSessionSchema = z.object({
  id: z.string().min(1),
  mode: str,
  status: str,
  payment_status: str,
  customer: ref,
  customer_details: z.object({ email: str }).nullish(),
  customer_email: str,
  client_reference_id: str,
  currency: str,
  amount_subtotal: int.nullish(),
  amount_total: int.nullish(),
  total_details: z
    .object({ amount_discount: int.nullish(), amount_tax: int.nullish(), amount_shipping: int.nullish() })
    .nullish(),
  shipping_cost: z.object({ amount_total: int.nullish() }).nullish(),
  payment_intent: ref,
  subscription: ref,
  invoice: ref,
  // The shipping address moved twice across API versions; the newest location wins.
  collected_information: z.object({ shipping_details: shipping }).nullish(),
  shipping_details: shipping,
  shipping: shipping,
  expires_at: unix,
  line_items: lineItemList.nullish(),
  metadata,
  livemode: bool,
  created: unix,
});
function checkoutSessionRow(o: z.infer<typeof checkoutSessionSchema>, ctx: Ctx): StripeCheckoutSessionRow {
  const ship = o.collected_information?.shipping_details ?? o.shipping_details ?? o.shipping;
  return {
    id: o.id,
    mode: o.mode ?? null,
    status: o.status ?? null,
    paymentStatus: o.payment_status ?? null,
    customerId: o.customer,
    email: normalizeEmail(o.customer_details?.email) ?? normalizeEmail(o.customer_email),
    userId: pick(o.metadata, USER_KEYS),
    clientReferenceId: o.client_reference_id ?? null,
    currency: currency(o.currency),
    amountSubtotalMinor: o.amount_subtotal ?? null,
    amountTotalMinor: o.amount_total ?? null,
    amountDiscountMinor: o.total_details?.amount_discount ?? null,
    amountTaxMinor: o.total_details?.amount_tax ?? null,
    amountShippingMinor: o.total_details?.amount_shipping ?? o.shipping_cost?.amount_total ?? null,
    paymentIntentId: o.payment_intent,
    subscriptionId: o.subscription,
    invoiceId: o.invoice,
    shippingName: ship?.name ?? null,
    shippingLine1: ship?.address?.line1 ?? null,
    shippingLine2: ship?.address?.line2 ?? null,
    shippingCity: ship?.address?.city ?? null,
    shippingState: ship?.address?.state ?? null,
    shippingPostalCode: ship?.address?.postal_code ?? null,
    shippingCountry: ship?.address?.country ?? null,
    expiresAt: time(o.expires_at),
    metadata: json(o.metadata),
    livemode: o.livemode ?? null,
    ...tail(ctx, o.created),
  };
}

/** Line item rows of a session, in Stripe's order; `updated_at`/`last_event_id` are the parent's. */
export function lineItemRows(
  sessionId: string,
  items: readonly StripeLineItem[],
  owner: { eventId: string; at: string },
): StripeCheckoutLineItemRow[] {
  return items.map((li, position) => ({
    sessionId,
    position,
    id: li.id ?? null,
    priceId: li.price?.id ?? null,
    productId: li.price?.product ?? null,
    description: li.description ?? null,
    quantity: li.quantity ?? null,
    currency: currency(li.currency),
    unitAmountMinor: li.price?.unit_amount ?? null,
    amountSubtotalMinor: li.amount_subtotal ?? null,
    amountDiscountMinor: li.amount_discount ?? null,
    amountTaxMinor: li.amount_tax ?? null,
    amountTotalMinor: li.amount_total ?? null,
    updatedAt: owner.at,
    lastEventId: owner.eventId,
  }));
}

/** Validates one page of the line-items list API (an upstream response is a trust boundary too). */
export function parseLineItemsPage(text: string): MapResult<{ items: StripeLineItem[]; hasMore: boolean }> {
  let doc: unknown;
  try {
    doc = parseLossless(text);
  } catch {
    return { ok: false, reason: "invalid_payload", detail: "line items response is not JSON" };
  }
  const page = lineItemList.safeParse(doc);
  if (!page.success) return { ok: false, reason: "invalid_payload", detail: describeIssues(page.error) };
  return { ok: true, value: { items: page.data.data, hasMore: page.data.has_more } };
}

export type StripeRows =
  | { table: "customers"; row: StripeCustomerRow }
  | { table: "charges"; row: StripeChargeRow }
  | { table: "payment_intents"; row: StripePaymentIntentRow }
  | { table: "invoices"; row: StripeInvoiceRow }
  | { table: "invoice_payments"; row: StripeInvoicePaymentRow }
  | { table: "disputes"; row: StripeDisputeRow }
  | { table: "refunds"; row: StripeRefundRow }
  | { table: "subscriptions"; row: StripeSubscriptionRow }
  /** `lineItems` is null when the event does not carry the complete list (it must be fetched). */
  | { table: "checkout_sessions"; row: StripeCheckoutSessionRow; lineItems: StripeCheckoutLineItemRow[] | null };

export type StripeMapping = { kind: "rows"; rows: StripeRows } | { kind: "skip"; note: string };

type Mapper = (object: unknown, ctx: Ctx) => MapResult<StripeRows>;
function mapper<S extends z.ZodType>(schema: S, build: (o: z.output<S>, ctx: Ctx) => StripeRows): Mapper {
  return (object, ctx) => {
    const parsed = schema.safeParse(object);
    if (!parsed.success)
      return { ok: false, reason: "invalid_payload", detail: describeIssues(parsed.error, "data.object") };
    return { ok: true, value: build(parsed.data, ctx) };
  };
}

/** `data.object.object` → table. Anything else (plans, prices, discounts, sources…) is archive-only. */
const MAPPERS: Record<string, Mapper> = {
  customer: mapper(customerSchema, (o, ctx) => ({ table: "customers", row: customerRow(o, ctx) })),
  charge: mapper(chargeSchema, (o, ctx) => ({ table: "charges", row: chargeRow(o, ctx) })),
  payment_intent: mapper(paymentIntentSchema, (o, ctx) => ({
    table: "payment_intents",
    row: paymentIntentRow(o, ctx),
  })),
  invoice: mapper(invoiceSchema, (o, ctx) => ({ table: "invoices", row: invoiceRow(o, ctx) })),
  invoice_payment: mapper(invoicePaymentSchema, (o, ctx) => ({
    table: "invoice_payments",
    row: invoicePaymentRow(o, ctx),
  })),
  dispute: mapper(disputeSchema, (o, ctx) => ({ table: "disputes", row: disputeRow(o, ctx) })),
  refund: mapper(refundSchema, (o, ctx) => ({ table: "refunds", row: refundRow(o, ctx) })),
  subscription: mapper(subscriptionSchema, (o, ctx) => ({ table: "subscriptions", row: subscriptionRow(o, ctx) })),
  "checkout.session": mapper(checkoutSessionSchema, (o, ctx) => {
    // A partial list (has_more) is no better than none: the complete one is fetched instead.
    const complete = o.line_items && !o.line_items.has_more ? o.line_items.data : null;
    return {
      table: "checkout_sessions",
      row: checkoutSessionRow(o, ctx),
      lineItems: complete && lineItemRows(o.id, complete, ctx),
    };
  }),
};

/** The Stripe objects (their `object` tag) that have a table; a thin event naming another is archive-only. */
export const STRIPE_TABLE_OBJECTS: ReadonlySet<string> = new Set(Object.keys(MAPPERS));

/** An upcoming invoice is a preview Stripe may never issue; storing it would invent an invoice. */
const PREVIEW_TYPES = new Set(["invoice.upcoming"]);

/** Maps a Stripe webhook body. `eventId` is the ledger's id for the event (Stripe's `evt_…`). */
export function mapStripeEvent(text: string, eventId: string): MapResult<StripeMapping> {
  let doc: unknown;
  try {
    doc = parseLossless(text);
  } catch {
    return { ok: false, reason: "invalid_payload", detail: "body is not JSON" };
  }
  const event = eventSchema.safeParse(doc);
  if (!event.success) return { ok: false, reason: "invalid_payload", detail: describeIssues(event.error) };
  const { type, created, data } = event.data;
  const at = fromUnixSeconds(created);
  if (at === null) return { ok: false, reason: "invalid_payload", detail: "created: not a valid unix time" };

  const kind = data.object.object;
  const map = typeof kind === "string" && Object.hasOwn(MAPPERS, kind) ? MAPPERS[kind] : undefined;
  if (map === undefined)
    return { ok: true, value: { kind: "skip", note: `no table for Stripe object ${String(kind)}` } };
  if (PREVIEW_TYPES.has(type)) return { ok: true, value: { kind: "skip", note: `${type} is a preview` } };
  // Only what is mapped needs rules: objects without a table stay archived whatever their version.
  const version = stripeRulesFor(event.data.api_version);
  if (!version.ok) return { ok: false, reason: "unsupported_version", detail: version.detail };

  const deleted = type.endsWith(".deleted") || data.object.deleted === true;
  const rows = map(data.object, {
    eventId,
    eventCreated: created,
    at,
    deletedAt: deleted ? at : null,
    apiVersion: event.data.api_version ?? null,
    rules: version.rules,
  });
  return rows.ok ? { ok: true, value: { kind: "rows", rows: rows.value } } : rows;
}
