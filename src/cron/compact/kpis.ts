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
import { sharedDatabase } from "../../tables/database";
import type { KpiView } from "./kpi-views";
import { PartBuffer } from "./parquet";
import { deleteStale, flushPart, lakePrefix, type PrefixReport, readPages } from "./parts";
import { isText } from "./tables";

/** Rows per D1 read of a paged view. */
export const KPI_PAGE_ROWS = 5_000;
/** A view read in one query (its unique columns may be NULL) refuses to grow past this. */
export const KPI_SINGLE_READ_ROWS = 50_000;

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
    // Integer key columns would come back as text; every paged key is text in its view.
    await readPages({
      db: sharedDatabase(env),
      key: spec.key,
      pageRows: KPI_PAGE_ROWS,
      partRows: opts.partRows,
      buffer,
      report,
      flush,
      page: (afterKey, limit) => ({ sql: kpiSql(spec, { afterKey, limit }), binds: [] }),
    });
  } else {
    const { results } = await sharedDatabase(env)
      .prepare(kpiSql(spec, { afterKey: false, limit: KPI_SINGLE_READ_ROWS + 1 }))
      .all<Record<string, unknown>>();
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
