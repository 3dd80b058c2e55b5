/**
 * What changed since the lake was last committed, as D1's triggers record it in the same
 * transaction as each write (migrations/0020_lake_changes.sql, 0140_lake_iceberg.sql):
 * `lake_changes` marks the (table, day) of each inserted or updated row, `lake_deletes` logs the
 * lake key of each deleted one. The job takes the oldest marks first and clears a mark (or a log
 * entry) only at the count it read before reading the day: a write that lands meanwhile leaves
 * it for the next run. A mark is written once until it is read (0156_lake_marks_once.sql).
 */
export interface ChangedDay {
  table: string;
  dt: string;
  seq: number;
}

/**
 * Takes up to `limit` marks, oldest change first, for the given tables: records the count each was
 * read at (`read_seq`), so a write after it bumps the mark once (migrations/0156_lake_marks_once.sql).
 */
export async function changedDays(db: D1Database, tables: readonly string[], limit: number): Promise<ChangedDay[]> {
  if (tables.length === 0) return [];
  const list = tables.map((_, i) => `?${i + 1}`).join(", ");
  const { results } = await db
    .prepare(
      `UPDATE lake_changes SET read_seq = seq WHERE rowid IN (SELECT rowid FROM lake_changes
         WHERE table_name IN (${list}) ORDER BY changed_at, table_name, dt LIMIT ${Math.trunc(limit)})
       RETURNING table_name, dt, seq, changed_at`,
    )
    .bind(...tables)
    .all<{ table_name: string; dt: string; seq: number; changed_at: string }>();
  // RETURNING comes in no particular order: the oldest change first, as selected.
  const order = (r: (typeof results)[number]) => `${r.changed_at}\u0000${r.table_name}\u0000${r.dt}`;
  results.sort((a, b) => (order(a) < order(b) ? -1 : 1));
  // A day column holding something that is not a timestamp gives a mark that names no day: it
  // is reported by the caller (the table-day fails), never silently dropped.
  return results.map((r) => ({ table: r.table_name, dt: r.dt, seq: r.seq }));
}

/** Takes the marks of specific table-days (their write counts, recorded as read), before compacting them on demand. */
export async function marksOf(
  db: D1Database,
  pairs: readonly { table: string; dt: string }[],
): Promise<Map<string, number>> {
  const seqs = new Map<string, number>();
  // One JSON value per statement: 400 asked days of 30 tables are one query, not 240.
  for (let i = 0; i < pairs.length; i += 20_000) {
    const chunk = pairs.slice(i, i + 20_000).map((p) => [p.table, p.dt]);
    const { results } = await db
      .prepare(
        `UPDATE lake_changes SET read_seq = seq WHERE (table_name, dt) IN
           (SELECT value ->> '$[0]', value ->> '$[1]' FROM json_each(?1))
         RETURNING table_name, dt, seq`,
      )
      .bind(JSON.stringify(chunk))
      .all<{ table_name: string; dt: string; seq: number }>();
    for (const r of results) seqs.set(markKey(r.table_name, r.dt), r.seq);
  }
  return seqs;
}

export const markKey = (table: string, dt: string) => `${table}\u0000${dt}`;

/** Of `days`, those no table has a mark on. */
export async function unmarkedDays(db: D1Database, days: readonly string[]): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT DISTINCT dt FROM lake_changes WHERE dt IN (SELECT value FROM json_each(?1))")
    .bind(JSON.stringify(days))
    .all<{ dt: string }>();
  const marked = new Set(results.map((r) => r.dt));
  return days.filter((d) => !marked.has(d));
}

/** Clears marks (one statement per 5,000), each only if no write came after its `seq` was read. */
export async function clearMarks(db: D1Database, marks: readonly ChangedDay[]): Promise<void> {
  const read = marks.filter((m) => m.seq >= 0);
  for (let i = 0; i < read.length; i += 5_000) {
    const chunk = read.slice(i, i + 5_000).map((m) => [m.table, m.dt, m.seq]);
    await db
      .prepare(
        `DELETE FROM lake_changes WHERE (table_name, dt, seq) IN
           (SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]' FROM json_each(?1))`,
      )
      .bind(JSON.stringify(chunk))
      .run();
  }
}

/** Clears a mark if no write came after `seq` was read. */
export async function clearMark(db: D1Database, mark: ChangedDay): Promise<void> {
  await db
    .prepare("DELETE FROM lake_changes WHERE table_name = ?1 AND dt = ?2 AND seq = ?3")
    .bind(mark.table, mark.dt, mark.seq)
    .run();
}

/**
 * A KPI snapshot owed a refresh: `compact` marks the views reading a table it committed, and
 * lake-upkeep refreshes them (a run short of budget leaves the mark). Marked under the view's name,
 * with `snapshot` for a day, so no day-reading code mistakes it for a table-day.
 */
export const SNAPSHOT_OWED = "snapshot";

export function owesSnapshot(db: D1Database, view: string): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO lake_changes (table_name, dt, seq, changed_at) VALUES (?1, ?2, 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
       ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1`,
    )
    .bind(view, SNAPSHOT_OWED);
}

/** Marks every view of `views` as owed a refresh, in one statement. */
export async function owesSnapshots(db: D1Database, views: readonly string[]): Promise<void> {
  if (views.length === 0) return;
  await db
    .prepare(
      `INSERT INTO lake_changes (table_name, dt, seq, changed_at)
       SELECT value, ?2, 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM json_each(?1) WHERE true
       ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1`,
    )
    .bind(JSON.stringify(views), SNAPSHOT_OWED)
    .run();
}

/** The views whose snapshot a run owes (one read for all of them). */
export async function owedSnapshots(db: D1Database, views: readonly string[]): Promise<Map<string, number>> {
  const { results } = await db
    .prepare(
      "SELECT table_name, seq FROM lake_changes WHERE dt = ?1 AND table_name IN (SELECT value FROM json_each(?2))",
    )
    .bind(SNAPSHOT_OWED, JSON.stringify(views))
    .all<{ table_name: string; seq: number }>();
  return new Map(results.map((r) => [r.table_name, r.seq]));
}

/** A row D1 deleted, as the delete trigger logged its lake key (migrations/0140_lake_iceberg.sql). */
export interface LoggedDelete {
  /** The lake key's values, as text. */
  key: string[];
  /** The log entry as stored, and its delete count: cleared only if no delete came after. */
  text: string;
  seq: number;
}

/** Up to `limit` logged deletes of a table. */
export async function loggedDeletes(db: D1Database, table: string, limit: number): Promise<LoggedDelete[]> {
  const { results } = await db
    .prepare(
      `SELECT lake_key, seq FROM lake_deletes WHERE table_name = ?1 ORDER BY lake_key LIMIT ${Math.trunc(limit)}`,
    )
    .bind(table)
    .all<{ lake_key: string; seq: number }>();
  return results.map((r) => {
    const parsed: unknown = JSON.parse(r.lake_key);
    if (!Array.isArray(parsed) || parsed.some((v) => v === null || typeof v === "object")) {
      throw new Error(`compact: lake_deletes holds a key of ${table} that is not a list of values`);
    }
    return { key: parsed.map((v) => String(v)), text: r.lake_key, seq: r.seq };
  });
}

/** The tables among `tables` with logged deletes. */
export async function tablesWithDeletes(db: D1Database, tables: readonly string[]): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT DISTINCT table_name FROM lake_deletes WHERE table_name IN (SELECT value FROM json_each(?1)) ORDER BY table_name",
    )
    .bind(JSON.stringify(tables))
    .all<{ table_name: string }>();
  return results.map((r) => r.table_name);
}

/** Clears the log entries a commit covered, each only if no delete of its key came after it was read. */
export async function clearDeletes(db: D1Database, table: string, deletes: readonly LoggedDelete[]): Promise<void> {
  // One JSON value per statement (D1 binds at most 100); 5,000 entries stay far under its 2 MB.
  for (let i = 0; i < deletes.length; i += 5_000) {
    const chunk = deletes.slice(i, i + 5_000).map((d) => [d.text, d.seq]);
    await db
      .prepare(
        `DELETE FROM lake_deletes WHERE table_name = ?1 AND (lake_key, seq) IN
           (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?2))`,
      )
      .bind(table, JSON.stringify(chunk))
      .run();
  }
}
