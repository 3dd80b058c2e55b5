/**
 * What the `compact` job snapshots, derived from the drizzle schema rather than listed by
 * hand, so a column added to a migration (and, as the schema tests require, to its drizzle
 * mirror) reaches the Parquet files without touching this job. Pure: it builds specs and
 * SQL and converts D1 values, and has no I/O. Trade-off: integer columns are read as text
 * (`CAST(… AS TEXT)`) and turned into bigints, which costs a little per value but keeps
 * every INTEGER exact, where D1's JSON numbers would round above 2^53.
 */
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Source } from "../../shared/envelope";
import { customerIdentities, customerProfiles } from "../../shared/schema/identity";
import { RECHARGE_TABLES } from "../../shared/schema/recharge";
import { SHOPIFY_TABLES } from "../../shared/schema/shopify";
import { STRIPE_TABLES } from "../../shared/schema/stripe";

/** `string`: TEXT (ids, timestamps, JSON lists stay text); `int64`: INTEGER; `boolean`: 0/1 flags. */
export type ColumnKind = "string" | "int64" | "boolean";

export interface CompactColumn {
  name: string;
  kind: ColumnKind;
  nullable: boolean;
}

/** `identity` is the cross-source profile tables' place under `processed/`. */
export type CompactSource = Source | "identity";

export interface CompactTable {
  source: CompactSource;
  table: string;
  columns: readonly CompactColumn[];
  /** Primary-key columns, in key order: the keyset the reader pages by. */
  key: readonly string[];
}

function kindOf(table: string, column: SQLiteColumn): ColumnKind {
  if (column.columnType === "SQLiteBoolean") return "boolean";
  const sqlType = column.getSQLType().toLowerCase();
  if (sqlType === "integer") return "int64";
  if (sqlType === "text") return "string";
  // A new storage type must be mapped on purpose, not guessed: fail when the module loads.
  throw new Error(`compact: no Parquet mapping for ${table}.${column.name} (${sqlType})`);
}

export function compactTableOf(source: CompactSource, table: SQLiteTable): CompactTable {
  const config = getTableConfig(table);
  const composite = config.primaryKeys[0]?.columns.map((c) => c.name);
  const key = composite ?? config.columns.filter((c) => c.primary).map((c) => c.name);
  if (key.length === 0) throw new Error(`compact: ${config.name} has no primary key to page by`);
  if (!config.columns.some((c) => c.name === "updated_at")) {
    throw new Error(`compact: ${config.name} has no updated_at to select a day by`);
  }
  return {
    source,
    table: config.name,
    columns: config.columns.map((c) => ({ name: c.name, kind: kindOf(config.name, c), nullable: !c.notNull })),
    key,
  };
}

/**
 * Every normalized entity table (child line-item tables included: they carry their
 * parent's version columns) and the two identity tables that hold one current row per key.
 * `customer_profile_emails` and the conflicts table have no `updated_at` and are left out.
 */
export const COMPACT_TABLES: readonly CompactTable[] = [
  ...SHOPIFY_TABLES.map((t) => compactTableOf("shopify", t)),
  ...STRIPE_TABLES.map((t) => compactTableOf("stripe", t)),
  ...RECHARGE_TABLES.map((t) => compactTableOf("recharge", t)),
  compactTableOf("identity", customerProfiles),
  compactTableOf("identity", customerIdentities),
];

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * One keyset page of the rows whose `updated_at` falls on a day: `?1`/`?2` are the day
 * and the next day (`YYYY-MM-DD`; text order is time order for ISO-8601, so the bare date
 * bounds every timestamp of that day), `?3…` the last key of the previous page. Row-value
 * comparison on the primary key lets SQLite seek its index instead of skipping (OFFSET).
 */
export function pageSql(spec: CompactTable, afterKey: boolean, limit: number): string {
  const table = quote(spec.table);
  // Qualified names: in ORDER BY an unqualified name means the result column, which for an
  // integer column is the text cast below, and text order would break the keyset.
  const col = (name: string) => `${table}.${quote(name)}`;
  const select = spec.columns
    .map((c) => (c.kind === "string" ? col(c.name) : `CAST(${col(c.name)} AS TEXT) AS ${quote(c.name)}`))
    .join(", ");
  const keyCols = spec.key.map(col).join(", ");
  // Key values come back as that text too, so integer key columns cast them back for the comparison.
  const params = spec.key.map((name, i) => {
    const kind = spec.columns.find((c) => c.name === name)?.kind ?? "string";
    return kind === "string" ? `?${i + 3}` : `CAST(?${i + 3} AS INTEGER)`;
  });
  const cursor = afterKey ? ` AND (${keyCols}) > (${params.join(", ")})` : "";
  const updatedAt = col("updated_at");
  return (
    `SELECT ${select} FROM ${table} WHERE ${updatedAt} >= ?1 AND ${updatedAt} < ?2${cursor}` +
    ` ORDER BY ${keyCols} LIMIT ${Math.trunc(limit)}`
  );
}

export type ParquetValue = string | bigint | boolean | null;

const INTEGER_TEXT = /^-?\d{1,19}$/;

/** A D1 value as the column's Parquet value; anything that does not fit its kind throws. */
export function toParquetValue(spec: CompactTable, column: CompactColumn, value: unknown): ParquetValue {
  if (value === null || value === undefined) return null;
  const where = `${spec.table}.${column.name}`;
  if (typeof value !== "string") throw new Error(`compact: ${where} came back as ${typeof value}, not text`);
  if (column.kind === "string") return value;
  // The value itself is not echoed: it could be anything a bad write left in the column.
  if (!INTEGER_TEXT.test(value)) throw new Error(`compact: ${where} holds a value that is not an integer`);
  if (column.kind === "int64") return BigInt(value);
  if (value === "0" || value === "1") return value === "1";
  throw new Error(`compact: ${where} holds a flag that is neither 0 nor 1`);
}
