/**
 * The SQL of a subject index shard (src/durable/subject-index.ts), kept apart so the plans of its
 * reads are checked in Node (test/node/indexes.test.ts): a shard holds millions of entries, and a
 * read that scans instead of seeking costs all of them.
 */

export const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL, id TEXT NOT NULL, shop TEXT NOT NULL, r2_key TEXT NOT NULL,
    indexed_at TEXT NOT NULL, redacted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, id, shop, r2_key)) WITHOUT ROWID`,
];

/** One entry; a redelivered one writes nothing (its state only ever moves up: to do, done, set aside). */
export const ADD_ENTRY = `INSERT INTO entries (kind, id, shop, r2_key, indexed_at, redacted) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (kind, id, shop, r2_key) DO UPDATE SET redacted = excluded.redacted
  WHERE excluded.redacted > entries.redacted`;

/**
 * The next entries after a primary key, in its order: `shop/redact` walks a shard with it and keeps
 * its shop's (and `list` pages with it). No index by shop: it would be a second written row for every
 * entry of every event, for a walk that happens once per uninstalled shop (and then reads each entry once).
 */
export const ENTRIES_AFTER = `SELECT kind, id, shop, r2_key, redacted FROM entries WHERE (kind, id, shop, r2_key) > (?, ?, ?, ?)
  ORDER BY kind, id, shop, r2_key LIMIT ?`;

/** A subject's objects in one state, in key order after a key, by the primary key. */
export function subjectKeys(anyShop: boolean, anyState: boolean): string {
  return `SELECT r2_key FROM entries WHERE kind = ? AND id = ?${anyShop ? "" : " AND shop = ?"} AND r2_key > ?${
    anyState ? "" : " AND redacted = ?"
  } ORDER BY r2_key LIMIT ?`;
}
