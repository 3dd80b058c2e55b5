/**
 * The webhook topics the pipeline asks each source for (`npm run ops -- webhooks plan|apply`).
 * Every one maps to a resource in ./topics.ts (a test holds them together); the list is kept
 * free of imports so the operator CLI, which runs in Node outside the Worker, can read it.
 * Shopify's compliance topics are not here: they are declared in the app's configuration
 * (`shopify.app.toml` `[webhooks] compliance_topics`), not registered through the API.
 */
export const SHOPIFY_WEBHOOK_TOPICS = [
  "orders/create",
  "orders/updated",
  "orders/paid",
  "orders/cancelled",
  "orders/fulfilled",
  "orders/partially_fulfilled",
  "orders/edited",
  "orders/delete",
  "customers/create",
  "customers/update",
  "customers/delete",
  // From API 2025-01 customers/* no longer carry these; each has a topic of its own.
  "customers/purchasing_summary",
  "customers_email_marketing_consent/update",
  "customers_marketing_consent/update",
  "customer.tags_added",
  "customer.tags_removed",
  "products/create",
  "products/update",
  "products/delete",
  "fulfillments/create",
  "fulfillments/update",
  "refunds/create",
  "checkouts/create",
  "checkouts/update",
  "checkouts/delete",
  // Inventory (scopes read_inventory, read_locations).
  "inventory_items/create",
  "inventory_items/update",
  "inventory_items/delete",
  "inventory_levels/update",
  "locations/create",
  "locations/update",
  "locations/delete",
  "app/uninstalled",
  "bulk_operations/finish",
] as const;

export const SHOPIFY_COMPLIANCE_TOPICS = ["customers/data_request", "customers/redact", "shop/redact"] as const;

export const STRIPE_WEBHOOK_EVENTS = [
  "charge.captured",
  "charge.failed",
  "charge.refunded",
  "charge.succeeded",
  "charge.updated",
  "charge.dispute.created",
  "charge.dispute.updated",
  "charge.dispute.closed",
  "charge.refund.updated",
  "payment_intent.created",
  "payment_intent.succeeded",
  "payment_intent.payment_failed",
  "payment_intent.canceled",
  "invoice.created",
  "invoice.finalized",
  "invoice.updated",
  "invoice.paid",
  "invoice.payment_failed",
  "invoice_payment.paid",
  "checkout.session.completed",
  "checkout.session.expired",
  "checkout.session.async_payment_succeeded",
  "checkout.session.async_payment_failed",
  "customer.created",
  "customer.updated",
  "customer.deleted",
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "refund.created",
  "refund.updated",
] as const;

export const RECHARGE_WEBHOOK_TOPICS = [
  "subscription/created",
  "subscription/updated",
  "subscription/activated",
  "subscription/cancelled",
  "subscription/deleted",
  "charge/created",
  "charge/paid",
  "charge/failed",
  "charge/max_retries_reached",
  "charge/refunded",
  "charge/deleted",
  "customer/created",
  "customer/updated",
  "customer/deleted",
  "order/created",
  "order/updated",
] as const;

/** Shopify's GraphQL enum for a topic: `orders/create` → `ORDERS_CREATE`, `customer.tags_added` → `CUSTOMER_TAGS_ADDED`. */
export function shopifyTopicEnum(topic: string): string {
  return topic.toUpperCase().replace(/[/.]/, "_");
}
