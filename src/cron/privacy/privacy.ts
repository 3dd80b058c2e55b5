/**
 * The `privacy` job (every 10 minutes, and `POST /admin/jobs/privacy`): carries out the recorded
 * privacy requests oldest first, in bounded chunks (PRIVACY_BATCH_OBJECTS R2 objects per run)
 * under the `privacy` lease, so an erasure of a shop with millions of objects finishes across
 * runs. Each request moves through stages kept on its tombstone, every one idempotent:
 * `start` (resolve the person, mark the subjects erased, erase their D1 rows), `objects`
 * (rewrite or delete their R2 objects found by index), `rows` (shop: delete its D1 rows),
 * `compact` (the dispatcher has the compact job commit the affected days, which hides the old
 * versions of the person's rows in the lake), `lake` (lake-upkeep rebuilds each table still
 * holding hidden versions and deletes the files of the snapshots before it: no object of the
 * lake holds the person any more), then the request completes and its plaintext work row is
 * deleted. Before requests, the rows an earlier version kept in D1's `archive_subjects` move to the
 * subject index objects (requests wait until they have: move-index.ts), the index backfill enters a
 * chunk of what was stored before the index existed, and a sweep redacts the objects a writer
 * recorded as indexed unredacted for a subject erased before (a claim-checked webhook body, a bulk
 * snapshot, a dead letter, a backfilled old object), and those of subjects erased lately.
 */
import { z } from "zod";
import { raiseAlert } from "../../shared/alerts";
import { describeError, log } from "../../shared/log";
import { cronSettings } from "../../shared/settings";
import { everyDatabase, sharedDatabase, shopDatabase } from "../../tables/database";
import type { PrivacyKind, PrivacySubject } from "../../tables/privacy-requests";
import { indexedKeys, markIndexed } from "../../tables/subject-index";
import { withLease } from "../lease";
import { backfillIndex } from "./backfill-index";
import { eraseRows } from "./erase-rows";
import { writeExport } from "./export";
import { type MoveOptions, moveIndex } from "./move-index";
import { dayOfKey, type LineMatcher, rewriteObject } from "./rewrite";
import { countShopObjects, deleteShopObjects, deleteShopRowsChunk, shopDays, type Walk } from "./shop";
import { mergeTargets, resolveTarget, type Target, type TargetSubject, targetMatcher } from "./target";

export interface PrivacyOptions {
  /** R2 objects per run (tests pass a small number to see a request resume). */
  batchObjects?: number;
  /** shop/redact: rows one statement deletes per table, and chunks per run (tests pass small numbers). */
  rowsPerStatement?: number;
  rowChunksPerRun?: number;
  /** shop/redact: the rowid walks' window and windows per call (tests pass small numbers). */
  walk?: Walk;
  /** The move of D1's subject index rows to the shards (move-index.ts). */
  move?: MoveOptions;
}

export interface PrivacyRequestReport {
  requestId: string;
  kind: PrivacyKind;
  stage: string;
  status: string;
  objectsRewritten: number;
  objectsDeleted: number;
  rowsChanged: number;
  error: string | null;
}

/** Days whose Parquet partitions the compact job must re-compact before the request completes. */
export interface Recompaction {
  requestId: string;
  days: string[];
}

export type PrivacyResult =
  | { skipped: true; runId: string; heldBy: string | null }
  | {
      skipped: false;
      runId: string;
      /** Rows of D1's `archive_subjects` moved to the subject index objects this run. */
      moved: number;
      /** Ledger rows whose objects were entered in the subject index this run (the backfill). */
      backfilled: number;
      swept: number;
      /** A request at stage `compact` waits for the hourly compact run (privacyRecompactions). */
      requests: PrivacyRequestReport[];
    };

interface RequestRow {
  request_id: string;
  kind: PrivacyKind;
  shop: string | null;
  stage: string;
  status: string;
  objects_rewritten: number;
  objects_deleted: number;
  rows_changed: number;
  subject: string;
  days: string;
  shop_cursor: string | null;
}

const workSchema = z.object({
  shop: z.string().nullable(),
  email: z.string().nullable(),
  shopifyCustomerId: z.string().nullable(),
  orders: z.array(z.string()),
  target: z.unknown().optional(),
});

const MAX_REQUESTS_PER_RUN = 20;
const KEYS_PER_QUERY = 100;
/** Objects a request counts when it starts, for the status page (past it, the total shows this many). */
const MAX_COUNTED = 100_000;
const SHOP_DELETE_FACTOR = 100;
/** shop/redact chunks per run: each a few D1 queries and at most 25 index shard calls. */
const SHOP_CHUNKS_PER_RUN = 100;
/**
 * D1 queries shop/redact spends in one run (a batch's statements each count), counted as it goes:
 * the rest of the run's 1,000 stays for the move of the index, the sweep and the other requests.
 */
const SHOP_QUERIES_PER_RUN = 600;
const shopCursorSchema = z.object({
  shard: z.number().int().nonnegative(),
  after: z.tuple([z.string(), z.string(), z.string(), z.string()]).nullable(),
  rowids: z.record(z.string(), z.number().int()).optional(),
});
const ROW_CHUNKS_PER_RUN = 25;
/**
 * Wall time one run spends on requests: the job runs every 10 minutes, a schedule Cloudflare
 * gives 30 s of wall time; the rest is left for the run's own bookkeeping.
 */
const RUN_MS = 20_000;

/** What one run may still do: R2 objects to rewrite, and until when (epoch ms). */
interface Budget {
  left: number;
  until: number;
}

function batchObjects(env: Env, options: PrivacyOptions): number {
  const n = options.batchObjects ?? Number(env.PRIVACY_BATCH_OBJECTS);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 100_000) : 500;
}

export async function runPrivacy(
  env: Env,
  run: { runId: string; now: Date },
  options: PrivacyOptions = {},
): Promise<PrivacyResult> {
  const outcome = await withLease(sharedDatabase(env), "privacy", run.runId, run.now, async () => {
    const budget = { left: batchObjects(env, options), until: Date.now() + RUN_MS };
    const now = new Date().toISOString();
    // Requests read the index: they wait until what D1 still holds of it has moved.
    const move = await moveIndex(env, budget.until, now, options.move);
    if (!move.done) {
      log.info("privacy requests wait for the subject index to move out of D1", { moved: move.moved });
      return { moved: move.moved, backfilled: 0, swept: 0, requests: [] };
    }
    // What was stored before the index existed is entered first, so erasures find it too.
    const backfilled = await backfillIndex(env, budget, now);
    const swept = await sweep(env, budget, now);
    const pending = await sharedDatabase(env)
      .prepare(
        `SELECT r.request_id, r.kind, r.shop, r.stage, r.status, r.objects_rewritten, r.objects_deleted, r.rows_changed,
         w.subject, w.days, w.shop_cursor
       FROM privacy_requests r JOIN privacy_work w ON w.request_id = r.request_id
       WHERE r.status IN ('pending', 'running') ORDER BY r.received_at, r.request_id LIMIT ?1`,
      )
      .bind(MAX_REQUESTS_PER_RUN)
      .all<RequestRow>();
    const requests: PrivacyRequestReport[] = [];
    for (const row of pending.results) {
      if (budget.left <= 0 || Date.now() >= budget.until) break;
      const report = await carryOut(env, row, budget, now, options).catch(async (err: unknown) => {
        const error = describeError(err);
        log.error("privacy request failed, retried next run", { requestId: row.request_id, error });
        await sharedDatabase(env)
          .prepare("UPDATE privacy_requests SET error = ?2 WHERE request_id = ?1")
          .bind(row.request_id, error.slice(0, 1000))
          .run();
        return { ...reportOf(row), error };
      });
      requests.push(report);
    }
    return { moved: move.moved, backfilled, swept, requests };
  });
  if (outcome.skipped) {
    log.info("privacy skipped: another run is in progress", { runId: run.runId, heldBy: outcome.heldBy });
    return { skipped: true, runId: run.runId, heldBy: outcome.heldBy };
  }
  return { skipped: false, runId: run.runId, ...outcome.value };
}

function reportOf(row: RequestRow): PrivacyRequestReport {
  return {
    requestId: row.request_id,
    kind: row.kind,
    stage: row.stage,
    status: row.status,
    objectsRewritten: row.objects_rewritten,
    objectsDeleted: row.objects_deleted,
    rowsChanged: row.rows_changed,
    error: null,
  };
}

async function workDays(db: D1Database, requestId: string): Promise<string[] | null> {
  const r = await db
    .prepare("SELECT days FROM privacy_work WHERE request_id = ?1")
    .bind(requestId)
    .first<{ days: string }>();
  return r ? (JSON.parse(r.days) as string[]) : null;
}

async function addDays(db: D1Database, requestId: string, days: Iterable<string>): Promise<void> {
  const known = new Set((await workDays(db, requestId)) ?? []);
  for (const d of days) known.add(d);
  await db
    .prepare("UPDATE privacy_work SET days = ?2 WHERE request_id = ?1")
    .bind(requestId, JSON.stringify([...known].sort()))
    .run();
}

async function save(
  db: D1Database,
  row: RequestRow,
  patch: Partial<RequestRow> & { error?: null },
): Promise<RequestRow> {
  const next = { ...row, ...patch };
  // Moved: what the status page and the `privacy_stalled` rule read to find a request stuck for a day.
  const moved = (["status", "stage", "objects_rewritten", "objects_deleted", "rows_changed"] as const).some(
    (k) => next[k] !== row[k],
  );
  await db
    .prepare(
      `UPDATE privacy_requests SET status = ?2, stage = ?3, objects_rewritten = ?4, objects_deleted = ?5,
         rows_changed = ?6, error = NULL, progressed_at = CASE WHEN ?7 THEN ?8 ELSE progressed_at END
       WHERE request_id = ?1`,
    )
    .bind(
      next.request_id,
      next.status,
      next.stage,
      next.objects_rewritten,
      next.objects_deleted,
      next.rows_changed,
      moved ? 1 : 0,
      new Date().toISOString(),
    )
    .run();
  return next;
}

async function carryOut(
  env: Env,
  start: RequestRow,
  budget: Budget,
  now: string,
  options: PrivacyOptions,
): Promise<PrivacyRequestReport> {
  const db = sharedDatabase(env);
  let row = start.status === "pending" ? await save(db, start, { status: "running" }) : start;
  const work = workSchema.parse(JSON.parse(row.subject));
  const subject: PrivacySubject = {
    shop: work.shop,
    email: work.email,
    shopifyCustomerId: work.shopifyCustomerId,
    orders: work.orders,
  };

  // The databases holding the person's data: the shop's for a compliance request, every one for an erase.
  const data =
    row.kind === "erase" || subject.shop === null
      ? everyDatabase(env).map((d) => d.db)
      : [shopDatabase(env, subject.shop)];

  if (row.kind === "data_request") {
    const own = data[0] as D1Database;
    const target = await resolveTarget(env, own, "erase", subject);
    const key = await writeExport(env, own, row.request_id, subject.shop ?? "unknown", target, now);
    await db
      .prepare("UPDATE privacy_requests SET export_key = ?2 WHERE request_id = ?1")
      .bind(row.request_id, key)
      .run();
    row = await complete(db, row, now);
    return reportOf(row);
  }

  if (row.kind === "shop_redact") {
    const shop = subject.shop as string;
    if (row.stage === "start") {
      await db
        .prepare(
          `INSERT INTO erased_subjects (subject_kind, subject_id, shop, request_id, erased_at) VALUES ('shop', ?1, ?1, ?2, ?3)
           ON CONFLICT DO NOTHING`,
        )
        .bind(shop, row.request_id, now)
        .run();
      await addDays(db, row.request_id, await shopDays(shopDatabase(env, shop), shop));
      await setTotal(db, row.request_id, await countShopObjects(env, shop));
      row = await save(db, row, { stage: "objects" });
    }
    // Deleting is cheaper than rewriting (1,000 keys per R2 call): SHOP_DELETE_FACTOR times the
    // run's rewrite budget, so a shop of 5,000,000 objects goes in days, not months.
    let deletes = budget.left * SHOP_DELETE_FACTOR;
    // Where the walks stand (the index shards, the ledger's and the identities' rowids), kept on the
    // request so the next run goes on from them.
    const cursor = shopCursorSchema.parse(JSON.parse(row.shop_cursor ?? '{"shard":0,"after":null}'));
    const keep = () =>
      db
        .prepare("UPDATE privacy_work SET shop_cursor = ?2 WHERE request_id = ?1")
        .bind(row.request_id, JSON.stringify(cursor))
        .run();
    // Each chunk adds its own queries and up to 5 here: the cursor, the request's save and its days.
    let queries = 0;
    const more = () => queries < SHOP_QUERIES_PER_RUN && Date.now() < budget.until;
    for (let i = 0; i < SHOP_CHUNKS_PER_RUN && row.stage === "objects" && deletes > 0 && more(); i++) {
      const out = await deleteShopObjects(env, shop, Math.min(deletes, 1000), cursor, options.walk);
      deletes -= Math.max(1, out.deleted);
      if (out.days.length > 0) await addDays(db, row.request_id, out.days);
      await keep();
      row = await save(db, row, out.done ? { stage: "rows" } : { objects_deleted: row.objects_deleted + out.deleted });
      queries += out.queries + 5;
    }
    budget.left = Math.floor(deletes / SHOP_DELETE_FACTOR);
    // Rows in chunks (each one D1 batch of about 20 statements) until the run's share of queries or
    // its time is spent; the next run goes on from what is left.
    const chunks = options.rowChunksPerRun ?? ROW_CHUNKS_PER_RUN;
    for (let i = 0; row.stage === "rows" && i < chunks && more(); i++) {
      const out = await deleteShopRowsChunk(env, shop, cursor, options.rowsPerStatement, options.walk);
      if (out.days.length > 0) await addDays(db, row.request_id, out.days);
      await keep();
      row = await save(db, row, out.done ? { stage: "compact" } : { rows_changed: row.rows_changed + out.rows });
      queries += out.queries + 5;
    }
    return finishOrCompact(db, row, now);
  }

  // customer_redact and erase
  let target: Target;
  if (row.stage === "start") {
    target = mergeTargets(await Promise.all(data.map((d) => resolveTarget(env, d, row.kind, subject))));
    await db
      .prepare("UPDATE privacy_work SET subject = ?2 WHERE request_id = ?1")
      .bind(row.request_id, JSON.stringify({ ...work, target }))
      .run();
    // Erased first, so events arriving from now on are stored redacted.
    const marks = target.subjects.map((s) =>
      db
        .prepare(
          `INSERT INTO erased_subjects (subject_kind, subject_id, shop, request_id, erased_at) VALUES (?1, ?2, ?3, ?4, ?5)
           ON CONFLICT DO NOTHING`,
        )
        .bind(s.kind, s.id, s.shop, row.request_id, now),
    );
    if (marks.length > 0) await db.batch(marks);
    let rows = 0;
    for (const d of data) {
      const erased = await eraseRows(d, target);
      await addDays(db, row.request_id, erased.days);
      rows += erased.rows;
    }
    await setTotal(db, row.request_id, (await indexedKeys(env, target.subjects, 0, MAX_COUNTED)).length);
    row = await save(db, row, { stage: "objects", rows_changed: row.rows_changed + rows });
  } else {
    target = work.target as Target;
  }
  if (row.stage === "objects") {
    const matches = targetMatcher(target.subjects);
    while (budget.left > 0) {
      const keys = await indexedKeys(env, target.subjects, 0, Math.min(budget.left, KEYS_PER_QUERY));
      if (keys.length === 0) {
        // Last, the objects set aside (this run's or an earlier one's) get one more try each.
        const held = await retrySetAside(env, target.subjects, matches, now);
        if (held.length === 0) {
          row = await save(db, row, { stage: "compact", objects_rewritten: row.objects_rewritten + held.rewritten });
        } else {
          // Not done while an object still holds the person: the error says which, the alert
          // went out when it was set aside, and privacy_stalled follows after a day.
          row = await save(db, row, { objects_rewritten: row.objects_rewritten + held.rewritten });
          await db
            .prepare("UPDATE privacy_requests SET error = ?2 WHERE request_id = ?1")
            .bind(row.request_id, `${held.length} object(s) set aside: ${held.errors.join("; ")}`.slice(0, 1000))
            .run();
        }
        break;
      }
      const out = await rewriteKeys(env, keys, target.subjects, matches, now, (key, error) =>
        setAside(env, key, target.subjects, row, error, now),
      );
      budget.left -= keys.length;
      await addDays(db, row.request_id, out.days);
      row = await save(db, row, { objects_rewritten: row.objects_rewritten + out.rewritten });
    }
  }
  return finishOrCompact(db, row, now);
}

/** An index entry's state: 0 to do, 1 done, 2 set aside (its rewrite failed; retried last). */
const DONE = 1;
const SET_ASIDE = 2;

/**
 * Rewrites `keys` without the subjects, then marks their entries done in one call per shard; a key
 * whose rewrite fails goes to `failed` (set aside, or counted by the retry) and never holds up the rest.
 */
async function rewriteKeys(
  env: Env,
  keys: readonly string[],
  subjects: readonly TargetSubject[],
  matches: LineMatcher,
  now: string,
  failed: (key: string, error: string) => Promise<void>,
): Promise<{ rewritten: number; days: Set<string> }> {
  let rewritten = 0;
  const days = new Set<string>();
  const done: string[] = [];
  for (const key of keys) {
    const d = dayOfKey(key);
    if (d && key.startsWith("raw/")) days.add(d);
    try {
      if ((await rewriteObject(env, key, matches, now)) === "rewritten") rewritten++;
      done.push(key);
    } catch (err) {
      await failed(key, describeError(err));
    }
  }
  await markIndexed(env, subjects, done, DONE);
  return { rewritten, days };
}

async function setAside(
  env: Env,
  key: string,
  subjects: readonly TargetSubject[],
  request: RequestRow | null,
  error: string,
  now: string,
): Promise<void> {
  const by = request === null ? "The privacy sweep" : `Privacy request ${request.request_id}`;
  log.error("privacy object set aside", { requestId: request?.request_id, key, error });
  await markIndexed(env, subjects, [key], SET_ASIDE);
  await sharedDatabase(env).batch(
    raiseAlert(
      sharedDatabase(env),
      {
        rule: "privacy_object_set_aside",
        key: `privacy_object_set_aside:${request?.request_id ?? "sweep"}:${key}`.slice(0, 500),
        severity: "critical",
        title: `${by} could not rewrite ${key}: the rest goes on, this object still holds the person`,
        fields: [
          ...(request === null ? [] : [{ name: "request", value: request.request_id }]),
          { name: "object", value: key },
          { name: "error", value: error },
          { name: "next", value: "fix the cause (or delete the object), then POST /admin/jobs/privacy" },
        ],
        source: request === null || request.kind === "erase" ? null : "shopify",
        eventId: null,
      },
      now,
      cronSettings(env).alertDedupMs,
    ),
  );
}

/** One more try for each object set aside for the subjects; what still fails stays set aside. */
async function retrySetAside(
  env: Env,
  subjects: readonly TargetSubject[],
  matches: LineMatcher,
  now: string,
): Promise<{ length: number; rewritten: number; errors: string[] }> {
  const errors: string[] = [];
  const keys = await indexedKeys(env, subjects, SET_ASIDE, KEYS_PER_QUERY);
  const out = await rewriteKeys(env, keys, subjects, matches, now, async (key, error) => {
    errors.push(`${key}: ${error}`);
  });
  return { length: errors.length, rewritten: out.rewritten, errors };
}

async function finishOrCompact(db: D1Database, row: RequestRow, now: string): Promise<PrivacyRequestReport> {
  if (row.stage === "compact" && ((await workDays(db, row.request_id)) ?? []).length === 0) {
    return reportOf(await complete(db, row, now));
  }
  return reportOf(row);
}

async function complete(db: D1Database, row: RequestRow, now: string): Promise<RequestRow> {
  await db.batch([
    db
      .prepare(
        "UPDATE privacy_requests SET status = 'completed', stage = 'done', completed_at = ?2, progressed_at = ?2, error = NULL WHERE request_id = ?1",
      )
      .bind(row.request_id, now),
    db.prepare("DELETE FROM privacy_work WHERE request_id = ?1").bind(row.request_id),
  ]);
  return { ...row, status: "completed", stage: "done" };
}

/** Requests waiting for their days' Parquet to be re-compacted (the `compact` run does it). */
export async function privacyRecompactions(env: Env): Promise<Recompaction[]> {
  const r = await sharedDatabase(env)
    .prepare(
      `SELECT r.request_id AS requestId, w.days AS days FROM privacy_requests r JOIN privacy_work w ON w.request_id = r.request_id
       WHERE r.stage = 'compact' AND r.status IN ('pending', 'running') ORDER BY r.received_at LIMIT ?1`,
    )
    .bind(MAX_REQUESTS_PER_RUN)
    .all<{ requestId: string; days: string }>();
  return r.results.map((x) => ({ requestId: x.requestId, days: JSON.parse(x.days) as string[] }));
}

/**
 * After the compact run committed `days`: they leave the request's list. Returns whether the list
 * is now empty for a request at stage `compact`: its rows are hidden in the lake, and the
 * dispatcher moves it to `lake` (awaitLake).
 */
export async function recompacted(env: Env, requestId: string, days: readonly string[]): Promise<boolean> {
  const left = ((await workDays(sharedDatabase(env), requestId)) ?? []).filter((d) => !days.includes(d));
  await sharedDatabase(env)
    .prepare("UPDATE privacy_work SET days = ?2 WHERE request_id = ?1")
    .bind(requestId, JSON.stringify(left))
    .run();
  const row = await sharedDatabase(env)
    .prepare("SELECT stage FROM privacy_requests WHERE request_id = ?1")
    .bind(requestId)
    .first<{ stage: string }>();
  return left.length === 0 && row?.stage === "compact";
}

/** Moves a request to stage `lake`: done once lake-upkeep rebuilt and swept `tables` after `since`. */
export async function awaitLake(env: Env, requestId: string, tables: readonly string[], since: string): Promise<void> {
  const db = sharedDatabase(env);
  await db.batch([
    db
      .prepare("UPDATE privacy_work SET lake_tables = ?2, lake_since = ?3 WHERE request_id = ?1")
      .bind(requestId, JSON.stringify(tables), since),
    db
      .prepare(
        "UPDATE privacy_requests SET stage = 'lake', progressed_at = ?2 WHERE request_id = ?1 AND stage = 'compact'",
      )
      .bind(requestId, since),
  ]);
}

/** Requests at stage `lake`, with the tables and time their lake rebuilds must follow. */
export async function lakeWaits(env: Env): Promise<{ requestId: string; tables: string[]; since: string }[]> {
  const r = await sharedDatabase(env)
    .prepare(
      `SELECT r.request_id AS requestId, w.lake_tables AS tables, w.lake_since AS since FROM privacy_requests r
       JOIN privacy_work w ON w.request_id = r.request_id
       WHERE r.stage = 'lake' AND r.status IN ('pending', 'running') ORDER BY r.received_at LIMIT ?1`,
    )
    .bind(MAX_REQUESTS_PER_RUN)
    .all<{ requestId: string; tables: string | null; since: string | null }>();
  return r.results.map((x) => ({
    requestId: x.requestId,
    tables: z.array(z.string()).parse(JSON.parse(x.tables ?? "[]")),
    since: x.since ?? new Date(0).toISOString(),
  }));
}

/** Records that the lake work of a request at stage `lake` moved at `at` (a rebuild read a part). */
export async function lakeProgressed(env: Env, requestId: string, at: string): Promise<void> {
  await sharedDatabase(env)
    .prepare(
      "UPDATE privacy_requests SET progressed_at = ?2 WHERE request_id = ?1 AND stage = 'lake' AND progressed_at < ?2",
    )
    .bind(requestId, at)
    .run();
}

/** Completes a request whose lake work is done. */
export async function lakeDone(env: Env, requestId: string): Promise<void> {
  await complete(sharedDatabase(env), { request_id: requestId } as RequestRow, new Date().toISOString());
}

/** What the status page divides by: the objects a request found to do when it started. */
async function setTotal(db: D1Database, requestId: string, total: number): Promise<void> {
  await db.prepare("UPDATE privacy_requests SET objects_total = ?2 WHERE request_id = ?1").bind(requestId, total).run();
}

interface LateRow {
  r2_key: string;
  kind: TargetSubject["kind"];
  id: string;
  shop: string;
}

/**
 * How long after an erasure the sweep asks the index again for its subjects' objects not yet
 * rewritten: a writer that read `erased_subjects` just before the erasure indexes its object within
 * its invocation (15 minutes at most), maybe after the request's `objects` stage listed them.
 */
const RECHECK_MS = 2 * 60 * 60_000;

/**
 * Objects indexed unredacted for a subject erased before them (`privacy_late_objects`, recorded by
 * the writer), and those of subjects erased in the last RECHECK_MS still to rewrite: each is
 * rewritten without those subjects, then its rows go. A request still at its `objects` stage finds
 * them too; rewriting twice changes nothing.
 */
async function sweep(env: Env, budget: { left: number }, now: string): Promise<number> {
  const db = sharedDatabase(env);
  const r = await db
    .prepare(
      `SELECT r2_key, subject_kind AS kind, subject_id AS id, shop FROM privacy_late_objects
       WHERE r2_key IN (SELECT DISTINCT r2_key FROM privacy_late_objects ORDER BY r2_key LIMIT ?1) ORDER BY r2_key`,
    )
    .bind(Math.max(0, Math.min(budget.left, KEYS_PER_QUERY)))
    .all<LateRow>();
  const byKey = new Map<string, TargetSubject[]>();
  for (const x of r.results) {
    const list = byKey.get(x.r2_key) ?? [];
    list.push({ kind: x.kind, id: x.id, shop: x.shop });
    byKey.set(x.r2_key, list);
  }
  let rewritten = 0;
  for (const [key, subjects] of byKey) {
    const aside = (k: string, error: string) => setAside(env, k, subjects, null, error, now);
    rewritten += (await rewriteKeys(env, [key], subjects, targetMatcher(subjects), now, aside)).rewritten;
    await db.prepare("DELETE FROM privacy_late_objects WHERE r2_key = ?1").bind(key).run();
  }
  budget.left -= byKey.size;
  // The subjects of erasures completed lately: what a writer indexed after their objects stage.
  const recent = await db
    .prepare(
      `SELECT e.subject_kind AS kind, e.subject_id AS id, e.shop FROM erased_subjects e
       JOIN privacy_requests r ON r.request_id = e.request_id AND r.status = 'completed'
       WHERE e.subject_kind <> 'shop' AND r.completed_at >= ?1 LIMIT 1000`,
    )
    .bind(new Date(Date.parse(now) - RECHECK_MS).toISOString())
    .all<TargetSubject>();
  if (recent.results.length > 0 && budget.left > 0) {
    const keys = await indexedKeys(env, recent.results, 0, Math.min(budget.left, KEYS_PER_QUERY));
    if (keys.length > 0) {
      const aside = (k: string, error: string) => setAside(env, k, recent.results, null, error, now);
      rewritten += (await rewriteKeys(env, keys, recent.results, targetMatcher(recent.results), now, aside)).rewritten;
      budget.left -= keys.length;
    }
  }
  if (rewritten > 0) log.info("privacy sweep rewrote objects", { rewritten });
  return rewritten;
}
