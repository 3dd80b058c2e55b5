/**
 * Which fields each Shopify webhook payload carries, by topic and API version: the one place
 * that decides it (docs/shopify-versions.md). Read from the published sample payloads of the
 * webhook reference for each version (test/fixtures/shopify/<version>/ holds them).
 *
 * A field a payload does not carry never erases a stored value: the mappers leave its columns
 * out of the row, and the upsert (src/tables/shopify.ts) only writes the columns a row has.
 * A field is written when its version carries it *and* the payload has its key (a payload
 * trimmed by `includeFields`, or a body a replay reads back, may have fewer keys than published).
 *
 * Webhook payloads are read by the rules of their `X-Shopify-API-Version`; a version this table
 * has no rules for is quarantined, never mapped by another version's rules. Bodies the pipeline
 * builds itself from GraphQL (bulk exports, reconciliation) carry every field they have a key for.
 */

/** The API versions whose webhook payloads the mappers have rules for, oldest first. */
export const SHOPIFY_API_VERSIONS = ["2024-10", "2025-01", "2026-01", "2026-04", "2026-07"] as const;
export type ShopifyApiVersion = (typeof SHOPIFY_API_VERSIONS)[number];

export function isShopifyApiVersion(v: string | null | undefined): v is ShopifyApiVersion {
  return (SHOPIFY_API_VERSIONS as readonly string[]).includes(v ?? "");
}

/**
 * Fields whose presence depends on the version (every other field of a mapped topic is carried by
 * every supported version). Each names a group of columns that are written together.
 */
export type VersionedField =
  /** customers/*: `tags` → tags. */
  | "customer.tags"
  /** customers/*: `email_marketing_consent` → email_marketing_*, accepts_marketing. */
  | "customer.emailConsent"
  /** customers/*: `sms_marketing_consent` → sms_marketing_state. */
  | "customer.smsConsent"
  /** customers/*: `orders_count`, `total_spent`, `last_order_id`, `last_order_name`. */
  | "customer.purchasing"
  /** orders/*: `customer.orders_count`, `customer.total_spent` → customer_orders_count, customer_total_spent_minor. */
  | "order.customerPurchasing"
  /** checkouts/create|update: `id` (else the checkout's "#<id>" name gives it). */
  | "checkout.id";

/**
 * Mapped topic families whose payload depends on the version. The inventory topics
 * (inventory_items/*, inventory_levels/update, locations/*) are published with the same fields in
 * every supported version: their mapper (./shopify-inventory.ts) writes a column when the payload has its key.
 */
export type VersionedFamily = "customer" | "order" | "checkout";

const EVERY_CUSTOMER_FIELD: readonly VersionedField[] = [
  "customer.tags",
  "customer.emailConsent",
  "customer.smsConsent",
  "customer.purchasing",
];

/**
 * The published payloads: per family and version, the version-dependent fields they carry.
 * - customers/create|update|enable|disable: 2024-10 has tags, both consents, orders_count,
 *   total_spent and last_order_*; from 2025-01 none of them (they moved to the topics in TOPIC_SINCE).
 * - orders/*: `order.customer` has had no orders_count or total_spent in any supported version.
 * - checkouts/create|update: `id` until 2026-01; from 2026-04 none (the "#<id>" name remains,
 *   and checkouts/delete still sends `id`). Orders lost `checkout_id` in 2026-04 too; no column reads it.
 */
const CARRIED: Record<VersionedFamily, Record<ShopifyApiVersion, readonly VersionedField[]>> = {
  customer: {
    "2024-10": EVERY_CUSTOMER_FIELD,
    "2025-01": [],
    "2026-01": [],
    "2026-04": [],
    "2026-07": [],
  },
  order: {
    "2024-10": [],
    "2025-01": [],
    "2026-01": [],
    "2026-04": [],
    "2026-07": [],
  },
  checkout: {
    "2024-10": ["checkout.id"],
    "2025-01": ["checkout.id"],
    "2026-01": ["checkout.id"],
    "2026-04": [],
    "2026-07": [],
  },
};

/**
 * Topics that exist only from a version on (the first whose webhook reference publishes them).
 * Every other mapped topic is published in every supported version.
 */
const TOPIC_SINCE: Readonly<Record<string, ShopifyApiVersion>> = {
  "customers/purchasing_summary": "2025-01",
};

/** Which payloads a mapper reads: a webhook's by its version, or a body the pipeline built itself. */
export type PayloadRules = { kind: "webhook"; version: ShopifyApiVersion } | { kind: "built" };

/** Every field with a key, for bodies built from GraphQL (bulk exports, reconciliation). */
export const BUILT_BODY: PayloadRules = { kind: "built" };

/**
 * The rules for an event: webhooks by their version (null when there are none for it, or for the
 * topic in it: quarantine), anything else as a built body. A webhook without a version header is
 * read as a built body: only the fields it has keys for are written.
 */
export function payloadRules(
  topic: string,
  origin: string,
  apiVersion: string | null,
): { ok: true; rules: PayloadRules } | { ok: false; detail: string } {
  if (apiVersion === null) return { ok: true, rules: BUILT_BODY };
  if (!isShopifyApiVersion(apiVersion)) {
    return {
      ok: false,
      detail: `Shopify API version ${apiVersion} has no mapping rules (supported: ${SHOPIFY_API_VERSIONS.join(", ")})`,
    };
  }
  const since = TOPIC_SINCE[topic];
  if (since !== undefined && apiVersion < since) {
    return { ok: false, detail: `${topic} has no published payload in Shopify API version ${apiVersion}` };
  }
  // A replay sends a webhook's own envelope (version included) again: read by the same rules, so it
  // lands as the webhook did. (A replayed reconcile event is read as a webhook of its version too,
  // which may leave out a field only a built body carries: kept as stored, never erased.)
  const webhook = origin === "webhook" || origin === "replay";
  return { ok: true, rules: webhook ? { kind: "webhook", version: apiVersion } : BUILT_BODY };
}

/** Whether a payload read by `rules` carries `field`: its version has it and the payload has the key. */
export function carries(
  rules: PayloadRules,
  family: VersionedFamily,
  field: VersionedField,
  doc: unknown,
  key: string,
): boolean {
  if (rules.kind === "webhook" && !CARRIED[family][rules.version].includes(field)) return false;
  return typeof doc === "object" && doc !== null && (doc as Record<string, unknown>)[key] !== undefined;
}
