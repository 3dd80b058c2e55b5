/**
 * Parquet's RLE / bit-packed hybrid encoding, for definition levels (width 1) and dictionary
 * indices. Pure. Trade-off: a run of 8 or more equal values becomes an RLE run and anything else
 * goes into bit-packed groups of 8 starting wherever the scan stands, so a run that begins inside
 * a group is partly packed; optimal splitting would save a few bytes per page and cost a second pass.
 */
import type { ByteBuffer } from "./bytes";

/** Bits needed for values 0..max (at least 1: some readers mishandle width 0). */
export function bitWidth(max: number): number {
  let w = 1;
  while (max >= 2 ** w) w++;
  return w;
}

/** Appends dictionary indices `values[0..count)` (each < 2^width, width ≤ 24) to `out`. */
export function writeHybrid(out: ByteBuffer, values: Int32Array, count: number, width: number): void {
  let i = 0;
  let packStart = 0;
  let groups = 0;
  while (i < count) {
    const v = values[i] ?? 0;
    let j = i + 1;
    while (j < count && values[j] === v) j++;
    if (j - i >= 8) {
      if (groups > 0) writePacked(out, values, count, width, packStart, groups);
      groups = 0;
      writeRun(out, v, j - i, width);
      i = j;
    } else {
      if (groups === 0) packStart = i;
      groups++;
      i += 8;
    }
  }
  if (groups > 0) writePacked(out, values, count, width, packStart, groups);
}

/** One RLE run: header `count << 1`, then the value in ceil(width / 8) little-endian bytes. */
export function writeRun(out: ByteBuffer, value: number, count: number, width: number): void {
  out.varint(count * 2);
  for (let b = 0; b < width; b += 8) out.byte((value >>> b) & 0xff);
}

function writePacked(
  out: ByteBuffer,
  values: Int32Array,
  count: number,
  width: number,
  start: number,
  groups: number,
): void {
  out.varint(groups * 2 + 1);
  out.reserve(groups * width);
  const bytes = out.bytes;
  let p = out.length;
  let acc = 0;
  let bits = 0;
  const end = start + groups * 8;
  // Values past `count` pad the last group with zeros; readers stop at the page's value count.
  for (let k = start; k < end; k++) {
    const v = k < count ? (values[k] ?? 0) : 0;
    acc |= v << bits;
    bits += width;
    while (bits >= 8) {
      bytes[p++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  out.length = p;
}

/**
 * Definition levels `levels[from..to)` (0 or 1) at width 1: the same runs and groups as
 * `writeHybrid`, with a group packed into its byte in one expression.
 */
export function writeLevelBits(out: ByteBuffer, levels: Uint8Array, from: number, to: number): void {
  let i = from;
  let packStart = from;
  let groups = 0;
  while (i < to) {
    const v = levels[i] as number;
    let j = i + 1;
    while (j < to && levels[j] === v) j++;
    if (j - i >= 8) {
      if (groups > 0) packBits(out, levels, to, packStart, groups);
      groups = 0;
      writeRun(out, v, j - i, 1);
      i = j;
    } else {
      if (groups === 0) packStart = i;
      groups++;
      i += 8;
    }
  }
  if (groups > 0) packBits(out, levels, to, packStart, groups);
}

function packBits(out: ByteBuffer, levels: Uint8Array, to: number, start: number, groups: number): void {
  out.varint(groups * 2 + 1);
  out.reserve(groups);
  const bytes = out.bytes;
  let p = out.length;
  let k = start;
  // Whole groups in one expression; the last may run past `to`, padded with zeros.
  for (let g = 0; g < groups && k + 8 <= to; g++, k += 8) {
    bytes[p++] =
      (levels[k] as number) |
      ((levels[k + 1] as number) << 1) |
      ((levels[k + 2] as number) << 2) |
      ((levels[k + 3] as number) << 3) |
      ((levels[k + 4] as number) << 4) |
      ((levels[k + 5] as number) << 5) |
      ((levels[k + 6] as number) << 6) |
      ((levels[k + 7] as number) << 7);
  }
  if (p - out.length < groups) {
    let byte = 0;
    for (let b = 0; k + b < to; b++) byte |= (levels[k + b] as number) << b;
    bytes[p++] = byte;
  }
  out.length = p;
}
