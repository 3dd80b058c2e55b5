/**
 * The reads of shop/redact's rowid walks (src/cron/privacy/shop.ts), kept apart so their plans are
 * checked in Node (test/node/indexes.test.ts): each must be a range of rowids, never a scan.
 */

/** The tables walked by rowid: no index by shop. */
export type WalkedTable = "webhook_events" | "customer_identities";

/** The ends of a walked table's rowids (null when it is empty). */
export interface WalkEnds {
  lo: number | null;
  hi: number | null;
}

/** The ends of a walked table's rowids: two subqueries, each one seek (min and max together scan). */
export const walkEndsSql = (table: WalkedTable) =>
  `SELECT (SELECT min(rowid) FROM ${table}) AS lo, (SELECT max(rowid) FROM ${table}) AS hi`;

/** A window of rowids (?1, ?2], the shop's rows in it (?3), at most ?4 of them, in rowid order. */
export const walkWindowSql = (table: WalkedTable, columns: string) =>
  `SELECT rowid AS rid, ${columns} FROM ${table} WHERE rowid > ?1 AND rowid <= ?2 AND shop = ?3 ORDER BY rowid LIMIT ?4`;

/** The walked rows of the shop (?1) by their rowids (?2, a JSON list), the shop checked again on each. */
export const walkedDeleteSql = (table: WalkedTable, returning = "") =>
  `DELETE FROM ${table} WHERE rowid IN (SELECT value FROM json_each(?2)) AND shop = ?1${returning ? ` ${returning}` : ""}`;
