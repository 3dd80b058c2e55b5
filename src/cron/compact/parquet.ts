/**
 * One Parquet part of a compacted table, built column by column as D1 pages arrive, so
 * a part holds one array per column instead of one object per row. Pure (no I/O).
 * Trade-off: a part is encoded whole in memory (hyparquet-writer's `parquetWriteBuffer`,
 * pure JS, no wasm), so the job bounds memory by capping rows per part, not by streaming.
 * One row group per part and the library's default Snappy compression.
 */
import { type ColumnSource, parquetWriteBuffer } from "hyparquet-writer";
import type { ColumnKind, CompactTable, ParquetValue } from "./tables";
import { toParquetValue } from "./tables";

const PARQUET_TYPE: Record<ColumnKind, "STRING" | "INT64" | "BOOLEAN"> = {
  string: "STRING",
  int64: "INT64",
  boolean: "BOOLEAN",
};

export class PartBuffer {
  private columns: ParquetValue[][];
  private count = 0;

  constructor(private readonly spec: CompactTable) {
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
      type: PARQUET_TYPE[column.kind],
      nullable: column.nullable,
    }));
    const buffer = parquetWriteBuffer({
      columnData,
      rowGroupSize: Math.max(this.count, 1),
      kvMetadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      createdBy: "commerce-edge-pipeline compact",
    });
    this.columns = this.spec.columns.map(() => []);
    this.count = 0;
    return new Uint8Array(buffer);
  }
}
