/**
 * What each source's history backfill can load, by the resource names of the R2 layout: the
 * Shopify bulk exports and the Stripe and Recharge list APIs. Pure data, so the operator CLI
 * validates `ops backfill --resources` against the same lists the Worker's schemas use.
 */
/**
 * Shopify bulk exports. `inventory` is inventory items with their levels per location (the raw
 * layout's resource for every inventory topic); `locations` the shop's locations.
 */
export const BULK_RESOURCES = [
  "orders",
  "customers",
  "products",
  "fulfillments",
  "refunds",
  "inventory",
  "locations",
] as const;
export type BulkResource = (typeof BULK_RESOURCES)[number];

export const API_BACKFILL_SOURCES = ["stripe", "recharge"] as const;
export type ApiBackfillSource = (typeof API_BACKFILL_SOURCES)[number];

export const API_BACKFILL_RESOURCES = {
  stripe: [
    "customers",
    "charges",
    "payment_intents",
    "invoices",
    "invoice_payments",
    "subscriptions",
    "disputes",
    "refunds",
    "checkout_sessions",
  ],
  recharge: ["customers", "subscriptions", "charges", "orders"],
} as const satisfies Record<ApiBackfillSource, readonly string[]>;

/** Recharge's look-back limit on charges, in days (since 2025-03-19, API 2021-01 and 2021-11). */
export const RECHARGE_CHARGE_LOOKBACK_DAYS = 90;

/**
 * What a backfill of `resource` from `since` (null: all history) requested at `now` cannot load,
 * as the note its status row carries, or null when it can load everything. Since 2025-03-19
 * Recharge's charge list omits processed charges (success, refunded, partially refunded) processed
 * more than 90 days ago, and retrieving one such charge by id is refused as well: no other API call
 * returns them, so the gap is reported rather than filled.
 */
export function backfillGapNote(source: string, resource: string, since: string | null, now: Date): string | null {
  if (source !== "recharge" || resource !== "charges") return null;
  const cutoff = new Date(now.getTime() - RECHARGE_CHARGE_LOOKBACK_DAYS * 86_400_000);
  if (since !== null && Date.parse(since) >= cutoff.getTime()) return null;
  return (
    `Incomplete by Recharge's limit: processed charges (success, refunded, partially refunded) ` +
    `older than ${RECHARGE_CHARGE_LOOKBACK_DAYS} days are not listed by Recharge (since 2025-03-19), ` +
    `so those processed before ${cutoff.toISOString().slice(0, 10)} were not backfilled.`
  );
}
