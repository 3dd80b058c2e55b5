/**
 * A bulk operation on Shopify's side: start it (`bulkOperationRunQuery`) and follow it
 * (`bulkOperation(id)`) until it is COMPLETED, FAILED, CANCELED or EXPIRED, turning
 * each answer into the job's next state. Every call goes through the shop's shared
 * rate budget. Shopify's refusals for concurrency (LIMIT_REACHED, OPERATION_IN_PROGRESS)
 * leave the job queued for a later try; an expired result is re-run from scratch (a
 * bounded number of times), since the data is gone; a failed operation still yields
 * its `partialDataUrl`, which is ingested and the job marked failed with its error code.
 */
import { z } from "zod";
import type { AdminGraphqlOptions, AdminGraphqlResult, JsonValue } from "../admin-graphql";
import { type Job, resetForRerun } from "../job";
import { snapshotFolder } from "./archive";
import { bulkOperationQuery, bulkQuery, COSTS, runQueryMutation, SHOP_CURRENCY_QUERY } from "./queries";

export type AdminCall = (
  query: string,
  variables: Record<string, JsonValue>,
  options: AdminGraphqlOptions,
) => Promise<AdminGraphqlResult>;

export interface LifecycleDeps {
  admin: AdminCall;
  apiVersion: string;
  nowMs: () => number;
  pollBaseMs: number;
  pollMaxMs: number;
}

/** Re-runs of an export whose result expired before it was archived. */
export const MAX_ATTEMPTS = 3;
const RESULT_LIFETIME_MS = 7 * 24 * 3600 * 1000;

const userErrorSchema = z.object({
  field: z.array(z.string()).nullish(),
  message: z.string(),
  code: z.string().nullish(),
});

const runSchema = z.object({
  bulkOperationRunQuery: z.object({
    bulkOperation: z.object({ id: z.string(), status: z.string(), createdAt: z.string().nullish() }).nullable(),
    userErrors: z.array(userErrorSchema),
  }),
});

/** UnsignedInt64 arrives as a string; older versions sent numbers. */
const bigCount = z
  .union([z.string().regex(/^\d+$/), z.number().int().nonnegative()])
  .nullish()
  .transform((v) => (v === null || v === undefined ? null : Number(v)));

const statusSchema = z.object({
  bulkOperation: z
    .object({
      id: z.string(),
      status: z.string(),
      errorCode: z.string().nullish(),
      createdAt: z.string().nullish(),
      completedAt: z.string().nullish(),
      objectCount: bigCount,
      fileSize: bigCount,
      url: z.string().nullish(),
      partialDataUrl: z.string().nullish(),
    })
    .nullable(),
});

const shopSchema = z.object({ shop: z.object({ currencyCode: z.string().regex(/^[A-Z]{3}$/) }) });

/** A failure worth retrying later (network, 5xx, budget timeout) rather than failing the job. */
export class TransientError extends Error {}
/** A failure retrying cannot fix (no token, token rejected, query refused): the job fails now. */
export class PermanentError extends Error {}

function unwrap(result: AdminGraphqlResult, what: string): Record<string, JsonValue> {
  if (result.ok) return result.data;
  const e = result.error;
  const serverSide = (e.codes ?? []).some((c) => c === "INTERNAL_SERVER_ERROR" || c === "SERVICE_UNAVAILABLE");
  if (
    e.kind === "config" ||
    (e.kind === "graphql" && !serverSide) ||
    (e.kind === "http" && (e.status === 401 || e.status === 403))
  ) {
    throw new PermanentError(`${what}: ${e.message}`);
  }
  throw new TransientError(`${what}: ${e.kind} ${e.message}`);
}

const nowIso = (deps: LifecycleDeps) => new Date(deps.nowMs()).toISOString();

/** Starts the Shopify operation for a queued job. Returns the job queued again when Shopify is at its limit. */
export async function submit(deps: LifecycleDeps, job: Job): Promise<Job> {
  let shopCurrency = job.shopCurrency;
  // Variant prices and item costs name no currency: they are the shop's.
  if ((job.resource === "products" || job.resource === "inventory") && shopCurrency === null) {
    const shop = shopSchema.safeParse(
      unwrap(await deps.admin(SHOP_CURRENCY_QUERY, {}, { estimatedCost: COSTS.shop }), "shop currency"),
    );
    shopCurrency = shop.success ? shop.data.shop.currencyCode : null;
  }
  const data = unwrap(
    await deps.admin(
      runQueryMutation(deps.apiVersion),
      { query: bulkQuery(job.resource, job.since) },
      { estimatedCost: COSTS.run },
    ),
    "bulkOperationRunQuery",
  );
  const parsed = runSchema.safeParse(data);
  if (!parsed.success)
    throw new TransientError(`bulkOperationRunQuery: unexpected answer: ${parsed.error.message.slice(0, 200)}`);
  const { bulkOperation, userErrors } = parsed.data.bulkOperationRunQuery;
  const now = nowIso(deps);
  const busy = userErrors.find(
    (e) => e.code === "LIMIT_REACHED" || e.code === "OPERATION_IN_PROGRESS" || /already in progress/i.test(e.message),
  );
  if (busy) {
    return { ...job, shopCurrency, error: busy.message, nextPollAt: deps.nowMs() + deps.pollBaseMs, updatedAt: now };
  }
  if (userErrors.length > 0 || !bulkOperation) {
    const message = userErrors.map((e) => e.message).join("; ") || "no bulk operation returned";
    return {
      ...job,
      shopCurrency,
      status: "failed",
      error: `Shopify refused the export: ${message}`,
      finishedAt: now,
      updatedAt: now,
    };
  }
  return {
    ...job,
    shopCurrency,
    status: "submitted",
    shopifyId: bulkOperation.id,
    shopifyStatus: bulkOperation.status,
    shopifyCreatedAt: bulkOperation.createdAt ?? now,
    submittedAt: now,
    attempts: job.attempts + 1,
    error: null,
    nextPollAt: deps.nowMs() + deps.pollBaseMs,
    pollIntervalMs: deps.pollBaseMs,
    updatedAt: now,
  };
}

/** Reads the operation's status and moves the job on (or schedules the next poll). */
export async function poll(deps: LifecycleDeps, job: Job): Promise<Job> {
  if (!job.shopifyId) throw new Error(`bulk job ${job.id} was submitted without an operation id`);
  const read = bulkOperationQuery(deps.apiVersion);
  const data = unwrap(await deps.admin(read.query, { id: job.shopifyId }, { estimatedCost: COSTS.status }), read.root);
  // A node that is not a bulk operation answers as an empty object: no operation.
  const node = data[read.root];
  const answer = node && typeof node === "object" && !("id" in node) ? null : (node ?? null);
  const parsed = statusSchema.safeParse({ bulkOperation: answer });
  if (!parsed.success)
    throw new TransientError(`bulkOperation: unexpected answer: ${parsed.error.message.slice(0, 200)}`);
  const op = parsed.data.bulkOperation;
  const now = nowIso(deps);
  if (!op)
    return {
      ...job,
      status: "failed",
      error: `Shopify has no bulk operation ${job.shopifyId}`,
      finishedAt: now,
      updatedAt: now,
    };

  const seen: Job = {
    ...job,
    shopifyStatus: op.status,
    errorCode: op.errorCode ?? null,
    objectCount: op.objectCount,
    fileSize: op.fileSize,
    shopifyCreatedAt: op.createdAt ?? job.shopifyCreatedAt,
    shopifyCompletedAt: op.completedAt ?? null,
    updatedAt: now,
  };
  const completedMs = Date.parse(op.completedAt ?? "");
  const stale = Number.isFinite(completedMs) && deps.nowMs() - completedMs >= RESULT_LIFETIME_MS;

  switch (op.status) {
    case "COMPLETED":
      if (stale) return rerun(seen, "the result URL expired (7 days) before it was downloaded", now);
      if (!op.url) return { ...seen, status: "completed", finishedAt: now };
      return toArchiving(seen, op.url, false, now);
    case "FAILED":
      if (op.partialDataUrl && !stale) {
        return toArchiving(
          { ...seen, error: `bulk operation failed (${op.errorCode ?? "unknown"}); ingesting its partial data` },
          op.partialDataUrl,
          true,
          now,
        );
      }
      return {
        ...seen,
        status: "failed",
        error: `bulk operation failed: ${op.errorCode ?? "no error code"}`,
        finishedAt: now,
      };
    case "CANCELED":
      return { ...seen, status: "canceled", error: "bulk operation was canceled", finishedAt: now };
    case "EXPIRED":
      return rerun(seen, "the bulk operation's result expired before it was downloaded", now);
    default: {
      // CREATED, RUNNING, CANCELING (or a status this version does not know): keep waiting.
      const interval = Math.min(deps.pollMaxMs, Math.max(deps.pollBaseMs, job.pollIntervalMs * 2));
      return { ...seen, nextPollAt: deps.nowMs() + interval, pollIntervalMs: interval };
    }
  }
}

function toArchiving(job: Job, url: string, partial: boolean, now: string): Job {
  // nextPollAt doubles as an ingest job's retry time: due now.
  const next = { ...job, partial, resultUrl: url, status: "archiving" as const, ingestStartedAt: now, nextPollAt: 0 };
  return { ...next, r2Key: snapshotFolder(next), archiveParts: [] };
}

/** Starts the export over with a new operation, or gives up after MAX_ATTEMPTS runs. */
export function rerun(job: Job, reason: string, now: string): Job {
  if (job.attempts >= MAX_ATTEMPTS) {
    return {
      ...job,
      status: "failed",
      error: `${reason}; gave up after ${job.attempts} runs`,
      finishedAt: now,
      updatedAt: now,
    };
  }
  return resetForRerun(job, `${reason}; re-running the export`, now);
}
