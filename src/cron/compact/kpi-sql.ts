/**
 * The SQL that reads the KPI views for their lake snapshots (kpis.ts, kpi-people.ts). Pure, so
 * test/node/kpi-ranges.test.ts plans these statements as the job runs them.
 */
import type { KpiRanges, KpiView } from "./kpi-views";
import { isText, quote } from "./tables";

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

/** The whole view in one read, in key order. */
export const kpiSql = (spec: KpiView, limit: number): string =>
  `SELECT ${kpiSelect(spec)} FROM ${quote(spec.table)} v ORDER BY ${kpiOrder(spec)} LIMIT ${Math.trunc(limit)}`;

/**
 * A ranged view is read group by group, each in ranges of ids (kpis.ts). `first`: the first group,
 * or the first range of a group, starts at ?2 itself (the empty string), later ones after it.
 */
const from = (first: boolean) => (first ? ">=" : ">");

/** The group after ?1 (or from ?1, the first time) that the input holds, or no row. */
export const kpiGroupSql = (r: KpiRanges, first: boolean): string =>
  `SELECT ${quote(r.group)} AS "group" FROM ${quote(r.table)} WHERE ${quote(r.group)} ${from(first)} ?1 ` +
  `ORDER BY ${quote(r.group)} LIMIT 1`;

/**
 * The last id of a range: the id of the input's row ?3 places past the range's start (?1 the group,
 * ?2 the previous range's last id), or no row when fewer are left (the group's last range). The
 * range takes every row of that id, so an id's rows, one partition of the view, are never split.
 */
export const kpiBoundSql = (r: KpiRanges, first: boolean): string =>
  `SELECT ${quote(r.id)} AS "id" FROM ${quote(r.table)} WHERE ${quote(r.group)} = ?1 AND ${quote(r.id)} ${from(first)} ?2 ` +
  `ORDER BY ${quote(r.id)} LIMIT 1 OFFSET ?3`;

/**
 * The view's rows of one range, in key order: group ?1, ids after ?2 up to ?3 (`last`: to the end
 * of the group, which holds less than a range). Both bounds are needed: D1 then reads the input's
 * primary key from ?2 to ?3; with a lower bound alone it reads to the end of the group.
 */
export function kpiRangeSql(spec: KpiView, r: KpiRanges, o: { first: boolean; last: boolean }): string {
  const [group, id] = [`v.${quote(r.group)}`, `v.${quote(r.id)}`];
  const upper = o.last ? "" : ` AND ${id} <= ?3`;
  return (
    `SELECT ${kpiSelect(spec)} FROM ${quote(spec.table)} v WHERE ${group} = ?1 AND ${id} ${from(o.first)} ?2${upper} ` +
    `ORDER BY ${kpiOrder(spec)}`
  );
}
