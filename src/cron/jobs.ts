/**
 * Scheduled jobs. One `scheduled` handler dispatches on `controller.cron` to a named
 * job; the same jobs run on demand (`POST /admin/jobs/:name`) and from tests. Every
 * run ends by delivering due alerts, so alerts raised by the consumer or by the job go
 * out within one schedule (15 minutes at most) and never from the ingestion path.
 * Jobs are idempotent and take leases per scope, so overlapping runs skip, not collide.
 */
import { describeError, log } from "../shared/log";
import { sharedDatabase } from "../tables/database";
import { type DeliveryResult, deliverAlerts } from "./alerts/delivery";
import { type BackfillOptions, type BackfillResult, runBackfill } from "./backfill/backfill";
import { unmarkedDays } from "./compact/changes";
import { type CompactOptions, type CompactResult, compactTableDays, runCompact } from "./compact/compact";
import {
  askErasureRebuilds,
  erasureDone,
  lakeProgressedAt,
  runUpkeep,
  type UpkeepOptions,
  type UpkeepResult,
} from "./compact/upkeep";
import { type HealthResult, runHealth } from "./health/health";
import {
  awaitLake,
  lakeDone,
  lakeProgressed,
  lakeWaits,
  type PrivacyOptions,
  type PrivacyResult,
  privacyRecompactions,
  recompacted,
  runPrivacy,
} from "./privacy/privacy";
import { type DataQualityOptions, type DataQualityResult, runDataQuality } from "./quality/data-quality";
import { type ReconcileOptions, type ReconcileResult, runReconcile } from "./reconcile/reconcile";
import { type ReplayOptions, type ReplayResult, runReplay } from "./replay/replay";
import { newRunId } from "./reports";
import { type RetentionOptions, type RetentionResult, runRetention } from "./retention/retention";

export const JOB_NAMES = [
  "reconcile",
  "data-quality",
  "compact",
  "lake-upkeep",
  "alerts",
  "backfill",
  "privacy",
  "health",
  "retention",
  "replay",
] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** The cron expressions in wrangler.toml `[triggers]` and the jobs each runs, in order. */
export const SCHEDULES: Record<string, JobName | readonly JobName[]> = {
  "*/15 * * * *": "reconcile",
  "5 * * * *": "data-quality",
  "35 * * * *": "compact",
  "50 * * * *": "lake-upkeep",
  "* * * * *": "backfill",
  "*/10 * * * *": ["privacy", "replay"],
  "*/5 * * * *": "health",
  "45 4 * * *": "retention",
};

/** What an invocation of a schedule may take: 30 s for crons more often than hourly, 15 minutes otherwise. */
export function invocationWallMs(cron: string): number {
  return cron.startsWith("*") ? 30_000 : 15 * 60_000;
}
/** Left for the invocation's own end (the job's report, the last D1 write) after alert delivery. */
const DEADLINE_MARGIN_MS = 2_000;

/** Days of erasures one compact run asks for first (its options take at most 400). */
const RECOMPACT_DAYS_PER_RUN = 400;

export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name);
}

export type JobOptions = ReconcileOptions &
  DataQualityOptions &
  CompactOptions &
  UpkeepOptions &
  BackfillOptions &
  PrivacyOptions &
  RetentionOptions &
  ReplayOptions;

export type JobOutcome =
  | { job: "reconcile"; result: ReconcileResult }
  | { job: "data-quality"; result: DataQualityResult }
  | { job: "compact"; result: CompactResult & { privacyDays: string[] } }
  | { job: "lake-upkeep"; result: UpkeepResult }
  | { job: "alerts"; result: null }
  | { job: "backfill"; result: BackfillResult }
  | { job: "privacy"; result: PrivacyResult }
  | { job: "health"; result: HealthResult }
  | { job: "retention"; result: RetentionResult }
  | { job: "replay"; result: ReplayResult };

export type JobRun = JobOutcome & { runId: string; alerts: DeliveryResult | null };

/**
 * Runs `name` as of `now` (the scheduled time), then delivers due alerts, within `deadline` (epoch ms)
 * when the invocation has one.
 */
export async function runJob(
  env: Env,
  name: JobName,
  opts: { now: Date; options?: JobOptions; deadline?: number },
): Promise<JobRun> {
  const runId = newRunId(name, opts.now);
  const run = { runId, now: opts.now };
  const options = opts.options ?? {};
  log.info("job started", { job: name, runId });
  let outcome: JobOutcome | null = null;
  let failure: unknown = null;
  try {
    outcome = await dispatch(env, name, run, options);
  } catch (err) {
    failure = err;
    log.error("job failed", { job: name, runId, error: describeError(err) });
  }
  // Alerts go out even when the job failed. Delivery is about when a message is posted,
  // so it runs on the wall clock, not the scheduled time.
  const alerts = await deliverAlerts(env, { now: new Date(), deadline: opts.deadline }).catch((err: unknown) => {
    log.error("alert delivery failed", { runId, error: describeError(err) });
    return null;
  });
  if (outcome === null) throw failure;
  log.info("job finished", { job: name, runId });
  return { ...outcome, runId, alerts };
}

async function dispatch(
  env: Env,
  name: JobName,
  run: { runId: string; now: Date },
  options: JobOptions,
): Promise<JobOutcome> {
  switch (name) {
    case "reconcile":
      return { job: name, result: await runReconcile(env, run, options) };
    case "data-quality":
      return { job: name, result: await runDataQuality(env, run, options) };
    case "compact": {
      // Erasures first: their days hold a person's rows until they are re-compacted. That run takes
      // every other changed day after them too, so it is the invocation's one compaction.
      const privacy = await recompactForPrivacy(env, run);
      const result = privacy.result ?? (await runCompact(env, run, options));
      await settleErasures(env);
      return { job: name, result: { ...result, privacyDays: privacy.days } };
    }
    case "lake-upkeep": {
      const result = await runUpkeep(env, run, {
        rebuild: options.rebuild,
        snapshotDays: options.snapshotDays,
        kpiRefreshHours: options.kpiRefreshHours,
        rebuildRows: options.rebuildRows,
        peopleRunRows: options.peopleRunRows,
        peopleRangeProfiles: options.peopleRangeProfiles,
      });
      await settleErasures(env);
      return { job: name, result };
    }
    case "privacy":
      return { job: name, result: await runPrivacy(env, run, options) };
    case "replay":
      return { job: name, result: await runReplay(env, run, options) };
    case "alerts":
      return { job: name, result: null };
    case "backfill":
      return { job: name, result: await runBackfill(env, run, options) };
    case "health":
      return { job: name, result: await runHealth(env, run) };
    case "retention":
      return { job: name, result: await runRetention(env, run, options) };
  }
}

/**
 * Erasure reaches the lake through the compact job's own code (its lease too): the affected days
 * are committed, which hides the person's old rows, and the request then waits at stage `lake`
 * for lake-upkeep to rebuild the tables and delete the older files (settleErasures). This runs at
 * the start of the hourly `compact` run, whose schedule gives it 15 minutes, not in the 10-minute
 * `privacy` run. A day that fails or finds compaction busy stays on the request for the next run.
 */
async function recompactForPrivacy(
  env: Env,
  run: { runId: string; now: Date },
): Promise<{ days: string[]; result: CompactResult | null }> {
  const waiting = await privacyRecompactions(env);
  const days = [...new Set(waiting.flatMap((r) => r.days))].sort().slice(0, RECOMPACT_DAYS_PER_RUN);
  if (days.length === 0) return { days: [], result: null };
  // One run for all the days: their marked table-days first, then every other change. A failure
  // fails the job run (the requests keep their days, the tables their marks).
  let result: CompactResult;
  try {
    result = await compactTableDays(env, { runId: `${run.runId}-privacy`, now: run.now }, { days });
  } catch (err) {
    log.error("privacy re-compaction failed", { runId: run.runId, days: days.join(","), error: describeError(err) });
    throw err;
  }
  // A day is done once no table-day of it is left marked (a run short of budget leaves some).
  const done = result.skipped ? [] : await unmarkedDays(sharedDatabase(env), days);
  const hidden: string[] = [];
  for (const r of waiting) if (await recompacted(env, r.requestId, done)) hidden.push(r.requestId);
  if (hidden.length > 0) {
    // The rows are hidden in the lake; the files still holding them go by lake-upkeep's rebuilds.
    const since = new Date().toISOString();
    const tables = await askErasureRebuilds(env);
    for (const requestId of hidden) await awaitLake(env, requestId, tables, since);
  }
  return { days: done, result };
}

/**
 * Completes the erasures whose lake work is done: every table that held hidden versions of the
 * person's rows rebuilt from D1 after the rows were gone, and the older snapshots' files deleted.
 */
async function settleErasures(env: Env): Promise<void> {
  const db = sharedDatabase(env);
  for (const wait of await lakeWaits(env)) {
    if (await erasureDone(db, wait.tables, wait.since)) {
      await lakeDone(env, wait.requestId);
      continue;
    }
    // A rebuild reading its table part by part is the request moving, not stuck.
    const at = await lakeProgressedAt(db, wait.tables);
    if (at !== null && at > wait.since) await lakeProgressed(env, wait.requestId, at);
  }
}

export async function runScheduled(controller: ScheduledController, env: Env): Promise<void> {
  const jobs = SCHEDULES[controller.cron];
  if (!jobs) {
    log.warn("no job for cron schedule", { cron: controller.cron });
    return;
  }
  // One schedule may run several jobs (the Cron Trigger count is limited): each runs even if one before it failed.
  const failures: unknown[] = [];
  const deadline = Date.now() + invocationWallMs(controller.cron) - DEADLINE_MARGIN_MS;
  for (const job of typeof jobs === "string" ? [jobs] : jobs) {
    await runJob(env, job, { now: new Date(controller.scheduledTime), deadline }).catch((err: unknown) =>
      failures.push(err),
    );
  }
  if (failures.length > 0) throw failures[0];
}
