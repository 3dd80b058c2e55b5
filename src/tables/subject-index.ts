/**
 * The client of the privacy subject index (the `SubjectIndex` Durable Objects, src/durable/subject-index.ts):
 * which shard holds a subject, and the calls every writer (consumer, bulk apply, backfills, dead
 * letters) and reader (erasure, data requests, `shop/redact`) makes. A writer indexes an object
 * before it commits the event's D1 rows, and after the object is in R2: an event is never applied
 * with its object unindexed, and a retry indexes again at no cost (an entry already there writes
 * nothing).
 */
import { sharedDatabase } from "./database";
import type { IndexedSubject } from "./subjects";

/** [kind, id, shop, r2Key, redacted]: redacted 0 to do, 1 done (or written redacted), 2 set aside. */
export type IndexRow = [kind: string, id: string, shop: string, r2Key: string, redacted: number];

/** [kind, id, shop]: shop '*' matches every shop. */
export type SubjectKey = [kind: string, id: string, shop: string];

/** One entry: [kind, id, shop, r2Key] (what `add` reports late, what `shop/redact` walks). */
export type EntryKey = [kind: string, id: string, shop: string, r2Key: string];

/**
 * Shards of the index. Fixed: a subject's shard is a function of it, so changing this needs every
 * row moved. An entry takes about 235 bytes (docs/performance.md), so three years of 1,000,000 events
 * a day, two subjects each (2.2 billion entries), are about 2.0 GB a shard, a fifth of a Durable
 * Object's 10 GB.
 */
export const SUBJECT_INDEX_SHARDS = 256;

export function shardName(n: number): string {
  return `subjects-${n.toString(16).padStart(2, "0")}`;
}

/** The shard of a subject: FNV-1a of kind and id (not shop, so an erasure across shops asks one shard). */
export function subjectShard(kind: string, id: string): string {
  let h = 0x811c9dc5;
  const s = `${kind}\u0000${id}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return shardName((h >>> 0) % SUBJECT_INDEX_SHARDS);
}

/** One stored object's subjects. */
export interface IndexEntry {
  r2Key: string;
  subjects: readonly IndexedSubject[];
  /** The object was written without their PII already. */
  redacted: boolean;
}

export type IndexEnv = Pick<Env, "SUBJECT_INDEX" | "DB" | "SHOP_DATABASES">;

function shard(env: IndexEnv, name: string) {
  return env.SUBJECT_INDEX.getByName(name);
}

function groupByShard<T>(items: Iterable<T>, subjectOf: (x: T) => { kind: string; id: string }): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of items) {
    const s = subjectOf(x);
    const name = subjectShard(s.kind, s.id);
    const list = out.get(name);
    if (list) list.push(x);
    else out.set(name, [x]);
  }
  return out;
}

const keyOf = (s: IndexedSubject): SubjectKey => [s.kind, s.id, s.shop];

/** Late rows as one JSON parameter: a row is about 1 KB at most, so 1,000 stay under D1's 2 MB per value. */
const LATE_ROWS_PER_STATEMENT = 1000;

const LATE_INSERT = `INSERT INTO privacy_late_objects (r2_key, subject_kind, subject_id, shop, found_at)
  SELECT json_extract(value, '$[3]'), json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ?2
  FROM json_each(?1) WHERE 1 ON CONFLICT DO NOTHING`;

/**
 * Enters the objects' subjects in their shards (one call per shard touched, in parallel), and
 * records what a shard reports as indexed unredacted after its subject's erasure for the sweep.
 * Throws if a shard cannot be reached: the caller retries before it commits anything else.
 */
export async function indexObjects(env: IndexEnv, entries: readonly IndexEntry[], now: string): Promise<number> {
  const rows: IndexRow[] = [];
  for (const e of entries) {
    for (const s of e.subjects) rows.push([s.kind, s.id, s.shop, e.r2Key, e.redacted ? 1 : 0]);
  }
  return addIndexRows(env, rows, now);
}

/** `indexObjects` for rows as the index holds them (the move out of D1 keeps each row's state). */
export async function addIndexRows(env: IndexEnv, rows: readonly IndexRow[], now: string): Promise<number> {
  if (rows.length === 0) return 0;
  const groups = groupByShard(rows, (r) => ({ kind: r[0], id: r[1] }));
  const late = (await Promise.all([...groups].map(([name, list]) => shard(env, name).add(list, now)))).flat();
  if (late.length > 0) {
    const db = sharedDatabase(env);
    const statements: D1PreparedStatement[] = [];
    for (let i = 0; i < late.length; i += LATE_ROWS_PER_STATEMENT) {
      statements.push(db.prepare(LATE_INSERT).bind(JSON.stringify(late.slice(i, i + LATE_ROWS_PER_STATEMENT)), now));
    }
    await db.batch(statements);
  }
  return groups.size;
}

/** Records the subjects as erased in their shards (what is indexed for them unredacted later is late). */
export async function eraseInIndex(env: IndexEnv, subjects: readonly IndexedSubject[], at: string): Promise<void> {
  const groups = groupByShard(subjects, (s) => s);
  await Promise.all([...groups].map(([name, list]) => shard(env, name).erase(list.map(keyOf), at)));
}

/**
 * Up to `limit` distinct objects of the subjects in `state` (null: any), shard by shard: the objects
 * of one person sit in as many shards as they have subjects, a handful.
 */
export async function indexedKeys(
  env: IndexEnv,
  subjects: readonly IndexedSubject[],
  state: number | null,
  limit: number,
): Promise<string[]> {
  const found = new Set<string>();
  for (const [name, list] of groupByShard(subjects, (s) => s)) {
    if (found.size >= limit) break;
    for (const k of await shard(env, name).keys(list.map(keyOf), state, limit - found.size)) found.add(k);
  }
  return [...found];
}

/**
 * Every distinct object of the subjects in `state` (null: any), up to `max`: a data request's list,
 * and what a request counts when it starts. Paged per shard, so no call returns too much; an object
 * two subjects name is counted once.
 */
export async function allIndexedKeys(
  env: IndexEnv,
  subjects: readonly IndexedSubject[],
  state: number | null,
  max: number,
): Promise<string[]> {
  const found = new Set<string>();
  for (const [name, list] of groupByShard(subjects, (s) => s)) {
    let after = "";
    while (found.size < max) {
      const page = await shard(env, name).keys(list.map(keyOf), state, 1000, after);
      for (const k of page) if (found.size < max) found.add(k);
      if (page.length < 1000) break;
      after = page[page.length - 1] as string;
    }
  }
  return [...found].sort();
}

/** Sets `state` on the subjects' entries of `keys`. */
export async function markIndexed(
  env: IndexEnv,
  subjects: readonly IndexedSubject[],
  keys: readonly string[],
  state: number,
): Promise<void> {
  if (keys.length === 0) return;
  const groups = groupByShard(subjects, (s) => s);
  await Promise.all([...groups].map(([name, list]) => shard(env, name).mark(list.map(keyOf), [...keys], state)));
}

/** Where a walk over every shard for one shop stands: the shard it asks next, and the entry it stopped after. */
export interface ShardCursor {
  shard: number;
  after: EntryKey | null;
}

/** Entries one walk call reads: rows read, not written, and a call's CPU stays in milliseconds. */
const WALK_ENTRIES = 20_000;
/** Walk calls per `shopIndexedEntries`: a shard of other shops' entries is crossed over many. */
const WALK_CALLS = 25;

/**
 * The next of a shop's entries, walking the shards from the cursor (which it moves): null once every
 * shard is walked; no entries when this many calls found none (the caller comes back).
 */
export async function shopIndexedEntries(
  env: IndexEnv,
  shop: string,
  cursor: ShardCursor,
  walk = { entries: WALK_ENTRIES, calls: WALK_CALLS },
): Promise<EntryKey[] | null> {
  for (let call = 0; call < walk.calls; call++) {
    if (cursor.shard >= SUBJECT_INDEX_SHARDS) return null;
    // What RPC returns types tuples as arrays; the object returns EntryKey tuples.
    const out = (await shard(env, shardName(cursor.shard)).shopScan(shop, cursor.after, walk.entries)) as unknown as {
      found: EntryKey[];
      last: EntryKey | null;
    };
    if (out.last === null) {
      cursor.shard++;
      cursor.after = null;
    } else {
      cursor.after = out.last;
    }
    if (out.found.length > 0) return out.found;
  }
  return [];
}

/** Forgets entries (their objects were deleted), one call per shard. */
export async function forgetEntries(env: IndexEnv, entries: readonly EntryKey[]): Promise<void> {
  const groups = groupByShard(entries, (e) => ({ kind: e[0], id: e[1] }));
  await Promise.all([...groups].map(([name, list]) => shard(env, name).remove(list)));
}
