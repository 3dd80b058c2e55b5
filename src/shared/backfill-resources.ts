/**
 * What each source's history backfill can load, by the resource names of the R2 layout: the
 * Shopify bulk exports and the Stripe and Recharge list APIs. Pure data, so the operator CLI
 * validates `ops backfill --resources` against the same lists the Worker's schemas use.
 */
export const BULK_RESOURCES = ["orders", "customers", "products", "fulfillments", "refunds"] as const;
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
