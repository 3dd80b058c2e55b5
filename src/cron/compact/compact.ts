/**
 * The `compact` job (hourly): the D1 tables as Apache Iceberg v2 tables in R2
 * (`processed/{source}/{table}/`, src/lake), one commit per table per run.
 *
 * What changed comes from D1 itself, in the same transaction as each write (triggers of
 * migrations/0020 and 0140): `lake_changes` marks the (table, day) a row was written on, and
 * `lake_deletes` logs the lake key of a row D1 deleted. A run reads exactly the marked days (an
 * index range each) and the logged keys, appends those rows as new data files with one
 * equality-delete file for their keys (src/lake/table-writer.ts says why merge-on-read), commits,
 * and only then clears the marks and log entries it read, table by table. So the cost of a run
 * follows what changed, a reader sees the previous snapshot or the next, and a run cut short
 * commits nothing for the table it was in and loses no mark: the next run reads the same days.
 * The KPI snapshots reading a committed table are marked owed; lake-upkeep refreshes them.
 *
 * Budgets (PLATFORM-LIMITS.md): a run stops taking days past TABLE_QUERIES D1 queries or
 * RUN_ROWS rows per table, commits what it read, and leaves the rest marked (reported as
 * `deferred`).
 */

import { z } from "zod";
import { lakeIo } from "../../lake/io";
import { type CommitReport, openTable, TableChange } from "../../lake/table-writer";
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
  clearDeletes,
  clearMarks,
  type LoggedDelete,
  loggedDeletes,
  markKey,
  marksOf,
  owesSnapshots,
  tablesWithDeletes,
} from "./changes";
import { KPI_VIEWS } from "./kpi-views";
import { readChangedDay, readKeys } from "./read";
import { publishSchema } from "./schemas";
import { COMPACT_TABLES, type CompactTable, lakeSpecOf } from "./tables";

/** Changed table-days one run reads at most (oldest change first); the rest wait for the next run. */
export const MAX_TABLE_DAYS = 2_000;
/** Rows one run appends to one table at most: bounds the keys held for its delete file. */
export const RUN_ROWS = 250_000;
/** Deleted keys one run takes from the log per table (one read; a shop's redaction logs millions). */
const RUN_DELETES = 100_000;
/**
 * D1 queries after which a run takes no new table-day (Cloudflare allows 1,000 per invocation; a
 * table's last day, its commit and its two clearing statements fit the rest).
 */
const TABLE_QUERIES = 800;

/** The job's own options, as the admin request or another job may pass them. */
export const compactOptionsSchema = z
  .object({
    /** One UTC day to read for every selected table, changed or not. */
    day: z.iso.date().optional(),
    /** Several such days (erasure asks for the days it rewrote). */
    days: z.array(z.iso.date()).min(1).max(400).optional(),
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
  status: "ok" | "failed";
  /** The changed days read (a KPI snapshot: none). */
  days: string[];
  rows: number;
  deletedKeys: number;
  dataFiles: number;
  deleteFiles: number;
  /** Bytes written to R2: data, deletes, manifests, manifest list, metadata. */
  bytes: number;
  /** Of those, the data files' (the rows themselves). */
  dataBytes: number;
  snapshotId: number | null;
  error: string | null;
}

export type CompactResult =
  | { skipped: true; runId: string; heldBy: string | null }
  | {
      skipped: false;
      runId: string;
      reportKey: string;
      /** The days read, newest first. */
      days: string[];
      /** One entry per table committed (or failed). */
      tables: CompactTableReport[];
      /** Table-days and snapshots left for the next run (their marks stay): this one spent its budget. */
      deferred: number;
      schemaVersions: Record<string, number>;
      rows: number;
      bytes: number;
      /** D1 queries the run made (its budget is 1,000). */
      queries: number;
    };

/** Thrown after the report is stored when any table failed, so the run shows as failed. */
export class CompactFailedError extends Error {
  override readonly name = "CompactFailedError";
}

export function compactReportKey(runId: string, startedAt: string): string {
  return `metadata/compact/dt=${partitionOf(startedAt).dt}/${runId}.json`;
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
 * Compacts now what changed in `tables` (every table by default): the asked `days` first, then
 * every other marked day. For a job that rewrote rows (erasure) and needs the lake to follow
 * before the next hourly run.
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

/** The table-days to read: the asked ones (with their marks, if any), else or then the marked ones. */
async function workOf(
  db: D1Database,
  specs: readonly CompactTable[],
  opts: z.infer<typeof compactOptionsSchema>,
  withChanged: boolean,
): Promise<ChangedDay[]> {
  const names = specs.map((s) => s.table);
  const explicit = opts.days ?? (opts.day !== undefined ? [opts.day] : null);
  if (explicit === null) return changedDays(db, names, MAX_TABLE_DAYS);
  const pairs = specs.flatMap((s) => explicit.map((dt) => ({ table: s.table, dt })));
  const seqs = await marksOf(db, pairs);
  // seq -1 never matches a mark, so a day read on demand without one clears nothing.
  const asked = pairs.map((p) => ({ ...p, seq: seqs.get(markKey(p.table, p.dt)) ?? -1 }));
  if (!withChanged) return asked;
  const askedKeys = new Set(pairs.map((p) => markKey(p.table, p.dt)));
  const changed = await changedDays(db, names, MAX_TABLE_DAYS);
  return [...asked.filter((m) => m.seq >= 0), ...changed.filter((m) => !askedKeys.has(markKey(m.table, m.dt)))];
}

async function compact(
  input: Env,
  run: { runId: string; now: Date },
  opts: z.infer<typeof compactOptionsSchema>,
  withChanged: boolean,
): Promise<CompactResult> {
  const meter: QueryMeter = { queries: 0 };
  const env = meteredDatabases(input, meter);
  const db = sharedDatabase(env);
  const io = lakeIo(env);
  const startedAt = run.now.toISOString();
  const specs = selectTables(opts);

  const schemaVersions: Record<string, number> = {};
  for (const spec of specs) schemaVersions[spec.table] = (await publishSchema(env.LAKE, spec, startedAt)).version;

  const work = await workOf(db, specs, opts, withChanged);
  const withDeletes = await tablesWithDeletes(
    db,
    specs.map((s) => s.table),
  );
  // Tables in the order of their oldest change; tables with only deletes after them.
  const order = [...new Set([...work.map((m) => m.table), ...withDeletes])];

  const tables: CompactTableReport[] = [];
  const written = new Set<string>();
  let deferred = 0;
  for (const name of order) {
    const spec = specs.find((s) => s.table === name);
    if (spec === undefined) continue;
    const marks = work.filter((m) => m.table === name);
    if (meter.queries >= TABLE_QUERIES) {
      deferred += Math.max(1, marks.length);
      continue;
    }
    const outcome = await compactTable(env, io, spec, marks, meter);
    tables.push(outcome.report);
    deferred += outcome.deferred;
    if (outcome.report.status === "ok" && outcome.report.snapshotId !== null) written.add(spec.table);
  }

  // Every table is readable from its first run: one with no snapshot yet gets an empty one.
  for (const spec of specs) {
    if (written.has(spec.table) || meter.queries >= TABLE_QUERIES) continue;
    const base = await openTable(io, lakeSpecOf(spec));
    if (base.metadata["current-snapshot-id"] != null && base.metadata["current-snapshot-id"] >= 0) continue;
    const change = new TableChange(io, lakeSpecOf(spec), base, "append");
    await change.addEmptyFile();
    const report = await change.commit();
    tables.push(reportOf(spec, [], report));
  }

  // The KPI snapshots reading a committed table are owed a refresh, which lake-upkeep makes: a
  // snapshot re-reads its whole view, so it is kept out of this run, whose cost follows the change.
  await owesSnapshots(
    db,
    KPI_VIEWS.filter((v) => v.inputs.some((t) => written.has(t))).map((v) => v.table),
  );

  const all = tables;
  const days = [...new Set(tables.flatMap((t) => t.days))].sort().reverse();
  const totals = { rows: all.reduce((n, t) => n + t.rows, 0), bytes: all.reduce((n, t) => n + t.bytes, 0) };
  const failed = all.filter((t) => t.status === "failed");
  const reportKey = compactReportKey(run.runId, startedAt);
  await putJson(env.LAKE, reportKey, {
    run_id: run.runId,
    job: "compact",
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    days,
    ...totals,
    queries: meter.queries,
    deferred,
    schema_versions: schemaVersions,
    failed: failed.map((t) => ({ table: t.table, error: t.error })),
    tables: tables.map(reportEntry),
  });
  log.info("compact run done", { runId: run.runId, reportKey, ...totals, failed: failed.length, deferred });
  if (failed.length > 0) {
    const which = failed.map((t) => t.table).join(", ");
    throw new CompactFailedError(`compact failed for ${failed.length} table(s): ${which}; report ${reportKey}`);
  }
  return {
    skipped: false,
    runId: run.runId,
    reportKey,
    days,
    tables,
    deferred,
    schemaVersions,
    ...totals,
    queries: meter.queries,
  };
}

/**
 * One table's commit: its logged deletes first (read before the days, so a row deleted while the
 * days are read is either in the log read here or left for the next run, never lost), then its
 * marked days while the budget lasts, then the rows of logged keys no day held. The marks and log
 * entries read are cleared only after the commit.
 */
async function compactTable(
  env: Env,
  io: ReturnType<typeof lakeIo>,
  spec: CompactTable,
  marks: readonly ChangedDay[],
  meter: QueryMeter,
): Promise<{ report: CompactTableReport; deferred: number }> {
  const db = sharedDatabase(env);
  const lake = lakeSpecOf(spec);
  let change: TableChange | null = null;
  const done: ChangedDay[] = [];
  let deferred = 0;
  let deletes: LoggedDelete[] = [];
  let report: CommitReport;
  try {
    deletes = await loggedDeletes(db, spec.table, RUN_DELETES);
    const base = await openTable(io, lake);
    change = new TableChange(io, lake, base, "append");
    const target = change;
    // A table read by lake key gets every row of a key on each marked day the key has a row on: a
    // key an earlier day of this run read is not added again (its rows would be in the commit twice,
    // and a commit's equality deletes do not hide its own rows).
    const earlier = spec.readByLakeKey ? new Set<string>() : null;
    // Every read checks the budget before each query, so one large day or a shop's millions of
    // deletes cannot carry the run past D1's 1,000 queries; what is left keeps its mark or log entry.
    const more = () => meter.queries < TABLE_QUERIES && target.pendingRows < RUN_ROWS;
    for (const mark of marks) {
      if (!more()) {
        deferred++;
        continue;
      }
      const read = new Set<string>();
      const whole = await readChangedDay(
        db,
        spec,
        mark.dt,
        (values) => {
          if (earlier === null) return target.addValues(values);
          const key = JSON.stringify(target.keyOf(values));
          if (earlier.has(key)) return Promise.resolve();
          read.add(key);
          return target.addValues(values);
        },
        more,
      );
      for (const key of read) earlier?.add(key);
      if (whole) done.push(mark);
      else deferred++;
    }
    // The logged deletes whose key no day held: their rows are read again (a key deleted and then
    // inserted again is back), as many as the budget allows; only those go in this commit.
    const seen = deletes.filter((d) => target.holdsKey(d.key));
    const unseen = deletes.filter((d) => !target.holdsKey(d.key));
    const reread = await readKeys(
      db,
      spec,
      unseen.map((d) => d.key),
      (values) => target.addValues(values),
      more,
    );
    deletes = [...seen, ...unseen.slice(0, reread)];
    for (const d of deletes) target.deleteKey(d.key);
    report = await target.commit();
  } catch (err) {
    const error = describeError(err);
    log.error("compact table failed", { table: spec.table, days: done.map((m) => m.dt).join(","), error });
    // Only files no commit can reference are deleted (abort knows whether the commit may have landed).
    await change?.abort().catch(() => undefined);
    const days = done.map((m) => m.dt);
    return { report: { ...reportOf(spec, days, null), status: "failed", error }, deferred: marks.length - done.length };
  }
  // Committed: clearing what it covered is two statements. Should they fail, the marks stay and the
  // next run appends the same rows again with their equality deletes, which leaves the table exact.
  try {
    await clearMarks(db, done);
    await clearDeletes(db, spec.table, deletes);
  } catch (err) {
    log.error("compact marks not cleared after the commit", { table: spec.table, error: describeError(err) });
  }
  return {
    report: reportOf(
      spec,
      done.map((m) => m.dt),
      report,
    ),
    deferred,
  };
}

function reportOf(spec: CompactTable, days: string[], report: CommitReport | null): CompactTableReport {
  return {
    source: spec.source,
    table: spec.table,
    status: "ok",
    days,
    rows: report?.rows ?? 0,
    deletedKeys: report?.deletedKeys ?? 0,
    dataFiles: report?.dataFiles ?? 0,
    deleteFiles: report?.deleteFiles ?? 0,
    bytes: report?.bytes ?? 0,
    dataBytes: report?.dataBytes ?? 0,
    snapshotId: report?.snapshotId ?? null,
    error: null,
  };
}

const reportEntry = (t: CompactTableReport) => ({
  source: t.source,
  table: t.table,
  status: t.status,
  days: t.days,
  rows: t.rows,
  deleted_keys: t.deletedKeys,
  data_files: t.dataFiles,
  delete_files: t.deleteFiles,
  bytes: t.bytes,
  data_bytes: t.dataBytes,
  snapshot_id: t.snapshotId,
  error: t.error,
});
