/**
 * Lower and upper bounds for manifests, in the spec's binary single-value serialization
 * (Appendix D): little-endian numbers, UTF-8 strings without a length, one byte for a boolean,
 * and timestamptz as 8-byte microseconds since the epoch. The lake's times arrive as epoch
 * milliseconds, so boundBytes takes milliseconds and writes microseconds. Strings can be cut to a
 * prefix (as Iceberg's Java writer does, 16 code points) to keep manifests small: a shorter lower
 * bound still sorts first, an upper bound needs its last code point raised. Pure.
 */
import type { IcebergPrimitive } from "./types";

export type BoundValue = string | bigint | number | boolean;

const utf8 = new TextEncoder();
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function integer(type: IcebergPrimitive, value: BoundValue): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(`a ${type} bound must be an integer, got ${typeof value} ${String(value)}`);
}

function littleEndian(size: 4 | 8, value: bigint, type: IcebergPrimitive): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  if (size === 4) {
    if (value < -(2n ** 31n) || value >= 2n ** 31n)
      throw new RangeError(`${type} bound ${value} is not a 32-bit integer`);
    view.setInt32(0, Number(value), true);
  } else {
    if (value < LONG_MIN || value > LONG_MAX) throw new RangeError(`${type} bound ${value} is not a 64-bit integer`);
    view.setBigInt64(0, value, true);
  }
  return out;
}

/**
 * One value as the bytes of a `lower_bounds` / `upper_bounds` entry. `timestamptz` takes epoch
 * **milliseconds** (bigint or number) and stores microseconds; `date` takes days since the epoch;
 * `long` also takes a decimal string, so an id above 2^53 stays exact.
 */
export function boundBytes(type: IcebergPrimitive, value: BoundValue): Uint8Array {
  switch (type) {
    case "boolean":
      if (typeof value !== "boolean") throw new TypeError(`a boolean bound must be a boolean, got ${typeof value}`);
      return new Uint8Array([value ? 1 : 0]);
    case "int":
    case "date":
      return littleEndian(4, integer(type, value), type);
    case "long":
      return littleEndian(8, integer(type, value), type);
    case "timestamptz":
      return littleEndian(8, integer(type, value) * 1000n, type);
    case "double": {
      if (typeof value !== "number") throw new TypeError(`a double bound must be a number, got ${typeof value}`);
      // The spec forbids NaN as a bound: a file of only NaN has no bounds.
      if (Number.isNaN(value)) throw new RangeError("NaN is not a valid bound");
      const out = new Uint8Array(8);
      new DataView(out.buffer).setFloat64(0, value, true);
      return out;
    }
    case "string":
      if (typeof value !== "string") throw new TypeError(`a string bound must be a string, got ${typeof value}`);
      return utf8.encode(value);
  }
}

/**
 * Compares strings as Iceberg does (by UTF-8 bytes, which is code point order). JavaScript's `<`
 * compares UTF-16 units, which disagrees for characters above U+FFFF against U+E000–U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  for (;;) {
    const p = x.next();
    const q = y.next();
    if (p.done) return q.done ? 0 : -1;
    if (q.done) return 1;
    const d = (p.value.codePointAt(0) as number) - (q.value.codePointAt(0) as number);
    if (d !== 0) return d;
  }
}

/** A lower bound for a string column: its first `length` code points. */
export function truncateLower(value: string, length = 16): string {
  return Array.from(value).slice(0, length).join("");
}

/**
 * An upper bound for a string column: its first `length` code points with the last one raised
 * by one (skipping surrogates), or the value itself when it is no longer than `length`. Null when
 * no prefix can be raised (every code point is U+10FFFF): then the file has no upper bound.
 */
export function truncateUpper(value: string, length = 16): string | null {
  const points = Array.from(value);
  if (points.length <= length) return value;
  const prefix = points.slice(0, length);
  for (let i = prefix.length - 1; i >= 0; i--) {
    let next = (prefix[i]?.codePointAt(0) as number) + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
    if (next <= 0x10ffff) return prefix.slice(0, i).join("") + String.fromCodePoint(next);
  }
  return null;
}
