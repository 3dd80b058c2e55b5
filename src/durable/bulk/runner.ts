/**
 * One pass of the coordinator's bulk work, run from its alarm: poll operations that are
 * due (or whose finish webhook arrived), start queued exports while Shopify's per-shop
 * concurrency allows, then push ingest forward — archive, stage, apply — oldest job
 * first, until the pass's time and D1-batch budget is spent. Returns when the alarm
 * should fire next (now when work remains, the next poll otherwise, null when idle).
 *
 * A failing step never loses work: the job is reloaded from its last committed
 * checkpoint, its failure counted, and retried — at once the first time (a crash or
 * eviction), then with exponential backoff — until `maxFailures`, when it is failed
 * with the error. A pass the platform stops (a CPU or memory limit, an eviction) skips this
 * path: the watchdog alarm set by the caller before the pass resumes from the same checkpoint,
 * and the job's `inFlight` mark tells the next step that the one before it never ended, which
 * counts as a failure when nothing moved since.
 */
import { meteredD1, type QueryMeter } from "../../shared/d1-meter";
import { describeError, log } from "../../shared/log";
import { ACTIVE_STATUSES, INGEST_STATUSES, INGEST_VERSION, type Job, progressOf } from "../job";
import type { JobStore } from "../job-store";
import { type ApplyDeps, applyBatch, finishApply } from "./apply";
import { type ArchiveDeps, archiveResult } from "./archive";
import { type AdminCall, type LifecycleDeps, PermanentError, poll, rerun, submit, TransientError } from "./lifecycle";
import { isPartsLayout, partKey } from "./parts";
import { collectStrays, type StageDeps, streamArchive } from "./stage";

export type FaultPoint = "archive:afterPart" | "stage:beforeCommit" | "apply:afterD1";

export interface RunnerConfig {
  concurrency: number;
  pollBaseMs: number;
  pollMaxMs: number;
  partBytes: number;
  maxPartsPerRun: number;
  stageChunkLines: number;
  parentsPerBatch: number;
  maxStatements: number;
  maxApplyBatchesPerRun: number;
  /**
   * D1 queries a pass makes at most before it stops at the next checkpoint: Cloudflare allows
   * 1,000 per invocation, and one more apply batch (at most `maxStatements`) and the mirror's
   * writes must still fit after it.
   */
  maxQueriesPerRun: number;
  /**
   * Subject index shards a pass calls at most (each call a subrequest, 10,000 per invocation):
   * an apply batch calls one per shard its lines' subjects hash to, at most a few per parent.
   */
  maxIndexCallsPerRun: number;
  runBudgetMs: number;
  maxFailures: number;
}

export interface RunnerDeps {
  store: JobStore;
  admin: AdminCall;
  apiVersion: string;
  bucket: R2Bucket;
  db: D1Database;
  fetch: typeof fetch;
  mapContext: ApplyDeps["mapContext"];
  config: RunnerConfig;
  /** PRIVACY_HASH_KEY: snapshot lines are entered in the subject index with the rows they write. */
  privacyKey: string | undefined;
  /** Enters objects' subjects in the subject index; returns the shards it called. */
  index: ApplyDeps["index"];
  nowMs: () => number;
  /** Writes the job's D1 mirror row (and, when it completed, its sync cursor). */
  mirror: (job: Job) => Promise<void>;
  fault?: ((point: FaultPoint, job: Job) => void) | null;
}

export async function runBulkWork(input: RunnerDeps): Promise<number | null> {
  const meter: QueryMeter = { queries: 0 };
  let indexCalls = 0;
  const deps: RunnerDeps = {
    ...input,
    db: meteredD1(input.db, meter),
    index: async (entries, at, erased) => {
      const calls = await input.index(entries, at, erased);
      indexCalls += calls;
      return calls;
    },
  };
  const started = deps.nowMs();
  const { store, config } = deps;
  const iso = () => new Date(deps.nowMs()).toISOString();
  const lifecycle: LifecycleDeps = {
    admin: deps.admin,
    apiVersion: deps.apiVersion,
    nowMs: deps.nowMs,
    pollBaseMs: config.pollBaseMs,
    pollMaxMs: config.pollMaxMs,
  };
  let applyBatches = 0;
  const overBudget = () =>
    deps.nowMs() - started > config.runBudgetMs ||
    applyBatches >= config.maxApplyBatchesPerRun ||
    meter.queries >= config.maxQueriesPerRun ||
    indexCalls >= config.maxIndexCallsPerRun;

  const save = async (job: Job) => {
    store.put(job);
    await deps.mirror(job);
  };

  /**
   * The D1 mirror of a step's committed work. A failure changes nothing committed: an active job's
   * next step writes its row again; an ended job has no next step, so its row is tried again here,
   * and then marked pending for the next runs (`retryMirrors`).
   */
  const mirrorSaved = async (job: Job) => {
    const attempts = ACTIVE_STATUSES.has(job.status) ? 1 : 3;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await deps.mirror(job);
        return;
      } catch (err) {
        const fields = { job: job.id, shop: job.shop, status: job.status, attempt, error: describeError(err) };
        if (attempt < attempts) continue;
        if (attempts === 1) log.warn("could not mirror bulk progress to D1, the next step writes it", fields);
        else {
          log.error("could not mirror the ended bulk job to D1, the next run tries again", fields);
          store.put({ ...job, mirrorPending: true });
        }
      }
    }
  };

  /** Ended jobs whose mirror failed: written now, or left pending for the run after. */
  const retryMirrors = async () => {
    for (const job of store.pendingMirrors()) {
      const done = { ...job, mirrorPending: false };
      try {
        await deps.mirror(done);
        store.put(done);
      } catch (err) {
        log.warn("could not mirror the ended bulk job to D1 yet", { job: job.id, error: describeError(err) });
      }
    }
  };

  /** A failed attempt: back to the last checkpoint with a retry time, or failed past `maxFailures`. */
  const failed = async (job: Job, err: unknown): Promise<null> => {
    const saved = store.get(job.id) ?? job;
    const failures = saved.failures + 1;
    const error = describeError(err);
    log.warn("bulk step failed", { job: job.id, shop: job.shop, status: saved.status, failures, error });
    const giveUp =
      err instanceof PermanentError ||
      (failures > config.maxFailures && !(err instanceof TransientError && saved.status === "submitted"));
    const next: Job = giveUp
      ? {
          ...saved,
          failures,
          inFlight: null,
          status: "failed",
          error: err instanceof PermanentError ? error : `gave up after ${failures} failed attempts: ${error}`,
          finishedAt: iso(),
          updatedAt: iso(),
        }
      : {
          ...saved,
          failures,
          inFlight: null,
          error,
          nextPollAt: deps.nowMs() + backoffMs(failures),
          updatedAt: iso(),
        };
    await save(next).catch((e) => {
      log.error("could not record bulk failure", { job: job.id, error: describeError(e) });
      // A job that ended here has no next step to write its D1 row: the next runs do.
      if (!ACTIVE_STATUSES.has(next.status)) store.put({ ...next, mirrorPending: true });
    });
    return null;
  };

  /** Runs one step; on failure the job goes back to its last checkpoint with a retry time. */
  const step = async (job: Job, work: (job: Job) => Promise<Job | null>): Promise<Job | null> => {
    // The step before never ended and moved nothing: the platform stopped its pass (CPU, memory,
    // eviction), which no catch sees. Counted as a failure, so such a job fails with the reason
    // and an alert (bulk_failed) after maxFailures instead of stalling without telling anyone.
    if (job.inFlight !== null && job.inFlight === progressOf(job)) {
      await failed(
        job,
        new Error(`a pass at ${job.status} was stopped before its next checkpoint (CPU or memory limit?)`),
      );
      job = store.get(job.id) ?? job;
      if (!ACTIVE_STATUSES.has(job.status) || job.nextPollAt > deps.nowMs()) return null;
    }
    const started = { ...job, inFlight: progressOf(job) };
    store.put(started);
    let saved: Job;
    try {
      // A retry starts without the error its failed attempt left; notes the step writes stay.
      const next = await work(started.failures > 0 ? { ...started, error: null } : started);
      if (!next) {
        const now = store.get(job.id);
        if (now) store.put({ ...now, inFlight: null });
        return null;
      }
      saved = { ...next, failures: 0, inFlight: null };
      store.put(saved);
    } catch (err) {
      return failed(job, err);
    }
    // An apply batch carried its mirror row in its own D1 batch.
    if (!(job.status === "applying" && saved.status === "applying")) await mirrorSaved(saved);
    return saved;
  };

  await retryMirrors();

  // 1. Status polls that are due, or whose finish webhook arrived.
  const notices = store.notices();
  for (const job of store.withStatus("submitted")) {
    if (job.nextPollAt > deps.nowMs() && !notices.has(job.id)) continue;
    store.clearNotice(job.id);
    await step(job, (j) => poll(lifecycle, j));
  }

  // 2. Start queued exports while Shopify's concurrency allows.
  let running = store.withStatus("submitted").length;
  for (const job of store.withStatus("queued")) {
    if (running >= config.concurrency) break;
    if (job.nextPollAt > deps.nowMs()) continue;
    const next = await step(job, (j) => submit(lifecycle, j));
    if (next?.status === "submitted") running++;
    else if (next?.status === "queued") break; // Shopify is at its limit: try again at the next poll.
  }

  // 3. Ingest, oldest job first.
  for (const listed of store.withStatus("archiving", "staging", "applying")) {
    let job = store.get(listed.id);
    while (job && INGEST_STATUSES.has(job.status) && job.nextPollAt <= deps.nowMs() && !overBudget()) {
      const before: Job = job;
      const next = await step(before, (j) => ingestStep(deps, j, iso, () => applyBatches++, overBudget));
      if (!next) break; // failed: retried per backoff
      if (before.status === "archiving" && next.status === "archiving") break; // yielded: next pass
      job = next;
    }
  }

  return nextWake(store, deps.nowMs(), config.concurrency);
}

async function ingestStep(
  deps: RunnerDeps,
  job: Job,
  iso: () => string,
  countBatch: () => void,
  overBudget: () => boolean,
): Promise<Job> {
  const { store, config } = deps;
  const apply: ApplyDeps = {
    db: deps.db,
    store,
    mapContext: deps.mapContext,
    apiVersion: deps.apiVersion,
    parentsPerBatch: config.parentsPerBatch,
    maxStatements: config.maxStatements,
    privacyKey: deps.privacyKey,
    index: deps.index,
    now: iso,
    fault: deps.fault ? (p, j) => deps.fault?.(p, j) : undefined,
  };
  const stageDeps = (): StageDeps => {
    let lastMirror = deps.nowMs();
    return {
      bucket: deps.bucket,
      store,
      chunkLines: config.stageChunkLines,
      now: iso,
      progress: async (j) => {
        if (deps.nowMs() - lastMirror < 2000) return;
        lastMirror = deps.nowMs();
        await deps.mirror(j);
      },
      countBatch,
      yieldNow: overBudget,
      commitNow: overBudget,
      fault: deps.fault ? (p, j) => deps.fault?.(p, j) : undefined,
    };
  };
  // The archive copy is gone (deleted by hand?): fetch it again while the URL lives.
  const refetch = (j: Job): Job => ({
    ...j,
    status: "archiving",
    upload: null,
    sourceGzip: null,
    archiveParts: [],
    bytesArchived: 0,
    updatedAt: iso(),
  });
  if ((job.status === "staging" || job.status === "applying") && job.ingestVersion !== INGEST_VERSION) {
    return restartIngest(store, job, iso());
  }
  switch (job.status) {
    case "archiving": {
      const archive: ArchiveDeps = {
        bucket: deps.bucket,
        fetch: deps.fetch,
        partBytes: config.partBytes,
        maxParts: config.maxPartsPerRun,
        yieldNow: overBudget,
        save: (j) => store.put(j),
        now: iso,
        fault: deps.fault ? (p, j) => deps.fault?.(p, j) : undefined,
      };
      const out = await archiveResult(archive, job);
      if (out.kind === "expired") {
        // The parts of a copy that cannot finish go: the export runs again under a new folder.
        await deletePartsOf(deps.bucket, out.job);
        store.clearStaged(job.id);
        return rerun(out.job, out.detail, iso());
      }
      return out.job;
    }
    case "staging": {
      const out = await streamArchive({ ...stageDeps(), apply }, job);
      if (out.kind === "missing") return refetch(out.job);
      if (out.kind === "more") return out.job;
      // Children that strayed from their parent: a second pass applies those parents again, whole.
      if (store.anyStrays(job.id)) return { ...out.job, status: "applying", collectedLines: 0, applyAfterLine: -1 };
      return finishApply(store, out.job, iso());
    }
    case "applying": {
      if (job.collectedLines < job.linesRead) {
        const out = await collectStrays(stageDeps(), job);
        if (out.kind === "missing") return refetch(out.job);
        return out.kind === "done" ? { ...out.job, collectedLines: job.linesRead } : out.job;
      }
      const out = await applyBatch(apply, job);
      countBatch();
      return out.kind === "done" ? finishApply(store, out.job, iso()) : out.job;
    }
    default:
      return job;
  }
}

async function deletePartsOf(bucket: R2Bucket, job: Job): Promise<void> {
  const folder = job.r2Key;
  if (!folder || !isPartsLayout(job)) return;
  const keys = (job.archiveParts ?? []).map((_, i) => partKey(folder, i));
  for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
}

/** A job staged by an older deploy's layout reads its archive again from the first line (./stage.ts). */
function restartIngest(store: JobStore, job: Job, now: string): Job {
  store.clearStaged(job.id);
  return {
    ...job,
    status: "staging",
    ingestVersion: INGEST_VERSION,
    linesRead: 0,
    parents: 0,
    children: 0,
    invalid: 0,
    firstInvalid: null,
    childrenJoined: 0,
    applyAfterLine: -1,
    collectedLines: 0,
    entitiesApplied: 0,
    rowsApplied: 0,
    updatedAt: now,
  };
}

/** Immediately once, then 1 s, 2 s, 4 s … capped at 5 minutes. */
export function backoffMs(failures: number): number {
  if (failures <= 1) return 0;
  return Math.min(5 * 60 * 1000, 1000 * 2 ** (failures - 2));
}

/** How soon a run comes back for an ended job's mirror that D1 refused. */
const MIRROR_RETRY_MS = 60_000;

function nextWake(store: JobStore, now: number, concurrency: number): number | null {
  const active = store.withStatus(...ACTIVE_STATUSES);
  let wake = store.pendingMirrors().length > 0 ? now + MIRROR_RETRY_MS : Number.POSITIVE_INFINITY;
  if (active.length === 0) return Number.isFinite(wake) ? wake : null;
  const notices = store.notices();
  const running = active.filter((j) => j.status === "submitted").length;
  for (const job of active) {
    if (job.status === "queued" && running >= concurrency) continue;
    const at = notices.has(job.id) ? now : job.nextPollAt;
    wake = Math.min(wake, Math.max(now, at));
  }
  return Number.isFinite(wake) ? wake : null;
}
