/**
 * One Parquet part of a compacted table, built column by column as D1 pages arrive, so
 * a part holds one array per column instead of one object per row. Pure (no I/O).
 * Trade-off: a part is encoded whole in memory (hyparquet-writer's `parquetWriteBuffer`,
 * pure JS, no wasm), so the job bounds memory by capping rows per part, not by streaming.
 * One row group per part, Snappy, min/max statistics on every column (DuckDB prunes row
 * groups with them), and an explicit schema so each column carries its logical type:
 * TIMESTAMP(MILLIS, UTC) for times, STRING for text, JSON for list columns.
 */
import type { SchemaElement } from "hyparquet";
import { type ColumnSource, parquetWriteBuffer } from "hyparquet-writer";
import type { ColumnKind, CompactColumn, LakeTable, ParquetValue } from "./tables";
import { toParquetValue } from "./tables";

/** Long enough that 19-digit ids, emails and ISO times keep exact min/max statistics. */
const STATISTICS_BYTES = 64;

/** The Parquet schema element of a column; the converted types are there for older readers. */
export function schemaElement(column: CompactColumn): SchemaElement {
  const repetition_type = column.nullable ? "OPTIONAL" : "REQUIRED";
  const element = ELEMENTS[column.kind];
  return { name: column.name, repetition_type, ...element };
}

const ELEMENTS: Record<ColumnKind, Omit<SchemaElement, "name">> = {
  string: { type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" } },
  // DuckDB reads the converted type; the writer serializes the parsed list (see toParquetValue).
  json: { type: "BYTE_ARRAY", converted_type: "JSON", logical_type: { type: "JSON" } },
  timestamp: {
    type: "INT64",
    converted_type: "TIMESTAMP_MILLIS",
    logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
  },
  int64: { type: "INT64" },
  boolean: { type: "BOOLEAN" },
  float64: { type: "DOUBLE" },
};

export class PartBuffer {
  private columns: ParquetValue[][];
  private count = 0;

  constructor(private readonly spec: Pick<LakeTable, "table" | "columns">) {
    this.columns = spec.columns.map(() => []);
  }

  get rows(): number {
    return this.count;
  }

  /** Appends a D1 row (as read by `pageSql`); throws if a value does not fit its column. */
  push(row: Record<string, unknown>): void {
    this.spec.columns.forEach((column, i) => {
      this.columns[i]?.push(toParquetValue(this.spec, column, row[column.name]));
    });
    this.count++;
  }

  /** Encodes the buffered rows as one Parquet file and empties the buffer. */
  encode(metadata: Record<string, string>): Uint8Array {
    const columnData: ColumnSource[] = this.spec.columns.map((column, i) => ({
      name: column.name,
      data: this.columns[i] ?? [],
    }));
    const schema: SchemaElement[] = [
      { name: "root", num_children: this.spec.columns.length },
      ...this.spec.columns.map(schemaElement),
    ];
    const buffer = parquetWriteBuffer({
      columnData,
      schema,
      rowGroupSize: Math.max(this.count, 1),
      statisticsTruncateLength: STATISTICS_BYTES,
      kvMetadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      createdBy: "commerce-edge-pipeline compact",
    });
    this.columns = this.spec.columns.map(() => []);
    this.count = 0;
    return new Uint8Array(buffer);
  }
}
