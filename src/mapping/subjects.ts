/**
 * Which data subjects a stored document names: the customer ids it references per source and the
 * (normalized) e-mail addresses it holds. The subject index (src/tables/subject-index.ts) is built from
 * this when an event is stored, and the consumer checks it against erased subjects. Pure: the
 * keyed hashing of e-mails happens in src/tables/subjects.ts. Trade-off: any string under an
 * e-mail key counts, so an order names both its customer's and its contact e-mail.
 */
import type { Source } from "../shared/envelope";
import type { LosslessJson } from "../shared/json";
import { normalizeEmail } from "./common";
import { normalizeKey } from "./redact";

export type SubjectKind = "shopify_customer" | "stripe_customer" | "recharge_customer" | "email";

export interface SubjectRef {
  kind: SubjectKind;
  /** The customer id as the source wrote it, or the normalized e-mail address. */
  id: string;
}

const CUSTOMER_KIND: Record<Source, SubjectKind> = {
  shopify: "shopify_customer",
  stripe: "stripe_customer",
  recharge: "recharge_customer",
};

const SHOPIFY_CUSTOMER_GID = /^gid:\/\/shopify\/Customer\/(\d+)$/;

type Obj = { [key: string]: LosslessJson };
const isObj = (v: LosslessJson | undefined): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Subjects named by `doc`, a payload of `source` (`resource` is the raw key's resource). */
export function subjectsOf(source: Source, resource: string, doc: LosslessJson): SubjectRef[] {
  return collect(source, resource, doc, false) ?? [];
}

/**
 * `subjectsOf` on a plain `JSON.parse` tree, so a caller that parsed the text already need not
 * parse it again losslessly. Only strings name subjects, so the two readings differ only where a
 * number sits under a customer key (the lossless reader keeps it as text, an id): then null, and
 * the caller asks `subjectsOf` with the lossless document.
 */
export function subjectsOfParsed(source: Source, resource: string, doc: unknown): SubjectRef[] | null {
  return collect(source, resource, doc as LosslessJson, true);
}

function collect(source: Source, resource: string, doc: LosslessJson, plain: boolean): SubjectRef[] | null {
  const found = new Map<string, SubjectRef>();
  let needsText = false;
  const add = (kind: SubjectKind, id: string | null | undefined) => {
    if (typeof id !== "string" || id === "" || id.length > 255) return;
    const value = kind === "email" ? (normalizeEmail(id) ?? "") : id;
    if (kind === "email" && !value.includes("@")) return;
    found.set(`${kind}\u0000${value}`, { kind, id: value });
  };
  const customerKind = CUSTOMER_KIND[source];
  const idOf = (v: LosslessJson | undefined): string | null => {
    if (typeof v === "string") return SHOPIFY_CUSTOMER_GID.exec(v)?.[1] ?? v;
    if (isObj(v)) {
      if (typeof v.id === "string") return SHOPIFY_CUSTOMER_GID.exec(v.id)?.[1] ?? v.id;
      if (plain && typeof (v.id as unknown) === "number") needsText = true;
    }
    return null;
  };

  const walk = (v: LosslessJson, depth: number) => {
    if (depth > 64 || needsText) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    if (!isObj(v)) return;
    // A Stripe customer object, wherever it sits (an event's data.object, an expanded reference).
    if (source === "stripe" && v.object === "customer") add(customerKind, idOf(v));
    for (const key in v) {
      const value = v[key] as LosslessJson;
      const k = normalizeKey(key);
      if (typeof value === "string") {
        if (k === "email" || k.endsWith("_email") || k === "email_address") add("email", value);
        else if (k === "customer_id" || k === "customer") {
          if (source !== "stripe" || value.startsWith("cus_")) add(customerKind, idOf(value));
        } else if (k === "id" && source === "shopify") {
          const gid = SHOPIFY_CUSTOMER_GID.exec(value);
          if (gid) add(customerKind, gid[1]);
        }
        continue;
      }
      if (plain && typeof (value as unknown) === "number") {
        // As text this number would be a customer id (not for Stripe, whose ids are cus_…).
        if ((k === "customer_id" || k === "customer") && source !== "stripe") needsText = true;
        continue;
      }
      if (k === "customer" && isObj(value)) add(customerKind, idOf(value));
      walk(value, depth + 1);
    }
  };

  walk(doc, 0);
  // The customer objects themselves: a Shopify customers/* body, a Recharge {"customer": {...}}.
  if (isObj(doc)) {
    if (source === "shopify" && resource === "customers") add(customerKind, idOf(doc));
  }
  return needsText ? null : [...found.values()];
}
