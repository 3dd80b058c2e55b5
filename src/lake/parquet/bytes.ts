/**
 * A growable byte buffer for page bodies, footers and row-group output, with the writes the
 * Parquet encodings need (little-endian ints, varints, UTF-8 with a length prefix). Pure.
 * Trade-off: short strings are encoded by a loop here rather than TextEncoder.encodeInto, which
 * costs a native call and a subarray view per value; long ones go to encodeInto, where the loop
 * would lose. The buffer is reused across row groups, so it holds the largest page written so far.
 */

const encoder = new TextEncoder();

/** Below this many UTF-16 units the JS loop beats encodeInto's per-call cost (measured in node 22). */
const LOOP_MAX = 48;

export class ByteBuffer {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 1 << 16) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  clear(): void {
    this.length = 0;
  }

  /** The written bytes as a view: valid until the next write or clear. */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  byte(b: number): void {
    this.reserve(1);
    this.bytes[this.length++] = b;
  }

  append(src: Uint8Array): void {
    this.reserve(src.length);
    this.bytes.set(src, this.length);
    this.length += src.length;
  }

  int32(v: number): void {
    this.reserve(4);
    const b = this.bytes;
    const p = this.length;
    b[p] = v;
    b[p + 1] = v >>> 8;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 24;
    this.length = p + 4;
  }

  /** Unsigned LEB128 of a non-negative integer up to 2^53. */
  varint(v: number): void {
    this.reserve(8);
    while (v > 0x7f) {
      this.bytes[this.length++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.bytes[this.length++] = v;
  }

  /** A Parquet PLAIN BYTE_ARRAY: 4-byte little-endian length, then the UTF-8 bytes. Returns the byte length. */
  lengthPrefixedUtf8(s: string): number {
    const n = s.length;
    // 3 bytes per UTF-16 unit is UTF-8's worst case (a surrogate pair is 2 units for 4 bytes).
    this.reserve(4 + n * 3);
    const start = this.length + 4;
    const written = encodeUtf8(s, this.bytes, start);
    const b = this.bytes;
    const p = this.length;
    b[p] = written;
    b[p + 1] = written >>> 8;
    b[p + 2] = written >>> 16;
    b[p + 3] = written >>> 24;
    this.length = start + written;
    return written;
  }
}

function encodeLong(s: string, out: Uint8Array, at: number): number {
  return encoder.encodeInto(s, out.subarray(at)).written;
}

/** Writes `s` as UTF-8 at `at` (room for 3 bytes a unit is the caller's); returns the byte count. */
export function encodeUtf8(s: string, out: Uint8Array, at: number): number {
  return s.length <= LOOP_MAX ? utf8Into(s, out, at) : encodeLong(s, out, at);
}

/**
 * Writes `s` as UTF-8 at `at` (room for 3 bytes a unit is the caller's) and returns the byte
 * count. A lone surrogate becomes U+FFFD, as TextEncoder does.
 */
export function utf8Into(s: string, out: Uint8Array, at: number): number {
  let p = at;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[p++] = c;
    } else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c < 0xdc00 && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[p++] = 0xf0 | (c >> 18);
        out[p++] = 0x80 | ((c >> 12) & 0x3f);
        out[p++] = 0x80 | ((c >> 6) & 0x3f);
        out[p++] = 0x80 | (c & 0x3f);
      } else {
        out[p++] = 0xef;
        out[p++] = 0xbf;
        out[p++] = 0xbd;
      }
    }
  }
  return p - at;
}

/** UTF-8 bytes of a string, for statistics and footers (not a hot path). */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}
