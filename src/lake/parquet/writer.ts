/**
 * A streaming Parquet writer for the lake's Iceberg data files: rows are pushed one at a time,
 * kept column by column in typed arrays and encoded bytes, and every `rowGroupRows` rows the row
 * group is encoded, handed to the sink and its buffers reused, so memory is bounded by one row
 * group whatever the file's size. `finish()` writes the footer and returns what an Iceberg
 * manifest needs (value and null counts, column sizes, bounds per field id).
 *
 * The format: data page v1; PLAIN values, dictionary-encoded strings where a chunk has few
 * distinct values, RLE/bit-packed definition levels; Snappy by default; min/max statistics per
 * column chunk (with TYPE_ORDER column orders, so readers trust them); `field_id` on every schema
 * element. Timestamps are TIMESTAMP(isAdjustedToUTC=true, MICROS): Iceberg's Parquet type mapping
 * stores `timestamptz` as TIMESTAMP_MICROS adjusted to UTC and lists no MILLIS form, so the
 * pushed epoch milliseconds are written × 1000.
 *
 * Trade-off: fixed-width and dictionary chunks are one page each (their values are a few bytes a
 * row, held in typed arrays anyway), and PLAIN string chunks are cut into 256 KiB pages as they
 * fill; no page index is written, so a reader skips row groups by their statistics, not pages.
 * Rows are taken 64 at a time, column by column (see `drain`), so a value of the wrong kind is
 * reported up to 63 rows after its push.
 */
import { ByteBuffer } from "./bytes";
import type { Column } from "./column";
import { MAGIC, RowGroupIndex, writeFooter } from "./footer";
import { BooleanColumn, Float64Column, Int64Column, TimestampColumn } from "./number-columns";
import { Codec, PageWriter } from "./page";
import { JsonColumn, StringColumn } from "./string-columns";
import type { FileStats, ParquetColumnSpec, ParquetSink, ParquetValue } from "./types";

export interface ParquetFileWriterOptions {
  columns: readonly ParquetColumnSpec[];
  /** Rows per row group: the unit of memory (every column's values for this many rows). */
  rowGroupRows: number;
  /** Footer key-value metadata (the caller puts `iceberg.schema` here). */
  keyValueMetadata: Record<string, string>;
  createdBy: string;
  /** Takes the bytes in order; closing it (completing an upload) is the caller's, after `finish()`. */
  sink: ParquetSink;
  /** Page compression; Snappy unless told otherwise. */
  compression?: "snappy" | "none";
  /** Code points an Iceberg string bound keeps (Iceberg's default metrics mode is truncate(16)). */
  boundCodePoints?: number;
}

function columnFor(spec: ParquetColumnSpec, capacity: number, pages: PageWriter, boundCodePoints: number): Column {
  switch (spec.kind) {
    case "string":
      return new StringColumn(spec, capacity, pages, boundCodePoints);
    case "json":
      return new JsonColumn(spec, capacity, pages);
    case "timestamp":
      return new TimestampColumn(spec, capacity);
    case "int64":
      return new Int64Column(spec, capacity);
    case "boolean":
      return new BooleanColumn(spec, capacity);
    case "float64":
      return new Float64Column(spec, capacity);
  }
}

/** Rows staged before their values go to the columns: enough to keep a column's loop hot, few enough to stay in cache. */
const STAGE_ROWS = 64;

export class ParquetFileWriter {
  private readonly columns: Column[];
  private readonly names: string[];
  private readonly pages: PageWriter;
  private readonly index = new RowGroupIndex();
  private readonly rowGroupRows: number;
  /** Values of the last rows pushed, column by column, waiting to be taken a batch at a time. */
  private readonly staged: (ParquetValue | undefined)[][];
  private stagedRows = 0;
  private pending = 0;
  /** Bytes handed to the sink so far: the file offset of the next row group. */
  private offset = 0;
  private writing: Promise<void> = Promise.resolve();
  private broken: unknown = null;
  private finished = false;

  constructor(private readonly options: ParquetFileWriterOptions) {
    if (!(options.rowGroupRows >= 1)) throw new Error("parquet: rowGroupRows must be at least 1");
    const ids = new Set(options.columns.map((c) => c.fieldId));
    if (ids.size !== options.columns.length) throw new Error("parquet: field ids must be unique");
    this.rowGroupRows = Math.trunc(options.rowGroupRows);
    const bound = options.boundCodePoints ?? 16;
    this.pages = new PageWriter(options.compression === "none" ? Codec.UNCOMPRESSED : Codec.SNAPPY);
    this.columns = options.columns.map((spec) => columnFor(spec, this.rowGroupRows, this.pages, bound));
    this.names = options.columns.map((c) => c.name);
    this.staged = options.columns.map(() => new Array<ParquetValue | undefined>(STAGE_ROWS).fill(null));
  }

  /** Rows pushed so far. */
  get rows(): number {
    return this.index.rows + this.pending;
  }

  /**
   * Adds a row (a missing key is null). Returns undefined while the row group fills, and the sink
   * write of the row group this row completed: await it before pushing on, so no more than one
   * encoded row group waits for the sink. Values are checked when their batch of rows goes to
   * the columns, so a value of the wrong kind throws from this push or one up to 63 rows later,
   * naming its column; the writer is unusable after that.
   */
  push(row: Record<string, ParquetValue | undefined>): Promise<void> | undefined {
    if (this.broken !== null || this.finished) throw this.unusable();
    const { staged, names } = this;
    const k = this.stagedRows;
    for (let i = 0; i < staged.length; i++) (staged[i] as (ParquetValue | undefined)[])[k] = row[names[i] as string];
    return this.pushed();
  }

  /**
   * `push` for a row given as its values in column order: no property lookups, which on a wide
   * table cost as much as the encoding (a row object built key by key is a hash table in V8).
   */
  pushValues(values: readonly (ParquetValue | undefined)[]): Promise<void> | undefined {
    if (this.broken !== null || this.finished) throw this.unusable();
    const { staged } = this;
    if (values.length !== staged.length) {
      throw new Error(`parquet: a row of ${values.length} values for ${staged.length} columns`);
    }
    const k = this.stagedRows;
    for (let i = 0; i < staged.length; i++) (staged[i] as (ParquetValue | undefined)[])[k] = values[i];
    return this.pushed();
  }

  private pushed(): Promise<void> | undefined {
    if (++this.stagedRows === STAGE_ROWS) this.drain();
    if (++this.pending === this.rowGroupRows) return this.flushRowGroup();
    return undefined;
  }

  /** Hands the staged rows to the columns, one column at a time. */
  private drain(): void {
    const n = this.stagedRows;
    this.stagedRows = 0;
    try {
      for (let i = 0; i < this.columns.length; i++) {
        (this.columns[i] as Column).addBatch(this.staged[i] as (ParquetValue | undefined)[], n);
      }
    } catch (error) {
      this.broken = error;
      throw error;
    }
  }

  /** Writes the last row group and the footer; resolves once the sink has taken every byte. */
  async finish(): Promise<FileStats> {
    if (this.broken !== null || this.finished) throw this.unusable();
    this.finished = true;
    if (this.pending > 0) this.flushRowGroup();
    const footer = new ByteBuffer(1 << 12);
    // A file of no rows is still a file: magic, footer (the schema), magic.
    if (this.offset === 0) footer.append(MAGIC);
    writeFooter(footer, {
      columns: this.options.columns,
      rowGroups: this.index,
      keyValueMetadata: this.options.keyValueMetadata,
      createdBy: this.options.createdBy,
    });
    await this.enqueue(footer.view());
    const perColumn = new Map(this.columns.map((c) => [c.spec.fieldId, c.fileStats()]));
    return { rows: this.index.rows, bytes: this.offset, perColumn };
  }

  private flushRowGroup(): Promise<void> {
    if (this.stagedRows > 0) this.drain();
    const pages = this.pages;
    pages.out.clear();
    pages.fileOffset = this.offset;
    if (this.offset === 0) pages.out.append(MAGIC);
    const chunks = this.columns.map((c) => c.flush(pages));
    this.index.add(this.options.columns, chunks, this.pending, pages.codec);
    this.pending = 0;
    // A copy: the sink may keep the chunk past this call, and the buffer is the next row group's.
    return this.enqueue(pages.out.view().slice());
  }

  private enqueue(bytes: Uint8Array): Promise<void> {
    this.offset += bytes.length;
    const write = this.writing.then(() => this.options.sink.write(bytes));
    this.writing = write;
    // Marked handled here; the caller's await of this write, or finish(), still sees the failure.
    write.catch((error: unknown) => {
      this.broken ??= error;
    });
    return write;
  }

  private unusable(): Error {
    if (this.finished) return new Error("parquet: the writer is finished");
    return new Error("parquet: an earlier push or sink write failed; the file is unusable", { cause: this.broken });
  }
}
