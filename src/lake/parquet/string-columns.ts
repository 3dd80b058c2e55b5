/**
 * String and json columns (BYTE_ARRAY). Values come a batch at a time, and a batch of ASCII
 * strings is encoded by one native TextEncoder call straight into the PLAIN layout (each value
 * behind a 4-character stand-in for its length). A row group starts dictionary-encoded: each
 * value's bytes are hashed and looked up in an open-addressing table over the dictionary's own
 * bytes, and only the index is kept, so a low-cardinality column (currency, status, country)
 * costs a few bits a row on disk. Past 4,096 distinct values or 1 MiB of them, or past 256 that
 * repeat little (see `full`), the chunk turns PLAIN (the values so far are rewritten from the
 * dictionary), and so do the column's later row groups. Pure.
 * Trade-offs, measured on node 22: a JS Map keyed by the strings cost 130–300 ns a lookup on a
 * wide table (hashing fresh strings, cache misses across 40 maps), and a per-character JS loop
 * about 3.5 ns a character; a batch holding a non-ASCII value, or one of 128 characters or more,
 * is encoded value by value, which is slower but keeps the common path free of length bookkeeping.
 */
import { lowerBound, upperBound, utf8Less } from "./bounds";
import { ByteBuffer, encodeUtf8, utf8 } from "./bytes";
import type { ChunkInfo, ChunkStats } from "./column";
import { Column, PhysicalType } from "./column";
import { Encoding, type PageWriter } from "./page";
import { bitWidth, writeHybrid } from "./rle";
import type { ParquetColumnSpec, ParquetValue } from "./types";

const DICT_MAX_ENTRIES = 4096;
const DICT_MAX_BYTES = 1 << 20;
const DICT_CHEAP_ENTRIES = 256;
const DICT_MIN_REPEATS = 8;
/** The table starts this small (it stays in cache) and doubles past half full. */
const TABLE_MIN_SLOTS = 256;
/** Column-chunk statistics keep this many code points; longer values get truncated bounds. */
const STATS_CODE_POINTS = 64;
const DICT_ENCODINGS = [Encoding.PLAIN, Encoding.RLE, Encoding.RLE_DICTIONARY] as const;
const PLAIN_ENCODINGS = [Encoding.PLAIN, Encoding.RLE] as const;
/**
 * A PLAIN chunk is cut into pages of up to 256 KiB as it fills, each compressed at once, so a
 * column holds one page raw and the rest compressed rather than its row group's values raw.
 * A page is cut once a batch leaves it within 32 KiB of the size, so its buffer never doubles.
 * Measured on bench/lake-writer.mjs (20,000-row groups): 39 MB live at most against 53 MB with a
 * page per chunk, for a file 3% larger (Snappy starts over on each page).
 */
const PAGE_BYTES = 256 * 1024;
const PAGE_CUT = PAGE_BYTES - 32 * 1024;

export class StringColumn extends Column {
  readonly physicalType = PhysicalType.BYTE_ARRAY;
  /** PLAIN values (length-prefixed UTF-8); while the dictionary lasts, only a batch's bytes being looked up. */
  private readonly plain = new ByteBuffer(1 << 16);
  /** The dictionary's entries, PLAIN-encoded in index order: the dictionary page body. */
  private readonly entries = new ByteBuffer(1 << 12);
  /** Where entry k's bytes start in `entries` (after its length); k + 1's start ends it. */
  private readonly entryStart = new Int32Array(DICT_MAX_ENTRIES + 1);
  /** Slots of four: hash, entry index + 1 (0: empty), start in `entries`, byte length. */
  private table = new Int32Array(4 * TABLE_MIN_SLOTS);
  private entryCount = 0;
  /** The value last looked up, and its index: a run costs a comparison. */
  private last: string | null = null;
  private lastId = 0;
  /** Whether the last `find` added its value. */
  private added = false;
  private readonly indices: Int32Array;
  private useDict = true;
  private count = 0;
  /** A batch's non-null strings. */
  private readonly batch: string[] = [];
  /** PLAIN data pages of the chunk so far, compressed, with their sizes; the page being filled starts at row `pageStart`, after `pageNulls` nulls. */
  private readonly done = new ByteBuffer(1 << 12);
  private doneUncompressed = 0;
  private doneCompressed = 0;
  private pageStart = 0;
  private pageNulls = 0;
  /** Set when a chunk outgrew the dictionary: the file's later row groups start PLAIN. */
  private highCardinality = false;
  /** Row-group bounds: every PLAIN value, or every new dictionary entry, is compared once. */
  private min: string | null = null;
  private max = "";
  private fileMin: string | null = null;
  private fileMax = "";

  constructor(
    spec: ParquetColumnSpec,
    capacity: number,
    /** Where PLAIN pages are cut as they fill (the row group's page writer). */
    private readonly pages: PageWriter,
    /** Iceberg bounds keep this many code points (Iceberg's default metrics mode is truncate(16)). */
    private readonly boundCodePoints: number,
    /** Json columns keep no bounds: their text order means nothing to a query. */
    private readonly withStats = true,
  ) {
    super(spec, capacity);
    this.indices = new Int32Array(capacity);
    this.entryStart[0] = 4;
  }

  /** The value as the text to write, or null; throws when it is not of the column's kind. */
  protected text(v: ParquetValue | undefined): string | null {
    if (typeof v === "string") return v;
    if (v === null || v === undefined) return null;
    throw this.mismatch();
  }

  add(v: ParquetValue | undefined): void {
    this.addBatch([v], 1);
  }

  addBatch(values: readonly (ParquetValue | undefined)[], n: number): void {
    const strings = this.batch;
    let m = 0;
    for (let i = 0; i < n; i++) {
      const s = this.text(values[i]);
      if (s === null) this.addNull();
      else {
        this.rows++;
        strings[m++] = s;
      }
    }
    if (m > 0) this.addStrings(strings, 0, m);
    if (!this.useDict && this.plain.length >= PAGE_CUT) this.cutPage();
  }

  /** Compresses the PLAIN values so far into a data page, kept until the row group is written. */
  private cutPage(): void {
    const body = this.pages.body;
    this.writeLevels(body, this.pageStart, this.nulls - this.pageNulls);
    body.append(this.plain.view());
    const page = this.pages.dataPage(this.rows - this.pageStart, Encoding.PLAIN, this.done);
    this.doneUncompressed += page.uncompressed;
    this.doneCompressed += page.compressed;
    this.plain.clear();
    this.pageStart = this.rows;
    this.pageNulls = this.nulls;
  }

  /** Takes `strings[from..to)`, values already counted in `rows`. */
  private addStrings(strings: readonly string[], from: number, to: number): void {
    if (this.useDict) {
      // A run of the value last looked up (the shop, an origin) needs no encoding at all.
      while (from < to && strings[from] === this.last) {
        this.indices[this.count++] = this.lastId;
        from++;
      }
      if (from === to) return;
    }
    const buf = this.plain;
    const at = buf.length;
    const written = this.encodeBatch(strings, from, to);
    if (written < 0) this.addEach(strings, from, to);
    else if (this.useDict) this.lookUp(strings, from, to, at);
    else {
      buf.length = at + written;
      this.count += to - from;
      if (this.withStats) this.boundAscii(strings, from, to);
    }
  }

  /** `bound` for ASCII values, with the bounds in locals: the loop PLAIN columns run per value. */
  private boundAscii(strings: readonly string[], from: number, to: number): void {
    let min = this.min ?? (strings[from] as string);
    let max = this.min === null ? min : this.max;
    for (let k = from; k < to; k++) {
      const s = strings[k] as string;
      if (s < min) min = s;
      else if (s > max) max = s;
    }
    this.min = min;
    this.max = max;
  }

  /**
   * Writes `strings[from..]` PLAIN-encoded at the end of `plain` (without moving its length) with
   * one native call, and returns the bytes written; -1 when that cannot be done (a value of 128
   * characters or more, or not ASCII) and they must go one at a time.
   */
  private encodeBatch(strings: readonly string[], from: number, to: number): number {
    // Each value behind a 4-char stand-in for its length (exact while it is under 128): the
    // joined string's UTF-8 is the PLAIN layout, lengths and bytes, value after value. `+=`
    // builds a rope that the encoder flattens once (faster than Array.join, measured).
    let joined = "";
    for (let k = from; k < to; k++) {
      const s = strings[k] as string;
      const prefix = LENGTHS[s.length];
      if (prefix === undefined) return -1;
      joined += prefix;
      joined += s;
    }
    const buf = this.plain;
    buf.reserve(3 * joined.length);
    // A longer result means a non-ASCII value: byte lengths are not string lengths.
    const written = encodeUtf8(joined, buf.bytes, buf.length);
    return written === joined.length ? written : -1;
  }

  private addEach(strings: readonly string[], from: number, to: number): void {
    for (let k = from; k < to; k++) this.addOne(strings[k] as string);
  }

  /** Dictionary: hashes each value's bytes (PLAIN-encoded from `at`) and records its entry's index. */
  private lookUp(strings: readonly string[], from: number, to: number, at: number): void {
    const bytes = this.plain.bytes;
    let q = at;
    for (let k = from; k < to; k++) {
      const s = strings[k] as string;
      const len = s.length;
      q += 4;
      if (s === this.last) {
        this.indices[this.count++] = this.lastId;
        q += len;
        continue;
      }
      const id = this.find(bytes, q, len);
      if (id < 0) {
        // Full: PLAIN from here on, these values re-encoded (once a file at most).
        this.overflow();
        this.addStrings(strings, k, to);
        return;
      }
      this.indices[this.count++] = id;
      // A value new to the row group: the only place a dictionary's bounds move.
      if (this.added) this.bound(s, true);
      this.last = s;
      this.lastId = id;
      q += len;
    }
  }

  /**
   * The index of `bytes[at..at+len)` in the dictionary, added if new (then `added` is set); -1 when
   * the dictionary is full.
   */
  private find(bytes: Uint8Array, at: number, len: number): number {
    this.added = false;
    const hash = hashBytes(bytes, at, at + len);
    const table = this.table;
    const mask = (table.length >> 2) - 1;
    const entries = this.entries.bytes;
    let slot = hash & mask;
    // A slot is (hash, index + 1, start, length) in one cache line's quarter: a probe reads the
    // dictionary's bytes only when the hash and length match.
    for (let e = table[4 * slot + 1] as number; e !== 0; e = table[4 * slot + 1] as number) {
      if (table[4 * slot] === hash && table[4 * slot + 3] === len) {
        if (sameBytes(bytes, at, len, entries, table[4 * slot + 2] as number)) return e - 1;
      }
      slot = (slot + 1) & mask;
    }
    if (this.full()) return -1;
    const id = this.entryCount++;
    this.entries.int32(len);
    const start = this.entries.length;
    this.entries.append(bytes.subarray(at, at + len));
    this.entryStart[id + 1] = this.entries.length + 4;
    table[4 * slot] = hash;
    table[4 * slot + 1] = id + 1;
    table[4 * slot + 2] = start;
    table[4 * slot + 3] = len;
    if (this.entryCount * 2 > mask + 1) this.grow();
    this.added = true;
    return id;
  }

  /**
   * No room for another entry: past 4,096 entries or 1 MiB, or past 256 entries while values have
   * repeated fewer than 8 times an entry. A table of thousands of entries that are mostly seen
   * once misses the cache on nearly every lookup (measured: a third more CPU for the bench's
   * 1,000-value columns) and saves less than a tenth of the file.
   */
  private full(): boolean {
    const n = this.entryCount;
    if (n >= DICT_MAX_ENTRIES || this.entries.length >= DICT_MAX_BYTES) return true;
    return n >= DICT_CHEAP_ENTRIES && this.count < DICT_MIN_REPEATS * n;
  }

  private grow(): void {
    const old = this.table;
    const table = new Int32Array(old.length * 2);
    const mask = (table.length >> 2) - 1;
    for (let from = 0; from < old.length; from += 4) {
      if (old[from + 1] === 0) continue;
      let slot = (old[from] as number) & mask;
      while (table[4 * slot + 1] !== 0) slot = (slot + 1) & mask;
      table.set(old.subarray(from, from + 4), 4 * slot);
    }
    this.table = table;
  }

  /** One value, any UTF-8: encoded on its own. */
  private addOne(s: string): void {
    const buf = this.plain;
    const at = buf.length;
    const written = buf.lengthPrefixedUtf8(s);
    if (!this.useDict) {
      this.count++;
      this.bound(s, written === s.length);
      return;
    }
    buf.length = at;
    const id = this.find(buf.bytes, at + 4, written);
    if (id >= 0) {
      this.indices[this.count++] = id;
      if (this.added) this.bound(s, written === s.length);
      return;
    }
    this.overflow();
    this.addOne(s);
  }

  /** Widens the row group's bounds to `s`. */
  private bound(s: string, ascii: boolean): void {
    if (!this.withStats) return;
    const min = this.min;
    if (min === null) {
      this.min = s;
      this.max = s;
    } else if (ascii) {
      // At the first difference one unit is < 0x80, where `<` is byte order already.
      if (s < min) this.min = s;
      else if (s > this.max) this.max = s;
    } else if (utf8Less(s, min)) this.min = s;
    else if (utf8Less(this.max, s)) this.max = s;
  }

  /** Rewrites the values so far as PLAIN bytes from the dictionary, and drops the dictionary. */
  private turnPlain(): void {
    const src = this.entries.bytes;
    const out = this.plain;
    out.clear();
    for (let i = 0; i < this.count; i++) {
      const id = this.indices[i] ?? 0;
      const from = (this.entryStart[id] ?? 0) - 4;
      const to = (this.entryStart[id + 1] ?? 0) - 4;
      out.reserve(to - from);
      const o = out.bytes;
      let p = out.length;
      for (let k = from; k < to; k++) o[p++] = src[k] ?? 0;
      out.length = p;
    }
    this.useDict = false;
    this.clearDictionary();
  }

  /** The dictionary outgrew its limits: this chunk, and the file's later ones, are PLAIN. */
  private overflow(): void {
    this.highCardinality = true;
    this.turnPlain();
  }

  private clearDictionary(): void {
    this.last = null;
    this.entries.clear();
    this.entryCount = 0;
    if (this.table.length > 4 * TABLE_MIN_SLOTS) this.table = new Int32Array(4 * TABLE_MIN_SLOTS);
    else this.table.fill(0);
  }

  protected encode(pages: PageWriter): ChunkInfo {
    // Mostly distinct values (a short row group of ids): the indices would only add to PLAIN.
    if (this.useDict && this.entryCount * 2 > this.count) this.turnPlain();
    const stats = this.chunkStats();
    if (!this.useDict || this.count === 0) {
      if (this.rows > this.pageStart || this.doneCompressed === 0) this.cutPage();
      const start = pages.position;
      pages.out.append(this.done.view());
      return {
        physicalType: this.physicalType,
        encodings: PLAIN_ENCODINGS,
        values: this.rows,
        uncompressed: this.doneUncompressed,
        compressed: this.doneCompressed,
        start,
        dataPageOffset: start,
        dictionaryPageOffset: null,
        stats,
      };
    }
    const start = pages.position;
    pages.body.append(this.entries.view());
    const dictPage = pages.dictionaryPage(this.entryCount);
    const dataPageOffset = pages.position;
    const body = pages.body;
    this.writeLevels(body);
    const width = bitWidth(this.entryCount - 1);
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
    this.plain.clear();
    this.done.clear();
    this.doneUncompressed = 0;
    this.doneCompressed = 0;
    this.pageStart = 0;
    this.pageNulls = 0;
    if (this.useDict) this.clearDictionary();
    this.useDict = !this.highCardinality;
  }
}

/** LENGTHS[n]: a 4-char string whose UTF-8 is n as 4 little-endian bytes, for n < 128. */
const LENGTHS = Array.from({ length: 128 }, (_, n) => String.fromCharCode(n, 0, 0, 0));

/** A 32-bit hash of `b[from..to)`, four bytes a step (murmur3's mixing). */
function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = to - from;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    let k =
      (b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let s = 0; i < to; i++, s += 8) k |= (b[i] as number) << s;
  h ^= Math.imul(k, 0xcc9e2d51);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h ^ (h >>> 16);
}

/** `a[at..at+len)` equals `b[start..start+len)`. */
function sameBytes(a: Uint8Array, at: number, len: number, b: Uint8Array, start: number): boolean {
  for (let i = 0; i < len; i++) if (a[at + i] !== b[start + i]) return false;
  return true;
}

/** Lists of strings, written as their JSON text (JSON.stringify's, the form D1 holds them in). */
export class JsonColumn extends StringColumn {
  constructor(spec: ParquetColumnSpec, capacity: number, pages: PageWriter) {
    super(spec, capacity, pages, 0, false);
  }

  protected override text(v: ParquetValue | undefined): string | null {
    if (Array.isArray(v)) return v.length === 0 ? "[]" : JSON.stringify(v);
    if (v === null || v === undefined) return null;
    throw this.mismatch();
  }
}
