/**
 * Lossless JSON reading for mappers. Every JSON number is returned as its exact
 * source text (a string), via the reviver's `context.source` (JSON.parse source
 * text access, native in V8): 18-digit Shopify ids never pass through a double,
 * and decimal money like `89.99` converts to minor units without float error.
 * Mappers therefore see ids and amounts as strings, whatever the source wrote.
 */
export type LosslessJson = string | boolean | null | LosslessJson[] | { [key: string]: LosslessJson };

type SourceContext = { source?: string };

/**
 * The consumer's JSON check, the mapper, the identity linker and the alert rules all read the
 * same payload in turn, with other messages interleaved at each await: the last few documents
 * are kept (bounded by count and text size) so each payload is parsed once. Callers must treat
 * the result as read-only.
 */
const recent = new Map<string, LosslessJson>();
const RECENT_MAX = 8;
const RECENT_MAX_CHARS = 2_000_000;
let recentChars = 0;

export function parseLossless(text: string): LosslessJson {
  const hit = recent.get(text);
  if (hit !== undefined) return hit;
  const doc = parse(text);
  if (text.length <= RECENT_MAX_CHARS) {
    recent.set(text, doc);
    recentChars += text.length;
    for (const key of recent.keys()) {
      if (recent.size <= RECENT_MAX && recentChars <= RECENT_MAX_CHARS) break;
      recent.delete(key);
      recentChars -= key.length;
    }
  }
  return doc;
}

function parse(text: string): LosslessJson {
  return JSON.parse(text, function reviveNumber(this: unknown, _key: string, value: unknown, context?: SourceContext) {
    if (typeof value === "number") {
      if (typeof context?.source !== "string") throw new Error("JSON source text access is not available");
      return context.source;
    }
    return value;
  }) as LosslessJson;
}
