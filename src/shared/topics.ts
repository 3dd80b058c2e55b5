/**
 * Topic → resource: the `{resource}` segment of every raw R2 key.
 * Shopify topics outside this table are quarantined (an app receives only the
 * topics it subscribed to, so an unknown one is worth a look). Stripe and
 * Recharge have an `other` resource: their well-formed but unlisted types are
 * archived there rather than quarantined.
 */
import type { Source } from "./envelope";

/**
 * Shopify: topic prefix (before the `/`, or the `.` of event topics such as `customer.tags_added`)
 * → resource. Compliance topics are matched whole first.
 */
const SHOPIFY_COMPLIANCE = new Set(["customers/redact", "customers/data_request", "shop/redact"]);
const SHOPIFY_PREFIX: Record<string, string> = {
  orders: "orders",
  order_transactions: "orders",
  customers: "customers",
  customer: "customers",
  customers_marketing_consent: "customers",
  customers_email_marketing_consent: "customers",
  customer_tags: "customers",
  products: "products",
  product_listings: "products",
  fulfillments: "fulfillments",
  fulfillment_events: "fulfillments",
  fulfillment_orders: "fulfillments",
  refunds: "refunds",
  checkouts: "checkouts",
  carts: "carts",
  inventory_items: "inventory",
  inventory_levels: "inventory",
  // A level is an item's quantity at a location: locations are kept with the inventory.
  locations: "inventory",
  app: "app",
  app_subscriptions: "app",
  app_purchases_one_time: "app",
  bulk_operations: "bulk_operations",
};

/**
 * Stripe: longest matching dotted prefix of the event type wins. A thin event of a v1 resource is
 * named like its snapshot event with a `v1.` prefix (`v1.charge.succeeded`) and goes to the same
 * resource; other thin types (`v1.billing.meter.…`, `v2.…`) go to `other`.
 */
const STRIPE_PREFIX: Array<[string, string]> = [
  ["charge.dispute.", "disputes"],
  ["charge.refund.", "refunds"],
  ["charge.", "charges"],
  ["payment_intent.", "payment_intents"],
  ["invoice.", "invoices"],
  ["invoice_payment.", "invoice_payments"],
  ["checkout.session.", "checkout_sessions"],
  ["customer.subscription.", "subscriptions"],
  ["customer.", "customers"],
  ["refund.", "refunds"],
];

const RECHARGE_PREFIX: Record<string, string> = {
  subscription: "subscriptions",
  charge: "charges",
  customer: "customers",
  order: "orders",
  address: "addresses",
};

/** `resource/action`, or the dotted `resource.action` of Shopify's event topics (`customer.tags_added`). */
const SHOPIFY_TOPIC = /^[a-z0-9_]+[/.][a-z0-9_]+$/;
const STRIPE_TYPE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
const RECHARGE_TOPIC = /^[a-z0-9_]+\/[a-z0-9_]+$/;

/** The resource for a topic, or null when the topic is unknown (quarantine). */
export function resourceFor(source: Source, topic: string): string | null {
  switch (source) {
    case "shopify": {
      if (!SHOPIFY_TOPIC.test(topic)) return null;
      if (SHOPIFY_COMPLIANCE.has(topic)) return "compliance";
      return SHOPIFY_PREFIX[topic.slice(0, topic.search(/[/.]/))] ?? null;
    }
    case "stripe": {
      if (!STRIPE_TYPE.test(topic)) return null;
      const type = stripeSnapshotType(topic);
      return STRIPE_PREFIX.find(([prefix]) => type.startsWith(prefix))?.[1] ?? "other";
    }
    case "recharge": {
      if (!RECHARGE_TOPIC.test(topic)) return null;
      return RECHARGE_PREFIX[topic.slice(0, topic.indexOf("/"))] ?? "other";
    }
  }
}

/** The snapshot event type a Stripe thin event of a v1 resource stands for (`v1.charge.succeeded` → `charge.succeeded`). */
export function stripeSnapshotType(type: string): string {
  return type.startsWith("v1.") ? type.slice(3) : type;
}

/** Every resource per source, as the R2 layout documents them. */
export const RESOURCES: Record<Source, readonly string[]> = {
  shopify: [...new Set([...Object.values(SHOPIFY_PREFIX), "compliance"])],
  stripe: [...new Set([...STRIPE_PREFIX.map(([, r]) => r), "other"])],
  recharge: [...new Set([...Object.values(RECHARGE_PREFIX), "other"])],
};
