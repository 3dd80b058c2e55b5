/**
 * The KPI views of migrations/0060_kpi_views.sql that the `compact` job snapshots to the lake
 * (src/cron/compact/kpis.ts writes them): per view its columns and Parquet kinds, the columns
 * that make a row unique, and the D1 tables it reads. Pure, so the lake's readers (tests, tools
 * outside the Worker) can import it. Columns are listed by hand: a view has no drizzle schema.
 */
import type { ColumnKind, CompactColumn, LakeTable } from "./tables";

export interface KpiView extends LakeTable {
  source: "kpi";
  dayColumn: null;
  /** The D1 tables the view reads: a write to any of them refreshes the snapshot. */
  inputs: readonly string[];
  /** Read in parts (every key column NOT NULL in the view): by `ranges`, or by the people pass (kpi-people.ts). */
  paged: boolean;
  /** How a paged view outside the people pass is read: ranges of its partition (kpi-sql.ts). */
  ranges: KpiRanges | null;
  /** The view counts up to today (`date('now')`, `julianday('now')`): refreshed at least daily. */
  clock: boolean;
}

/**
 * Ranges of `id` within each value of `group`: the columns of the view's PARTITION BY, named alike in
 * the view and in `table`, its input whose primary key starts (group, id). D1 pushes such a range
 * past the view's window function, so a range costs its own rows; a keyset on the view's own
 * columns is not pushed, and each page evaluated the whole view.
 */
export interface KpiRanges {
  table: string;
  group: string;
  id: string;
}

const col = (name: string, kind: ColumnKind, nullable = true): CompactColumn => ({ name, kind, nullable });
const s = (name: string, nullable = true) => col(name, "string", nullable);
const t = (name: string, nullable = true) => col(name, "timestamp", nullable);
const i = (name: string, nullable = true) => col(name, "int64", nullable);

const MRR_INPUTS = ["subscription_mrr_history", "recharge_subscriptions", "stripe_subscriptions"];
const IDENTITY_INPUTS = ["customer_profiles", "customer_profile_emails", "customer_identities"];
const ORDER_INPUTS = [
  "shopify_orders",
  "shopify_refunds",
  "recharge_charges",
  "recharge_charge_line_items",
  "stripe_charges",
  "stripe_invoices",
  "stripe_checkout_sessions",
  ...IDENTITY_INPUTS,
];

const view = (
  table: string,
  columns: CompactColumn[],
  key: string[],
  inputs: string[],
  opts: { paged?: boolean; ranges?: KpiRanges; clock?: boolean } = {},
): KpiView => ({
  source: "kpi",
  table,
  columns,
  key,
  dayColumn: null,
  inputs,
  paged: opts.paged ?? opts.ranges !== undefined,
  ranges: opts.ranges ?? null,
  clock: opts.clock ?? false,
});

/** Days are `YYYY-MM-DD` and months `YYYY-MM` text, as in D1; money INT64 minor units beside `currency`. */
export const KPI_VIEWS: readonly KpiView[] = [
  view(
    "analytics_subscription_mrr",
    [
      s("source", false),
      s("subscription_id", false),
      s("customer_id"),
      s("currency"),
      t("effective_at", false),
      i("mrr_minor"),
      i("change_minor"),
    ],
    ["source", "subscription_id", "effective_at"],
    MRR_INPUTS,
    { ranges: { table: "subscription_mrr_history", group: "source", id: "subscription_id" } },
  ),
  view(
    "analytics_mrr_by_day",
    [s("day"), s("currency"), i("mrr_minor"), i("paying_subscriptions")],
    ["currency", "day"],
    MRR_INPUTS,
    { clock: true },
  ),
  view(
    "analytics_mrr_movements",
    [
      s("month"),
      s("currency"),
      i("new_mrr_minor"),
      i("reactivation_mrr_minor"),
      i("expansion_mrr_minor"),
      i("contraction_mrr_minor"),
      i("churned_mrr_minor"),
      i("net_new_mrr_minor"),
      i("new_subscriptions"),
      i("churned_subscriptions"),
    ],
    ["currency", "month"],
    MRR_INPUTS,
  ),
  view(
    "analytics_customer_orders",
    [
      s("profile_id", false),
      s("source", false),
      s("shop", false),
      s("id", false),
      t("occurred_at"),
      s("currency"),
      i("gross_minor"),
      i("refunded_minor"),
      i("net_minor"),
      col("is_subscription", "boolean"),
      i("rebill_number"),
      i("order_number"),
      t("first_order_at"),
    ],
    ["profile_id", "source", "shop", "id"],
    ORDER_INPUTS,
    { paged: true },
  ),
  view(
    "analytics_customer_ltv",
    [
      s("profile_id", false),
      s("currency", false),
      i("orders"),
      i("gross_minor"),
      i("refunded_minor"),
      i("ltv_minor"),
      i("subscription_orders"),
      t("first_order_at"),
      t("last_order_at"),
      i("days_since_acquisition"),
    ],
    ["profile_id", "currency"],
    ORDER_INPUTS,
    { paged: true, clock: true },
  ),
  view(
    "analytics_attribution",
    [
      s("shop"),
      s("utm_source"),
      s("utm_medium"),
      s("utm_campaign"),
      s("landing_page"),
      s("order_type"),
      s("currency"),
      i("orders"),
      i("customers"),
      i("revenue_minor"),
    ],
    ["shop", "utm_source", "utm_medium", "utm_campaign", "landing_page", "order_type", "currency"],
    ["shopify_orders", "recharge_charges"],
  ),
  view(
    "analytics_repeat_rate",
    [s("currency"), i("customers"), i("repeat_customers"), col("repeat_rate", "float64")],
    ["currency"],
    ORDER_INPUTS,
  ),
  view(
    "analytics_high_value_customers",
    [s("profile_id", false), s("currency", false), i("orders"), i("ltv_minor"), t("first_order_at")],
    ["profile_id", "currency"],
    ORDER_INPUTS,
    { paged: true },
  ),
  view(
    "analytics_customers_at_risk",
    [
      s("profile_id"),
      s("source"),
      s("subscription_id"),
      s("status"),
      s("currency"),
      i("amount_minor"),
      i("failed_charges"),
      t("last_failed_at"),
      col("max_retries_reached", "boolean"),
    ],
    ["source", "subscription_id", "profile_id"],
    [...MRR_INPUTS.slice(1), "recharge_charges", "recharge_charge_line_items", ...IDENTITY_INPUTS],
  ),
];
