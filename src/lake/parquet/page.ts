/**
 * Pages of a column chunk: a body the column wrote into `body` is compressed and appended to the
 * row group's output behind its page header. Pure. Trade-off: data page v1 (levels inside the
 * compressed body), the version every reader takes; v2 would let readers skip decompressing
 * levels, which flat columns barely gain from.
 */
import { ByteBuffer } from "./bytes";
import { snappyCompress } from "./snappy";
import { ThriftWriter } from "./thrift";

export const Encoding = { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 } as const;
export const Codec = { UNCOMPRESSED: 0, SNAPPY: 1 } as const;
export type CodecId = (typeof Codec)[keyof typeof Codec];

const DATA_PAGE = 0;
const DICTIONARY_PAGE = 2;

/** Buffers a row group's chunks share; all are reused from one row group to the next. */
export class PageWriter {
  /** The row group's bytes so far; `fileOffset` is where its first byte lands in the file. */
  readonly out = new ByteBuffer(1 << 16);
  fileOffset = 0;
  /** Where a column writes the page body it is about to hand to `dataPage` or `dictionaryPage`. */
  readonly body = new ByteBuffer(1 << 16);
  private readonly packed = new ByteBuffer(1 << 16);
  private readonly thrift = new ThriftWriter(this.out);

  constructor(readonly codec: CodecId) {}

  /** The file offset of the next byte written. */
  get position(): number {
    return this.fileOffset + this.out.length;
  }

  /**
   * Writes `body` as a v1 data page of `values` values (nulls included), into the row group or into
   * `to` (a column's finished pages, when it cuts a chunk into several); returns its bytes, header
   * included.
   */
  dataPage(values: number, encoding: number, to = this.out): { uncompressed: number; compressed: number } {
    return this.page(to, DATA_PAGE, (t) => {
      t.struct(5);
      t.i32(1, values);
      t.i32(2, encoding);
      t.i32(3, Encoding.RLE);
      t.i32(4, Encoding.RLE);
      t.end();
    });
  }

  /** Writes `body` as the chunk's dictionary page of `entries` PLAIN values. */
  dictionaryPage(entries: number): { uncompressed: number; compressed: number } {
    return this.page(this.out, DICTIONARY_PAGE, (t) => {
      t.struct(7);
      t.i32(1, entries);
      t.i32(2, Encoding.PLAIN);
      t.end();
    });
  }

  private page(
    to: ByteBuffer,
    type: number,
    header: (t: ThriftWriter) => void,
  ): { uncompressed: number; compressed: number } {
    const raw = this.body.view();
    let stored = raw;
    if (this.codec === Codec.SNAPPY) {
      this.packed.clear();
      snappyCompress(raw, this.packed);
      stored = this.packed.view();
    }
    const start = to.length;
    const t = to === this.out ? this.thrift : new ThriftWriter(to);
    t.begin();
    t.i32(1, type);
    t.i32(2, raw.length);
    t.i32(3, stored.length);
    header(t);
    t.end();
    const headerBytes = to.length - start;
    to.append(stored);
    this.body.clear();
    return { uncompressed: headerBytes + raw.length, compressed: headerBytes + stored.length };
  }
}
