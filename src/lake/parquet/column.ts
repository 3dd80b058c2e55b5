/**
 * What every column buffer shares: definition levels, row and null counts for the row group being
 * filled, and the file-wide counts an Iceberg manifest needs. A kind's subclass keeps its values in
 * typed arrays or PLAIN bytes as they are pushed, so a full row group is encoded without walking JS
 * values again, and its buffers are reused by the next row group. Pure.
 */
import type { ByteBuffer } from "./bytes";
import type { PageWriter } from "./page";
import { writeLevelBits, writeRun } from "./rle";
import type { ColumnFileStats, ParquetColumnSpec, ParquetValue } from "./types";

export const PhysicalType = { BOOLEAN: 0, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 } as const;

/** Column-chunk statistics as the footer stores them (PLAIN bytes of the physical type). */
export interface ChunkStats {
  nullCount: number;
  min: Uint8Array | null;
  max: Uint8Array | null;
  /** False when a string bound was truncated (Parquet's is_{min,max}_value_exact). */
  exact: boolean;
}

/** One column chunk as the footer describes it. */
export interface ChunkInfo {
  physicalType: number;
  encodings: readonly number[];
  values: number;
  uncompressed: number;
  compressed: number;
  start: number;
  dataPageOffset: number;
  dictionaryPageOffset: number | null;
  stats: ChunkStats;
}

export abstract class Column {
  abstract readonly physicalType: number;
  /** Rows in the row group being filled, and how many of them are null. */
  rows = 0;
  nulls = 0;
  /** 1 for a value, 0 for a null; null for a required column (no levels are written). */
  protected readonly defs: Uint8Array | null;
  private fileNulls = 0;
  private fileRows = 0;
  private fileBytes = 0;

  constructor(
    readonly spec: ParquetColumnSpec,
    capacity: number,
  ) {
    this.defs = spec.nullable ? new Uint8Array(capacity).fill(1) : null;
  }

  /** Appends a row's value; throws when it is not of the column's kind (the value is not echoed). */
  abstract add(v: ParquetValue | undefined): void;

  /**
   * Appends `values[0..n)`. Each kind has its own copy of this loop so `add` is inlined into it:
   * a column's values are taken a batch at a time, with its buffers and dictionary hot in cache.
   */
  abstract addBatch(values: readonly (ParquetValue | undefined)[], n: number): void;

  /** Encodes the row group's values as pages into `pages.out`. */
  protected abstract encode(pages: PageWriter): ChunkInfo;

  /** The file-wide lower and upper bounds, in the pushed values' terms. */
  protected abstract bounds(): { min: ParquetValue; max: ParquetValue };

  /** Empties the value buffers for the next row group. */
  protected abstract clear(): void;

  protected addNull(): void {
    if (this.defs === null) throw new Error(`parquet: ${this.spec.name} is required and got null`);
    this.defs[this.rows++] = 0;
    this.nulls++;
  }

  protected mismatch(): Error {
    return new Error(`parquet: ${this.spec.name} (${this.spec.kind}) got a value of another type`);
  }

  /** Encodes the row group's chunk, adds it to the file's counts and empties the buffers. */
  flush(pages: PageWriter): ChunkInfo {
    const info = this.encode(pages);
    this.fileRows += this.rows;
    this.fileNulls += this.nulls;
    this.fileBytes += info.compressed;
    if (this.defs !== null && this.nulls > 0) this.defs.fill(1, 0, this.rows);
    this.rows = 0;
    this.nulls = 0;
    this.clear();
    return info;
  }

  fileStats(): ColumnFileStats {
    const { min, max } = this.bounds();
    return { valueCount: this.fileRows, nullCount: this.fileNulls, compressedBytes: this.fileBytes, min, max };
  }

  /**
   * A v1 data page starts with its definition levels, length-prefixed; required columns have none.
   * The page holds rows [from, rows), `nulls` of them null.
   */
  protected writeLevels(body: ByteBuffer, from = 0, nulls = this.nulls): void {
    if (this.defs === null) return;
    const at = body.length;
    body.int32(0);
    if (nulls === 0) writeRun(body, 1, this.rows - from, 1);
    else writeLevelBits(body, this.defs, from, this.rows);
    const n = body.length - at - 4;
    body.bytes[at] = n;
    body.bytes[at + 1] = n >>> 8;
    body.bytes[at + 2] = n >>> 16;
    body.bytes[at + 3] = n >>> 24;
  }

  /** Writes the body as the chunk's one data page and describes the chunk. */
  protected plainChunk(pages: PageWriter, stats: ChunkStats): ChunkInfo {
    const start = pages.position;
    const page = pages.dataPage(this.rows, 0);
    return {
      physicalType: this.physicalType,
      encodings: PLAIN_ENCODINGS,
      values: this.rows,
      uncompressed: page.uncompressed,
      compressed: page.compressed,
      start,
      dataPageOffset: start,
      dictionaryPageOffset: null,
      stats,
    };
  }
}

/** PLAIN values, RLE levels. */
const PLAIN_ENCODINGS = [0, 3] as const;
