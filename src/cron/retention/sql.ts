/**
 * The statements retention runs over the ledger, kept apart so their query plans are checked
 * (test/node/indexes.test.ts): at a large brand's million rows a day, a plan that ranges over the
 * day instead of seeking reads it once per statement.
 */

import { SOURCES } from "../../shared/envelope";
import { webhookEvents } from "../../shared/schema/ledger";
import { type CompactTable, compactTableOf } from "../parquet";

/** A ledger row retention may move: `?1` day, `?2` next day, `?3`..`?5` the per-source cutoffs. */
export const LEDGER_ELIGIBLE = `received_at >= ?1 AND received_at < ?2 AND status <> 'retrying'
  AND ((source = 'shopify' AND received_at < ?3) OR (source = 'stripe' AND received_at < ?4)
    OR (source = 'recharge' AND received_at < ?5))`;

/** The ledger as its archive parts hold it (the compaction's column spec of the table). */
export const LEDGER: CompactTable = compactTableOf("identity", webhookEvents);
const quote = (name: string) => `"${name}"`;
const LEDGER_SELECT = LEDGER.columns
  .map((c) => (c.kind === "string" ? quote(c.name) : `CAST(${quote(c.name)} AS TEXT) AS ${quote(c.name)}`))
  .join(", ");

/**
 * A page of a source's rows of a day in (received_at, rowid) order, the order of its index
 * (source, received_at): `?1` source, `?2`/`?3` the day's bounds, `?4`/`?5` the last row's
 * (received_at, rowid), so a page seeks to where the last ended and never reads the day again.
 * - ORDER BY names the table's columns: the select list casts received_at to text under the same
 *   name, and an ORDER BY by that alias sorted the day's rest on every page (669M D1 rows read for
 *   a 1,000,000-event day).
 * - A later page bounds received_at below by `?4` alone: given the day's start as well, SQLite may
 *   seek by either; the row value is a filter.
 */
export const ledgerPageSql = (after: boolean, limit: number) =>
  `SELECT CAST(rowid AS TEXT) AS _rowid, ${LEDGER_SELECT} FROM webhook_events WHERE ${
    after
      ? "source = ?1 AND received_at >= ?4 AND received_at < ?3 AND status <> 'retrying' AND (received_at, rowid) > (?4, ?5)"
      : "source = ?1 AND received_at >= ?2 AND received_at < ?3 AND status <> 'retrying'"
  } ORDER BY webhook_events.received_at, webhook_events.rowid LIMIT ${Math.trunc(limit)}`;

/**
 * The ledger's oldest day from `?1`: one seek per source on (source, received_at). Without the
 * source, min(received_at) has no index to seek by and reads the table.
 */
export const OLDEST_LEDGER_DAY = `SELECT min(d) AS d FROM (${SOURCES.map(
  (s) =>
    `SELECT min(received_at) AS d FROM webhook_events WHERE source = '${s}' AND received_at >= ?1 AND status <> 'retrying'`,
).join(" UNION ALL ")})`;

/**
 * The delete of archived rows: found by rowid, the condition checked again on each. The condition
 * sits inside coalesce() so the planner cannot seek by it: given the ledger's day range as plain
 * terms it chose that index (MULTI-INDEX OR over the sources) and read the whole day for every
 * chunk, 948M D1 rows read for a 1,000,000-event day.
 */
export const deleteByRowidSql = (table: string, condition: string, list: number) =>
  `DELETE FROM ${table} WHERE rowid IN (SELECT value FROM json_each(?${list})) AND coalesce(${condition}, 0)`;
