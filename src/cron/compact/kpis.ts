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
 * A view is read here in one query, or by ranges of its partition (analytics_subscription_mrr: the
 * subscriptions of each source, about KPI_PAGE_ROWS history rows a range), each at the cost of its
 * own rows. Keyset pages of its unique columns, as it was read before, are not pushed past the
 * view's window function: every page evaluated and sorted the whole view (300,000 history rows on
 * node:sqlite: 59 pages of 0.7-0.9 s, 44-54 s; by ranges 61 of 22-23 ms, 1.8-2.0 s). A snapshot is
 * read whole in the run that starts it. The per-person views, a row per order or person, are
 * refreshed by the people pass instead (kpi-people.ts), which reads them by ranges of profiles over
 * several runs.
 */
import type { ParquetValue } from "../../lake/columns";
import { type CommitReport, type LakeIo, openTable, TableChange, tableRef } from "../../lake/table-writer";
import { log } from "../../shared/log";
import { sharedDatabase } from "../../tables/database";
import { kpiBoundSql, kpiGroupSql, kpiRangeSql, kpiSql } from "./kpi-sql";
import type { KpiRanges, KpiView } from "./kpi-views";
import { lakeSpecOf, toParquetValue } from "./tables";

/** Input rows per range of a ranged view (its rows per D1 read, about). */
export const KPI_PAGE_ROWS = 5_000;
/** A view read in one query (its unique columns may be NULL) refuses to grow past this. */
export const KPI_SINGLE_READ_ROWS = 50_000;
/** The snapshot summary entry holding when the view was computed. */
export const AS_OF = "commerce.as-of";

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
export async function writeKpiSnapshot(
  env: Env,
  io: LakeIo,
  spec: KpiView,
  asOf: string,
  o: { rangeRows?: number } = {},
): Promise<CommitReport> {
  const db = sharedDatabase(env);
  const report = await overwriteKpi(io, spec, asOf, async (add) => {
    if (spec.ranges !== null) {
      await readRanges(db, spec, spec.ranges, o.rangeRows ?? KPI_PAGE_ROWS, add);
    } else if (spec.paged) {
      throw new Error(`compact: ${spec.table} is refreshed by the people pass (kpi-people.ts)`);
    } else {
      const { results } = await db.prepare(kpiSql(spec, KPI_SINGLE_READ_ROWS + 1)).all<Record<string, unknown>>();
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

/**
 * The view in key order, range by range: each group of the input in order, and within it ranges of
 * ids holding about `rows` input rows (two queries a range, three per group more).
 */
async function readRanges(
  db: D1Database,
  spec: KpiView,
  r: KpiRanges,
  rows: number,
  add: (row: Record<string, unknown>) => Promise<void>,
): Promise<void> {
  const next = async (first: boolean, after: string) =>
    (await db.prepare(kpiGroupSql(r, first)).bind(after).first<{ group: string }>())?.group ?? null;
  for (let group = await next(true, ""); group !== null; group = await next(false, group)) {
    let after = "";
    for (let first = true; ; first = false) {
      const bound = await db
        .prepare(kpiBoundSql(r, first))
        .bind(group, after, rows - 1)
        .first<{ id: string }>();
      const upper = bound?.id ?? null;
      const { results } = await db
        .prepare(kpiRangeSql(spec, r, { first, last: upper === null }))
        .bind(...(upper === null ? [group, after] : [group, after, upper]))
        .all<Record<string, unknown>>();
      for (const row of results) await add(row);
      if (upper === null) break;
      after = upper;
    }
  }
}

/** When the table's current snapshot was computed (ISO-8601), or null when it has none. */
export async function snapshotAsOf(io: LakeIo, spec: KpiView): Promise<string | null> {
  const loaded = await io.store.load(tableRef(lakeSpecOf(spec)));
  const id = loaded?.metadata["current-snapshot-id"];
  const snapshot = loaded?.metadata.snapshots?.find((s) => s["snapshot-id"] === id);
  const asOf = snapshot?.summary[AS_OF];
  return typeof asOf === "string" ? asOf : null;
}
