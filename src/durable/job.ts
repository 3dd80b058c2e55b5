/**
 * A bulk export job: one resource of one backfill, from queued to completed. The job
 * document is the checkpoint — it lives in the coordinator's SQLite storage and is
 * written in the same transaction as the work it describes, so progress is never
 * ahead of or behind what was done. It is validated with zod on every read: storage
 * written by an older deploy is a trust boundary too.
 *
 * Checkpoint fields per stage:
 *  archiving — `archiveParts` (the parts written to R2, ./bulk/parts.ts) and `bytesArchived` (source text they hold)
 *  staging   — `linesRead` (JSONL lines read and applied: each parent with the children that followed
 *              it closely, src/durable/bulk/stage.ts), `parents`/`children`/`invalid`, entity and row counts
 *  applying  — only when some children strayed from their parent: `collectedLines` (lines read again to
 *              find those parents), then `applyAfterLine` (last such parent whose rows are in D1 again)
 */
import { z } from "zod";
import { BULK_RESOURCES, BULK_STATUSES, type BulkOperationRow, type BulkStatus } from "../shared/schema/operations";

const iso = z.string().nullable();
const count = z.number().int().nonnegative();

export const jobSchema = z.object({
  id: z.string(),
  backfillId: z.string(),
  shop: z.string(),
  resource: z.enum(BULK_RESOURCES),
  since: iso,
  status: z.enum(BULK_STATUSES),
  shopifyId: z.string().nullable(),
  shopifyStatus: z.string().nullable(),
  errorCode: z.string().nullable(),
  error: z.string().nullable(),
  attempts: count,
  partial: z.boolean(),
  objectCount: z.number().nullable(),
  fileSize: z.number().nullable(),
  /** The signed result URL (never copied to D1: it grants access to shop data for 7 days). */
  resultUrl: z.string().nullable(),
  shopCurrency: z.string().nullable(),
  /** The archive: a folder of parts (ends with `/`), or one object archived by an older deploy. */
  r2Key: z.string().nullable(),
  /** An older deploy's multipart copy in progress, aborted when its job resumes (./bulk/archive.ts). */
  upload: z
    .object({
      uploadId: z.string(),
      partBytes: z.number().int().positive(),
      parts: z.array(z.object({ partNumber: z.number().int(), etag: z.string() })),
    })
    .nullable(),
  sourceGzip: z.boolean().nullable(),
  /**
   * The parts of the archive in order (./bulk/parts.ts): the lines each ends (a line continued in the
   * next part is counted there), its text bytes, and whether it was cut inside a line. Null: not
   * archived yet, or archived by an older deploy as one object (`r2Key`).
   */
  archiveParts: z
    .array(z.object({ lines: count, bytes: count, cut: z.boolean() }))
    .nullable()
    .default(null),
  /** Text of the result in the parts written (an older deploy's multipart copy: compressed bytes). */
  bytesArchived: count,
  linesRead: count,
  parents: count,
  children: count,
  invalid: count,
  orphans: count,
  childrenJoined: count,
  applyAfterLine: z.number().int(),
  /** Lines read again (pass 2) to collect the parents of stray children; 0 before. */
  collectedLines: count.default(0),
  /**
   * How the job's ingest is laid out: 2 streams and applies in one pass (stage.ts). A job of an older
   * deploy (1: every line staged, then applied) restarts its ingest from the first line, which is safe:
   * applying a bulk line again writes the same rows.
   */
  ingestVersion: z.number().int().default(1),
  entitiesApplied: count,
  rowsApplied: count,
  firstInvalid: z.string().nullable(),
  requestedAt: z.string(),
  submittedAt: iso,
  shopifyCreatedAt: iso,
  shopifyCompletedAt: iso,
  ingestStartedAt: iso,
  finishedAt: iso,
  updatedAt: z.string(),
  /** Epoch ms of the next status poll (0 = now: the finish webhook arrived). */
  nextPollAt: z.number(),
  pollIntervalMs: z.number(),
  /** Consecutive failed steps, for backoff; reset by any progress. */
  failures: count,
  /** An ended job whose D1 mirror (row and sync cursor) could not be written: each run tries again. */
  mirrorPending: z.boolean().default(false),
  /**
   * Set when a step starts, to the job's progress then (`progressOf`); cleared when it ends, well or
   * not. Found still set by the next step with no progress since, it means the platform stopped the
   * pass (CPU or memory limit, eviction) before its next checkpoint: a failure like any other.
   */
  inFlight: z.number().nullable().default(null),
});

export type Job = z.infer<typeof jobSchema>;

/** The ingest layout of this deploy (see `ingestVersion`). */
export const INGEST_VERSION = 2;

export const ACTIVE_STATUSES: ReadonlySet<BulkStatus> = new Set([
  "queued",
  "submitted",
  "archiving",
  "staging",
  "applying",
]);
export const INGEST_STATUSES: ReadonlySet<BulkStatus> = new Set(["archiving", "staging", "applying"]);

export function newJob(init: Pick<Job, "id" | "backfillId" | "shop" | "resource" | "since">, now: string): Job {
  return {
    ...init,
    status: "queued",
    shopifyId: null,
    shopifyStatus: null,
    errorCode: null,
    error: null,
    attempts: 0,
    partial: false,
    objectCount: null,
    fileSize: null,
    resultUrl: null,
    shopCurrency: null,
    r2Key: null,
    upload: null,
    sourceGzip: null,
    archiveParts: null,
    bytesArchived: 0,
    linesRead: 0,
    parents: 0,
    children: 0,
    invalid: 0,
    orphans: 0,
    childrenJoined: 0,
    applyAfterLine: -1,
    collectedLines: 0,
    ingestVersion: INGEST_VERSION,
    entitiesApplied: 0,
    rowsApplied: 0,
    firstInvalid: null,
    requestedAt: now,
    submittedAt: null,
    shopifyCreatedAt: null,
    shopifyCompletedAt: null,
    ingestStartedAt: null,
    finishedAt: null,
    updatedAt: now,
    nextPollAt: 0,
    pollIntervalMs: 0,
    failures: 0,
    mirrorPending: false,
    inFlight: null,
  };
}

/** How far a job has got, in one number that any committed checkpoint moves forward. */
export function progressOf(job: Job): number {
  return (
    job.bytesArchived +
    (job.upload?.parts.length ?? 0) +
    (job.archiveParts?.length ?? 0) +
    job.linesRead +
    job.collectedLines +
    Math.max(0, job.applyAfterLine + 1)
  );
}

/** Clears everything a previous run of the export left, for a fresh Shopify operation. */
export function resetForRerun(job: Job, error: string, now: string): Job {
  const fresh = newJob(job, job.requestedAt);
  return { ...fresh, attempts: job.attempts, error, updatedAt: now };
}

/** The D1 `bulk_operations` row for a job (progress without the signed URL or upload ids). */
export function mirrorRow(job: Job): BulkOperationRow {
  return {
    id: job.id,
    backfillId: job.backfillId,
    shop: job.shop,
    resource: job.resource,
    since: job.since,
    status: job.status,
    shopifyId: job.shopifyId,
    shopifyStatus: job.shopifyStatus,
    errorCode: job.errorCode,
    error: job.error,
    attempts: job.attempts,
    partial: job.partial,
    objectCount: job.objectCount,
    fileSize: job.fileSize,
    r2Key: job.r2Key,
    bytesArchived: job.bytesArchived,
    linesRead: job.linesRead,
    parents: job.parents,
    children: job.children,
    invalid: job.invalid,
    orphans: job.orphans,
    entitiesApplied: job.entitiesApplied,
    rowsApplied: job.rowsApplied,
    requestedAt: job.requestedAt,
    submittedAt: job.submittedAt,
    shopifyCreatedAt: job.shopifyCreatedAt,
    shopifyCompletedAt: job.shopifyCompletedAt,
    ingestStartedAt: job.ingestStartedAt,
    finishedAt: job.finishedAt,
    updatedAt: job.updatedAt,
  };
}
