/**
 * The statements retention runs over the ledger, kept apart so their query plans are checked
 * (test/node/indexes.test.ts): at a large brand's million rows a day, a plan that ranges over the
 * day instead of seeking reads it once per statement.
 */

export const LEDGER_SOURCES = ["shopify", "stripe", "recharge"] as const;

/** A ledger row retention may move: `?1` day, `?2` next day, `?3`..`?5` the per-source cutoffs. */
export const LEDGER_ELIGIBLE = `received_at >= ?1 AND received_at < ?2 AND status <> 'retrying'
  AND ((source = 'shopify' AND received_at < ?3) OR (source = 'stripe' AND received_at < ?4)
    OR (source = 'recharge' AND received_at < ?5))`;

/**
 * The ledger's oldest day from `?1`: one seek per source on (source, received_at). Without the
 * source, min(received_at) has no index to seek by and reads the table.
 */
export const OLDEST_LEDGER_DAY = `SELECT min(d) AS d FROM (${LEDGER_SOURCES.map(
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
