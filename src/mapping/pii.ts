/**
 * The PII policy of every D1 table, in one place: each text column is classified as personal or
 * not, and each table says how erasure removes its personal columns. test/privacy-unit.test.ts
 * fails on any text column of any table (after every migration) that is not classified here, and
 * on a classified column that no longer exists, so a new column cannot slip past erasure. The
 * lake's Parquet is written from these tables, column for column, so the same policy covers it.
 *
 * Personal (the same keys the raw archive's redaction nulls, src/mapping/redact.ts, so a replay
 * of an erased person's events refills nothing): e-mail, phone, names, address lines, city and
 * postal code, and free text a person or a merchant wrote about a person (notes, comments,
 * descriptions). Not personal: ids, money, dates, statuses, country and province codes, tokens
 * and tracking numbers, merchant-authored Stripe metadata (its e-mail-like values are nulled in
 * the raw archive), and text the pipeline or a source wrote itself (error messages that name
 * fields, never values).
 */
import type { Source } from "../shared/envelope";

/**
 * How erasure removes a table's personal columns:
 * - `null`: set to NULL on the person's rows (`PII_TABLES` says how a row is tied to a person);
 * - `delete`: the person's rows are deleted (the identity graph);
 * - `mask`: the e-mail inside the text is replaced by a marker (alerts);
 * - `transient`: the value is gone by the time the request completes (the request's own work row; the
 *   lake's delete log and a rebuild's progress, which the request waits for).
 */
export type Erasure = "null" | "delete" | "mask" | "transient";

export interface TableColumns {
  personal?: readonly string[];
  erasure?: Erasure;
  /** Text columns that are not personal, besides COMMON_KEPT. */
  kept?: readonly string[];
}

/** Text columns that are never personal, in whichever table they occur. */
export const COMMON_KEPT: ReadonlySet<string> = new Set([
  "id",
  "shop",
  "source",
  "status",
  "currency",
  "presentment_currency",
  "created_at",
  "updated_at",
  "deleted_at",
  "last_event_id",
  "event_at",
  "origin",
  "api_version",
  "customer_id",
  "shopify_customer_id",
  "order_id",
  "product_id",
  "variant_id",
  "payment_intent_id",
  "invoice_id",
  "charge_id",
  "subscription_id",
  "error",
]);

const SHOPIFY_ADDRESS_CODES = ["province", "province_code", "country", "country_code"];
const prefixed = (prefix: string, names: readonly string[]) => names.map((n) => `${prefix}_${n}`);
const UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"];

export const TEXT_COLUMNS: Readonly<Record<string, TableColumns>> = {
  // Shopify
  shopify_orders: {
    personal: ["email", "phone", "note", "shipping_city", "shipping_zip", "billing_city", "billing_zip"],
    erasure: "null",
    kept: [
      "name",
      "confirmation_number",
      "processed_at",
      "closed_at",
      "cancelled_at",
      "cancel_reason",
      "financial_status",
      "fulfillment_status",
      "discount_codes",
      "tags",
      "payment_gateway_names",
      "source_name",
      "referring_site",
      "landing_site",
      "landing_site_ref",
      ...UTM,
      "checkout_token",
      "cart_token",
      ...prefixed("shipping", SHOPIFY_ADDRESS_CODES),
      ...prefixed("billing", SHOPIFY_ADDRESS_CODES),
      "subscription_type",
    ],
  },
  shopify_order_line_items: {
    kept: ["sku", "title", "variant_title", "vendor", "fulfillment_status"],
  },
  shopify_customers: {
    personal: ["email", "first_name", "last_name", "phone", "city", "zip"],
    erasure: "null",
    kept: [
      "state",
      "tags",
      "email_marketing_state",
      "email_marketing_opt_in_level",
      "email_marketing_updated_at",
      "sms_marketing_state",
      ...SHOPIFY_ADDRESS_CODES,
      "last_order_id",
      "purchasing_as_of",
      "email_consent_as_of",
      "sms_consent_as_of",
      "tags_as_of",
    ],
  },
  shopify_products: {
    kept: ["title", "handle", "product_type", "vendor", "tags", "published_at"],
  },
  shopify_product_variants: { kept: ["title", "sku", "barcode", "inventory_item_id"] },
  shopify_inventory_items: { kept: ["sku", "country_code_of_origin", "harmonized_system_code"] },
  shopify_inventory_levels: { kept: ["inventory_item_id", "location_id"] },
  // A shop's own locations (warehouses, stores): a business's name and region, no person's.
  shopify_locations: { kept: ["name", "province_code", "country_code"] },
  shopify_fulfillments: {
    kept: [
      "name",
      "shipment_status",
      "service",
      "location_id",
      "tracking_company",
      "tracking_number",
      "tracking_url",
      "tracking_numbers",
    ],
  },
  shopify_refunds: { personal: ["note"], erasure: "null", kept: ["processed_at"] },
  shopify_refund_line_items: { kept: ["refund_id", "line_item_id", "restock_type", "location_id"] },
  shopify_checkouts: {
    personal: ["email", "phone"],
    erasure: "null",
    kept: [
      "abandoned_checkout_url",
      "token",
      "cart_token",
      "name",
      "source_name",
      "referring_site",
      "landing_site",
      ...UTM,
      "discount_codes",
      "shipping_country_code",
      "shipping_province_code",
      "completed_at",
      "closed_at",
    ],
  },
  // Stripe
  stripe_customers: {
    personal: ["email", "name", "phone", "description", "address_postal_code"],
    erasure: "null",
    kept: ["metadata", "address_country"],
  },
  stripe_charges: {
    personal: ["email", "description"],
    erasure: "null",
    kept: [
      "metadata",
      "failure_code",
      "failure_message",
      "outcome_type",
      "payment_method_id",
      "payment_method_type",
      "card_brand",
      "metadata_order_id",
      "metadata_customer_id",
    ],
  },
  stripe_payment_intents: {
    personal: ["email", "description"],
    erasure: "null",
    kept: [
      "metadata",
      "capture_method",
      "latest_charge_id",
      "payment_method_id",
      "cancellation_reason",
      "canceled_at",
      "last_error_code",
      "last_error_message",
      "metadata_order_id",
      "metadata_customer_id",
    ],
  },
  stripe_invoices: {
    personal: ["email"],
    erasure: "null",
    kept: [
      "metadata",
      "number",
      "billing_reason",
      "collection_method",
      "next_payment_attempt_at",
      "due_at",
      "period_start",
      "period_end",
      "paid_at",
    ],
  },
  stripe_disputes: { kept: ["reason", "evidence_due_by", "network_reason_code", "metadata"] },
  stripe_invoice_payments: { kept: ["payment_type", "paid_at", "canceled_at"] },
  stripe_refunds: { kept: ["reason", "failure_reason", "metadata"] },
  stripe_checkout_sessions: {
    personal: ["email", "shipping_name", "shipping_line1", "shipping_line2", "shipping_city", "shipping_postal_code"],
    erasure: "null",
    kept: [
      "metadata",
      "mode",
      "payment_status",
      "user_id",
      "client_reference_id",
      "shipping_state",
      "shipping_country",
      "expires_at",
    ],
  },
  stripe_checkout_session_line_items: { kept: ["session_id", "price_id", "description"] },
  stripe_subscriptions: {
    personal: ["cancellation_comment"],
    erasure: "null",
    kept: [
      "metadata",
      "collection_method",
      "cancel_at",
      "canceled_at",
      "ended_at",
      "cancellation_reason",
      "cancellation_feedback",
      "start_date",
      "trial_start",
      "trial_end",
      "current_period_start",
      "current_period_end",
      "latest_invoice_id",
      "default_payment_method_id",
      "price_id",
      "price_interval",
    ],
  },
  // Recharge
  recharge_customers: {
    personal: ["email", "first_name", "last_name", "phone"],
    erasure: "null",
    kept: ["first_charge_processed_at"],
  },
  recharge_subscriptions: {
    personal: ["email", "cancellation_reason_comments"],
    erasure: "null",
    kept: [
      "address_id",
      "product_title",
      "variant_title",
      "shopify_product_id",
      "shopify_variant_id",
      "sku",
      "price_decimal",
      "order_interval_unit",
      "next_charge_scheduled_at",
      "cancelled_at",
      "cancellation_reason",
    ],
  },
  recharge_charges: {
    personal: ["email"],
    erasure: "null",
    kept: [
      "address_id",
      "type",
      "scheduled_at",
      "processed_at",
      "retry_date",
      "error_type",
      "shopify_order_id",
      "payment_processor",
      "external_transaction_id",
      "tags",
    ],
  },
  recharge_charge_line_items: {
    kept: [
      "purchase_item_id",
      "purchase_item_type",
      "shopify_product_id",
      "shopify_variant_id",
      "sku",
      "title",
      "variant_title",
    ],
  },
  // The identity graph: the person's rows are deleted (erase-rows.ts eraseIdentity).
  customer_profiles: { personal: ["email"], erasure: "delete" },
  customer_profile_emails: { personal: ["email"], erasure: "delete", kept: ["profile_id"] },
  customer_identities: {
    personal: ["email"],
    erasure: "delete",
    kept: ["external_id", "profile_id", "matched_by"],
  },
  customer_identity_conflicts: {
    personal: ["email"],
    erasure: "delete",
    kept: ["external_id", "kind", "other_profile_id", "profile_id", "first_seen_at", "last_seen_at"],
  },
  // Alerts name a customer by e-mail in their title or fields; the e-mail becomes a marker.
  alerts: {
    personal: ["title", "fields"],
    erasure: "mask",
    kept: [
      "rule",
      "alert_key",
      "severity",
      "event_id",
      "last_seen_at",
      "next_attempt_at",
      "claimed_until",
      "sent_at",
      "last_error",
    ],
  },
  // What a privacy request needs to find the person, deleted when it completes.
  privacy_work: {
    personal: ["subject"],
    erasure: "transient",
    kept: ["request_id", "days", "lake_tables", "lake_since", "shop_cursor"],
  },
  // Operations: ids, keys, hashes (never a plaintext e-mail), times and the pipeline's own messages.
  archive_subjects: { kept: ["subject_kind", "subject_id", "r2_key", "indexed_at"] },
  privacy_late_objects: { kept: ["r2_key", "subject_kind", "subject_id", "found_at"] },
  erased_subjects: { kept: ["subject_kind", "subject_id", "request_id", "erased_at"] },
  privacy_requests: {
    kept: [
      "request_id",
      "kind",
      "subject_hash",
      "source_event_id",
      "stage",
      "received_at",
      "completed_at",
      "export_key",
      "progressed_at",
    ],
  },
  webhook_events: {
    kept: ["event_id", "topic", "resource", "received_at", "api_version", "r2_key", "note", "first_seen_at"],
  },
  backfills: {
    kept: [
      // The pipeline's own note on what a source could not list (e.g. Recharge's 90-day charge window).
      "note",
      "backfill_id",
      "resource",
      "since",
      "until",
      "cursor",
      "retry_at",
      "requested_by",
      "requested_at",
      "started_at",
      "finished_at",
    ],
  },
  bulk_operations: {
    kept: [
      "backfill_id",
      "resource",
      "since",
      "shopify_id",
      "shopify_status",
      "error_code",
      "r2_key",
      "requested_at",
      "submitted_at",
      "shopify_created_at",
      "shopify_completed_at",
      "ingest_started_at",
      "finished_at",
    ],
  },
  dq_results: { kept: ["run_id", "check_name", "subject", "outcome", "message", "details"] },
  dq_runs: { kept: ["run_id", "started_at", "finished_at", "window_end", "report_key"] },
  ledger_hour_counts: { kept: ["source", "resource", "hour", "counted_at"] },
  job_leases: { kept: ["name", "holder", "acquired_at", "expires_at"] },
  lake_changes: { kept: ["table_name", "dt", "changed_at"] },
  // A deleted row's lake key, and a rebuild's last key read, are keys: for customer_profile_emails an
  // e-mail; a rebuild's files carry each column's bounds (a 16-character prefix of an e-mail). They go
  // before an erasure completes: the log entry when compact commits it, the rest when the rebuild the
  // request waits for commits.
  lake_deletes: { personal: ["lake_key"], erasure: "transient", kept: ["table_name"] },
  recharge_store: { kept: ["currency", "fetched_at", "updated_at"] },
  lake_upkeep: {
    personal: ["rebuild_after_key", "rebuild_files"],
    erasure: "transient",
    kept: [
      "table_name",
      "swept_at",
      "rebuilt_at",
      "rebuild_started_at",
      "rebuild_reason",
      "rebuilt_from",
      "erasure_asked_at",
      "expire_before",
      "rebuild_progressed_at",
    ],
  },
  ops_sessions: { kept: ["id_hash", "expires_at"] },
  reconcile_runs: {
    kept: ["run_id", "scope", "started_at", "finished_at", "window_from", "window_to", "report_key", "stopped_by"],
  },
  replay_runs: { kept: ["filter", "cursor", "completed_at"] },
  shop_installs: { kept: ["changed_at"] },
  shops: { kept: ["name", "key_id", "iv", "token_sealed", "added_at", "removed_at"] },
  subject_index_backfill: {},
  subject_index_moves: { kept: ["first_generation", "updated_at"] },
  subscription_mrr_history: { kept: ["subscription_id", "effective_at", "interval_unit"] },
  sync_cursors: { kept: ["resource", "name", "value"] },
  // The KPI views the lake snapshots (src/cron/compact/kpi-views.ts): aggregates keyed by ids.
  analytics_subscription_mrr: { kept: ["effective_at"] },
  analytics_mrr_by_day: { kept: ["day"] },
  analytics_mrr_movements: { kept: ["month"] },
  analytics_customer_orders: { kept: ["profile_id", "occurred_at", "first_order_at"] },
  analytics_customer_ltv: { kept: ["profile_id", "first_order_at", "last_order_at"] },
  analytics_attribution: { kept: [...UTM.slice(0, 3), "landing_page", "order_type"] },
  analytics_repeat_rate: {},
  analytics_high_value_customers: { kept: ["profile_id", "first_order_at"] },
  analytics_customers_at_risk: { kept: ["profile_id", "last_failed_at"] },
};

/** Whether `column` of `table` (or view) is classified, and how: null when it is not. */
export function classOf(table: string, column: string): "personal" | "kept" | null {
  const t = TEXT_COLUMNS[table];
  if (t === undefined) return null;
  if (t.personal?.includes(column)) return "personal";
  if (t.kept?.includes(column) || COMMON_KEPT.has(column)) return "kept";
  return null;
}

export interface PiiTable {
  table: string;
  source: Source;
  /** Columns set to NULL on erasure: the table's personal columns in TEXT_COLUMNS. */
  columns: readonly string[];
  /** Keyed by shop (Shopify tables). */
  shop: boolean;
  /** The column naming the customer the row belongs to (the row's own id for customer tables). */
  customer: string | null;
  /** The column holding the row's (normalized) e-mail, for rows without a customer (guest orders). */
  email: string | null;
  /** For child tables without a customer: the parent table and the column pointing at it. */
  parent?: { table: string; column: string };
}

type PiiRule = Omit<PiiTable, "columns">;

/** How the rows of each `null`-erased table are tied to a person. */
const RULES: readonly PiiRule[] = [
  { table: "shopify_orders", source: "shopify", shop: true, customer: "customer_id", email: "email" },
  {
    table: "shopify_refunds",
    source: "shopify",
    shop: true,
    customer: null,
    email: null,
    parent: { table: "shopify_orders", column: "order_id" },
  },
  { table: "shopify_customers", source: "shopify", shop: true, customer: "id", email: "email" },
  { table: "shopify_checkouts", source: "shopify", shop: true, customer: "customer_id", email: "email" },
  { table: "stripe_customers", source: "stripe", shop: false, customer: "id", email: "email" },
  { table: "stripe_charges", source: "stripe", shop: false, customer: "customer_id", email: "email" },
  { table: "stripe_payment_intents", source: "stripe", shop: false, customer: "customer_id", email: "email" },
  { table: "stripe_invoices", source: "stripe", shop: false, customer: "customer_id", email: "email" },
  { table: "stripe_checkout_sessions", source: "stripe", shop: false, customer: "customer_id", email: "email" },
  { table: "stripe_subscriptions", source: "stripe", shop: false, customer: "customer_id", email: null },
  { table: "recharge_customers", source: "recharge", shop: false, customer: "id", email: "email" },
  { table: "recharge_subscriptions", source: "recharge", shop: false, customer: "customer_id", email: "email" },
  { table: "recharge_charges", source: "recharge", shop: false, customer: "customer_id", email: "email" },
];

export const PII_TABLES: readonly PiiTable[] = RULES.map((r) => ({
  ...r,
  columns: TEXT_COLUMNS[r.table]?.personal ?? [],
}));
