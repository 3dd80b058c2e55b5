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
 * The mapper, the identity linker and the alert rules all read the same payload in turn; the
 * last document is kept so it is parsed once. Callers must treat the result as read-only.
 */
let last: { text: string; doc: LosslessJson } | null = null;

export function parseLossless(text: string): LosslessJson {
  if (last !== null && last.text === text) return last.doc;
  const doc = parse(text);
  last = { text, doc };
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
