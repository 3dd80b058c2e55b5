/**
 * The Parquet footer (FileMetaData) in thrift compact form: the schema with Iceberg field ids and
 * logical types, one RowGroup per row group, key-value metadata and column orders. Pure. Trade-off:
 * each RowGroup is serialized when its row group is flushed and only its bytes are kept, so a file
 * of many row groups holds a few hundred bytes per column chunk for its footer, not objects.
 */
import { ByteBuffer } from "./bytes";
import { type ChunkInfo, PhysicalType } from "./column";
import type { CodecId } from "./page";
import { T, ThriftWriter } from "./thrift";
import type { ParquetColumnSpec, ParquetKind } from "./types";

const PHYSICAL: Record<ParquetKind, number> = {
  string: PhysicalType.BYTE_ARRAY,
  json: PhysicalType.BYTE_ARRAY,
  timestamp: PhysicalType.INT64,
  int64: PhysicalType.INT64,
  boolean: PhysicalType.BOOLEAN,
  float64: PhysicalType.DOUBLE,
};

/** Converted types, for readers older than logical types: UTF8, JSON, TIMESTAMP_MICROS. */
const CONVERTED: Partial<Record<ParquetKind, number>> = { string: 0, json: 19, timestamp: 10 };

/** The RowGroup structs of the row groups written so far. */
export class RowGroupIndex {
  count = 0;
  rows = 0;
  readonly bytes = new ByteBuffer(1 << 12);
  private readonly t = new ThriftWriter(this.bytes);

  add(columns: readonly ParquetColumnSpec[], chunks: readonly ChunkInfo[], rows: number, codec: CodecId): void {
    const t = this.t;
    t.begin();
    t.list(1, T.STRUCT, chunks.length);
    let uncompressed = 0;
    let compressed = 0;
    chunks.forEach((chunk, i) => {
      writeChunk(t, columns[i]?.name ?? "", chunk, codec);
      uncompressed += chunk.uncompressed;
      compressed += chunk.compressed;
    });
    t.i64(2, uncompressed);
    t.i64(3, rows);
    t.i64(5, chunks[0]?.start ?? 0);
    t.i64(6, compressed);
    t.end();
    this.count++;
    this.rows += rows;
  }
}

function writeChunk(t: ThriftWriter, name: string, chunk: ChunkInfo, codec: CodecId): void {
  t.begin();
  t.i64(2, chunk.start);
  t.struct(3);
  t.i32(1, chunk.physicalType);
  t.list(2, T.I32, chunk.encodings.length);
  for (const e of chunk.encodings) t.elemI32(e);
  t.list(3, T.BINARY, 1);
  t.elemString(name);
  t.i32(4, codec);
  t.i64(5, chunk.values);
  t.i64(6, chunk.uncompressed);
  t.i64(7, chunk.compressed);
  t.i64(9, chunk.dataPageOffset);
  if (chunk.dictionaryPageOffset !== null) t.i64(11, chunk.dictionaryPageOffset);
  const { stats } = chunk;
  t.struct(12);
  t.i64(3, stats.nullCount);
  if (stats.max !== null) t.binary(5, stats.max);
  if (stats.min !== null) t.binary(6, stats.min);
  if (!stats.exact) {
    if (stats.max !== null) t.bool(7, false);
    if (stats.min !== null) t.bool(8, false);
  }
  t.end();
  t.end();
  t.end();
}

function writeSchemaElement(t: ThriftWriter, column: ParquetColumnSpec): void {
  t.begin();
  t.i32(1, PHYSICAL[column.kind]);
  t.i32(3, column.nullable ? 1 : 0);
  t.string(4, column.name);
  const converted = CONVERTED[column.kind];
  if (converted !== undefined) t.i32(6, converted);
  t.i32(9, column.fieldId);
  if (column.kind === "string" || column.kind === "json" || column.kind === "timestamp") {
    t.struct(10);
    if (column.kind === "string") t.struct(1);
    else if (column.kind === "json") t.struct(12);
    else {
      t.struct(8);
      t.bool(1, true); // isAdjustedToUTC
      t.struct(2); // unit: the union's MICROS member
      t.struct(2);
      t.end();
      t.end();
    }
    t.end();
    t.end();
  }
  t.end();
}

export interface FooterInput {
  columns: readonly ParquetColumnSpec[];
  rowGroups: RowGroupIndex;
  keyValueMetadata: Record<string, string>;
  createdBy: string;
}

/** Appends the FileMetaData, its 4-byte length and the closing magic to `out`. */
export function writeFooter(out: ByteBuffer, input: FooterInput): void {
  const start = out.length;
  const t = new ThriftWriter(out);
  const { columns, rowGroups } = input;
  t.begin();
  t.i32(1, 1);
  t.list(2, T.STRUCT, columns.length + 1);
  t.begin();
  t.string(4, "schema");
  t.i32(5, columns.length);
  t.end();
  for (const column of columns) writeSchemaElement(t, column);
  t.i64(3, rowGroups.rows);
  t.list(4, T.STRUCT, rowGroups.count);
  out.append(rowGroups.bytes.view());
  const entries = Object.entries(input.keyValueMetadata);
  if (entries.length > 0) {
    t.list(5, T.STRUCT, entries.length);
    for (const [key, value] of entries) {
      t.begin();
      t.string(1, key);
      t.string(2, value);
      t.end();
    }
  }
  t.string(6, input.createdBy);
  // TYPE_ORDER for every column: readers may trust min_value/max_value only when it is set.
  t.list(7, T.STRUCT, columns.length);
  for (let i = 0; i < columns.length; i++) {
    t.begin();
    t.struct(1);
    t.end();
    t.end();
  }
  t.end();
  out.int32(out.length - start);
  out.append(MAGIC);
}

export const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]);
