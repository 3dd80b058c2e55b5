/**
 * The client of the privacy subject index (the `SubjectIndex` Durable Objects, src/durable/subject-index.ts):
 * which shard holds an entry, and the calls every writer (consumer, bulk apply, backfills, dead
 * letters) and reader (erasure, data requests, `shop/redact`) makes.
 *
 * Shards come in generations, one a month (UTC): an entry goes to the shard of its subject in the
 * generation of the month it is indexed, `subjects-{YYYY-MM}-{nn}`. A queue batch so calls at most
 * SHARDS_PER_GENERATION objects, whatever it names, and each object holds one month of entries; a
 * reader asks the subject's shard of every generation since the first (`subject_index_moves`).
 *
 * A writer indexes an object before it commits the event's D1 rows, and after the object is in R2:
 * an event is never applied with its object unindexed, and a retry indexes again at no cost (an entry
 * already there writes nothing). Entries written unredacted for a subject already erased (a
 * claim-checked body, a bulk snapshot, a dead letter) are recorded in `privacy_late_objects`, from one
 * indexed read of `erased_subjects`, for the privacy sweep to rewrite.
 */
import { sharedDatabase } from "./database";
import { type ErasedView, erasedViewFor, type IndexedSubject, subjectErased } from "./subjects";

/** [kind, id, shop, r2Key, redacted]: redacted 0 to do, 1 done (or written redacted), 2 set aside. */
export type IndexRow = [kind: string, id: string, shop: string, r2Key: string, redacted: number];

/** [kind, id, shop]: shop '*' matches every shop. */
export type SubjectKey = [kind: string, id: string, shop: string];

/** One entry: [kind, id, shop, r2Key] (what `shop/redact` walks and forgets). */
export type EntryKey = [kind: string, id: string, shop: string, r2Key: string];

/**
 * Shards of one generation (a month). An entry takes about 235 bytes (docs/performance.md): a month of
 * 1,000,000 events a day, two subjects each, is about 14 GB, 0.9 GB a shard, a tenth of a Durable
 * Object's 10 GB. Fixed: a subject's shard is a function of it.
 */
export const SHARDS_PER_GENERATION = 16;

/** The generation an entry indexed at `at` (ISO time) goes to: its UTC month. */
export function generationOf(at: string): string {
  return at.slice(0, 7);
}

export function shardName(generation: string, n: number): string {
  return `subjects-${generation}-${n.toString(16).padStart(2, "0")}`;
}

/** The shard of a subject in a generation: FNV-1a of kind and id (not shop: an erasure across shops asks one). */
export function subjectShard(kind: string, id: string, generation: string): string {
  let h = 0x811c9dc5;
  const s = `${kind}\u0000${id}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return shardName(generation, (h >>> 0) % SHARDS_PER_GENERATION);
}

/** The months from `first` to `last` (YYYY-MM), in order. */
export function monthsBetween(first: string, last: string): string[] {
  const out: string[] = [];
  let [y, m] = first.split("-").map(Number) as [number, number];
  for (let guard = 0; guard < 1200; guard++) {
    const g = `${y}-${String(m).padStart(2, "0")}`;
    if (g > last) break;
    out.push(g);
    m++;
    if (m > 12) {
      m = 1;
      y++;
    }
  }
  return out;
}

/**
 * The first generation, read once per isolate: migration 0167 writes it and nothing changes it, so
 * an erasure's pages and a shop walk's chunks need not each read it again.
 */
let firstGeneration: string | undefined;

/** Every generation that may hold entries: from the first (when the index began) to this month. */
export async function generations(env: IndexEnv, now = new Date().toISOString()): Promise<string[]> {
  const current = generationOf(now);
  if (firstGeneration === undefined) {
    const r = await sharedDatabase(env)
      .prepare("SELECT first_generation AS g FROM subject_index_moves WHERE id = 1")
      .first<{ g: string }>();
    if (r === null) return [current];
    firstGeneration = r.g;
  }
  return monthsBetween(firstGeneration, current);
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

function groupBy<T>(items: Iterable<T>, nameOf: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of items) {
    const name = nameOf(x);
    const list = out.get(name);
    if (list) list.push(x);
    else out.set(name, [x]);
  }
  return out;
}

/** The subjects grouped by their shard in each generation. */
function shardsOf(subjects: readonly IndexedSubject[], gens: readonly string[]): Map<string, SubjectKey[]> {
  const out = new Map<string, SubjectKey[]>();
  for (const g of gens) {
    for (const [name, list] of groupBy(subjects, (s) => subjectShard(s.kind, s.id, g))) {
      out.set(
        name,
        list.map((s) => [s.kind, s.id, s.shop]),
      );
    }
  }
  return out;
}

/** Late rows as one JSON parameter: a row is about 1 KB at most, so 1,000 stay under D1's 2 MB per value. */
const LATE_ROWS_PER_STATEMENT = 1000;

const LATE_INSERT = `INSERT INTO privacy_late_objects (r2_key, subject_kind, subject_id, shop, found_at)
  SELECT json_extract(value, '$[3]'), json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ?2
  FROM json_each(?1) WHERE 1 ON CONFLICT DO NOTHING`;

/**
 * Enters the objects' subjects in their shards of this month's generation (one call per shard
 * touched, in parallel), and records the entries written unredacted for a subject already erased.
 * Throws if a shard cannot be reached: the caller retries before it commits anything else. Returns
 * the shards it called.
 */
export async function indexObjects(
  env: IndexEnv,
  entries: readonly IndexEntry[],
  now: string,
  erased?: ErasedView,
): Promise<number> {
  const rows: IndexRow[] = [];
  for (const e of entries) {
    for (const s of e.subjects) rows.push([s.kind, s.id, s.shop, e.r2Key, e.redacted ? 1 : 0]);
  }
  return addIndexRows(env, rows, now, erased);
}

/**
 * `indexObjects` for rows as the index holds them (the move out of D1 keeps each row's state).
 * `erased`: what the caller read of `erased_subjects` for these subjects already (a queue batch's
 * view), so it is not read again.
 */
export async function addIndexRows(
  env: IndexEnv,
  rows: readonly IndexRow[],
  now: string,
  erased?: ErasedView,
): Promise<number> {
  if (rows.length === 0) return 0;
  const generation = generationOf(now);
  const groups = groupBy(rows, (r) => subjectShard(r[0], r[1], generation));
  await Promise.all([...groups].map(([name, list]) => shard(env, name).add(list, now)));
  await recordLate(env, rows, now, erased);
  return groups.size;
}

/** Records the unredacted rows whose subject was erased (in its shop, or in every shop) before them. */
async function recordLate(env: IndexEnv, rows: readonly IndexRow[], now: string, view?: ErasedView): Promise<void> {
  const open = rows.filter((r) => r[4] === 0);
  if (open.length === 0) return;
  const db = sharedDatabase(env);
  const subjectOf = ([kind, id, shop]: IndexRow) => ({ kind, id, shop }) as IndexedSubject;
  const erased = await erasedViewFor(db, open.map(subjectOf), view);
  const late = open
    .filter((r) => subjectErased(erased, subjectOf(r)))
    .map(([kind, id, shop, key]) => [kind, id, shop, key]);
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < late.length; i += LATE_ROWS_PER_STATEMENT) {
    statements.push(db.prepare(LATE_INSERT).bind(JSON.stringify(late.slice(i, i + LATE_ROWS_PER_STATEMENT)), now));
  }
  if (statements.length > 0) await db.batch(statements);
}

/**
 * Up to `max` distinct objects of the subjects in `state` (null: any), in key order: a page of an
 * erasure's work, a data request's list, what a request counts when it starts. Shard by shard over
 * every generation (one person's objects sit in a shard per subject and month), paged so no call
 * returns more than 1,000; an object two subjects name is counted once.
 */
export async function indexedKeys(
  env: IndexEnv,
  subjects: readonly IndexedSubject[],
  state: number | null,
  max: number,
): Promise<string[]> {
  const found = new Set<string>();
  for (const [name, keys] of shardsOf(subjects, await generations(env))) {
    let after = "";
    while (found.size < max) {
      const want = Math.min(1000, max - found.size);
      const page = await shard(env, name).keys(keys, state, want, after);
      for (const k of page) found.add(k);
      if (page.length < want) break;
      after = page[page.length - 1] as string;
    }
  }
  return [...found].sort();
}

/** Sets `state` on the subjects' entries of `keys`, in every generation (one call per shard). */
export async function markIndexed(
  env: IndexEnv,
  subjects: readonly IndexedSubject[],
  keys: readonly string[],
  state: number,
): Promise<void> {
  if (keys.length === 0) return;
  const shards = shardsOf(subjects, await generations(env));
  await Promise.all([...shards].map(([name, list]) => shard(env, name).mark(list, [...keys], state)));
}

/**
 * Where a walk over every shard for one shop stands: the shard it asks next (its place in the
 * generations' shards, in order: later months only add to the end), and the entry it stopped after.
 */
export interface ShardCursor {
  shard: number;
  after: EntryKey | null;
}

/** Entries one walk call reads: rows read, not written, and a call's CPU stays in milliseconds. */
const WALK_ENTRIES = 20_000;
/** Walk calls per `shopIndexedEntries`: a shard of other shops' entries is crossed over many. */
const WALK_CALLS = 25;

/**
 * The next of a shop's entries and the shard that holds them, walking the shards from the cursor
 * (which it moves): null once every shard is walked; no entries when this many calls found none (the
 * caller comes back).
 */
export async function shopIndexedEntries(
  env: IndexEnv,
  shop: string,
  cursor: ShardCursor,
  walk = { entries: WALK_ENTRIES, calls: WALK_CALLS },
): Promise<{ shard: string; entries: EntryKey[] } | null> {
  const names = (await generations(env)).flatMap((g) =>
    Array.from({ length: SHARDS_PER_GENERATION }, (_, n) => shardName(g, n)),
  );
  for (let call = 0; call < walk.calls; call++) {
    const name = names[cursor.shard];
    if (name === undefined) return null;
    // What RPC returns types tuples as arrays; the object returns EntryKey tuples.
    const out = (await shard(env, name).shopScan(shop, cursor.after, walk.entries)) as unknown as {
      found: EntryKey[];
      last: EntryKey | null;
    };
    if (out.last === null) {
      cursor.shard++;
      cursor.after = null;
    } else {
      cursor.after = out.last;
    }
    if (out.found.length > 0) return { shard: name, entries: out.found };
  }
  return { shard: "", entries: [] };
}

/** Forgets entries of one shard (their objects were deleted). */
export async function forgetEntries(env: IndexEnv, name: string, entries: readonly EntryKey[]): Promise<void> {
  if (entries.length > 0) await shard(env, name).remove([...entries]);
}
