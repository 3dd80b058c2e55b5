/**
 * JSON that keeps every number token exactly as the source wrote it, for re-emitting
 * one object out of an upstream list response as an event body. `JSON.parse` would
 * round an 18-digit id to a double and `parseLossless` turns numbers into strings; here
 * a number becomes a `RawNumber` holding its source text and is written back unquoted.
 * Trade-off: whitespace and key order of the source are not kept (the object is
 * re-serialized), only its values, which is what the mappers and the archive read.
 */

export class RawNumber {
  constructor(readonly text: string) {}
}

export type RawJson = string | boolean | null | RawNumber | RawJson[] | { [key: string]: RawJson };

type SourceContext = { source?: string };

export function parseRaw(text: string): RawJson {
  return JSON.parse(text, function keepNumber(this: unknown, _key: string, value: unknown, context?: SourceContext) {
    if (typeof value === "number") {
      if (typeof context?.source !== "string") throw new Error("JSON source text access is not available");
      return new RawNumber(context.source);
    }
    return value;
  }) as RawJson;
}

export function stringifyRaw(value: RawJson): string {
  if (value instanceof RawNumber) return value.text;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stringifyRaw).join(",")}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value)) parts.push(`${JSON.stringify(k)}:${stringifyRaw(v)}`);
  return `{${parts.join(",")}}`;
}

/** The value with numbers as their source text (the `parseLossless` view), for zod validation. */
export function losslessView(value: RawJson): unknown {
  if (value instanceof RawNumber) return value.text;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(losslessView);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = losslessView(v);
  return out;
}

/** The array at `key` of a parsed object (an upstream list's items), or null. */
export function rawArray(value: RawJson, key: string): RawJson[] | null {
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof RawNumber) return null;
  const items = value[key];
  return Array.isArray(items) ? items : null;
}
