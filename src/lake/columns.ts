/**
 * What the lake knows of a table's columns, shared by the Parquet writer, the Iceberg schema and
 * the compaction job that reads D1: each column's kind and nullability, and the value a D1 row
 * holds for it once converted (`toParquetValue` in src/cron/compact/tables.ts). Pure types.
 */

/**
 * `string`: TEXT (ids stay text); `timestamp`: TEXT holding UTC ISO-8601 (`…Z`), written as a
 * Parquet TIMESTAMP; `json`: TEXT in drizzle's JSON mode (list columns), a STRING with the
 * JSON logical type; `int64`: INTEGER (money in minor units, counts); `boolean`: 0/1 flags;
 * `float64`: REAL, only for the ratios of the KPI views (never money).
 */
export type ColumnKind = "string" | "timestamp" | "json" | "int64" | "boolean" | "float64";

export interface LakeColumn {
  name: string;
  kind: ColumnKind;
  nullable: boolean;
}

/** Timestamps are milliseconds since the epoch (UTC); JSON list columns are their parsed lists. */
export type ParquetValue = string | bigint | boolean | number | string[] | null;

/** A lake table as the writer needs it: where it lives, its columns, and its keys. */
export interface LakeSpec {
  namespace: string;
  name: string;
  columns: readonly LakeColumn[];
  /** Primary-key columns (a view: the columns that make a row unique). */
  key: readonly string[];
  /** The columns an equality delete matches on: text or integer, never null (see lakeKeyOf). */
  lakeKey: readonly string[];
}
