/**
 * Moves the subject index out of D1: the `archive_subjects` rows an earlier version wrote (in every
 * database) go to the `SubjectIndex` shards of this month's generation with their state, and leave
 * D1. A bounded chunk per `privacy` run, resumable: a moved row is deleted. Until it is done, the
 * privacy job carries out no request (the index it would read is not whole yet).
 */
import { everyDatabase } from "../../tables/database";
import { addIndexRows, type IndexRow } from "../../tables/subject-index";

/** Rows per page: one D1 read, one call per shard the page touches (at most 16), one D1 delete. */
const ROWS_PER_PAGE = 4000;
/** Pages per run: 4 D1 queries and at most 16 shard calls each. */
const PAGES_PER_RUN = 40;

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
  let moved = 0;
  let left = false;
  for (const { db } of everyDatabase(env)) {
    for (;;) {
      if (pages >= perRun || Date.now() >= until) {
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
