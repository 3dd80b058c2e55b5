/**
 * String and json columns (BYTE_ARRAY). Each row group starts dictionary-encoded: a value is looked
 * up in a Map and only its index kept, so a low-cardinality column (currency, status, country)
 * costs one lookup a row and a few bits on disk. Past 4,096 distinct values or 1 MiB of them the
 * chunk turns PLAIN: the values so far are rewritten from the dictionary and the rest are encoded
 * as they arrive. Pure. Trade-off: a high-cardinality column pays 4,096 map inserts per row group
 * before it turns; cheaper than guessing wrong on a column whose first rows look unique.
 */
import { lowerBound, upperBound, utf8Less } from "./bounds";
import { ByteBuffer, utf8 } from "./bytes";
import type { ChunkInfo, ChunkStats } from "./column";
import { Column, PhysicalType } from "./column";
import { Encoding, type PageWriter } from "./page";
import { bitWidth, writeHybrid } from "./rle";
import type { ParquetColumnSpec, ParquetValue } from "./types";

const DICT_MAX_ENTRIES = 4096;
const DICT_MAX_BYTES = 1 << 20;
/** Column-chunk statistics keep this many code points; longer values get truncated bounds. */
const STATS_CODE_POINTS = 64;
const DICT_ENCODINGS = [Encoding.PLAIN, Encoding.RLE, Encoding.RLE_DICTIONARY] as const;

export class StringColumn extends Column {
  readonly physicalType = PhysicalType.BYTE_ARRAY;
  /** PLAIN values (length-prefixed UTF-8) once the chunk has turned PLAIN. */
  private readonly plain = new ByteBuffer(1 << 16);
  /** The dictionary's entries, PLAIN-encoded in index order: the dictionary page body. */
  private readonly entries = new ByteBuffer(1 << 12);
  private readonly dict = new Map<string, number>();
  private readonly indices: Int32Array;
  private useDict = true;
  private count = 0;
  /** Row-group bounds of PLAIN values; a dictionary's come from its keys at flush. */
  private min: string | null = null;
  private max = "";
  private fileMin: string | null = null;
  private fileMax = "";

  constructor(
    spec: ParquetColumnSpec,
    capacity: number,
    /** Iceberg bounds keep this many code points (Iceberg's default metrics mode is truncate(16)). */
    private readonly boundCodePoints: number,
    /** Json columns keep no bounds: their text order means nothing to a query. */
    private readonly withStats = true,
  ) {
    super(spec, capacity);
    this.indices = new Int32Array(capacity);
  }

  add(v: ParquetValue | undefined): void {
    if (typeof v === "string") this.addString(v);
    else if (v === null || v === undefined) this.addNull();
    else throw this.mismatch();
  }

  protected addString(s: string): void {
    this.rows++;
    if (this.useDict) {
      let id = this.dict.get(s);
      if (id === undefined) {
        id = this.dict.size;
        if (id >= DICT_MAX_ENTRIES || this.entries.length >= DICT_MAX_BYTES) {
          this.turnPlain();
          this.addPlain(s);
          return;
        }
        this.dict.set(s, id);
        this.entries.lengthPrefixedUtf8(s);
      }
      this.indices[this.count++] = id;
      return;
    }
    this.addPlain(s);
  }

  private addPlain(s: string): void {
    const written = this.plain.lengthPrefixedUtf8(s);
    this.count++;
    if (!this.withStats) return;
    const min = this.min;
    if (min === null) {
      this.min = s;
      this.max = s;
    } else if (written === s.length) {
      // ASCII: at the first difference one unit is < 0x80, where `<` is byte order already.
      if (s < min) this.min = s;
      else if (s > this.max) this.max = s;
    } else if (utf8Less(s, min)) this.min = s;
    else if (utf8Less(this.max, s)) this.max = s;
  }

  /** Rewrites the values so far as PLAIN bytes from the dictionary, and drops the dictionary. */
  private turnPlain(): void {
    const src = this.entries.bytes;
    const starts = new Int32Array(this.dict.size + 1);
    let p = 0;
    for (let k = 0; k < this.dict.size; k++) {
      starts[k] = p;
      p += 4 + ((src[p] ?? 0) | ((src[p + 1] ?? 0) << 8) | ((src[p + 2] ?? 0) << 16) | ((src[p + 3] ?? 0) << 24));
    }
    starts[this.dict.size] = p;
    const out = this.plain;
    for (let i = 0; i < this.count; i++) {
      const id = this.indices[i] ?? 0;
      const from = starts[id] ?? 0;
      const to = starts[id + 1] ?? 0;
      out.reserve(to - from);
      out.bytes.set(src.subarray(from, to), out.length);
      out.length += to - from;
    }
    if (this.withStats) this.boundsFromDictionary();
    this.useDict = false;
    this.dict.clear();
    this.entries.clear();
  }

  private boundsFromDictionary(): void {
    for (const s of this.dict.keys()) {
      if (this.min === null) {
        this.min = s;
        this.max = s;
      } else if (utf8Less(s, this.min)) this.min = s;
      else if (utf8Less(this.max, s)) this.max = s;
    }
  }

  protected encode(pages: PageWriter): ChunkInfo {
    // Mostly distinct values (a short row group of ids): the indices would only add to PLAIN.
    if (this.useDict && this.dict.size * 2 > this.count) this.turnPlain();
    const dictionary = this.useDict && this.count > 0;
    if (dictionary && this.withStats) this.boundsFromDictionary();
    const stats = this.chunkStats();
    if (!dictionary) {
      this.writeLevels(pages.body);
      pages.body.append(this.plain.view());
      return this.plainChunk(pages, stats);
    }
    const start = pages.position;
    pages.body.append(this.entries.view());
    const dictPage = pages.dictionaryPage(this.dict.size);
    const dataPageOffset = pages.position;
    const body = pages.body;
    this.writeLevels(body);
    const width = bitWidth(this.dict.size - 1);
    body.byte(width);
    writeHybrid(body, this.indices, this.count, width);
    const dataPage = pages.dataPage(this.rows, Encoding.RLE_DICTIONARY);
    return {
      physicalType: this.physicalType,
      encodings: DICT_ENCODINGS,
      values: this.rows,
      uncompressed: dictPage.uncompressed + dataPage.uncompressed,
      compressed: dictPage.compressed + dataPage.compressed,
      start,
      dataPageOffset,
      dictionaryPageOffset: start,
      stats,
    };
  }

  private chunkStats(): ChunkStats {
    const min = this.min;
    if (min === null) return { nullCount: this.nulls, min: null, max: null, exact: true };
    if (this.fileMin === null || utf8Less(min, this.fileMin)) this.fileMin = min;
    if (utf8Less(this.fileMax, this.max)) this.fileMax = this.max;
    const low = lowerBound(min, STATS_CODE_POINTS);
    const high = upperBound(this.max, STATS_CODE_POINTS);
    const exact = low === min && high === this.max;
    return { nullCount: this.nulls, min: utf8(low), max: high === null ? null : utf8(high), exact };
  }

  protected bounds() {
    if (this.fileMin === null) return { min: null, max: null };
    return { min: lowerBound(this.fileMin, this.boundCodePoints), max: upperBound(this.fileMax, this.boundCodePoints) };
  }

  protected clear(): void {
    this.count = 0;
    this.min = null;
    this.max = "";
    this.useDict = true;
    this.plain.clear();
    this.dict.clear();
    this.entries.clear();
  }
}

/** Lists of strings, written as their JSON text (JSON.stringify's, the form D1 holds them in). */
export class JsonColumn extends StringColumn {
  constructor(spec: ParquetColumnSpec, capacity: number) {
    super(spec, capacity, 0, false);
  }

  override add(v: ParquetValue | undefined): void {
    if (Array.isArray(v)) this.addString(v.length === 0 ? "[]" : JSON.stringify(v));
    else if (v === null || v === undefined) this.addNull();
    else throw this.mismatch();
  }
}
