/**
 * The subjects of stored objects, and the erased-subject check. Every stored object (raw event,
 * bulk snapshot, quarantine, dead letter) gets one subject index entry per data subject it names
 * (src/tables/subject-index.ts, before the event's own D1 rows are written), so erasure finds a
 * person's objects by index and never scans the bucket. E-mails are stored as a keyed HMAC (PRIVACY_HASH_KEY),
 * never in plaintext: the index proves where a person is without being a copy of them.
 * Trade-off: rotating the key orphans the e-mail rows (customer-id rows still match).
 */

import { normalizeEmail } from "../mapping/common";
import { type SubjectKind, type SubjectRef, subjectsOf } from "../mapping/subjects";
import { hmacSha256, toHex, utf8 } from "../shared/crypto";
import type { Source } from "../shared/envelope";
import { type LosslessJson, parseLossless } from "../shared/json";

export class PrivacyKeyMissingError extends Error {
  override readonly name = "PrivacyKeyMissingError";
  constructor() {
    super("PRIVACY_HASH_KEY is not set: the subject index cannot be written (set it with `wrangler secret put`)");
  }
}

/** A subject as the index holds it: e-mails hashed, customers by id, Shopify ones per shop. */
export interface IndexedSubject {
  kind: SubjectKind;
  id: string;
  shop: string;
}

function hashKey(env: Pick<Env, "PRIVACY_HASH_KEY">): string {
  const key = env.PRIVACY_HASH_KEY?.trim() ?? "";
  if (key === "") throw new PrivacyKeyMissingError();
  return key;
}

/**
 * Recent e-mail hashes under the current key: a customer's address recurs across their orders, events
 * and bulk lines, and the keyed hash costs more than the rest of indexing them. Bounded; in memory only.
 */
const recentHashes = new Map<string, Promise<string>>();
let recentHashesKey = "";
const MAX_RECENT_HASHES = 10_000;

/** The keyed hash of a normalized e-mail: what the index and the tombstones keep instead of it. */
export function emailHash(env: Pick<Env, "PRIVACY_HASH_KEY">, email: string): Promise<string> {
  let key: string;
  try {
    key = hashKey(env);
  } catch (err) {
    return Promise.reject(err);
  }
  const normalized = normalizeEmail(email) ?? "";
  if (key !== recentHashesKey) {
    recentHashes.clear();
    recentHashesKey = key;
  }
  let hash = recentHashes.get(normalized);
  if (hash === undefined) {
    hash = hmacSha256(key, utf8(normalized)).then(toHex);
    if (recentHashes.size >= MAX_RECENT_HASHES) recentHashes.clear();
    recentHashes.set(normalized, hash);
    // A failed hash is not kept: the next call tries again.
    hash.catch(() => recentHashes.delete(normalized));
  }
  return hash;
}

/** `shop` of an index row: the Shopify domain, '' for Stripe and Recharge. */
export function subjectShop(source: Source, shop: string | null): string {
  return source === "shopify" ? (shop ?? "") : "";
}

export async function hashSubjects(
  env: Pick<Env, "PRIVACY_HASH_KEY">,
  source: Source,
  shop: string | null,
  refs: readonly SubjectRef[],
): Promise<IndexedSubject[]> {
  const s = subjectShop(source, shop);
  return Promise.all(
    refs.map(async (r) => ({ kind: r.kind, id: r.kind === "email" ? await emailHash(env, r.id) : r.id, shop: s })),
  );
}

/**
 * Whether any of `subjects` (or the shop itself) was erased, so what is stored about them
 * must be redacted first. One indexed read (`erasedRead`); none when there is nothing to look for.
 */
export async function isErased(
  db: D1Database,
  shop: string | null,
  subjects: readonly IndexedSubject[],
): Promise<boolean> {
  const read = erasedRead(db, shop === null ? [] : [shop], subjects);
  if (read.statement === null) return false;
  return erasedIn(read.view((await read.statement.all<ErasedRow>()).results), shop, subjects);
}

/**
 * The erased subjects as one batch of events sees them: which of the batch's own subjects (and
 * shops) were erased, read in one indexed query, however many were erased in all. `checked` holds
 * what the read covered; an event naming anything else (a claim-checked body, read later) asks D1
 * itself. `subjects` caches each inline payload's subjects (by `subjectCacheKey`), so they are
 * computed once.
 */
export interface ErasedView {
  checked: Set<string>;
  erased: Set<string>;
  subjects: Map<string, IndexedSubject[]>;
}

const pairKey = (kind: string, id: string) => `${kind}\u0000${id}`;

/** What a payload's subjects depend on: its source, shop, resource and text. */
export function subjectCacheKey(source: Source, shop: string | null, resource: string, payload: string): string {
  return `${source}\u0000${shop ?? ""}\u0000${resource}\u0000${payload}`;
}

export async function loadErasedFor(
  db: D1Database,
  shops: readonly string[],
  payloads: ReadonlyMap<string, IndexedSubject[]>,
): Promise<ErasedView> {
  const read = erasedRead(db, shops, [...payloads.values()].flat());
  const rows = read.statement === null ? [] : (await read.statement.all<ErasedRow>()).results;
  return { ...read.view(rows), subjects: new Map(payloads) };
}

interface ErasedRow {
  k: string;
  id: string;
  shop: string;
}

/**
 * One indexed read of which of `subjects` (and `shops`) were erased, as a statement to batch with
 * others, and the view its rows make (null statement: nothing to ask about).
 */
export function erasedRead(
  db: D1Database,
  shops: readonly string[],
  subjects: Iterable<IndexedSubject>,
): { statement: D1PreparedStatement | null; view: (rows: readonly ErasedRow[]) => ErasedView } {
  const pairs = new Map<string, [string, string]>();
  for (const s of subjects) pairs.set(pairKey(s.kind, s.id), [s.kind, s.id]);
  const shopList = [...new Set(shops)];
  const view = (rows: readonly ErasedRow[]): ErasedView => {
    const v: ErasedView = { checked: new Set(pairs.keys()), erased: new Set(), subjects: new Map() };
    for (const shop of shopList) v.checked.add(pairKey("shop", shop));
    for (const x of rows) v.erased.add(`${x.k}\u0000${x.id}\u0000${x.shop}`);
    return v;
  };
  if (pairs.size === 0 && shopList.length === 0) return { statement: null, view };
  const statement = db
    .prepare(
      `SELECT subject_kind AS k, subject_id AS id, shop FROM erased_subjects
       WHERE (subject_kind, subject_id) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))
          OR (subject_kind = 'shop' AND subject_id IN (SELECT value FROM json_each(?2)))`,
    )
    .bind(JSON.stringify([...pairs.values()]), JSON.stringify(shopList));
  return { statement, view };
}

/** `isErased`, answered from the batch's view when it covered every subject asked about. */
export async function isErasedIn(
  view: ErasedView | undefined,
  db: D1Database,
  shop: string | null,
  subjects: readonly IndexedSubject[],
): Promise<boolean> {
  const covered =
    view !== undefined &&
    (shop === null || view.checked.has(pairKey("shop", shop))) &&
    subjects.every((s) => view.checked.has(pairKey(s.kind, s.id)));
  return covered ? erasedIn(view, shop, subjects) : isErased(db, shop, subjects);
}

/**
 * A view of the erased subjects that covers `subjects`: `view` itself when it does (a queue batch's
 * read), else one indexed read of them; `subjectErased` then answers for each.
 */
export async function erasedViewFor(
  db: D1Database,
  subjects: readonly IndexedSubject[],
  view?: ErasedView,
): Promise<ErasedView> {
  if (view !== undefined && subjects.every((s) => view.checked.has(pairKey(s.kind, s.id)))) return view;
  const read = erasedRead(db, [], subjects);
  return read.view(read.statement === null ? [] : (await read.statement.all<ErasedRow>()).results);
}

/** Whether a subject was erased, in its shop or in every shop, by a view that covers it. */
export function subjectErased(view: ErasedView, subject: IndexedSubject): boolean {
  return erasedIn(view, null, [subject]);
}

/** The answer of a view that covers `shop` and `subjects`. */
function erasedIn(view: ErasedView, shop: string | null, subjects: readonly IndexedSubject[]): boolean {
  if (shop !== null && view.erased.has(`shop\u0000${shop}\u0000${shop}`)) return true;
  return subjects.some(
    (s) => view.erased.has(`${s.kind}\u0000${s.id}\u0000${s.shop}`) || view.erased.has(`${s.kind}\u0000${s.id}\u0000*`),
  );
}

const EMAILS_IN_TEXT = /[^\s@"<>\\,;:]+@[^\s@"<>\\,;:]+\.[a-z]{2,}/gi;

/** Subjects of a stored payload; for text that is not JSON (quarantine), the e-mail addresses in it. */
export async function subjectsOfText(
  env: Pick<Env, "PRIVACY_HASH_KEY">,
  source: Source,
  shop: string | null,
  resource: string,
  text: string,
): Promise<IndexedSubject[]> {
  let doc: LosslessJson;
  try {
    doc = parseLossless(text);
  } catch {
    const emails = [...new Set(text.match(EMAILS_IN_TEXT) ?? [])].slice(0, 50);
    return hashSubjects(
      env,
      source,
      shop,
      emails.map((id) => ({ kind: "email" as const, id })),
    );
  }
  return hashSubjects(env, source, shop, subjectsOf(source, resource, doc));
}
