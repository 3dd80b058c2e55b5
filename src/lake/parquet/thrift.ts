/**
 * Thrift compact protocol, write side only, as Parquet uses it for page headers and the footer.
 * Pure. Trade-off: callers write fields in id order by hand (`i32(3, …)`, `struct(5)`) instead of
 * serializing objects, which keeps it allocation-free and small; a field out of order throws, so a
 * mistake shows up in the first test rather than as a file readers reject.
 */
import { type ByteBuffer, utf8 } from "./bytes";

export const T = { TRUE: 1, FALSE: 2, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;

export class ThriftWriter {
  private last = 0;
  private readonly stack: number[] = [];

  constructor(readonly out: ByteBuffer) {}

  private header(id: number, type: number): void {
    const delta = id - this.last;
    if (delta <= 0) throw new Error(`thrift: field ${id} written after ${this.last}`);
    if (delta <= 15) this.out.byte((delta << 4) | type);
    else {
      this.out.byte(type);
      this.zigzag(id);
    }
    this.last = id;
  }

  private zigzag(v: number): void {
    // Exact for |v| < 2^52, far past any size or count in a file.
    this.out.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  private zigzag64(v: bigint): void {
    const z = v >= 0n ? v << 1n : (-v << 1n) - 1n;
    if (z <= BigInt(Number.MAX_SAFE_INTEGER)) {
      this.out.varint(Number(z));
      return;
    }
    let rest = z;
    while (rest > 0x7fn) {
      this.out.byte(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    this.out.byte(Number(rest));
  }

  i32(id: number, v: number): void {
    this.header(id, T.I32);
    this.zigzag(v);
  }

  i64(id: number, v: number | bigint): void {
    this.header(id, T.I64);
    if (typeof v === "bigint") this.zigzag64(v);
    else this.zigzag(v);
  }

  bool(id: number, v: boolean): void {
    this.header(id, v ? T.TRUE : T.FALSE);
  }

  binary(id: number, v: Uint8Array): void {
    this.header(id, T.BINARY);
    this.out.varint(v.length);
    this.out.append(v);
  }

  string(id: number, v: string): void {
    this.binary(id, utf8(v));
  }

  /** Opens a struct field; close it with `end()`. */
  struct(id: number): void {
    this.header(id, T.STRUCT);
    this.begin();
  }

  /** Opens a struct that is a list element (no field header); close it with `end()`. */
  begin(): void {
    this.stack.push(this.last);
    this.last = 0;
  }

  end(): void {
    this.out.byte(0);
    this.last = this.stack.pop() ?? 0;
  }

  /** A list field header; the caller writes `size` elements of `elem` type next. */
  list(id: number, elem: number, size: number): void {
    this.header(id, T.LIST);
    if (size < 15) this.out.byte((size << 4) | elem);
    else {
      this.out.byte(0xf0 | elem);
      this.out.varint(size);
    }
  }

  /** A list element of type I32 (enums are I32 in Parquet's thrift). */
  elemI32(v: number): void {
    this.zigzag(v);
  }

  elemString(v: string): void {
    const bytes = utf8(v);
    this.out.varint(bytes.length);
    this.out.append(bytes);
  }
}
