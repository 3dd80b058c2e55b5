/**
 * The `lake-upkeep` job (hourly, after `compact`): refreshes the KPI snapshots, keeps each Iceberg
 * table cheap to read and keeps erased rows out of every file, in bounded steps that resume where
 * they stopped.
 *
 * - **KPI snapshots.** A view whose input tables `compact` committed is owed a refresh (a mark in
 *   `lake_changes`); it is refreshed once its snapshot is KPI_REFRESH_HOURS old (a refresh re-reads
 *   the whole view from D1, so it is paced, not made on every change), at once when it has none,
 *   and on a new UTC day for the views that count up to today.
 * - **Rebuild.** Each compact run adds a data file and an equality-delete file, which every reader
 *   then applies. A table whose oldest delete file is REBUILD_AFTER_DAYS old (or that has more than
 *   MAX_MANIFESTS manifests, or that an erasure or an operator asked for) is rebuilt from D1, the
 *   source of truth, in key order: RUN_ROWS rows per run into one data file, progress committed to
 *   `lake_upkeep` after each, and one `replace` commit at the end (commitRebuild says why commits
 *   made meanwhile stay exact). A rebuild drops every delete file and every old version of a row:
 *   after an erasure, it is what takes a person's rows out of the table's files.
 * - **Expiry and sweep.** Snapshots older than SNAPSHOT_DAYS (the newest always kept) are removed
 *   from the table's metadata, and every object under the table that no kept snapshot reaches is
 *   deleted: the files of expired snapshots (so erased rows leave R2 within REBUILD_AFTER_DAYS +
 *   SNAPSHOT_DAYS of the erasure, inside GDPR's month), the files of runs that stopped before their
 *   commit, and the plain Parquet the lake held before it became Iceberg (`current/`, `dt=…/`).
 *
 * It takes the compact job's lease, so no commit runs while it sweeps. With R2 Data Catalog, the
 * catalog can also compact and expire; this job works the same through it (docs/lake.md).
 */
import { z } from "zod";
import { commitWithRetry } from "../../lake/catalog/store";
import { dataFileFromJson, dataFileList, dataFileToJson } from "../../lake/data-file";
import { currentSnapshot, decodeManifest, expireSnapshots } from "../../lake/iceberg";
import { lakeIo } from "../../lake/io";
import {
  commitRebuild,
  type LakeIo,
  openTable,
  readManifestList,
  TableChange,
  tableRef,
} from "../../lake/table-writer";
import type { QueryMeter } from "../../shared/d1-meter";
import { describeError, log } from "../../shared/log";
import { meteredDatabases, sharedDatabase } from "../../tables/database";
import { withLease } from "../lease";
import { clearMark, owedSnapshots, owesSnapshot, owesSnapshots, SNAPSHOT_OWED } from "./changes";
import { PEOPLE_VIEWS, peoplePassRunning, peoplePassStep } from "./kpi-people";
import { KPI_VIEWS } from "./kpi-views";
import { KPI_PAGE_ROWS, snapshotAsOf, writeKpiSnapshot } from "./kpis";
import { readTable } from "./read";
import { publishSchema } from "./schemas";
import { COMPACT_TABLES, type CompactTable, type LakeTable, lakeSpecOf } from "./tables";

/** A table is rebuilt once its oldest delete file is this old. */
export const REBUILD_AFTER_DAYS = 7;
/** ... or once its snapshot names this many manifests (each compact commit adds one or two). */
export const MAX_MANIFESTS = 200;
/** Snapshots are kept this long (time travel), the newest always. */
export const SNAPSHOT_DAYS = 3;
/** A KPI snapshot owed a refresh is refreshed once it is this old. */
export const KPI_REFRESH_HOURS = 6;
/** Rows a rebuild reads per run (one data file). */
const RUN_ROWS = 250_000;
/** Rows the people pass writes per run, and the time it may take (an hourly job has 15 minutes). */
const PEOPLE_RUN_ROWS = 1_000_000;
const PEOPLE_RUN_MS = 180_000;
/** D1 queries after which a run takes no new KPI snapshot or range (the rest stay owed)... */
const KPI_QUERIES = 400;
/** ...and after which a rebuild stops for the next run (Cloudflare allows 1,000 per invocation). */
const REBUILD_QUERIES = 900;
/** R2 operations the sweeps of one run may spend (Cloudflare allows 10,000 subrequests). */
const SWEEP_R2_OPERATIONS = 5_000;
const DAY_MS = 86_400_000;

export const upkeepOptionsSchema = z
  .object({
    /** Rebuild these tables now (names as in D1), whatever their delete files. */
    rebuild: z
      .array(z.string().refine((t) => COMPACT_TABLES.some((s) => s.table === t), "not a compacted table"))
      .min(1)
      .optional(),
    /** Keep snapshots this many days instead of SNAPSHOT_DAYS (0: only the current one). */
    snapshotDays: z.number().min(0).max(365).optional(),
    /** Refresh owed KPI snapshots this many hours apart instead of KPI_REFRESH_HOURS (0: every run). */
    kpiRefreshHours: z.number().min(0).max(168).optional(),
    /** Rows the people pass writes per run instead of PEOPLE_RUN_ROWS, profiles in its first range (tests resume with them). */
    peopleRunRows: z.number().int().min(1).max(PEOPLE_RUN_ROWS).optional(),
    peopleRangeProfiles: z.number().int().min(1).max(50_000).optional(),
    /** Input rows per range of analytics_subscription_mrr instead of KPI_PAGE_ROWS (tests span ranges with it). */
    kpiRangeRows: z.number().int().min(1).max(KPI_PAGE_ROWS).optional(),
    /** Rows a rebuild reads per run instead of RUN_ROWS (smaller parts; tests resume with it). */
    rebuildRows: z.number().int().min(1).max(RUN_ROWS).optional(),
  })
  .strict();

export type UpkeepOptions = z.input<typeof upkeepOptionsSchema>;

export interface KpiSnapshotReport {
  view: string;
  rows: number;
  bytes: number;
  snapshotId: number | null;
}

export interface RebuildReport {
  table: string;
  /** Rows the rebuild has read so far (all runs), and in this run. */
  rows: number;
  rowsThisRun: number;
  files: number;
  committed: boolean;
  reason: string;
}

export interface UpkeepResult {
  skipped: boolean;
  runId: string;
  /** The KPI snapshots refreshed, and those still owed (no budget left). */
  snapshots: KpiSnapshotReport[];
  owed: number;
  /** The people pass's part in this run (kpi-people.ts), when one ran. */
  people: { ranges: number; rows: number; committed: boolean } | null;
  /** The run's first rebuild step: the one in progress or asked first (of `rebuilds`, one per table). */
  rebuild: RebuildReport | null;
  rebuilds: RebuildReport[];
  swept: { table: string; expiredSnapshots: number; deletedObjects: number }[];
  failed: { table: string; error: string }[];
}

export async function runUpkeep(
  env: Env,
  run: { runId: string; now: Date },
  options: UpkeepOptions = {},
): Promise<UpkeepResult> {
  const opts = upkeepOptionsSchema.parse(options);
  const outcome = await withLease(sharedDatabase(env), "compact", run.runId, run.now, () => upkeep(env, run, opts));
  return outcome.skipped ? emptyResult(run.runId, true) : outcome.value;
}

function emptyResult(runId: string, skipped: boolean): UpkeepResult {
  return { skipped, runId, snapshots: [], owed: 0, people: null, rebuild: null, rebuilds: [], swept: [], failed: [] };
}

const upkeepRows = async (db: D1Database) => (await db.prepare("SELECT * FROM lake_upkeep").all<UpkeepRow>()).results;

/** The rebuild reason of an erasure's ask: its commit is followed by the expiry of every older snapshot. */
const ERASURE = "erasure";

interface UpkeepRow {
  table_name: string;
  rebuild_progressed_at: string | null;
  swept_at: string | null;
  rebuilt_at: string | null;
  rebuild_base_sequence: number | null;
  rebuild_after_key: string | null;
  rebuild_files: string | null;
  rebuild_rows: number;
  rebuild_started_at: string | null;
  rebuild_reason: string | null;
  rebuilt_from: string | null;
  erasure_asked_at: string | null;
  expire_before: string | null;
}

async function upkeep(input: Env, run: { runId: string; now: Date }, opts: z.infer<typeof upkeepOptionsSchema>) {
  const meter: QueryMeter = { queries: 0 };
  const env = meteredDatabases(input, meter);
  const db = sharedDatabase(env);
  const io = lakeIo(env);
  const result = emptyResult(run.runId, false);
  const tables: LakeTable[] = [...COMPACT_TABLES, ...KPI_VIEWS];
  await db
    .prepare("INSERT INTO lake_upkeep (table_name) SELECT value FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING")
    .bind(JSON.stringify(tables.map((t) => t.table)))
    .run();
  for (const table of opts.rebuild ?? []) await askRebuild(db, table, "asked");

  await refreshSnapshots(env, io, result, {
    meter,
    now: run.now,
    minAgeMs: (opts.kpiRefreshHours ?? KPI_REFRESH_HOURS) * 3_600_000,
    peopleRunRows: opts.peopleRunRows ?? PEOPLE_RUN_ROWS,
    perRange: opts.peopleRangeProfiles,
    rangeRows: opts.kpiRangeRows,
  });

  let rows = await upkeepRows(db);
  let byName = new Map(rows.map((r) => [r.table_name, r]));

  // Rebuilds one at a time, the one in progress first, then the due ones, while the run's D1 budget
  // and RUN_ROWS last: small tables finish several to a run, a large one goes on next run.
  const rowBudget = opts.rebuildRows ?? RUN_ROWS;
  let rowsRead = 0;
  const tried = new Set<string>();
  while (meter.queries < REBUILD_QUERIES && rowsRead < rowBudget) {
    const next = await nextRebuild(db, io, rows, byName, tried, run.now);
    if (next === null) break;
    tried.add(next.spec.table);
    try {
      const step = await rebuildStep(db, io, next.spec, next.row, {
        meter,
        rows: rowBudget - rowsRead,
      });
      result.rebuilds.push(step);
      result.rebuild ??= step;
      rowsRead += step.rowsThisRun;
      // A committed rebuild changed the row's sweep state: read the rows again.
      rows = await upkeepRows(db);
      byName = new Map(rows.map((r) => [r.table_name, r]));
      if (!step.committed) break;
    } catch (err) {
      const error = describeError(err);
      log.error("lake rebuild failed", { table: next.spec.table, error });
      result.failed.push({ table: next.spec.table, error });
      break;
    }
  }

  // Sweeps: the tables swept longest ago first, while the run's R2 budget lasts.
  const order = tables
    .map((t) => ({ t, row: byName.get(t.table) }))
    .sort((a, b) => (a.row?.swept_at ?? "").localeCompare(b.row?.swept_at ?? ""));
  const r2 = { operations: 0 };
  const keepMs = (opts.snapshotDays ?? SNAPSHOT_DAYS) * DAY_MS;
  for (const { t, row } of order) {
    if (r2.operations >= SWEEP_R2_OPERATIONS) break;
    try {
      // A rebuild in progress has written files no snapshot reaches yet: the sweep keeps them.
      const pending = new Set(dataFileList(row?.rebuild_files ?? null).map((f) => dataFileFromJson(f).filePath));
      // After an erasure's rebuild, every snapshot before it goes: they reach files holding the person.
      const erased = row?.expire_before == null ? 0 : Date.parse(row.expire_before);
      const olderThanMs = Math.max(run.now.getTime() - keepMs, erased);
      // A table swept within a day with no snapshot to expire has nothing new to delete but orphans,
      // which wait for its daily sweep: its manifests are not read again every hour.
      const recent = row?.swept_at != null && run.now.getTime() - Date.parse(row.swept_at) < DAY_MS;
      const swept = await sweep(io, t, { olderThanMs, keep: pending, r2, recent });
      if (swept === null) continue;
      result.swept.push(swept);
      await db
        .prepare("UPDATE lake_upkeep SET swept_at = ?2, expire_before = NULL WHERE table_name = ?1")
        .bind(t.table, new Date().toISOString())
        .run();
    } catch (err) {
      const error = describeError(err);
      log.error("lake sweep failed", { table: t.table, error });
      result.failed.push({ table: t.table, error });
    }
  }
  log.info("lake upkeep done", {
    runId: run.runId,
    rebuild: result.rebuild?.table ?? null,
    swept: result.swept.length,
    failed: result.failed.length,
  });
  if (result.failed.length > 0) {
    throw new Error(
      `lake-upkeep failed for ${result.failed.map((f) => f.table).join(", ")}: ${result.failed[0]?.error ?? ""}`,
    );
  }
  return result;
}

/** The rebuild to work on: the one in progress, else the first due (asked ones first), or null. */
async function nextRebuild(
  db: D1Database,
  io: LakeIo,
  rows: readonly UpkeepRow[],
  byName: ReadonlyMap<string, UpkeepRow>,
  tried: ReadonlySet<string>,
  now: Date,
): Promise<{ spec: CompactTable; row: UpkeepRow } | null> {
  // The KPI pass keeps its progress in the same columns (kpi-people.ts): only entity tables here.
  for (const row of rows) {
    const spec = COMPACT_TABLES.find((s) => s.table === row.table_name);
    if (spec && row.rebuild_started_at !== null && !tried.has(row.table_name)) return { spec, row };
  }
  // Asked ones first (an operator, an erasure), then the tables rebuilt longest ago.
  const asked = (r: UpkeepRow | undefined) => r?.rebuild_reason != null || r?.erasure_asked_at != null;
  const candidates = COMPACT_TABLES.filter((spec) => !tried.has(spec.table))
    .map((spec) => ({ spec, row: byName.get(spec.table) }))
    .sort(
      (a, b) =>
        Number(asked(b.row)) - Number(asked(a.row)) || (a.row?.rebuilt_at ?? "").localeCompare(b.row?.rebuilt_at ?? ""),
    );
  for (const { spec, row } of candidates) {
    const reason =
      row?.rebuild_reason ?? (row?.erasure_asked_at != null ? ERASURE : null) ?? (await rebuildReason(io, spec, now));
    if (reason === null) continue;
    return { spec, row: await startRebuild(db, io, spec, reason) };
  }
  return null;
}

/**
 * Refreshes the KPI snapshots that are due (see the header), while the run's KPI budget lasts; a
 * due snapshot past it stays owed for the next run. A failed refresh is reported and stays owed.
 * The per-person views are refreshed together by the people pass (kpi-people.ts), a part per run.
 */
async function refreshSnapshots(
  env: Env,
  io: LakeIo,
  result: UpkeepResult,
  o: {
    meter: QueryMeter;
    now: Date;
    minAgeMs: number;
    peopleRunRows: number;
    perRange?: number;
    rangeRows?: number;
  },
): Promise<void> {
  const db = sharedDatabase(env);
  const owed = await owedSnapshots(
    db,
    KPI_VIEWS.map((v) => v.table),
  );
  const people = new Set(PEOPLE_VIEWS.map((v) => v.table));
  let peopleDue = await peoplePassRunning(db);
  for (const spec of KPI_VIEWS) {
    const asOf = new Date().toISOString();
    const last = await snapshotAsOf(io, spec);
    const due =
      last === null ||
      (owed.has(spec.table) && o.now.getTime() - Date.parse(last) >= o.minAgeMs) ||
      (spec.clock && last.slice(0, 10) !== asOf.slice(0, 10));
    if (!due) {
      if (owed.has(spec.table)) result.owed++;
      continue;
    }
    if (people.has(spec.table)) {
      peopleDue = true;
      continue;
    }
    if (o.meter.queries >= KPI_QUERIES) {
      if (!owed.has(spec.table)) await owesSnapshot(db, spec.table).run();
      result.owed++;
      continue;
    }
    try {
      await publishSchema(env.LAKE, spec, asOf);
      const report = await writeKpiSnapshot(env, io, spec, asOf, { rangeRows: o.rangeRows });
      result.snapshots.push({
        view: spec.table,
        rows: report.rows,
        bytes: report.bytes,
        snapshotId: report.snapshotId,
      });
      const seq = owed.get(spec.table);
      if (seq !== undefined) await clearMark(db, { table: spec.table, dt: SNAPSHOT_OWED, seq });
    } catch (err) {
      const error = describeError(err);
      log.error("lake kpi snapshot failed", { view: spec.table, error });
      result.failed.push({ table: spec.table, error });
      if (!owed.has(spec.table)) await owesSnapshot(db, spec.table).run();
    }
  }
  if (peopleDue) await refreshPeople(env, io, result, { ...o, owed });
}

/** A part of the people pass, within the run's KPI budget; its four snapshots when it ends. */
async function refreshPeople(
  env: Env,
  io: LakeIo,
  result: UpkeepResult,
  o: { meter: QueryMeter; owed: ReadonlyMap<string, number>; peopleRunRows: number; perRange?: number },
): Promise<void> {
  const db = sharedDatabase(env);
  const started = Date.now();
  try {
    const step = await peoplePassStep(db, io, {
      owed: o.owed,
      perRange: o.perRange,
      more: (rows) => o.meter.queries < KPI_QUERIES && rows < o.peopleRunRows && Date.now() - started < PEOPLE_RUN_MS,
    });
    result.people = { ranges: step.ranges, rows: step.rows, committed: step.committed.length > 0 };
    if (step.committed.length === 0) {
      result.owed += PEOPLE_VIEWS.length;
      return;
    }
    for (const spec of PEOPLE_VIEWS) await publishSchema(env.LAKE, spec, step.asOf);
    for (const report of step.committed) {
      result.snapshots.push({
        view: report.table,
        rows: report.rows,
        bytes: report.bytes,
        snapshotId: report.snapshotId,
      });
    }
    for (const [table, seq] of Object.entries(step.marks)) await clearMark(db, { table, dt: SNAPSHOT_OWED, seq });
  } catch (err) {
    const error = describeError(err);
    log.error("lake kpi people pass failed", { error });
    result.failed.push({ table: PEOPLE_VIEWS.map((v) => v.table).join(", "), error });
    await owesSnapshots(
      db,
      PEOPLE_VIEWS.map((v) => v.table).filter((t) => !o.owed.has(t)),
    );
  }
}

/**
 * After an erasure's days were committed: asks a rebuild of every table that may still hold the
 * person's rows in its files: one whose current snapshot has delete files (hidden older versions),
 * or with deletes logged that no commit has taken yet (a shop's rows, deleted by the million, are
 * taken over several runs; a rebuild reads D1, where they are gone already). Returns those tables;
 * `erasureDone` says when they are rebuilt and swept.
 */
export async function askErasureRebuilds(env: Env): Promise<string[]> {
  const db = sharedDatabase(env);
  const io = lakeIo(env);
  const asked: string[] = [];
  const logged = new Set(
    (await db.prepare("SELECT DISTINCT table_name FROM lake_deletes").all<{ table_name: string }>()).results.map(
      (r) => r.table_name,
    ),
  );
  for (const spec of COMPACT_TABLES) {
    const current = await currentManifests(io, spec);
    if (current === null) continue;
    if (!logged.has(spec.table) && !current.manifests.some((m) => m.content === 1)) continue;
    await db
      .prepare(
        `INSERT INTO lake_upkeep (table_name, erasure_asked_at) VALUES (?1, ?2)
         ON CONFLICT (table_name) DO UPDATE SET erasure_asked_at = excluded.erasure_asked_at`,
      )
      .bind(spec.table, new Date().toISOString())
      .run();
    asked.push(spec.table);
  }
  return asked;
}

/**
 * Whether every one of `tables` was rebuilt by a rebuild that started reading D1 after `since` (the
 * erasure's rows were gone from D1 by then), and swept after it with every older snapshot expired.
 * A later ask moves `erasure_asked_at` on, so a rebuild already reading D1 is followed by another;
 * each committed erasure rebuild expires the snapshots before it, so no request waits on a later one.
 */
export async function erasureDone(db: D1Database, tables: readonly string[], since: string): Promise<boolean> {
  if (tables.length === 0) return true;
  const row = await db
    .prepare(
      `SELECT count(*) AS n FROM lake_upkeep WHERE table_name IN (SELECT value FROM json_each(?1))
         AND rebuilt_from >= ?2 AND swept_at >= rebuilt_at AND erasure_asked_at IS NULL AND expire_before IS NULL`,
    )
    .bind(JSON.stringify(tables), since)
    .first<{ n: number }>();
  return (row?.n ?? 0) === tables.length;
}

/** The latest time one of `tables` was rebuilt in part or whole, or swept (null when none was). */
export async function lakeProgressedAt(db: D1Database, tables: readonly string[]): Promise<string | null> {
  const row = await db
    .prepare(
      `SELECT max(max(coalesce(rebuild_progressed_at, ''), coalesce(rebuilt_at, ''), coalesce(swept_at, ''))) AS at
       FROM lake_upkeep WHERE table_name IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(tables))
    .first<{ at: string | null }>();
  return row?.at ? row.at : null;
}

/** Asks for a table's rebuild (erasure, an operator): the next upkeep run starts it. */
export async function askRebuild(db: D1Database, table: string, reason: string): Promise<void> {
  await db
    .prepare(
      `INSERT INTO lake_upkeep (table_name, rebuild_reason) VALUES (?1, ?2)
       ON CONFLICT (table_name) DO UPDATE SET rebuild_reason = COALESCE(rebuild_reason, excluded.rebuild_reason)`,
    )
    .bind(table, reason)
    .run();
}

/** Why a table is due a rebuild, or null: asked, an old delete file, or too many manifests. */
async function rebuildReason(io: LakeIo, spec: CompactTable, now: Date): Promise<string | null> {
  const current = await currentManifests(io, spec);
  if (current === null) return null;
  const { loaded, manifests } = current;
  if (manifests.length > MAX_MANIFESTS) return `${manifests.length} manifests`;
  const deletes = manifests.filter((m) => m.content === 1);
  if (deletes.length === 0) return null;
  const oldest = Math.min(
    ...deletes.map((m) => {
      const added = loaded.metadata.snapshots.find((s) => BigInt(s["snapshot-id"]) === m.addedSnapshotId);
      // A delete file whose snapshot has expired is older than any kept one.
      return added?.["timestamp-ms"] ?? 0;
    }),
  );
  return now.getTime() - oldest >= REBUILD_AFTER_DAYS * DAY_MS ? "delete files older than the rebuild age" : null;
}

/** A table's metadata and the manifests of its current snapshot, or null when it has none. */
async function currentManifests(io: LakeIo, spec: CompactTable) {
  const loaded = await io.store.load(tableRef(lakeSpecOf(spec)));
  const snapshot = loaded === null ? null : currentSnapshot(loaded.metadata);
  if (loaded === null || snapshot === null) return null;
  return { loaded, manifests: await readManifestList(io, snapshot["manifest-list"]) };
}

async function startRebuild(db: D1Database, io: LakeIo, spec: CompactTable, reason: string): Promise<UpkeepRow> {
  const base = await openTable(io, lakeSpecOf(spec));
  const row = await db
    .prepare(
      `UPDATE lake_upkeep SET rebuild_base_sequence = ?2, rebuild_after_key = NULL, rebuild_files = '[]',
         rebuild_rows = 0, rebuild_started_at = ?3, rebuild_reason = ?4 WHERE table_name = ?1 RETURNING *`,
    )
    .bind(spec.table, base.metadata["last-sequence-number"], new Date().toISOString(), reason)
    .first<UpkeepRow>();
  if (row === null) throw new Error(`lake-upkeep: no upkeep row for ${spec.table}`);
  return row;
}

/** Reads the next part of the table into one data file, records it, and commits when the table ends. */
async function rebuildStep(
  db: D1Database,
  io: LakeIo,
  spec: CompactTable,
  row: UpkeepRow,
  o: { meter: QueryMeter; rows: number },
): Promise<RebuildReport> {
  const { meter } = o;
  const lake = lakeSpecOf(spec);
  const change = new TableChange(io, lake, await openTable(io, lake), "rebuild");
  const after = row.rebuild_after_key === null ? null : (JSON.parse(row.rebuild_after_key) as unknown[]);
  let part: Awaited<ReturnType<typeof readTable>>;
  try {
    part = await readTable(
      db,
      spec,
      after,
      (values) => change.addValues(values),
      () => meter.queries < REBUILD_QUERIES && change.pendingRows < o.rows,
    );
  } catch (err) {
    await change.abort().catch(() => undefined);
    throw err;
  }
  const written = part.rows > 0 ? await change.finishFiles() : [];
  const files = [...dataFileList(row.rebuild_files), ...written.map(dataFileToJson)];
  const rows = row.rebuild_rows + part.rows;
  const reason = row.rebuild_reason ?? "asked";
  if (!part.ended) {
    await db
      .prepare(
        `UPDATE lake_upkeep SET rebuild_after_key = ?2, rebuild_files = ?3, rebuild_rows = ?4, rebuild_progressed_at = ?5
         WHERE table_name = ?1`,
      )
      .bind(spec.table, JSON.stringify(part.after), JSON.stringify(files), rows, new Date().toISOString())
      .run();
    return { table: spec.table, rows, rowsThisRun: part.rows, files: files.length, committed: false, reason };
  }
  // An empty table still gets a file, so its snapshot has the schema.
  if (files.length === 0) {
    await change.addEmptyFile();
    files.push(...(await change.finishFiles()).map(dataFileToJson));
  }
  await commitRebuild(io, lake, files.map(dataFileFromJson), row.rebuild_base_sequence ?? 0);
  await db
    .prepare(
      `UPDATE lake_upkeep SET rebuilt_at = ?2, rebuild_progressed_at = ?2, swept_at = NULL, rebuild_base_sequence = NULL,
         rebuild_after_key = NULL,
         rebuild_files = NULL, rebuild_rows = 0, rebuild_started_at = NULL, rebuild_reason = NULL,
         rebuilt_from = rebuild_started_at,
         expire_before = CASE WHEN erasure_asked_at IS NOT NULL THEN ?2 ELSE expire_before END,
         erasure_asked_at = CASE WHEN erasure_asked_at <= rebuild_started_at THEN NULL ELSE erasure_asked_at END
       WHERE table_name = ?1`,
    )
    .bind(spec.table, new Date().toISOString())
    .run();
  log.info("lake rebuild committed", { table: spec.table, rows, files: files.length, reason });
  return { table: spec.table, rows, rowsThisRun: part.rows, files: files.length, committed: true, reason };
}

/**
 * Expires the table's old snapshots, then deletes every object under the table that no kept
 * snapshot reaches (and that is not the current metadata, the version hint, or a file of a
 * rebuild in progress). The expiry is committed before anything is deleted. Null: nothing expires
 * and the table was swept within a day, so it is left as it is.
 */
async function sweep(
  io: LakeIo,
  spec: LakeTable,
  o: { olderThanMs: number; keep: ReadonlySet<string>; r2: { operations: number }; recent: boolean },
): Promise<UpkeepResult["swept"][number] | null> {
  const ref = tableRef(lakeSpecOf(spec));
  let loaded = await io.store.load(ref);
  o.r2.operations += 2;
  if (loaded === null) return { table: spec.table, expiredSnapshots: 0, deletedObjects: 0 };
  const first = expireSnapshots(loaded.metadata, { olderThanMs: o.olderThanMs, retainLast: 1 });
  if (first.updates.length === 0 && o.recent) return null;
  if (first.updates.length > 0) {
    loaded = await commitWithRetry(io.store, ref, async (base) => ({
      requirements: [{ type: "assert-table-uuid", uuid: base.metadata["table-uuid"] }],
      updates: expireSnapshots(base.metadata, { olderThanMs: o.olderThanMs, retainLast: 1 }).updates,
    }));
    o.r2.operations += 4;
  }
  const live = new Set<string>(o.keep);
  if (loaded.metadataLocation !== null) live.add(loaded.metadataLocation);
  const manifestsSeen = new Set<string>();
  for (const snapshot of loaded.metadata.snapshots) {
    live.add(snapshot["manifest-list"]);
    const manifests = await readManifestList(io, snapshot["manifest-list"]);
    o.r2.operations++;
    for (const m of manifests) {
      live.add(m.manifestPath);
      if (manifestsSeen.has(m.manifestPath)) continue;
      manifestsSeen.add(m.manifestPath);
      const object = await io.bucket.get(io.location.keyOf(m.manifestPath));
      o.r2.operations++;
      if (object === null) throw new Error(`lake: manifest ${m.manifestPath} is missing`);
      for (const entry of decodeManifest(new Uint8Array(await object.arrayBuffer()))) {
        if (entry.status !== 2) live.add(entry.dataFile.filePath);
      }
    }
  }
  const liveKeys = new Set([...live].map((uri) => io.location.keyOf(uri)));
  const prefix = `processed/${ref.namespace.join("/")}/${ref.name}/`;
  liveKeys.add(`${prefix}metadata/version-hint.text`);
  const doomed: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await io.bucket.list({ prefix, cursor });
    o.r2.operations++;
    for (const object of page.objects) if (!liveKeys.has(object.key)) doomed.push(object.key);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  // R2 deletes at most 1,000 keys per call.
  for (let i = 0; i < doomed.length; i += 1000) {
    await io.bucket.delete(doomed.slice(i, i + 1000));
    o.r2.operations++;
  }
  return { table: spec.table, expiredSnapshots: first.expired.length, deletedObjects: doomed.length };
}
