/**
 * Lossless JSON reading for mappers. Every JSON number is returned as its exact
 * source text (a string), via the reviver's `context.source` (JSON.parse source
 * text access, native in V8): 18-digit Shopify ids never pass through a double,
 * and decimal money like `89.99` converts to minor units without float error.
 * Mappers therefore see ids and amounts as strings, whatever the source wrote.
 * The reviver costs a call per value; valid JSON takes a faster road to the same document: its
 * number tokens are quoted by a scanner and the text parsed without a reviver (`quoteNumbers`).
 */
export type LosslessJson = string | boolean | null | LosslessJson[] | { [key: string]: LosslessJson };

type SourceContext = { source?: string };

/**
 * The consumer's JSON check, the mapper, the identity linker and the alert rules all read the
 * same payload in turn, with other messages interleaved at each await: the last few documents
 * are kept (bounded by count and text size) so each payload is parsed once. Callers must treat
 * the result as read-only.
 */
const recent = new Map<number, { text: string; doc: LosslessJson }>();
/**
 * Above a queue batch (at most 100 messages): the consumer reads every body of a batch for its
 * erased-subject check before it prepares the first, so fewer would parse each body twice.
 */
const RECENT_MAX = 128;
const RECENT_MAX_CHARS = 2_000_000;
let recentChars = 0;

/**
 * What the kept documents are found by: a number from the length, both ends and characters spread
 * over the text. A Map keyed by the text itself hashes all of it (about 7 µs for a 5 KB order); a
 * hit is confirmed with `===`, so two texts that share a fingerprint only cost a parse.
 */
function fingerprint(text: string): number {
  const n = text.length;
  let h = n;
  const ends = Math.min(n, 32);
  for (let i = 0; i < ends; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  for (let i = n - ends; i < n; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  const step = Math.max(1, Math.floor(n / 64));
  for (let i = 0; i < n; i += step) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return h;
}

export function parseLossless(text: string): LosslessJson {
  const key = fingerprint(text);
  const hit = recent.get(key);
  if (hit !== undefined && hit.text === text) return hit.doc;
  const doc = parse(text);
  if (text.length <= RECENT_MAX_CHARS) {
    // Another text with the same fingerprint gives its place up.
    if (hit !== undefined) recentChars -= hit.text.length;
    recent.delete(key);
    recent.set(key, { text, doc });
    recentChars += text.length;
    for (const [k, kept] of recent) {
      if (recent.size <= RECENT_MAX && recentChars <= RECENT_MAX_CHARS) break;
      recent.delete(k);
      recentChars -= kept.text.length;
    }
  }
  return doc;
}

function parse(text: string): LosslessJson {
  const quoted = quoteNumbers(text);
  if (quoted !== null) {
    try {
      return JSON.parse(quoted) as LosslessJson;
    } catch {
      // Invalid JSON: the reviver parse below throws the error the source text deserves.
    }
  }
  return JSON.parse(text, function reviveNumber(this: unknown, _key: string, value: unknown, context?: SourceContext) {
    if (typeof value === "number") {
      if (typeof context?.source !== "string") throw new Error("JSON source text access is not available");
      return context.source;
    }
    return value;
  }) as LosslessJson;
}

/** A JSON number token (RFC 8259) at the scanner's position. */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
/** What may follow a number: JSON whitespace, `,`, `]`, `}`. */
const ENDS_NUMBER = new Set([0x20, 0x09, 0x0a, 0x0d, 0x2c, 0x5d, 0x7d]);

/**
 * The text with every number token outside strings wrapped in quotes, so that a plain JSON.parse
 * (several times faster than one with a reviver) returns each number as its source text. Null when
 * a token is not a whole JSON number (the text is invalid JSON): the reviver parse then decides, so
 * this never turns invalid JSON into valid. Outside strings a digit or `-` can only start a number.
 */
export function quoteNumbers(text: string): string | null {
  let out = "";
  let from = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: jump to its closing quote, the first one after an even run of backslashes
      // (indexOf runs natively; stepping over each character was most of this scan's time).
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q === -1) {
          i = n;
          break;
        }
        let b = q - 1;
        while (b > i && text.charCodeAt(b) === 0x5c) b--;
        i = q;
        if ((q - 1 - b) % 2 === 0) break;
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      const end = m ? i + m[0].length : i;
      const next = end < n ? text.charCodeAt(end) : 0x20;
      // A number ends at whitespace, `,`, `]`, `}` or the end of the text; anything else is invalid JSON.
      if (!m || !ENDS_NUMBER.has(next)) return null;
      out += `${text.slice(from, i)}"${m[0]}"`;
      from = end;
      i = end - 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}
