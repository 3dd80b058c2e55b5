/**
 * Moves the subject index out of D1: the `archive_subjects` rows an earlier version wrote (in every
 * database) go to the `SubjectIndex` shards with their state and leave D1, and the erased subjects
 * recorded before the move are recorded in their shards, so a shard tells late objects apart for
 * them too. A bounded chunk per `privacy` run, resumable: a moved row is deleted, and the erased
 * marks advance a rowid kept in `subject_index_moves`. Until it is done, the privacy job carries
 * out no request (the index it would read is not whole yet).
 */
import type { SubjectKind } from "../../mapping/subjects";
import { everyDatabase, sharedDatabase } from "../../tables/database";
import { addIndexRows, eraseInIndex, type IndexRow } from "../../tables/subject-index";

/** Rows per page: one D1 read, one call per shard the page touches (at most 256), one D1 delete. */
const ROWS_PER_PAGE = 4000;
/** Pages per run: about 5,000 Durable Object calls at most, half the subrequests of an invocation. */
const PAGES_PER_RUN = 20;

/** Page sizes (tests pass small ones to see the move resume across runs). */
export interface MoveOptions {
  rowsPerPage?: number;
  pagesPerRun?: number;
}

export interface IndexMove {
  moved: number;
  done: boolean;
}

interface Row {
  rid: number;
  subject_kind: string;
  subject_id: string;
  shop: string;
  r2_key: string;
  redacted: number;
}

export async function moveIndex(env: Env, until: number, now: string, options: MoveOptions = {}): Promise<IndexMove> {
  const perPage = options.rowsPerPage ?? ROWS_PER_PAGE;
  const perRun = options.pagesPerRun ?? PAGES_PER_RUN;
  let pages = 0;
  const more = () => pages < perRun && Date.now() < until;
  const shared = sharedDatabase(env);
  const state = await shared
    .prepare("SELECT erased_after_rowid AS after, erased_until_rowid AS last FROM subject_index_moves WHERE id = 1")
    .first<{ after: number; last: number }>();
  let after = state?.after ?? 0;
  const last = state?.last ?? 0;
  while (after < last && more()) {
    pages++;
    const r = await shared
      .prepare(
        `SELECT rowid AS rid, subject_kind AS kind, subject_id AS id, shop FROM erased_subjects
         WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid LIMIT ?3`,
      )
      .bind(after, last, perPage)
      .all<{ rid: number; kind: SubjectKind | "shop"; id: string; shop: string }>();
    const rows = r.results;
    // A shop's erasure is not a subject of the index: the consumer reads it from D1.
    await eraseInIndex(
      env,
      rows.flatMap((x) => (x.kind === "shop" ? [] : [{ kind: x.kind, id: x.id, shop: x.shop }])),
      now,
    );
    after = rows.at(-1)?.rid ?? last;
    await shared
      .prepare("UPDATE subject_index_moves SET erased_after_rowid = ?1, updated_at = ?2 WHERE id = 1")
      .bind(after, now)
      .run();
  }
  let moved = 0;
  let left = after < last;
  for (const { db } of everyDatabase(env)) {
    for (;;) {
      if (!more()) {
        left = true;
        break;
      }
      pages++;
      const n = await movePage(env, db, perPage, now);
      moved += n;
      if (n < perPage) break;
    }
  }
  return { moved, done: !left };
}

/** Moves the first page of `db`'s rows; returns how many. */
async function movePage(env: Env, db: D1Database, perPage: number, now: string): Promise<number> {
  const r = await db
    .prepare(
      "SELECT rowid AS rid, subject_kind, subject_id, shop, r2_key, redacted FROM archive_subjects ORDER BY rowid LIMIT ?1",
    )
    .bind(perPage)
    .all<Row>();
  if (r.results.length === 0) return 0;
  const rows: IndexRow[] = r.results.map((x) => [x.subject_kind, x.subject_id, x.shop, x.r2_key, x.redacted]);
  await addIndexRows(env, rows, now);
  await db
    .prepare("DELETE FROM archive_subjects WHERE rowid IN (SELECT value FROM json_each(?1))")
    .bind(JSON.stringify(r.results.map((x) => x.rid)))
    .run();
  return r.results.length;
}
