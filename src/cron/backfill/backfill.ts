/**
 * The `backfill` job: advances every running Stripe and Recharge backfill (rows of `backfills`)
 * by as many pages as fit in the run's time budget. Per page: list it (paced, 429s waited out),
 * write it to R2 as a gzipped snapshot, queue its objects as `bulk` events, then save the cursor.
 * The cursor is saved last, so a run that dies mid-page redoes that page: the snapshot is
 * overwritten with the same objects and the events are duplicates the ledger absorbs. A source
 * still throttling after the retries leaves the backfill running with `retry_at` set (doubling,
 * up to 30 minutes); a 4xx other than 429, an unreadable page, or 5 such deferrals in a row fail it.
 * One lease per source and resource, so overlapping runs never page the same list twice.
 */
import { type SubjectRef, subjectsOf } from "../../mapping/subjects";
import { parseLossless } from "../../shared/json";
import { backfillSnapshotKey } from "../../shared/keys";
import { describeError, log } from "../../shared/log";
import type { BackfillRow } from "../../shared/schema/backfills";
import { stripeListingCreated } from "../../shared/stripe-clock";
import { STRIPE_API_VERSION } from "../../shared/stripe-version";
import { sharedDatabase } from "../../tables/database";
import { refreshRechargeStore } from "../../tables/recharge-store";
import { indexObjects } from "../../tables/subject-index";
import { hashSubjects } from "../../tables/subjects";
import { withLease } from "../lease";
import { sendEvents } from "../send-events";
import { firstUrl, type ListTarget, RECHARGE_API_VERSION, readPage } from "./lists";
import { type Pacer, pacedGet, pacer } from "./paced-fetch";

export interface BackfillOptions {
  /** Wall time this run may spend paging (default BACKFILL_SLICE_SECONDS). */
  budgetMs?: number;
  /** Pages per backfill and resource in this run (default: as many as the budget allows). */
  maxPages?: number;
}

export interface BackfillItemReport {
  backfillId: string;
  source: string;
  resource: string;
  status: "running" | "completed" | "failed" | "skipped" | "deferred";
  pages: number;
  listed: number;
  sent: number;
  apiCalls: number;
  throttled: number;
  error: string | null;
  /** What the source does not let this backfill load (the row's `note`), e.g. Recharge charges older than 90 days. */
  note: string | null;
}

export interface BackfillResult {
  items: BackfillItemReport[];
}

const MAX_DEFERRALS = 5;
const MAX_RETRY_DELAY_MS = 30 * 60_000;

function num(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = Number(value);
  return value !== undefined && value.trim() !== "" && Number.isFinite(n) && n >= min && n <= max ? n : fallback;
}

export async function runBackfill(
  env: Env,
  run: { runId: string; now: Date },
  options: BackfillOptions = {},
): Promise<BackfillResult> {
  const budgetMs = options.budgetMs ?? num(env.BACKFILL_SLICE_SECONDS, 40, 1, 840) * 1000;
  const deadline = Date.now() + budgetMs;
  const due = await sharedDatabase(env)
    .prepare(
      `SELECT backfill_id AS backfillId, source, resource, since, until, cursor, pages, failures, note
     FROM backfills WHERE status = 'running' AND (retry_at IS NULL OR retry_at <= ?1) ORDER BY requested_at, resource`,
    )
    .bind(run.now.toISOString())
    .all<
      Pick<
        BackfillRow,
        "backfillId" | "source" | "resource" | "since" | "until" | "cursor" | "pages" | "failures" | "note"
      >
    >();
  const pacers = {
    stripe: pacer(num(env.BACKFILL_STRIPE_REQUESTS_PER_SECOND, 25, 0.1, 1000)),
    recharge: pacer(num(env.BACKFILL_RECHARGE_REQUESTS_PER_SECOND, 2, 0.1, 1000)),
  };
  const items: BackfillItemReport[] = [];
  for (const row of due.results) {
    const report: BackfillItemReport = {
      backfillId: row.backfillId,
      source: row.source,
      resource: row.resource,
      status: "running",
      pages: 0,
      listed: 0,
      sent: 0,
      apiCalls: 0,
      throttled: 0,
      error: null,
      note: row.note,
    };
    items.push(report);
    if (Date.now() >= deadline) {
      report.status = "skipped";
      report.error = "time budget spent; next run";
      continue;
    }
    const leased = await withLease(
      sharedDatabase(env),
      `backfill:${row.source}:${row.resource}`,
      run.runId,
      run.now,
      () => advance(env, row, report, pacers[row.source], deadline, options.maxPages ?? Number.POSITIVE_INFINITY),
    );
    if (leased.skipped) {
      report.status = "skipped";
      report.error = `lease held by ${leased.heldBy ?? "another run"}`;
    }
  }
  return { items };
}

type DueRow = Pick<
  BackfillRow,
  "backfillId" | "source" | "resource" | "since" | "until" | "cursor" | "pages" | "failures"
>;

async function advance(
  env: Env,
  row: DueRow,
  report: BackfillItemReport,
  p: Pacer,
  deadline: number,
  maxPages: number,
): Promise<void> {
  const headers = credentials(env, row.source);
  if (headers === null) return finish(env, row, report, "failed", `${row.source} API credentials are not configured`);
  const base = (
    row.source === "stripe"
      ? env.STRIPE_API_BASE || "https://api.stripe.com"
      : env.RECHARGE_API_BASE || "https://api.rechargeapps.com"
  ).replace(/\/+$/, "");
  if (row.source === "recharge") await refreshStore(env, base, headers, p, report);
  const target: ListTarget = { ...row, cursor: row.cursor };
  let page = row.pages;
  while (Date.now() < deadline && report.pages < maxPages) {
    const callsBefore = p.calls;
    const throttledBefore = p.throttled;
    const answer = await pacedGet(firstUrl(base, target), headers, p);
    report.apiCalls += p.calls - callsBefore;
    report.throttled += p.throttled - throttledBefore;
    if (answer.kind === "throttled")
      return defer(env, row, report, answer.message, p.calls - callsBefore, p.throttled - throttledBefore);
    if (answer.kind === "error") return finish(env, row, report, "failed", answer.message, p.calls - callsBefore);
    const listedAt = new Date();
    let read: ReturnType<typeof readPage>;
    try {
      read = readPage(answer.text, target, stripeListingCreated(answer));
    } catch (err) {
      return finish(
        env,
        row,
        report,
        "failed",
        `unreadable page: ${describeError(err).slice(0, 300)}`,
        p.calls - callsBefore,
      );
    }
    page++;
    if (read.lines.length > 0) await putSnapshot(env, row, listedAt, page, read.lines);
    const sent = await sendEvents(env, read.events, listedAt.toISOString(), "bulk");
    report.pages++;
    report.listed += read.items;
    report.sent += sent;
    const done = read.next === null;
    await sharedDatabase(env)
      .prepare(
        `UPDATE backfills SET cursor = ?3, pages = pages + 1, listed = listed + ?4, sent = sent + ?5,
         api_calls = api_calls + ?6, throttled = throttled + ?7, failures = 0, retry_at = NULL, error = NULL,
         started_at = coalesce(started_at, ?8), updated_at = ?8,
         status = CASE WHEN ?9 THEN 'completed' ELSE status END, finished_at = CASE WHEN ?9 THEN ?8 END
       WHERE backfill_id = ?1 AND resource = ?2 AND status = 'running'`,
      )
      .bind(
        row.backfillId,
        row.resource,
        read.next ?? target.cursor,
        read.items,
        sent,
        p.calls - callsBefore,
        p.throttled - throttledBefore,
        new Date().toISOString(),
        done ? 1 : 0,
      )
      .run();
    if (done) {
      report.status = "completed";
      log.info("backfill completed", { backfillId: row.backfillId, source: row.source, resource: row.resource });
      return;
    }
    target.cursor = read.next;
  }
}

/** The Recharge store's currency, for subscriptions without one (src/tables/recharge-store.ts); at most once a day. */
async function refreshStore(
  env: Env,
  base: string,
  headers: Record<string, string>,
  p: Pacer,
  report: BackfillItemReport,
) {
  const callsBefore = p.calls;
  const throttledBefore = p.throttled;
  await refreshRechargeStore(
    sharedDatabase(env),
    base,
    async (url) => {
      const answer = await pacedGet(url, headers, p);
      if (answer.kind !== "ok") throw new Error(answer.message);
      return answer.text;
    },
    new Date(),
  );
  const calls = p.calls - callsBefore;
  const throttled = p.throttled - throttledBefore;
  if (calls === 0) return;
  report.apiCalls += calls;
  report.throttled += throttled;
  await sharedDatabase(env)
    .prepare(
      "UPDATE backfills SET api_calls = api_calls + ?3, throttled = throttled + ?4 WHERE backfill_id = ?1 AND resource = ?2",
    )
    .bind(report.backfillId, report.resource, calls, throttled)
    .run();
}

function credentials(env: Env, source: "stripe" | "recharge"): Record<string, string> | null {
  if (source === "stripe")
    return env.STRIPE_API_KEY
      ? { Authorization: `Bearer ${env.STRIPE_API_KEY}`, "Stripe-Version": STRIPE_API_VERSION }
      : null;
  return env.RECHARGE_API_TOKEN
    ? { "X-Recharge-Access-Token": env.RECHARGE_API_TOKEN, "X-Recharge-Version": RECHARGE_API_VERSION }
    : null;
}

/**
 * Writes a page's snapshot, entering each line's data subjects in the privacy index first (as the
 * Shopify bulk path does), so an erasure finds the snapshot by index, and the `privacy` job's sweep
 * rewrites it if it names someone already erased.
 */
async function putSnapshot(env: Env, row: DueRow, listedAt: Date, page: number, lines: string[]): Promise<void> {
  const key = backfillSnapshotKey(row.source, row.resource, listedAt.toISOString(), row.backfillId, page);
  const refs = new Map<string, SubjectRef>();
  for (const line of lines) {
    for (const ref of subjectsOf(row.source, row.resource, parseLossless(line))) refs.set(`${ref.kind}:${ref.id}`, ref);
  }
  const subjects = await hashSubjects(env, row.source, null, [...refs.values()]);
  await indexObjects(env, [{ r2Key: key, subjects, redacted: false }], new Date().toISOString());
  const gz = new Blob([`${lines.join("\n")}\n`]).stream().pipeThrough(new CompressionStream("gzip"));
  const bytes = await new Response(gz).arrayBuffer();
  await env.LAKE.put(key, bytes, {
    httpMetadata: { contentType: "application/x-ndjson", contentEncoding: "gzip" },
    customMetadata: { backfill_id: row.backfillId, source: row.source, resource: row.resource, page: String(page) },
  });
}

/** Still throttled (or unreachable) after the retries: come back later, doubling the wait; fail after a few. */
async function defer(
  env: Env,
  row: DueRow,
  report: BackfillItemReport,
  message: string,
  calls: number,
  throttled: number,
) {
  const failures = row.failures + 1;
  if (failures >= MAX_DEFERRALS)
    return finish(env, row, report, "failed", `gave up after ${failures} deferrals: ${message}`, calls, throttled);
  const now = new Date();
  const retryAt = new Date(now.getTime() + Math.min(60_000 * 2 ** (failures - 1), MAX_RETRY_DELAY_MS)).toISOString();
  await sharedDatabase(env)
    .prepare(
      `UPDATE backfills SET failures = ?3, retry_at = ?4, error = ?5, api_calls = api_calls + ?6, throttled = throttled + ?7,
       updated_at = ?8 WHERE backfill_id = ?1 AND resource = ?2 AND status = 'running'`,
    )
    .bind(row.backfillId, row.resource, failures, retryAt, message.slice(0, 500), calls, throttled, now.toISOString())
    .run();
  report.status = "deferred";
  report.error = message;
  log.warn("backfill deferred", { backfillId: row.backfillId, resource: row.resource, retryAt, error: message });
}

async function finish(
  env: Env,
  row: DueRow,
  report: BackfillItemReport,
  status: "failed",
  error: string,
  calls = 0,
  throttled = 0,
) {
  const now = new Date().toISOString();
  await sharedDatabase(env)
    .prepare(
      `UPDATE backfills SET status = ?3, error = ?4, finished_at = ?5, updated_at = ?5, api_calls = api_calls + ?6,
       throttled = throttled + ?7, retry_at = NULL WHERE backfill_id = ?1 AND resource = ?2 AND status = 'running'`,
    )
    .bind(row.backfillId, row.resource, status, error.slice(0, 500), now, calls, throttled)
    .run();
  report.status = status;
  report.error = error;
  log.error("backfill failed", { backfillId: row.backfillId, source: row.source, resource: row.resource, error });
}
