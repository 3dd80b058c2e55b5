/**
 * The shapes the lake's Parquet writer takes and returns. Declared here rather than imported from
 * the compact job so the lake's format code depends on no stage; `ParquetValue` is the compact
 * job's type, structurally.
 */

/** Timestamps are epoch milliseconds (UTC); json values are lists of strings, written as their JSON text. */
export type ParquetValue = string | bigint | boolean | number | string[] | null;

export type ParquetKind = "string" | "json" | "timestamp" | "int64" | "boolean" | "float64";

export interface ParquetColumnSpec {
  name: string;
  kind: ParquetKind;
  nullable: boolean;
  /** The Iceberg field id, written on the column's schema element. */
  fieldId: number;
}

/** What an Iceberg manifest entry needs of a column (value counts, null counts, sizes, bounds). */
export interface ColumnFileStats {
  /** Rows, nulls included (Iceberg's value_counts). */
  valueCount: number;
  nullCount: number;
  /** Bytes of the column's chunks on disk, page headers included (Iceberg's column_sizes). */
  compressedBytes: number;
  /**
   * Lower and upper bounds in the pushed value's own terms (timestamps in epoch ms, int64 as
   * bigint). Strings: a prefix of at most `boundCodePoints` code points for min, and for max a
   * prefix rounded up, or null when no short upper bound exists. Always null for json columns.
   */
  min: ParquetValue;
  max: ParquetValue;
}

export interface FileStats {
  rows: number;
  /** Bytes of the whole file, footer included. */
  bytes: number;
  perColumn: Map<number, ColumnFileStats>;
}

/** Where the writer hands finished bytes: an R2 multipart upload, memory, anything that takes chunks in order. */
export interface ParquetSink {
  write(chunk: Uint8Array): Promise<void>;
}
