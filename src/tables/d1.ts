/**
 * Drizzle → D1 statement builders shared by the appliers. Statements are built
 * with drizzle's query builder and turned into plain `D1PreparedStatement`s, so
 * the consumer can run an event's rows and its ledger row in one `DB.batch`.
 */
import { and, eq, exists, getTableColumns, getTableName, type SQL, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import type { SQLiteColumn, SQLiteTable, SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";

/** D1 refuses a statement with more than 100 bound parameters. */
export const MAX_BOUND_PARAMETERS = 100;

/** One drizzle wrapper per D1 binding, built once. */
const orms = new WeakMap<D1Database, DrizzleD1Database>();
export function orm(db: D1Database): DrizzleD1Database {
  let d = orms.get(db);
  if (d === undefined) {
    d = drizzle(db);
    orms.set(db, d);
  }
  return d;
}

/**
 * SQL text by statement shape. Building a 70-column upsert with drizzle costs far more than
 * running it (most of the consumer's CPU per order), yet its text depends only on the shape:
 * the table and which columns have a value. The first statement of each shape is built by
 * drizzle and its parameters are checked against `params()`; only when they agree is the text
 * reused, with `params()` as the values. A shape whose parameters disagree is never cached.
 */
const textByShape = new Map<string, string | null>();

export function cachedStatement(
  db: D1Database,
  shape: string,
  params: () => unknown[],
  build: () => { toSQL(): { sql: string; params: unknown[] } },
): D1PreparedStatement {
  const text = textByShape.get(shape);
  if (text) {
    const values = params();
    return shaped(db.prepare(text).bind(...values), shape, text, values);
  }
  const query = build().toSQL();
  if (text === undefined) {
    const ours = params();
    const same = ours.length === query.params.length && ours.every((v, i) => Object.is(v, query.params[i]));
    textByShape.set(shape, same ? query.sql : null);
    if (same) return shaped(db.prepare(query.sql).bind(...ours), shape, query.sql, ours);
  }
  return db.prepare(query.sql).bind(...query.params);
}

/** A statement built from a cached shape: its text's only parameters are one row's values. */
export interface ShapedRow {
  shape: string;
  text: string;
  params: unknown[];
}

/** Statements `cachedStatement` built from a verified shape, so rows of one shape can share a statement. */
const shapedRows = new WeakMap<D1PreparedStatement, ShapedRow>();

function shaped(st: D1PreparedStatement, shape: string, text: string, params: unknown[]): D1PreparedStatement {
  shapedRows.set(st, { shape, text, params });
  return st;
}

/** The shape and values of a statement `cachedStatement` built, if it did. */
export function shapedRow(st: D1PreparedStatement): ShapedRow | undefined {
  return shapedRows.get(st);
}

/** JSON text per statement: far below D1's 2 MB value limit, and the statement stays small. */
const MAX_JSON_CHARS = 512 * 1024;

/** JSON array texts of the elements, at most MAX_JSON_CHARS each (an element that long goes alone). */
export function jsonArrayChunks(items: readonly string[]): string[] {
  return jsonArrayGroups(items).map((group) => `[${group.join(",")}]`);
}

/** The elements in consecutive groups whose JSON array texts stay within MAX_JSON_CHARS. */
function jsonArrayGroups(items: readonly string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    if (current.length > 0 && size + item.length + 1 > MAX_JSON_CHARS) {
      out.push(current);
      current = [];
      size = 2;
    }
    current.push(item);
    size += item.length + 1;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Multi-row texts by shape and RETURNING list; null when a shape's text has not exactly one VALUES tuple. */
const multiRowTexts = new Map<string, string | null>();

/**
 * Rows of one shape (`ShapedRow`s of one `shape`) in few statements: the shape's INSERT with its
 * VALUES tuple read, in order, from a JSON array (`json_each`), so D1 compiles it once per
 * MAX_JSON_CHARS of rows instead of once per row; each row is still inserted or upserted in turn,
 * as separate statements would be. RETURNING `returning` of every row written (an upsert that kept
 * a newer stored row writes none). `chunkOf[i]`: which statement holds rows[i]. Null when the text
 * or a value does not allow it (a value JSON cannot carry as it is): send the rows alone.
 */
export function multiRowStatements(
  db: D1Database,
  rows: readonly ShapedRow[],
  returning: readonly string[],
): { statements: D1PreparedStatement[]; chunkOf: number[] } | null {
  const first = rows[0];
  if (first === undefined || rows.some((r) => r.shape !== first.shape || !r.params.every(jsonExact))) return null;
  const cacheKey = `${first.shape}\n${returning.join(",")}`;
  let text = multiRowTexts.get(cacheKey);
  if (text === undefined) {
    text = multiRowText(first.text, first.params.length, returning);
    multiRowTexts.set(cacheKey, text);
  }
  if (text === null) return null;
  const groups = jsonArrayGroups(rows.map((r) => JSON.stringify(r.params)));
  const chunkOf = groups.flatMap((group, chunk) => group.map(() => chunk));
  const statements = groups.map((group) => db.prepare(text as string).bind(`[${group.join(",")}]`));
  return { statements, chunkOf };
}

/** `values (?, …, ?)` → `select json_extract(value, '$[i]'), … from json_each(?1) where 1 order by key`. */
function multiRowText(text: string, count: number, returning: readonly string[]): string | null {
  const tuple = `values (${Array.from({ length: count }, () => "?").join(", ")})`;
  const at = text.indexOf(tuple);
  const rest = text.slice(at + tuple.length);
  if (at < 0 || text.slice(0, at).includes("?") || rest.includes("?")) return null;
  const columns = Array.from({ length: count }, (_, i) => `json_extract(value, '$[${i}]')`).join(", ");
  const select = `select ${columns} from json_each(?1) where 1 order by key`;
  const back = returning.map((c) => `"${c}"`).join(", ");
  return `${text.slice(0, at)}${select}${rest} returning ${back}`;
}

/** A value JSON carries as it is: text, a finite number (read back as an integer or a real, like a bound number), null. */
function jsonExact(v: unknown): boolean {
  return v === null || typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
}

/** A table's [key, column] pairs, listed once: every row's shape walks them. */
const columnLists = new WeakMap<SQLiteTable, Array<[string, SQLiteColumn]>>();
function columnsOf(table: SQLiteTable): Array<[string, SQLiteColumn]> {
  let list = columnLists.get(table);
  if (!list) {
    list = Object.entries(getTableColumns(table));
    columnLists.set(table, list);
  }
  return list;
}

/**
 * Which of the table's columns a row gives a value (the shape's key: a bit per column, written as
 * base-36 words, so no per-row text of column names is built) and their driver values, in one pass.
 */
export function rowShape(table: SQLiteTable, values: Record<string, unknown>): { key: string; params: unknown[] } {
  const all = columnsOf(table);
  const params: unknown[] = [];
  let key = "";
  let word = 0;
  for (let i = 0; i < all.length; i++) {
    const [name, column] = all[i] as [string, SQLiteColumn];
    const value = values[name];
    if (value !== undefined) {
      word |= 1 << (i % 30);
      params.push(driverValue(column, value));
    }
    if (i % 30 === 29 || i === all.length - 1) {
      key += `${word.toString(36)}.`;
      word = 0;
    }
  }
  return { key, params };
}

/** A row's value as drizzle binds it for a column (booleans as 0/1, JSON as text, ...). */
export function driverValue(column: SQLiteColumn, value: unknown): unknown {
  return value === null || value === undefined ? null : column.mapToDriverValue(value);
}

/** A drizzle query as a raw D1 statement, so the consumer can batch it with the ledger row. */
export function toD1(db: D1Database, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql: text, params } = query.toSQL();
  return db.prepare(text).bind(...params);
}

/**
 * `INSERT … ON CONFLICT (pk) DO UPDATE … WHERE excluded.<order> >= <table>.<order>`:
 * the row is written unless what is stored is newer; ties apply, so a redelivery
 * rewrites the same values. `deleted_at` is sticky (the first deletion is kept).
 * `keepOnNull` columns keep their stored value when the event has none; with
 * `true` every column does (a delete event may carry only a stub of the object).
 */
export function upsertNotOlder<T extends SQLiteTable>(
  db: D1Database,
  table: T,
  row: T["$inferInsert"],
  order: SQLiteColumn,
  keepOnNull: boolean | readonly SQLiteColumn[] = false,
): D1PreparedStatement {
  const columns: Record<string, SQLiteColumn> = getTableColumns(table);
  const shape = rowShape(table, row as Record<string, unknown>);
  const kept = keepOnNull === true ? "all" : keepOnNull === false ? "" : keepOnNull.map((c) => c.name).join(",");
  const build = () => {
    const excluded = (c: SQLiteColumn) => sql`excluded.${sql.identifier(c.name)}`;
    const target = Object.values(columns).filter((c) => c.primary);
    const set: Record<string, SQL> = {};
    for (const [key, column] of Object.entries(columns)) {
      if (column.primary) continue;
      const keep = keepOnNull === true || (Array.isArray(keepOnNull) && keepOnNull.includes(column));
      if (column.name === "deleted_at") set[key] = sql`coalesce(${column}, ${excluded(column)})`;
      else if (keep) set[key] = sql`coalesce(${excluded(column)}, ${column})`;
      else set[key] = excluded(column);
    }
    return orm(db)
      .insert(table)
      .values(row)
      .onConflictDoUpdate({
        target,
        set: set as SQLiteUpdateSetSource<T>,
        setWhere: sql`${excluded(order)} >= ${order}`,
      });
  };
  return cachedStatement(
    db,
    `not-older:${getTableName(table)}:${order.name}:${kept}:${shape.key}`,
    () => shape.params,
    build,
  );
}

export interface ChildReplacement<C extends SQLiteTable> {
  child: C;
  /** The child column holding the parent's id. */
  childParentId: SQLiteColumn;
  parent: SQLiteTable;
  parentId: SQLiteColumn;
  parentLastEventId: SQLiteColumn;
  id: string;
  eventId: string;
  rows: ReadonlyArray<C["$inferInsert"]>;
}

/**
 * Replaces a parent's child rows, guarded by `EXISTS (parent row whose
 * last_event_id is this event)`: when the parent upsert did not apply (an older
 * event), the children stay as they are. Inserts are chunked below D1's
 * bound-parameter limit; all statements go in the parent's batch.
 */
export function replaceChildren<C extends SQLiteTable>(db: D1Database, r: ChildReplacement<C>): D1PreparedStatement[] {
  const d = orm(db);
  const parentApplied = exists(
    d
      .select({ one: sql`1` })
      .from(r.parent)
      .where(and(eq(r.parentId, r.id), eq(r.parentLastEventId, r.eventId))),
  );
  const statements = [toD1(db, d.delete(r.child).where(and(eq(r.childParentId, r.id), parentApplied)))];

  // Insert-select takes every column in table order, so each tuple is built in that order.
  const columns = Object.entries(getTableColumns(r.child) as Record<string, SQLiteColumn>);
  const guardParams = 2;
  const perStatement = Math.max(1, Math.floor((MAX_BOUND_PARAMETERS - guardParams) / columns.length));
  for (let i = 0; i < r.rows.length; i += perStatement) {
    const tuples = r.rows.slice(i, i + perStatement).map((row) => {
      const values = row as Record<string, unknown>;
      return sql`(${sql.join(
        columns.map(([key, column]) => sql.param(values[key] ?? null, column)),
        sql`, `,
      )})`;
    });
    const select = sql`select * from (values ${sql.join(tuples, sql`, `)}) where ${parentApplied}`;
    statements.push(toD1(db, d.insert(r.child).select(select)));
  }
  return statements;
}
