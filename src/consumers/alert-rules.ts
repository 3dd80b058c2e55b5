/**
 * Event-driven alert rules, evaluated on a stored event's payload: a Recharge
 * subscription cancelled (with its reason), a Recharge charge failed on billing attempt
 * N or later, a Stripe charge failed at or above a high-value amount, every Stripe
 * dispute created or closed. Pure: payload text in, alert drafts out. The payload is
 * read on its own (zod, lossless numbers) rather than through the table mappers, so the
 * rules do not depend on another module's row types; a payload the rules cannot read
 * raises nothing (the mapper decides separately whether it is quarantined).
 */
import { z } from "zod";
import { currencyExponent } from "../mapping/money";
import type { AlertDraft, AlertField } from "../shared/alerts";
import type { Source } from "../shared/envelope";
import { parseLossless } from "../shared/json";
import { fromUnixSeconds } from "../shared/time";

export interface RuleThresholds {
  stripeFailedChargeMinor: number;
  rechargeFailedAttempts: number;
}

const text = z.string().max(2000).nullish();
const digits = z.string().regex(/^-?\d{1,18}$/);

const rechargeSubscription = z.object({
  subscription: z.object({
    id: z.string(),
    customer_id: text,
    email: text,
    product_title: text,
    variant_title: text,
    cancellation_reason: text,
    cancellation_reason_comments: text,
    cancelled_at: text,
  }),
});

const rechargeCharge = z.object({
  charge: z.object({
    id: z.string(),
    status: text,
    email: text,
    customer: z.object({ email: text }).nullish(),
    currency: text,
    total_price: text,
    charge_attempts: digits.nullish(),
    number_times_tried: digits.nullish(),
    error: z.unknown(),
    error_type: text,
    retry_date: text,
  }),
});

const stripeCharge = z.object({
  data: z.object({
    object: z.object({
      id: z.string(),
      amount: digits,
      currency: z.string(),
      customer: text,
      receipt_email: text,
      billing_details: z.object({ email: text }).nullish(),
      failure_code: text,
      failure_message: text,
    }),
  }),
});

const stripeDispute = z.object({
  data: z.object({
    object: z.object({
      id: z.string(),
      charge: text,
      amount: digits,
      currency: z.string(),
      reason: text,
      status: text,
      evidence_details: z.object({ due_by: digits.nullish() }).nullish(),
    }),
  }),
});

/** `12345` minor units of USD → "123.45 USD"; exact, from the currency's exponent. */
export function formatMinor(minor: number, currency: string): string {
  const cur = currency.toUpperCase();
  const exp = currencyExponent(cur);
  const sign = minor < 0 ? "-" : "";
  const abs = String(Math.abs(minor)).padStart(exp + 1, "0");
  const whole = exp === 0 ? abs : `${abs.slice(0, -exp)}.${abs.slice(-exp)}`;
  return `${sign}${whole} ${cur}`;
}

const field = (name: string, value: string | null | undefined): AlertField[] =>
  value === null || value === undefined || value === "" ? [] : [{ name, value }];

export function eventAlerts(
  source: Source,
  topic: string,
  eventId: string,
  payload: string,
  t: RuleThresholds,
): AlertDraft[] {
  if (!RELEVANT.has(`${source}:${topic}`)) return [];
  let doc: unknown;
  try {
    doc = parseLossless(payload);
  } catch {
    return [];
  }
  const base = { source, eventId };
  switch (`${source}:${topic}`) {
    case "recharge:subscription/cancelled": {
      const p = rechargeSubscription.safeParse(doc);
      if (!p.success) return [];
      const s = p.data.subscription;
      const reason = s.cancellation_reason?.trim() || "no reason given";
      return [
        {
          ...base,
          rule: "recharge_subscription_cancelled",
          key: `recharge_subscription_cancelled:${s.id}`,
          severity: "info",
          title: `Recharge subscription ${s.id} cancelled: ${reason}`,
          fields: [
            { name: "Subscription", value: s.id },
            ...field("Customer", s.email ?? s.customer_id),
            ...field("Product", [s.product_title, s.variant_title].filter(Boolean).join(" / ")),
            { name: "Reason", value: reason },
            ...field("Comments", s.cancellation_reason_comments),
            ...field("Cancelled at", s.cancelled_at),
          ],
        },
      ];
    }
    case "recharge:charge/failed":
    case "recharge:charge/max_retries_reached": {
      const p = rechargeCharge.safeParse(doc);
      if (!p.success) return [];
      const c = p.data.charge;
      const attempts = Number(c.charge_attempts ?? c.number_times_tried ?? "0");
      if (attempts < t.rechargeFailedAttempts) return [];
      const error = typeof c.error === "string" ? c.error : c.error == null ? null : JSON.stringify(c.error);
      return [
        {
          ...base,
          rule: "recharge_charge_failed",
          key: `recharge_charge_failed:${c.id}:${attempts}`,
          severity: "warning",
          title: `Recharge charge ${c.id} failed (billing attempt ${attempts})`,
          fields: [
            { name: "Charge", value: c.id },
            ...field("Customer", c.customer?.email ?? c.email),
            ...field("Amount", c.total_price ? `${c.total_price} ${c.currency ?? ""}`.trim() : null),
            { name: "Attempts", value: String(attempts) },
            ...field("Error type", c.error_type),
            ...field("Error", error),
            ...field("Next retry", c.retry_date),
          ],
        },
      ];
    }
    case "stripe:charge.failed": {
      const p = stripeCharge.safeParse(doc);
      if (!p.success) return [];
      const c = p.data.data.object;
      const amount = Number(c.amount);
      if (amount < t.stripeFailedChargeMinor) return [];
      return [
        {
          ...base,
          rule: "stripe_charge_failed",
          key: `stripe_charge_failed:${c.id}`,
          severity: "warning",
          title: `Stripe charge ${c.id} of ${formatMinor(amount, c.currency)} failed`,
          fields: [
            { name: "Charge", value: c.id },
            { name: "Amount", value: formatMinor(amount, c.currency) },
            ...field("Customer", c.billing_details?.email ?? c.receipt_email ?? c.customer),
            ...field("Failure", [c.failure_code, c.failure_message].filter(Boolean).join(": ")),
          ],
        },
      ];
    }
    case "stripe:charge.dispute.created":
    case "stripe:charge.dispute.closed": {
      const p = stripeDispute.safeParse(doc);
      if (!p.success) return [];
      const d = p.data.data.object;
      const created = topic === "charge.dispute.created";
      const due = d.evidence_details?.due_by ? fromUnixSeconds(Number(d.evidence_details.due_by)) : null;
      const amount = formatMinor(Number(d.amount), d.currency);
      return [
        {
          ...base,
          rule: created ? "stripe_dispute_created" : "stripe_dispute_closed",
          key: `${created ? "stripe_dispute_created" : "stripe_dispute_closed"}:${d.id}`,
          severity: created ? "critical" : d.status === "lost" ? "warning" : "info",
          title: created
            ? `Stripe dispute ${d.id} opened for ${amount} (${d.reason ?? "no reason"})`
            : `Stripe dispute ${d.id} closed: ${d.status ?? "unknown"} (${amount})`,
          fields: [
            { name: "Dispute", value: d.id },
            ...field("Charge", d.charge),
            { name: "Amount", value: amount },
            ...field("Reason", d.reason),
            ...field("Status", d.status),
            ...(created ? field("Evidence due", due) : []),
          ],
        },
      ];
    }
    default:
      return [];
  }
}

const RELEVANT = new Set([
  "recharge:subscription/cancelled",
  "recharge:charge/failed",
  "recharge:charge/max_retries_reached",
  "stripe:charge.failed",
  "stripe:charge.dispute.created",
  "stripe:charge.dispute.closed",
]);
