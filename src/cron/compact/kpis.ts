/**
 * The KPI views of migrations/0060_kpi_views.sql in the lake: each view's result, as D1 computes
 * it, written as typed Parquet to `processed/kpi/{view}/current/part-NNNNN.parquet` by the
 * `compact` job whenever one of the tables it reads changed (and once a day for the views that
 * count up to today). Why snapshots and not the same SQL for DuckDB: the views are 300 lines of
 * SQLite over the identity views; a second copy in another dialect would be a second definition
 * of MRR and LTV to keep equal, and the lake would then answer differently from D1 the day one
 * drifts. A snapshot is the D1 answer itself; `subscription_mrr_history` and every input table
 * are in the lake too, for analyses the views do not make. Emails are left out of the snapshots
 * (`customer_profiles` in the lake has them by `profile_id`), so an erasure has fewer copies to reach.
 * Trade-off: a view is read in keyset pages of its unique columns, and each page evaluates the
 * view again in D1, so the per-person views cost (rows / KPI_PAGE_ROWS) evaluations per refresh.
 */
import { log } from "../../shared/log";
import { PartBuffer } from "./parquet";
import { deleteStale, flushPart, lakePrefix, type PrefixReport } from "./parts";
import { type ColumnKind, type CompactColumn, isText, type LakeTable } from "./tables";

/** Rows per D1 read of a paged view. */
export const KPI_PAGE_ROWS = 5_000;
/** A view read in one query (its unique columns may be NULL) refuses to grow past this. */
export const KPI_SINGLE_READ_ROWS = 50_000;

export interface KpiView extends LakeTable {
  source: "kpi";
  dayColumn: null;
  /** The D1 tables the view reads: a write to any of them refreshes the snapshot. */
  inputs: readonly string[];
  /** Paged by `key` (every key column NOT NULL in the view); otherwise one ordered read. */
  paged: boolean;
  /** The view counts up to today (`date('now')`, `julianday('now')`): refreshed at least daily. */
  clock: boolean;
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
  opts: { paged?: boolean; clock?: boolean } = {},
): KpiView => ({
  source: "kpi",
  table,
  columns,
  key,
  dayColumn: null,
  inputs,
  paged: opts.paged ?? false,
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
    { paged: true },
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

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** One read of a view: integers as text (exact past 2^53), keyset on `key` when paged. */
export function kpiSql(spec: KpiView, opts: { afterKey: boolean; limit: number }): string {
  const select = spec.columns.map((c) =>
    isText(c.kind) || c.kind === "float64" ? quote(c.name) : `CAST(${quote(c.name)} AS TEXT) AS ${quote(c.name)}`,
  );
  // Ordered by the view's own columns (not the text casts): qualified by a subquery alias.
  const keyCols = spec.key.map((k) => `v.${quote(k)}`).join(", ");
  const params = spec.key.map((_, n) => `?${n + 1}`).join(", ");
  const where = opts.afterKey ? ` WHERE (${keyCols}) > (${params})` : "";
  return `SELECT ${select.join(", ")} FROM ${quote(spec.table)} v${where} ORDER BY ${keyCols} LIMIT ${Math.trunc(opts.limit)}`;
}

/** Rebuilds `processed/kpi/{view}/current/` from the view as D1 computes it now. */
export async function writeKpiSnapshot(
  env: Env,
  spec: KpiView,
  opts: { partRows: number; metadata: Record<string, string>; asOf: string },
): Promise<PrefixReport> {
  const prefix = lakePrefix(spec, "current");
  const report: PrefixReport = { rows: 0, parts: 0, bytes: 0, keys: [], staleDeleted: 0 };
  const buffer = new PartBuffer(spec);
  const metadata = { ...opts.metadata, "commerce.as_of": opts.asOf };
  const flush = () => flushPart(env.LAKE, prefix, buffer, report, metadata, { as_of: opts.asOf });

  if (spec.paged) {
    let after: unknown[] | null = null;
    for (;;) {
      const limit = Math.min(KPI_PAGE_ROWS, opts.partRows - buffer.rows);
      const { results }: D1Result<Record<string, unknown>> = await env.DB.prepare(
        kpiSql(spec, { afterKey: after !== null, limit }),
      )
        .bind(...(after ?? []))
        .all<Record<string, unknown>>();
      for (const row of results) buffer.push(row);
      report.rows += results.length;
      if (buffer.rows >= opts.partRows) await flush();
      const last: Record<string, unknown> | undefined = results[results.length - 1];
      if (results.length < limit || last === undefined) break;
      // Integer key columns would come back as text; every paged key is text in its view.
      after = spec.key.map((k) => last[k]);
    }
  } else {
    const { results } = await env.DB.prepare(kpiSql(spec, { afterKey: false, limit: KPI_SINGLE_READ_ROWS + 1 })).all<
      Record<string, unknown>
    >();
    if (results.length > KPI_SINGLE_READ_ROWS) {
      throw new Error(
        `compact: ${spec.table} has more than ${KPI_SINGLE_READ_ROWS} rows; give it a NOT NULL key and page it`,
      );
    }
    for (const row of results) {
      buffer.push(row);
      report.rows++;
      if (buffer.rows >= opts.partRows) await flush();
    }
  }
  // An empty view still gets one (empty) part, so its schema is readable.
  if (buffer.rows > 0 || report.parts === 0) await flush();
  report.staleDeleted = await deleteStale(env.LAKE, prefix, new Set(report.keys));
  log.info("compact kpi snapshot done", { view: spec.table, rows: report.rows, parts: report.parts });
  return report;
}

/** The day the stored snapshot was computed (from its first part), or null when there is none. */
export async function snapshotDay(bucket: R2Bucket, spec: KpiView): Promise<string | null> {
  const head = await bucket.head(`${lakePrefix(spec, "current")}part-00000.parquet`);
  return head?.customMetadata?.as_of?.slice(0, 10) ?? null;
}
