/**
 * The `compact` job (daily): Parquet snapshots of the normalized D1 tables in R2, at
 * `processed/{source}/{table}/dt=YYYY-MM-DD/part-NNNNN.parquet`. A day's partition holds
 * the rows whose `updated_at` falls on that UTC day, in the state D1 holds when the job
 * runs (one row per primary key), so the latest row per id across partitions is the
 * current state. Trade-offs: a row updated again before its day is compacted appears only
 * under its newer day (intermediate versions live in the raw archive, not here), and a
 * late update of an old day is caught only while that day is inside the lookback, which
 * is why a scheduled run recompacts the last LOOKBACK_DAYS days, not just yesterday.
 * Re-running a day overwrites the same keys and then deletes parts the new run did not
 * write; between the two a reader may see a row twice, which latest-per-id reads absorb.
 */
import { z } from "zod";
import { SOURCES, type Source } from "../../shared/envelope";
import { describeError, log } from "../../shared/log";
import { partitionOf } from "../../shared/time";
import { withLease } from "../lease";
import { putJson } from "../reports";
import { PartBuffer } from "./parquet";
import { COMPACT_TABLES, type CompactTable, pageSql } from "./tables";

/** Rows per Parquet part: the widest table (shopify_orders, 66 columns) stays in the tens of MB per part. */
export const PART_ROWS = 10_000;
/** Rows per D1 query: keeps each result well inside D1's response limits. */
const READ_PAGE_ROWS = 1_000;
/** Days a scheduled run compacts, ending yesterday: covers Shopify's 4 h of webhook retries and reconciliation's repairs. */
export const LOOKBACK_DAYS = 3;
const DAY_MS = 86_400_000;

/** The job's own options, as the admin request may pass them (`{"day": "2026-11-20"}`). */
export const compactOptionsSchema = z
  .object({
    day: z.iso.date().optional(),
    partRows: z.number().int().min(1).max(PART_ROWS).optional(),
    sources: z.array(z.enum(SOURCES)).min(1).optional(),
  })
  .strict();

export interface CompactOptions {
  /** One UTC day to compact; by default the LOOKBACK_DAYS days before the run's time. */
  day?: string;
  /** Rows per part, at most PART_ROWS (tests pass a small number to see parts split). */
  partRows?: number;
  /** Only these sources' tables; the identity tables only when no source filter is given. */
  sources?: readonly Source[];
}

export interface CompactTableReport {
  source: string;
  table: string;
  dt: string;
  status: "ok" | "failed";
  rows: number;
  parts: number;
  bytes: number;
  keys: string[];
  staleDeleted: number;
  error: string | null;
}

export type CompactResult =
  | { skipped: true; runId: string; heldBy: string | null }
  | {
      skipped: false;
      runId: string;
      reportKey: string;
      days: string[];
      partRows: number;
      tables: CompactTableReport[];
      rows: number;
      parts: number;
      bytes: number;
    };

/** Thrown after the report is stored when any table-day failed, so the run shows as failed. */
export class CompactFailedError extends Error {
  override readonly name = "CompactFailedError";
}

export function compactReportKey(runId: string, startedAt: string): string {
  return `metadata/compact/dt=${partitionOf(startedAt).dt}/${runId}.json`;
}

export function partitionPrefix(spec: CompactTable, day: string): string {
  return `processed/${spec.source}/${spec.table}/dt=${day}/`;
}

/** The days to compact: the one asked for, else the LOOKBACK_DAYS UTC days before `now`, newest first. */
export function daysToCompact(now: Date, day?: string): string[] {
  if (day !== undefined) return [day];
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return Array.from({ length: LOOKBACK_DAYS }, (_, i) => new Date(today - (i + 1) * DAY_MS).toISOString().slice(0, 10));
}

export async function runCompact(
  env: Env,
  run: { runId: string; now: Date },
  options: CompactOptions = {},
): Promise<CompactResult> {
  // Options reach here from the admin request or a test; checked again so a bad day fails before the lease.
  const opts = compactOptionsSchema.parse({ day: options.day, partRows: options.partRows, sources: options.sources });
  const outcome = await withLease(env.DB, "compact", run.runId, run.now, () => compact(env, run, opts));
  if (outcome.skipped) {
    log.info("compact skipped: another run is in progress", { runId: run.runId, heldBy: outcome.heldBy });
    return { skipped: true, runId: run.runId, heldBy: outcome.heldBy };
  }
  return outcome.value;
}

async function compact(
  env: Env,
  run: { runId: string; now: Date },
  opts: z.infer<typeof compactOptionsSchema>,
): Promise<CompactResult> {
  // The report is filed under the run's scheduled time, like the data-quality report.
  const startedAt = run.now.toISOString();
  const days = daysToCompact(run.now, opts.day);
  const partRows = opts.partRows ?? PART_ROWS;
  const sources = opts.sources;
  const specs = COMPACT_TABLES.filter((t) =>
    sources === undefined ? true : t.source !== "identity" && sources.includes(t.source),
  );

  const tables: CompactTableReport[] = [];
  for (const day of days) {
    for (const spec of specs) {
      // One table-day failing is recorded and the rest still run; the run fails at the end.
      try {
        tables.push(await compactTableDay(env, spec, day, partRows, run.runId));
      } catch (err) {
        const error = describeError(err);
        log.error("compact table failed", { runId: run.runId, table: spec.table, dt: day, error });
        tables.push({ ...emptyReport(spec, day), status: "failed", error });
      }
    }
  }

  const sum = (f: (t: CompactTableReport) => number) => tables.reduce((n, t) => n + f(t), 0);
  const totals = { rows: sum((t) => t.rows), parts: sum((t) => t.parts), bytes: sum((t) => t.bytes) };
  const failed = tables.filter((t) => t.status === "failed");
  const reportKey = compactReportKey(run.runId, startedAt);
  await putJson(env.LAKE, reportKey, {
    run_id: run.runId,
    job: "compact",
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    days,
    part_rows: partRows,
    ...totals,
    failed: failed.map((t) => ({ table: t.table, dt: t.dt, error: t.error })),
    tables: tables.map((t) => ({
      source: t.source,
      table: t.table,
      dt: t.dt,
      status: t.status,
      rows: t.rows,
      parts: t.parts,
      bytes: t.bytes,
      keys: t.keys,
      stale_deleted: t.staleDeleted,
      error: t.error,
    })),
  });
  log.info("compact run done", { runId: run.runId, reportKey, ...totals, failed: failed.length });
  if (failed.length > 0) {
    const which = failed.map((t) => `${t.table} dt=${t.dt}`).join(", ");
    throw new CompactFailedError(`compact failed for ${failed.length} table-day(s): ${which}; report ${reportKey}`);
  }
  return { skipped: false, runId: run.runId, reportKey, days, partRows, tables, ...totals };
}

function emptyReport(spec: CompactTable, day: string): CompactTableReport {
  const base = { source: spec.source, table: spec.table, dt: day, status: "ok" as const };
  return { ...base, rows: 0, parts: 0, bytes: 0, keys: [], staleDeleted: 0, error: null };
}

/** Writes one table's partition for `day` part by part, then deletes parts an earlier run left beyond them. */
async function compactTableDay(
  env: Env,
  spec: CompactTable,
  day: string,
  partRows: number,
  runId: string,
): Promise<CompactTableReport> {
  const prefix = partitionPrefix(spec, day);
  const nextDay = new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
  const report = emptyReport(spec, day);
  const buffer = new PartBuffer(spec);
  const metadata = { "commerce.table": spec.table, "commerce.dt": day, "commerce.run_id": runId };

  const flush = async () => {
    const key = `${prefix}part-${String(report.keys.length).padStart(5, "0")}.parquet`;
    const rows = buffer.rows;
    const body = buffer.encode(metadata);
    await env.LAKE.put(key, body, {
      httpMetadata: { contentType: "application/vnd.apache.parquet" },
      customMetadata: { rows: String(rows), run_id: runId },
    });
    report.keys.push(key);
    report.parts++;
    report.bytes += body.byteLength;
  };

  let after: unknown[] | null = null;
  for (;;) {
    // Never read past the part being filled, so a part holds at most partRows rows.
    const limit = Math.min(READ_PAGE_ROWS, partRows - buffer.rows);
    const { results }: D1Result<Record<string, unknown>> = await env.DB.prepare(pageSql(spec, after !== null, limit))
      .bind(day, nextDay, ...(after ?? []))
      .all<Record<string, unknown>>();
    for (const row of results) buffer.push(row);
    report.rows += results.length;
    if (buffer.rows >= partRows) await flush();
    const last: Record<string, unknown> | undefined = results[results.length - 1];
    if (results.length < limit || last === undefined) break;
    after = spec.key.map((k) => last[k]);
  }
  if (buffer.rows > 0) await flush();

  report.staleDeleted = await deleteStale(env.LAKE, prefix, new Set(report.keys));
  log.info("compact table done", { table: spec.table, dt: day, rows: report.rows, parts: report.parts });
  return report;
}

/** Deletes every object under `prefix` this run did not write (parts of an earlier, larger run). */
async function deleteStale(bucket: R2Bucket, prefix: string, keep: ReadonlySet<string>): Promise<number> {
  const stale: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    for (const o of page.objects) if (!keep.has(o.key)) stale.push(o.key);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  // R2 deletes at most 1,000 keys per call.
  for (let i = 0; i < stale.length; i += 1000) await bucket.delete(stale.slice(i, i + 1000));
  return stale.length;
}
