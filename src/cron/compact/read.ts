/**
 * Reads the rows a commit needs from D1, in keyset pages of READ_PAGE_ROWS (readSql in ./tables
 * says which index each shape uses), converted to the lake's values as they arrive, so a run holds
 * one page at a time whatever a day's size.
 */
import type { ParquetValue } from "../../lake/columns";
import { afterColumns, type CompactTable, type ReadShape, readSql, toParquetValue } from "./tables";

/** Rows per D1 query: keeps each result well inside D1's response limits. */
export const READ_PAGE_ROWS = 1_000;
/** Lake keys per query of logged deletes (one JSON parameter, so only the result size bounds it). */
const KEYS_PER_QUERY = 1_000;
const DAY_MS = 86_400_000;

/** Takes a row as its values in the spec's column order (what the Parquet writer takes fastest). */
type Sink = (values: ParquetValue[]) => Promise<void>;

/**
 * Every row of a changed day (or, for a table read by lake key, of the keys the day touched), a
 * page at a time while `more()` allows. Returns whether the day was read to its end: a day cut
 * short keeps its mark, and the next run reads it again whole (appending a row twice is harmless:
 * the later commit's equality delete hides the earlier copy).
 */
export async function readChangedDay(
  db: D1Database,
  spec: CompactTable,
  day: string,
  sink: Sink,
  more: () => boolean = () => true,
): Promise<boolean> {
  const start = /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(start)) throw new Error(`compact: ${spec.table}.${spec.dayColumn} gave a day that is not a date`);
  const next = new Date(start + DAY_MS).toISOString().slice(0, 10);
  const shape = spec.readByLakeKey ? "lake-key" : "day";
  return (await readPaged(db, spec, shape, [day, next], sink, { after: null, pages: Number.POSITIVE_INFINITY, more }))
    .ended;
}

/** The rows of these lake keys (the delete log's: re-inserted rows come back, deleted ones stay gone). */
export async function readKeys(
  db: D1Database,
  spec: CompactTable,
  keys: readonly string[][],
  sink: Sink,
  more: () => boolean = () => true,
): Promise<number> {
  let done = 0;
  while (done < keys.length && more()) {
    const chunk = keys.slice(done, done + KEYS_PER_QUERY);
    await readPaged(db, spec, "keys", [JSON.stringify(chunk)], sink);
    done += chunk.length;
  }
  return done;
}

/**
 * The whole table in key order from after `after` (a rebuild), a page at a time while `more()`
 * allows (checked before each page). Returns the last key read and whether the table ended.
 */
export async function readTable(
  db: D1Database,
  spec: CompactTable,
  after: unknown[] | null,
  sink: Sink,
  more: () => boolean,
): Promise<Page> {
  let rows = 0;
  let last = after;
  while (more()) {
    const page = await readPaged(db, spec, "table", [], sink, { after: last, pages: 1 });
    rows += page.rows;
    last = page.after;
    if (page.ended) return { rows, after: last, ended: true };
  }
  return { rows, after: last, ended: false };
}

interface Page {
  rows: number;
  /** The last row's values of the shape's cursor columns (afterColumns). */
  after: unknown[] | null;
  ended: boolean;
}

async function readPaged(
  db: D1Database,
  spec: CompactTable,
  shape: ReadShape,
  binds: unknown[],
  sink: Sink,
  from: { after: unknown[] | null; pages: number; more?: () => boolean } = {
    after: null,
    pages: Number.POSITIVE_INFINITY,
  },
): Promise<Page> {
  const cursor = afterColumns(spec, shape);
  let after = from.after;
  let rows = 0;
  for (let page = 0; page < from.pages; page++) {
    if (from.more !== undefined && !from.more()) return { rows, after, ended: false };
    const sql = readSql(spec, shape, { after: after !== null, limit: READ_PAGE_ROWS });
    const { results }: D1Result<Record<string, unknown>> = await db
      .prepare(sql)
      .bind(...binds, ...(after ?? []))
      .all<Record<string, unknown>>();
    const columns = spec.columns;
    for (const row of results) {
      const values: ParquetValue[] = new Array(columns.length);
      for (let i = 0; i < columns.length; i++) {
        const column = columns[i] as (typeof columns)[number];
        values[i] = toParquetValue(spec, column, row[column.name]);
      }
      await sink(values);
    }
    rows += results.length;
    const last: Record<string, unknown> | undefined = results[results.length - 1];
    if (last !== undefined) after = cursor.map((c) => last[c]);
    if (results.length < READ_PAGE_ROWS) return { rows, after, ended: true };
  }
  return { rows, after, ended: false };
}
