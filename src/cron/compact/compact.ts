/**
 * The `compact` job (hourly): the D1 tables as typed Parquet in R2, in two shapes.
 * `processed/{source}/{table}/dt=YYYY-MM-DD/part-NNNNN.parquet` holds the rows whose day column
 * (`updated_at`) falls on that UTC day, as D1 holds them when the day is compacted;
 * `processed/{source}/{table}/current/part-NNNNN.parquet` holds the whole table, one row per
 * key, rebuilt whenever the table changed, so a reader counts rows without deduplicating.
 * Which days to compact comes from `lake_changes`, marked by triggers on every write
 * (src/cron/compact/changes.ts): the hourly run recompacts exactly the days that changed,
 * however late, and reads nothing else. Trade-offs: intermediate versions of a row live in
 * the raw archive, not here; the current snapshot is rebuilt whole (a full read of a changed
 * table per run), which is simple and exact, and costs O(table) D1 reads per hour.
 * Re-running overwrites the same keys and then deletes parts the new run did not write;
 * between the two a reader may see a part of each run.
 */

import { z } from "zod";
import type { QueryMeter } from "../../shared/d1-meter";
import { SOURCES, type Source } from "../../shared/envelope";
import { describeError, log } from "../../shared/log";
import { partitionOf } from "../../shared/time";
import { meteredDatabases, sharedDatabase } from "../../tables/database";
import { withLease } from "../lease";
import { putJson } from "../reports";
import {
  type ChangedDay,
  changedDays,
  clearMark,
  isDay,
  markKey,
  marksOf,
  owedSnapshots,
  owesSnapshot,
  SNAPSHOT_OWED,
} from "./changes";
import { KPI_VIEWS } from "./kpi-views";
import { snapshotDay, writeKpiSnapshot } from "./kpis";
import { lakePrefix, type PrefixReport, writePrefix } from "./parts";
import { publishSchema } from "./schemas";
import { COMPACT_TABLES, type CompactTable, type LakeTable } from "./tables";

/** Rows per Parquet part: the widest table (shopify_orders, 66 columns) stays in the tens of MB per part. */
export const PART_ROWS = 10_000;
/** Changed table-days one run compacts at most (oldest change first); the rest wait for the next run. */
export const MAX_TABLE_DAYS = 500;
/**
 * D1 queries after which a run takes no new table-day, and no new snapshot (Cloudflare allows
 * 1,000 per invocation; one snapshot of a table of up to a few million rows fits the rest).
 */
const TABLE_DAY_QUERIES = 400;
const SNAPSHOT_QUERIES = 700;

/** The job's own options, as the admin request or another job may pass them. */
export const compactOptionsSchema = z
  .object({
    /** One UTC day to compact for every selected table, changed or not. */
    day: z.iso.date().optional(),
    /** Several such days (erasure recompacts the days it rewrote). */
    days: z.array(z.iso.date()).min(1).max(400).optional(),
    partRows: z.number().int().min(1).max(PART_ROWS).optional(),
    sources: z.array(z.enum(SOURCES)).min(1).optional(),
    /** Only these tables (names as in D1). */
    tables: z
      .array(z.string().refine((t) => COMPACT_TABLES.some((s) => s.table === t), "not a compacted table"))
      .min(1)
      .optional(),
  })
  .strict();

export type CompactOptions = z.input<typeof compactOptionsSchema>;

export interface CompactTableReport {
  source: string;
  table: string;
  /** The partition's day, or `current` for the snapshot. */
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
      /** The days compacted, newest first. */
      days: string[];
      partRows: number;
      /** One entry per table-day compacted. */
      tables: CompactTableReport[];
      /** One entry per current snapshot rebuilt. */
      current: CompactTableReport[];
      /** Table-days and snapshots left for the next run (their marks stay): this one spent its D1 query budget. */
      deferred: number;
      schemaVersions: Record<string, number>;
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
  return lakePrefix(spec, { day });
}

export async function runCompact(
  env: Env,
  run: { runId: string; now: Date },
  options: CompactOptions = {},
  also: { changed: boolean } = { changed: false },
): Promise<CompactResult> {
  // Options reach here from the admin request, another job or a test; checked again so a bad day fails before the lease.
  const opts = compactOptionsSchema.parse(options);
  const outcome = await withLease(sharedDatabase(env), "compact", run.runId, run.now, () =>
    compact(env, run, opts, also.changed),
  );
  if (outcome.skipped) {
    log.info("compact skipped: another run is in progress", { runId: run.runId, heldBy: outcome.heldBy });
    return { skipped: true, runId: run.runId, heldBy: outcome.heldBy };
  }
  return outcome.value;
}

/**
 * Recompacts now what changed in `tables` (every table by default): the marked ones of `days`
 * first, then every other marked day, and rebuilds the changed tables' snapshots. For a job that
 * rewrote rows (erasure) and needs the lake to follow before the next hourly run.
 */
export async function compactTableDays(
  env: Env,
  run: { runId: string; now: Date },
  target: { tables?: readonly string[]; days: readonly string[] },
): Promise<CompactResult> {
  const tables = target.tables === undefined ? undefined : [...target.tables];
  return runCompact(env, run, { tables, days: [...target.days] }, { changed: true });
}

function selectTables(opts: z.infer<typeof compactOptionsSchema>): CompactTable[] {
  return COMPACT_TABLES.filter((t) => {
    if (opts.tables !== undefined && !opts.tables.includes(t.table)) return false;
    if (opts.sources === undefined) return true;
    return t.source !== "identity" && t.source !== "kpi" && opts.sources.includes(t.source as Source);
  });
}

async function compact(
  input: Env,
  run: { runId: string; now: Date },
  opts: z.infer<typeof compactOptionsSchema>,
  withChanged: boolean,
): Promise<CompactResult> {
  // Every D1 query counts toward the invocation's 1,000: the run takes no new table-day once
  // TABLE_DAY_QUERIES are spent, leaving room for the snapshots after; the rest keep their marks.
  const meter: QueryMeter = { queries: 0 };
  const env = meteredDatabases(input, meter);
  // The report is filed under the run's scheduled time, like the data-quality report.
  const startedAt = run.now.toISOString();
  const partRows = opts.partRows ?? PART_ROWS;
  const specs = selectTables(opts);
  const byName = new Map(specs.map((s) => [s.table, s]));

  // Schemas first: every part written below names the version it was written with.
  const schemaVersions: Record<string, number> = {};
  const newSchema = new Set<string>();
  for (const spec of specs) {
    const published = await publishSchema(env.LAKE, spec, startedAt);
    schemaVersions[spec.table] = published.version;
    if (published.changed) newSchema.add(spec.table);
  }

  const explicit = opts.days ?? (opts.day !== undefined ? [opts.day] : null);
  let work: ChangedDay[];
  if (explicit !== null) {
    const pairs = specs.flatMap((s) => explicit.map((dt) => ({ table: s.table, dt })));
    const seqs = await marksOf(sharedDatabase(env), pairs);
    // seq -1 never matches a mark, so a day compacted on demand without one clears nothing.
    work = pairs.map((p) => ({ ...p, seq: seqs.get(markKey(p.table, p.dt)) ?? -1 }));
    if (withChanged) {
      // Every D1 write marks its day, so an unmarked day's Parquet already matches D1: the asked days
      // that are marked come first, then every other marked day (an erasure also moves emails and
      // identities, whose days it does not know).
      const asked = new Set(pairs.map((p) => markKey(p.table, p.dt)));
      const changed = await changedDays(sharedDatabase(env), [...byName.keys()], MAX_TABLE_DAYS);
      work = [...work.filter((m) => m.seq >= 0), ...changed.filter((m) => !asked.has(markKey(m.table, m.dt)))];
    }
  } else {
    work = await changedDays(sharedDatabase(env), [...byName.keys()], MAX_TABLE_DAYS);
  }

  const metadataFor = (spec: LakeTable, where: string) => ({
    "commerce.table": spec.table,
    "commerce.dt": where,
    "commerce.run_id": run.runId,
    "commerce.schema_version": String(schemaVersions[spec.table] ?? 1),
  });

  const tables: CompactTableReport[] = [];
  // Marks of the table-days written, per table: cleared once the table's snapshot is rebuilt too,
  // so a snapshot that fails keeps its table marked for the next run.
  const written = new Map<string, ChangedDay[]>();
  let deferred = 0;
  for (const mark of work) {
    const spec = byName.get(mark.table);
    if (spec === undefined) continue;
    if (meter.queries >= TABLE_DAY_QUERIES) {
      deferred++;
      continue;
    }
    // One table-day failing is recorded and the rest still run; its mark stays, the run fails at the end.
    try {
      if (!isDay(mark.dt)) throw new Error(`compact: ${spec.table}.${spec.dayColumn} gave a day that is not a date`);
      const report = await writePrefix(env, spec, { day: mark.dt }, { partRows, metadata: metadataFor(spec, mark.dt) });
      tables.push(entry(spec, mark.dt, report));
      // A day compacted on demand without a mark had no write since it was last compacted.
      if (mark.seq >= 0) written.set(spec.table, [...(written.get(spec.table) ?? []), mark]);
    } catch (err) {
      const error = describeError(err);
      log.error("compact table failed", { runId: run.runId, table: spec.table, dt: mark.dt, error });
      tables.push({ ...entry(spec, mark.dt, null), status: "failed", error });
    }
  }

  // A table's snapshot is rebuilt when a marked day of it was written, and when its schema is new
  // (the first run, or a migration added a column), so every table has one with its latest columns.
  const current: CompactTableReport[] = [];
  const snapshotted = new Set<string>();
  for (const spec of specs) {
    const marks = written.get(spec.table) ?? [];
    if (marks.length === 0 && !newSchema.has(spec.table)) continue;
    // Past the budget the snapshot waits: its table keeps its marks, so the next run rebuilds it.
    if (meter.queries >= SNAPSHOT_QUERIES) {
      deferred++;
      continue;
    }
    try {
      const report = await writePrefix(env, spec, "current", { partRows, metadata: metadataFor(spec, "current") });
      current.push(entry(spec, "current", report));
      snapshotted.add(spec.table);
    } catch (err) {
      const error = describeError(err);
      log.error("compact current failed", { runId: run.runId, table: spec.table, error });
      current.push({ ...entry(spec, "current", null), status: "failed", error });
    }
  }

  // The KPI views follow their inputs: a snapshot is rebuilt when a table it reads was written in
  // this run (D1 holds every write so far, so one refresh covers them all), when its schema is new,
  // and on a new UTC day for the views that count up to today.
  const kpiFailedInputs = new Set<string>();
  const owed = await owedSnapshots(
    sharedDatabase(env),
    KPI_VIEWS.map((v) => v.table),
  );
  for (const spec of KPI_VIEWS) {
    const published = await publishSchema(env.LAKE, spec, startedAt);
    schemaVersions[spec.table] = published.version;
    const asOf = new Date().toISOString();
    const due =
      published.changed ||
      owed.has(spec.table) ||
      spec.inputs.some((table) => written.has(table)) ||
      (spec.clock && (await snapshotDay(env.LAKE, spec)) !== asOf.slice(0, 10));
    if (!due) continue;
    if (meter.queries >= SNAPSHOT_QUERIES) {
      // Owed to the next run, which rebuilds it from D1 as it is then (inputs' marks may go).
      deferred++;
      await owesSnapshot(sharedDatabase(env), spec.table).run();
      continue;
    }
    try {
      const report = await writeKpiSnapshot(env, spec, { partRows, metadata: metadataFor(spec, "current"), asOf });
      current.push(entry(spec, "current", report));
      const seq = owed.get(spec.table);
      if (seq !== undefined) await clearMark(sharedDatabase(env), { table: spec.table, dt: SNAPSHOT_OWED, seq });
    } catch (err) {
      const error = describeError(err);
      log.error("compact kpi snapshot failed", { runId: run.runId, view: spec.table, error });
      current.push({ ...entry(spec, "current", null), status: "failed", error });
      for (const table of spec.inputs) kpiFailedInputs.add(table);
    }
  }

  // A table's marks are cleared once its snapshot and every KPI snapshot reading it are rebuilt, so
  // either failing keeps the table marked and the next run tries again.
  for (const [table, marks] of written) {
    if (!snapshotted.has(table) || kpiFailedInputs.has(table)) continue;
    for (const mark of marks) await clearMark(sharedDatabase(env), mark);
  }

  const days = [...new Set(tables.map((t) => t.dt))].sort().reverse();
  const all = [...tables, ...current];
  const sum = (f: (t: CompactTableReport) => number) => all.reduce((n, t) => n + f(t), 0);
  const totals = { rows: sum((t) => t.rows), parts: sum((t) => t.parts), bytes: sum((t) => t.bytes) };
  const failed = all.filter((t) => t.status === "failed");
  const reportKey = compactReportKey(run.runId, startedAt);
  const reportEntry = (t: CompactTableReport) => ({
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
  });
  await putJson(env.LAKE, reportKey, {
    run_id: run.runId,
    job: "compact",
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    days,
    part_rows: partRows,
    ...totals,
    schema_versions: schemaVersions,
    failed: failed.map((t) => ({ table: t.table, dt: t.dt, error: t.error })),
    tables: tables.map(reportEntry),
    current: current.map(reportEntry),
  });
  log.info("compact run done", { runId: run.runId, reportKey, ...totals, failed: failed.length, deferred });
  if (failed.length > 0) {
    const which = failed.map((t) => `${t.table} dt=${t.dt}`).join(", ");
    throw new CompactFailedError(`compact failed for ${failed.length} table-day(s): ${which}; report ${reportKey}`);
  }
  return {
    skipped: false,
    runId: run.runId,
    reportKey,
    days,
    partRows,
    tables,
    current,
    deferred,
    schemaVersions,
    ...totals,
  };
}

function entry(spec: LakeTable, dt: string, report: PrefixReport | null): CompactTableReport {
  const base = { source: spec.source, table: spec.table, dt, status: "ok" as const, error: null };
  return { ...base, rows: 0, parts: 0, bytes: 0, keys: [], staleDeleted: 0, ...report };
}
