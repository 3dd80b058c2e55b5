/**
 * Field readers that accept exactly what the webhook mappers' zod field schemas accept
 * (src/mapping/shopify.ts: `id`, `str`, `bool`, `ts`, `decimal`, `int`, `currency`) and give the
 * same output, without zod's per-field machinery. They throw `REJECT` for anything else: the
 * order readers built on them (./order-reader.ts, src/durable/bulk/fast-order.ts) then return
 * null and the caller asks the schema, which answers the same or gives its own error.
 */
import { toUtcIso } from "../shared/time";

export type Obj = Record<string, unknown>;

/** Thrown inside a reader when a value is outside what the schema accepts: the caller falls back. */
export const REJECT = Symbol("reject");

export function reject(): never {
  throw REJECT;
}

/** Runs a reader; null when it rejected. */
export function orNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch (err) {
    if (err === REJECT) return null;
    throw err;
  }
}

/** A plain object (what `z.object` accepts), else null. */
export function obj(v: unknown): Obj | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : null;
}

const DIGITS = /^\d{1,32}$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT = /^-?\d+$/;
const CURRENCY = /^[A-Za-z]{3}$/;
const GID_HEAD = "gid://shopify/";

/** A Shopify id: digits, or a gid's number. */
export function id(v: unknown): string {
  if (typeof v !== "string") throw REJECT;
  if (DIGITS.test(v)) return v;
  return gidNumber(v) ?? reject();
}

export function idOrNull(v: unknown): string | null | undefined {
  return v === null || v === undefined ? v : id(v);
}

/** `^gid://shopify/\w+/(\d+)$`'s number, read without a match array (a payload has many ids). */
function gidNumber(v: string): string | null {
  if (!v.startsWith(GID_HEAD)) return null;
  const cut = v.lastIndexOf("/");
  if (cut <= GID_HEAD.length || cut === v.length - 1) return null;
  for (let i = GID_HEAD.length; i < cut; i++) if (!isWordChar(v.charCodeAt(i))) return null;
  for (let i = cut + 1; i < v.length; i++) if (!isDigit(v.charCodeAt(i))) return null;
  return v.slice(cut + 1);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** RegExp `\w`: ASCII letters, digits and `_`. */
function isWordChar(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

export function str(v: unknown): string | null | undefined {
  if (typeof v === "string" || v === null || v === undefined) return v;
  throw REJECT;
}

export function bool(v: unknown): boolean | null | undefined {
  if (typeof v === "boolean" || v === null || v === undefined) return v;
  throw REJECT;
}

/** A timestamp with a zone, as UTC ISO; null and undefined pass. */
export function ts(v: unknown): string | null | undefined {
  if (v === null || v === undefined) return v;
  if (typeof v !== "string") throw REJECT;
  return toUtcIso(v) ?? reject();
}

/** Decimal text; null and undefined pass. */
export function decimal(v: unknown): string | null | undefined {
  if (v === null || v === undefined) return v;
  if (typeof v !== "string" || !DECIMAL.test(v)) throw REJECT;
  return v;
}

/** The schema's `int`: integer text that is a safe integer (`Number` of it, so "-0" is -0). */
export function intText(v: unknown): number {
  if (typeof v !== "string" || !INT.test(v)) throw REJECT;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw REJECT;
  return n;
}

export function currency(v: unknown): string {
  if (typeof v !== "string" || !CURRENCY.test(v)) throw REJECT;
  return v.toUpperCase();
}

export function currencyOrNull(v: unknown): string | null | undefined {
  return v === null || v === undefined ? v : currency(v);
}

/** An array of strings; null and undefined pass. */
export function strings(v: unknown): string[] | null | undefined {
  if (v === null || v === undefined) return v;
  if (!Array.isArray(v)) throw REJECT;
  for (const s of v) if (typeof s !== "string") throw REJECT;
  return v as string[];
}

/** REST's "a, b" or GraphQL's array of tags; null and undefined pass. */
export function tags(v: unknown): string | string[] | null | undefined {
  return typeof v === "string" ? v : strings(v);
}
