/**
 * String order and truncated bounds. Parquet statistics and Iceberg bounds order strings by their
 * UTF-8 bytes, which is code point order; JavaScript's `<` compares UTF-16 units, which differs
 * only where both strings hold a unit ≥ U+D800 at the first difference (a surrogate against
 * U+E000–U+FFFF). Pure. Trade-off: truncation counts code points, as Iceberg's `truncate(16)`
 * does, so a bound can take up to 4 bytes a code point.
 */

/** True when `a` sorts before `b` by UTF-8 bytes. */
export function utf8Less(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? shift(x) < shift(y) : x < y;
  }
  return a.length < b.length;
}

/** Surrogates (the 4-byte code points) move above U+E000–U+FFFF, where UTF-8 puts them. */
const shift = (unit: number) => (unit >= 0xe000 ? unit - 0x800 : unit + 0x2000);

/** The first `max` code points of `s`: never above `s`, so a valid lower bound. */
export function lowerBound(s: string, max: number): string {
  if (s.length <= max) return s;
  return Array.from(s).slice(0, max).join("");
}

/**
 * A string of at most `max` code points that sorts at or above `s`: `s` itself when short enough,
 * else its prefix with the last code point that can be raised raised by one. Null when every code
 * point of the prefix is U+10FFFF (no such bound exists).
 */
export function upperBound(s: string, max: number): string | null {
  if (s.length <= max) return s;
  const points = Array.from(s);
  if (points.length <= max) return s;
  const prefix = points.slice(0, max).map((p) => p.codePointAt(0) ?? 0);
  for (let i = prefix.length - 1; i >= 0; i--) {
    const next = nextCodePoint(prefix[i] ?? 0);
    if (next !== null) return String.fromCodePoint(...prefix.slice(0, i), next);
  }
  return null;
}

function nextCodePoint(cp: number): number | null {
  if (cp >= 0x10ffff) return null;
  // Surrogate code points are not characters: step over them.
  return cp + 1 === 0xd800 ? 0xe000 : cp + 1;
}
