/**
 * The `retention` job (daily): keeps D1's operational tables from growing toward its size limit.
 * Ledger rows received before the retention window move to R2 as Parquet
 * (`metadata/ledger/dt={received day}/{runId}-part-NNNNN.parquet`, same writer as `compact`) and
 * leave D1, except what dedupe needs: a row is kept while its source can still deliver the event
 * again (Shopify 48 h of retries plus the reconciliation lookback, Stripe 30 days of Events API
 * that reconciliation re-lists, Recharge 48 h), however short the window is set, and while it is
 * still `retrying`. `dq_results` (by their run's start), `alerts` (sent, failed or expired),
 * `reconcile_runs` and finished `bulk_operations` older than the window go to
 * `metadata/{table}/dt=…/{runId}.jsonl.gz` and leave D1 too.
 * Rows are deleted only after the object holding them is written, and only the rows it holds
 * (by rowid, with the condition checked again), so nothing is deleted unarchived. A run that
 * dies between the two leaves its rows in D1, and the next run archives them again under its own
 * run id: a reader of the archive may see a row twice (dedupe on the key), never lose one.
 * One lease (`retention`); at most `RETENTION_MAX_DAYS` days per table per run.
 */

import { SOURCES } from "../../shared/envelope";
import { log } from "../../shared/log";
import { cronSettings } from "../../shared/settings";
import { everyDatabase, sharedDatabase } from "../../tables/database";
import { withLease } from "../lease";
import { PartBuffer } from "../parquet";
import { deleteByRowidSql, LEDGER, LEDGER_ELIGIBLE, ledgerPageSql, OLDEST_LEDGER_DAY } from "./sql";

export interface RetentionOptions {
  /** First day (YYYY-MM-DD) the run may touch; earlier rows stay. */
  fromDay?: string;
  /** D1 queries the ledger's archiving may take (default LEDGER_QUERIES_PER_RUN). */
  ledgerQueries?: number;
}

export interface RetentionTableReport {
  table: string;
  days: number;
  archived: number;
  deleted: number;
  objects: string[];
}

export interface RetentionResult {
  skipped: boolean;
  cutoffs: Record<string, string>;
  tables: RetentionTableReport[];
}

const DAY = 24 * 3600 * 1000;
const HOUR = 3600 * 1000;
const PAGE_ROWS = 1000;
const DELETE_CHUNK = 5000;
/** D1 queries the ledger's archiving may take in one run (of 1,000), leaving room for the report tables. */
const LEDGER_QUERIES_PER_RUN = 800;
/** Wall time it may take: the daily schedule's invocation has 15 minutes, its CPU 300 s. */
const LEDGER_RUN_MS = 180_000;
const PART_ROWS = 10_000;

function num(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = Number(value);
  return value !== undefined && value.trim() !== "" && Number.isFinite(n) && n >= min && n <= max ? n : fallback;
}
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const nextDay = (day: string) => dayOf(Date.parse(`${day}T00:00:00Z`) + DAY);

/** Per source: rows received before this day may go (whole UTC days, so a day is archived once). */
export function ledgerCutoffs(now: Date, windowDays: number, shopifyLookbackMs: number): Record<string, string> {
  const horizon = { shopify: 48 * HOUR + shopifyLookbackMs, stripe: 30 * DAY, recharge: 48 * HOUR };
  const out: Record<string, string> = {};
  for (const [source, ms] of Object.entries(horizon))
    out[source] = dayOf(now.getTime() - Math.max(windowDays * DAY, ms));
  return out;
}

export async function runRetention(
  env: Env,
  run: { runId: string; now: Date },
  options: RetentionOptions = {},
): Promise<RetentionResult> {
  const windowDays = num(env.RETENTION_DAYS, 90, 1, 36_500);
  const maxDays = num(env.RETENTION_MAX_DAYS, 31, 1, 3650);
  const cutoffs = ledgerCutoffs(run.now, windowDays, cronSettings(env).lookbackMs);
  const reportCutoff = dayOf(run.now.getTime() - windowDays * DAY);
  const outcome = await withLease(sharedDatabase(env), "retention", run.runId, run.now, async () => {
    // The ledger of every database (a shop routed to its own keeps its events' ledger there).
    const tables: RetentionTableReport[] = [];
    for (const { name, db } of everyDatabase(env)) {
      const report = await archiveLedger(env, db, name, run.runId, cutoffs, maxDays, options);
      const seen = tables[0];
      if (seen === undefined) tables.push(report);
      else {
        seen.days = Math.max(seen.days, report.days);
        seen.archived += report.archived;
        seen.deleted += report.deleted;
        seen.objects.push(...report.objects);
      }
    }
    for (const t of OPERATIONAL)
      tables.push(await archiveRows(env, run.runId, t, reportCutoff, maxDays, options.fromDay ?? "0000-00-00"));
    return tables;
  });
  if (outcome.skipped) return { skipped: true, cutoffs, tables: [] };
  log.info("retention done", {
    runId: run.runId,
    ...Object.fromEntries(outcome.value.map((t) => [t.table, t.deleted])),
  });
  return { skipped: false, cutoffs: { ...cutoffs, reports: reportCutoff }, tables: outcome.value };
}

async function archiveLedger(
  env: Env,
  db: D1Database,
  binding: string,
  runId: string,
  cutoffs: Record<string, string>,
  maxDays: number,
  options: RetentionOptions,
): Promise<RetentionTableReport> {
  const fromDay = options.fromDay ?? "0000-00-00";
  const report: RetentionTableReport = { table: "webhook_events", days: 0, archived: 0, deleted: 0, objects: [] };
  // A day of a large brand is a million rows: a run takes what its budget allows and the next goes on.
  const started = Date.now();
  let queries = 0;
  const budget = options.ledgerQueries ?? LEDGER_QUERIES_PER_RUN;
  const spent = () => queries >= budget || Date.now() - started >= LEDGER_RUN_MS;
  const latest = [cutoffs.shopify ?? "", cutoffs.stripe ?? "", cutoffs.recharge ?? ""].sort().at(-1) ?? "";
  const cut = [cutoffs.shopify, cutoffs.stripe, cutoffs.recharge];
  let day = await oldestDay(db, OLDEST_LEDGER_DAY, fromDay);
  while (day !== null && day < latest && report.days < maxDays) {
    report.days++;
    queries++;
    const buffer = new PartBuffer(LEDGER);
    let rowids: string[] = [];
    let part = 0;
    const flush = async () => {
      if (buffer.rows === 0) return;
      // A routed database's parts carry its binding, so two databases' parts of one run never share a key.
      const run = binding === "DB" ? runId : `${runId}-${binding}`;
      const key = `metadata/ledger/dt=${day}/${run}-part-${String(part++).padStart(5, "0")}.parquet`;
      const rows = buffer.rows;
      const bytes = buffer.encode({
        "commerce.table": "webhook_events",
        "commerce.dt": String(day),
        "commerce.run_id": runId,
      });
      await env.LAKE.put(key, bytes, { httpMetadata: { contentType: "application/vnd.apache.parquet" } });
      report.objects.push(key);
      report.archived += rows;
      queries += Math.ceil(rowids.length / DELETE_CHUNK);
      report.deleted += await deleteRowids(
        db,
        "webhook_events",
        LEDGER_ELIGIBLE,
        [day, nextDay(String(day)), ...cut],
        rowids,
      );
      rowids = [];
    };
    // Each source's rows of the day in (received_at, rowid) order, the order of its index
    // (source, received_at): a page seeks to where the last ended (./sql.ts), so it never reads the
    // day again.
    for (const source of SOURCES) {
      const cutoff = cutoffs[source];
      if (cutoff === undefined || day >= cutoff) continue;
      let after: [string, string] | null = null;
      for (;;) {
        if (spent()) break;
        queries++;
        const page: { results: Array<Record<string, string | null>> } = await db
          .prepare(ledgerPageSql(after !== null, PAGE_ROWS))
          .bind(source, day, nextDay(day), ...(after ?? []))
          .all<Record<string, string | null>>();
        for (const row of page.results) {
          buffer.push(row);
          rowids.push(String(row._rowid));
          if (buffer.rows >= PART_ROWS) await flush();
        }
        const last = page.results.at(-1);
        if (page.results.length < PAGE_ROWS || !last) break;
        after = [String(last.received_at), String(last._rowid)];
      }
    }
    await flush();
    // Out of budget: the day's rows left stay in D1 (what was archived is deleted), for the next run.
    if (spent()) break;
    day = await oldestDay(db, OLDEST_LEDGER_DAY, nextDay(day));
  }
  return report;
}

interface Operational {
  table: string;
  /** The row's day and the rows that may go, `?1`..`?2` the day's bounds, `?3` the cutoff day. */
  dayColumn: string;
  from: string;
  eligible: string;
}
const OPERATIONAL: readonly Operational[] = [
  {
    table: "dq_results",
    dayColumn: "(SELECT started_at FROM dq_runs u WHERE u.run_id = dq_results.run_id)",
    from: "dq_results",
    eligible: "1 = 1",
  },
  { table: "alerts", dayColumn: "created_at", from: "alerts", eligible: "status IN ('sent', 'failed', 'expired')" },
  { table: "reconcile_runs", dayColumn: "started_at", from: "reconcile_runs", eligible: "1 = 1" },
  {
    table: "bulk_operations",
    dayColumn: "requested_at",
    from: "bulk_operations",
    eligible: "status IN ('completed', 'failed', 'canceled')",
  },
];

async function archiveRows(
  env: Env,
  runId: string,
  t: Operational,
  cutoff: string,
  maxDays: number,
  fromDay: string,
): Promise<RetentionTableReport> {
  const report: RetentionTableReport = { table: t.table, days: 0, archived: 0, deleted: 0, objects: [] };
  const condition = `${t.dayColumn} >= ?1 AND ${t.dayColumn} < ?2 AND ${t.dayColumn} < ?3 AND ${t.eligible}`;
  const oldest = `SELECT min(${t.dayColumn}) AS d FROM ${t.from} WHERE ${t.dayColumn} >= ?1 AND ${t.eligible}`;
  let day = await oldestDay(sharedDatabase(env), oldest, fromDay);
  while (day !== null && day < cutoff && report.days < maxDays) {
    report.days++;
    const rows = await sharedDatabase(env)
      .prepare(`SELECT rowid AS _rowid, * FROM ${t.from} WHERE ${condition} LIMIT 50000`)
      .bind(day, nextDay(day), cutoff)
      .all<Record<string, unknown>>();
    if (rows.results.length > 0) {
      const lines = rows.results.map(({ _rowid, ...r }) => JSON.stringify(r));
      const gz = new Blob([`${lines.join("\n")}\n`]).stream().pipeThrough(new CompressionStream("gzip"));
      const key = `metadata/${t.table}/dt=${day}/${runId}.jsonl.gz`;
      await env.LAKE.put(key, await new Response(gz).arrayBuffer(), {
        httpMetadata: { contentType: "application/x-ndjson", contentEncoding: "gzip" },
      });
      report.objects.push(key);
      report.archived += rows.results.length;
      report.deleted += await deleteRowids(
        sharedDatabase(env),
        t.table,
        condition,
        [day, nextDay(day), cutoff],
        rows.results.map((r) => String(r._rowid)),
      );
    }
    day = await oldestDay(sharedDatabase(env), oldest, nextDay(day));
  }
  return report;
}

async function oldestDay(db: D1Database, sql: string, from: string): Promise<string | null> {
  const row = await db.prepare(sql).bind(from).first<{ d: string | null }>();
  return row?.d ? row.d.slice(0, 10) : null;
}

/** Deletes the archived rows (by rowid, condition checked again), in chunks D1 accepts. */
async function deleteRowids(
  db: D1Database,
  table: string,
  condition: string,
  binds: unknown[],
  rowids: string[],
): Promise<number> {
  let deleted = 0;
  const n = binds.length;
  for (let i = 0; i < rowids.length; i += DELETE_CHUNK) {
    const chunk = JSON.stringify(rowids.slice(i, i + DELETE_CHUNK).map(Number));
    const result = await db
      .prepare(deleteByRowidSql(table, condition, n + 1))
      .bind(...binds, chunk)
      .run();
    deleted += result.meta.changes ?? 0;
  }
  return deleted;
}
