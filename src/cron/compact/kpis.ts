/**
 * The KPI views of migrations/0060_kpi_views.sql in the lake: each view's result, as D1 computes
 * it, as an Iceberg table `processed/kpi/{view}/` that the `lake-upkeep` job replaces (one
 * overwrite commit: readers see the old result or the new, never a mix) when one of the tables it reads changed (and once a day for the views that
 * count up to today). Why snapshots and not the same SQL for DuckDB: the views are 300 lines of
 * SQLite over the identity views; a second copy in another dialect would be a second definition
 * of MRR and LTV to keep equal, and the lake would then answer differently from D1 the day one
 * drifts. A snapshot is the D1 answer itself; `subscription_mrr_history` and every input table
 * are in the lake too, for analyses the views do not make. Emails are left out of the snapshots
 * (`customer_profiles` in the lake has them by `profile_id`), so an erasure has fewer copies to reach.
 * A view is read here in one query, or in keyset pages of its unique columns (each page evaluates
 * the view again in D1: fine for analytics_subscription_mrr, a row per subscription change). The
 * per-person views, a row per order or person, are refreshed by the people pass instead
 * (kpi-people.ts), which reads them by ranges of profiles, each at the cost of its own rows.
 */
import type { ParquetValue } from "../../lake/columns";
import { type CommitReport, type LakeIo, openTable, TableChange, tableRef } from "../../lake/table-writer";
import { log } from "../../shared/log";
import { sharedDatabase } from "../../tables/database";
import type { KpiView } from "./kpi-views";
import { isText, lakeSpecOf, quote, toParquetValue } from "./tables";

/** Rows per D1 read of a paged view. */
export const KPI_PAGE_ROWS = 5_000;
/** A view read in one query (its unique columns may be NULL) refuses to grow past this. */
export const KPI_SINGLE_READ_ROWS = 50_000;
/** The snapshot summary entry holding when the view was computed. */
export const AS_OF = "commerce.as-of";

/** The SELECT list of a view read as the alias `v`: integers as text (exact past 2^53). */
export function kpiSelect(spec: KpiView): string {
  return spec.columns
    .map((c) =>
      isText(c.kind) || c.kind === "float64"
        ? `v.${quote(c.name)}`
        : `CAST(v.${quote(c.name)} AS TEXT) AS ${quote(c.name)}`,
    )
    .join(", ");
}

/** Ordered by the view's own columns (not the text casts): qualified by the alias `v`. */
export const kpiOrder = (spec: KpiView) => spec.key.map((k) => `v.${quote(k)}`).join(", ");

/** One read of a view, keyset on `key` when paged. */
export function kpiSql(spec: KpiView, opts: { afterKey: boolean; limit: number }): string {
  const keyCols = kpiOrder(spec);
  const params = spec.key.map((_, n) => `?${n + 1}`).join(", ");
  const where = opts.afterKey ? ` WHERE (${keyCols}) > (${params})` : "";
  return `SELECT ${kpiSelect(spec)} FROM ${quote(spec.table)} v${where} ORDER BY ${keyCols} LIMIT ${Math.trunc(opts.limit)}`;
}

/** A row read by kpiSelect as the values of the view's lake table, in column order. */
export const kpiValues = (spec: KpiView, row: Record<string, unknown>): ParquetValue[] =>
  spec.columns.map((c) => toParquetValue(spec, c, row[c.name]));

/**
 * Replaces the view's lake table with the rows `fill` adds: one overwrite commit, whose summary
 * says when they were computed (an empty view still gets a file, so its table has its schema).
 */
export async function overwriteKpi(
  io: LakeIo,
  spec: KpiView,
  asOf: string,
  fill: (add: (row: Record<string, unknown>) => Promise<void>) => Promise<void>,
): Promise<CommitReport> {
  const lake = lakeSpecOf(spec);
  const change = new TableChange(io, lake, await openTable(io, lake), "overwrite");
  try {
    await fill((row) => change.addValues(kpiValues(spec, row)));
    if (change.pendingRows === 0) await change.addEmptyFile();
    return await change.commit({ [AS_OF]: asOf });
  } catch (err) {
    await change.abort().catch(() => undefined);
    throw err;
  }
}

/** Replaces the view's table with the view as D1 computes it now: one overwrite commit. */
export async function writeKpiSnapshot(env: Env, io: LakeIo, spec: KpiView, asOf: string): Promise<CommitReport> {
  const db = sharedDatabase(env);
  const report = await overwriteKpi(io, spec, asOf, async (add) => {
    if (spec.paged) {
      // Every paged key is text in its view, so the last row's values bind as they came back.
      let after: unknown[] | null = null;
      for (;;) {
        const { results }: D1Result<Record<string, unknown>> = await db
          .prepare(kpiSql(spec, { afterKey: after !== null, limit: KPI_PAGE_ROWS }))
          .bind(...(after ?? []))
          .all<Record<string, unknown>>();
        for (const row of results) await add(row);
        const last: Record<string, unknown> | undefined = results[results.length - 1];
        if (results.length < KPI_PAGE_ROWS || last === undefined) break;
        after = spec.key.map((k) => last[k]);
      }
    } else {
      const { results } = await db
        .prepare(kpiSql(spec, { afterKey: false, limit: KPI_SINGLE_READ_ROWS + 1 }))
        .all<Record<string, unknown>>();
      if (results.length > KPI_SINGLE_READ_ROWS) {
        throw new Error(
          `compact: ${spec.table} has more than ${KPI_SINGLE_READ_ROWS} rows; give it a NOT NULL key and page it`,
        );
      }
      for (const row of results) await add(row);
    }
  });
  log.info("compact kpi snapshot done", { view: spec.table, rows: report.rows });
  return report;
}

/** When the table's current snapshot was computed (ISO-8601), or null when it has none. */
export async function snapshotAsOf(io: LakeIo, spec: KpiView): Promise<string | null> {
  const loaded = await io.store.load(tableRef(lakeSpecOf(spec)));
  const id = loaded?.metadata["current-snapshot-id"];
  const snapshot = loaded?.metadata.snapshots?.find((s) => s["snapshot-id"] === id);
  const asOf = snapshot?.summary[AS_OF];
  return typeof asOf === "string" ? asOf : null;
}
