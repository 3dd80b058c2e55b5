/**
 * What the `compact` job snapshots, derived from the drizzle schema rather than listed by
 * hand, so a column added to a migration (and, as the schema tests require, to its drizzle
 * mirror) reaches the Parquet files without touching this job. Pure: it builds specs and
 * SQL and converts D1 values, and has no I/O. Trade-off: integer columns are read as text
 * (`CAST(… AS TEXT)`) and turned into bigints, which costs a little per value but keeps
 * every INTEGER exact, where D1's JSON numbers would round above 2^53.
 */

import { getTableConfig, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type { ColumnKind, LakeColumn, LakeSpec, ParquetValue } from "../../lake/columns";
import type { Source } from "../../shared/envelope";
import {
  customerIdentities,
  customerIdentityConflicts,
  customerProfileEmails,
  customerProfiles,
} from "../../shared/schema/identity";
import { subscriptionMrrHistory } from "../../shared/schema/kpi";
import { RECHARGE_TABLES } from "../../shared/schema/recharge";
import { SHOPIFY_TABLES } from "../../shared/schema/shopify";
import { STRIPE_TABLES } from "../../shared/schema/stripe";

export type { ColumnKind, ParquetValue } from "../../lake/columns";
export type CompactColumn = LakeColumn;

/**
 * `identity` is the cross-source profile tables' place under `processed/`; `kpi` holds
 * `subscription_mrr_history` and the KPI views' snapshots (src/cron/compact/kpis.ts).
 */
export type CompactSource = Source | "identity" | "kpi";

/** What the Parquet writer and the schema documents need of a table or a view snapshot. */
export interface LakeTable {
  source: CompactSource;
  table: string;
  columns: readonly CompactColumn[];
  /** Primary-key columns (a view: the columns that make a row unique), in order. */
  key: readonly string[];
  /** The column placing a row in a `dt=` partition; null for a view, which has only `current/`. */
  dayColumn: string | null;
}

export interface CompactTable extends LakeTable {
  /** Primary-key columns, in key order: the keyset the reader pages by. */
  key: readonly string[];
  /** The timestamp column whose UTC day marks a change (`updated_at` where there is one). */
  dayColumn: string;
  /**
   * The columns the lake's equality deletes match (migrations/0140_lake_iceberg.sql logs them for
   * a deleted row): the primary key, a child table's parent key (a parent's children are replaced
   * as a set and carry its `updated_at`, so they change on the same day), and a subscription for
   * its MRR states (whose key holds a time, which equality deletes do not match reliably).
   */
  lakeKey: readonly string[];
  /**
   * A changed day is read as every row of the lake keys that day touched (MRR states: a key's rows
   * lie on many days); otherwise as the day's rows, which hold every row of their keys.
   */
  readByLakeKey: boolean;
}

/** Lake keys other than the primary key (see CompactTable.lakeKey). */
const LAKE_KEYS: Record<string, readonly string[]> = {
  shopify_order_line_items: ["shop", "order_id"],
  shopify_product_variants: ["shop", "product_id"],
  shopify_refund_line_items: ["shop", "refund_id"],
  stripe_checkout_session_line_items: ["session_id"],
  recharge_charge_line_items: ["charge_id"],
  subscription_mrr_history: ["source", "subscription_id"],
};

/**
 * Text columns that hold times: every `*_at`, and Stripe's and Recharge's period and date
 * fields. The mappers store all of them as UTC ISO-8601 (`…Z`), and the writer refuses a value
 * that is not, so a column this rule misnames fails its table loudly instead of writing garbage.
 */
const TIME_COLUMN = /(_at|_start|_end|_date)$/;

function kindOf(table: string, column: SQLiteColumn): ColumnKind {
  if (column.columnType === "SQLiteBoolean") return "boolean";
  const sqlType = column.getSQLType().toLowerCase();
  if (sqlType === "integer") return "int64";
  if (sqlType === "text") {
    if (column.columnType === "SQLiteTextJson") return "json";
    return TIME_COLUMN.test(column.name) ? "timestamp" : "string";
  }
  // A new storage type must be mapped on purpose, not guessed: fail when the module loads.
  throw new Error(`compact: no Parquet mapping for ${table}.${column.name} (${sqlType})`);
}

/** The day column: `updated_at`, else the first of `dayColumns` the table has (tables of rows that rarely change). */
export function compactTableOf(source: CompactSource, table: SQLiteTable, dayColumns = ["updated_at"]): CompactTable {
  const config = getTableConfig(table);
  const composite = config.primaryKeys[0]?.columns.map((c) => c.name);
  const key = composite ?? config.columns.filter((c) => c.primary).map((c) => c.name);
  if (key.length === 0) throw new Error(`compact: ${config.name} has no primary key to page by`);
  const dayColumn = dayColumns.find((d) => config.columns.some((c) => c.name === d && c.notNull));
  if (dayColumn === undefined) {
    throw new Error(`compact: ${config.name} has none of ${dayColumns.join(", ")} (NOT NULL) to select a day by`);
  }
  const columns = config.columns.map((c) => ({ name: c.name, kind: kindOf(config.name, c), nullable: !c.notNull }));
  if (columns.find((c) => c.name === dayColumn)?.kind !== "timestamp") {
    throw new Error(`compact: ${config.name}.${dayColumn} is not a timestamp column`);
  }
  const lakeKey = LAKE_KEYS[config.name] ?? key;
  const readByLakeKey = config.name === "subscription_mrr_history";
  return { source, table: config.name, columns, key, dayColumn, lakeKey, readByLakeKey };
}

/**
 * Every table D1 holds for analytics: the normalized entity tables (child line-item tables
 * included: they carry their parent's version columns), the four identity tables and the MRR
 * history the KPI views read. Emails are placed by `created_at`, conflicts by `last_seen_at`
 * and MRR states by `effective_at`: they have no `updated_at`.
 */
export const COMPACT_TABLES: readonly CompactTable[] = [
  ...SHOPIFY_TABLES.map((t) => compactTableOf("shopify", t)),
  ...STRIPE_TABLES.map((t) => compactTableOf("stripe", t)),
  ...RECHARGE_TABLES.map((t) => compactTableOf("recharge", t)),
  compactTableOf("identity", customerProfiles),
  compactTableOf("identity", customerProfileEmails, ["created_at"]),
  compactTableOf("identity", customerIdentities),
  compactTableOf("identity", customerIdentityConflicts, ["last_seen_at"]),
  compactTableOf("kpi", subscriptionMrrHistory, ["effective_at"]),
];

export function compactTableNamed(name: string): CompactTable | undefined {
  return COMPACT_TABLES.find((t) => t.table === name);
}

/** A SQL identifier, quoted. */
export const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The SELECT list of a table: every column, integers as text (exact past 2^53), qualified names
 * (in ORDER BY an unqualified name means the result column, which for an integer is that text).
 */
function selectList(spec: CompactTable): string {
  const table = quote(spec.table);
  return spec.columns
    .map((c) =>
      isText(c.kind) ? `${table}.${quote(c.name)}` : `CAST(${table}.${quote(c.name)} AS TEXT) AS ${quote(c.name)}`,
    )
    .join(", ");
}

/** A keyset parameter for a column: integer columns come back as text, so they cast it back. */
function param(spec: CompactTable, name: string, n: number): string {
  const kind = spec.columns.find((c) => c.name === name)?.kind ?? "string";
  return isText(kind) ? `?${n}` : `CAST(?${n} AS INTEGER)`;
}

/**
 * How a changed day is read, in keyset pages (row-value comparison lets SQLite seek its index
 * instead of skipping with OFFSET):
 * - `day`: the rows whose day column falls on the day, in (day column, primary key) order, which
 *   the index of migrations/0140_lake_iceberg.sql serves as a range. `?1`/`?2` are the day and the
 *   next (`YYYY-MM-DD`: text order is time order for ISO-8601), then the last row's day value and key.
 * - `lake-key`: every row of the lake keys that have a row on the day, in primary-key order.
 * - `keys`: the rows of the lake keys in `?1`, a JSON array of key arrays (the delete log's), in
 *   primary-key order; the last row's key follows.
 * - `table`: every row, in primary-key order (a rebuild); the last row's key is `?1…`.
 * `cursor` is the list of columns a page continues after (`afterColumns`).
 */
export function readSql(spec: CompactTable, shape: ReadShape, opts: { after: boolean; limit: number }): string {
  const table = quote(spec.table);
  const col = (name: string) => `${table}.${quote(name)}`;
  const day = col(spec.dayColumn);
  const cursor = afterColumns(spec, shape);
  const first = shape === "keys" ? 2 : shape === "table" ? 1 : 3;
  const where: string[] = [];
  // A later page seeks by its row value alone: with the day's lower bound beside it, SQLite seeks by
  // that bound and walks the day's earlier rows again on every page (quadratic in the day's size).
  if (shape === "day") where.push(opts.after ? `${day} < ?2` : `${day} >= ?1 AND ${day} < ?2`);
  if (shape === "lake-key") {
    const keys = spec.lakeKey.map(quote).join(", ");
    where.push(
      `(${spec.lakeKey.map(col).join(", ")}) IN (SELECT ${keys} FROM ${table} WHERE ${quote(spec.dayColumn)} >= ?1 AND ${quote(spec.dayColumn)} < ?2)`,
    );
  }
  if (shape === "keys") {
    const parts = spec.lakeKey.map((_, i) => `json_extract(value, '$[${i}]')`).join(", ");
    where.push(`(${spec.lakeKey.map(col).join(", ")}) IN (SELECT ${parts} FROM json_each(?1))`);
  }
  if (opts.after) {
    where.push(`(${cursor.map(col).join(", ")}) > (${cursor.map((c, i) => param(spec, c, first + i)).join(", ")})`);
  }
  const filter = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
  // A child table's rows of some parents (lake key (shop, order_id), key (shop, id)): ordered by the
  // primary key as written, SQLite walks every row of the shop in key order to skip a sort; `+`
  // makes it seek the parents' rows by their index and sort those few. Where the lake key leads the
  // primary key, the primary key serves both.
  const keyLed = spec.lakeKey.every((c, i) => spec.key[i] === c);
  const byParents = (shape === "keys" || shape === "lake-key") && !keyLed;
  const order = cursor.map((c) => (byParents ? `+${col(c)}` : col(c)));
  return `SELECT ${selectList(spec)} FROM ${table}${filter} ORDER BY ${order.join(", ")} LIMIT ${Math.trunc(opts.limit)}`;
}

/** The columns a page of `shape` is ordered by, whose last-row values the next page starts after. */
export type ReadShape = "day" | "lake-key" | "keys" | "table";

export function afterColumns(spec: CompactTable, shape: ReadShape): readonly string[] {
  return shape === "day" ? [spec.dayColumn, ...spec.key] : spec.key;
}

export const isText = (kind: ColumnKind) => kind === "string" || kind === "timestamp" || kind === "json";

const INTEGER_TEXT = /^-?\d{1,19}$/;
const UTC_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** A D1 value as the column's Parquet value; anything that does not fit its kind throws. */
export function toParquetValue(spec: Pick<LakeTable, "table">, column: CompactColumn, value: unknown): ParquetValue {
  if (value === null || value === undefined) return null;
  const where = `${spec.table}.${column.name}`;
  if (column.kind === "float64") {
    if (typeof value === "number" && Number.isFinite(value)) return value;
    throw new Error(`compact: ${where} holds a value that is not a finite number`);
  }
  if (typeof value !== "string") throw new Error(`compact: ${where} came back as ${typeof value}, not text`);
  // The value itself is never echoed: it could be anything a bad write left in the column.
  switch (column.kind) {
    case "string":
      return value;
    case "json": {
      // The writer serializes the list again; only a list of strings, written as JSON.stringify
      // writes it, comes out byte for byte as D1 holds it, so anything else fails the table.
      let list: unknown = null;
      try {
        list = JSON.parse(value);
      } catch {
        // Left null: reported below without the parser's message, which would quote the value.
      }
      const strings = Array.isArray(list) && list.every((x) => typeof x === "string") ? (list as string[]) : null;
      if (strings === null || JSON.stringify(strings) !== value) {
        throw new Error(`compact: ${where} holds JSON that is not a list of strings in canonical form`);
      }
      return strings;
    }
    case "timestamp": {
      const ms = UTC_ISO.test(value) ? Date.parse(value) : Number.NaN;
      // Date.parse rolls 30 February over into March: the calendar fields must come back unchanged.
      if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== value.slice(0, 19))
        throw new Error(`compact: ${where} holds a value that is not a UTC ISO-8601 time`);
      return BigInt(ms);
    }
    case "int64":
    case "boolean":
      break;
  }
  if (!INTEGER_TEXT.test(value)) throw new Error(`compact: ${where} holds a value that is not an integer`);
  if (column.kind === "int64") return BigInt(value);
  if (value === "0" || value === "1") return value === "1";
  throw new Error(`compact: ${where} holds a flag that is neither 0 nor 1`);
}

/** What the lake writer needs of a table: its Iceberg table under `processed/{source}/{table}/`. */
export function lakeSpecOf(spec: LakeTable & { lakeKey?: readonly string[] }): LakeSpec {
  return {
    namespace: spec.source,
    name: spec.table,
    columns: spec.columns,
    key: spec.key,
    lakeKey: spec.lakeKey ?? [],
  };
}
