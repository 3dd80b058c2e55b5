/**
 * `POST /admin/jobs/:name` (admin token): runs a scheduled job now and answers with its
 * report. Optional JSON body, validated with zod: `{"sources": ["stripe"], "shops":
 * ["x.myshopify.com"], "checks": ["freshness"], "day": "2026-11-20"}` narrows what runs. The job runs inside
 * the request (the answer is the report); a long reconciliation keeps the connection
 * open, and the same leases apply as for scheduled runs, so an overlap skips.
 */
import { z } from "zod";
import { compactOptionsSchema } from "../../cron/compact/compact";
import { upkeepOptionsSchema } from "../../cron/compact/upkeep";
import { isJobName, JOB_NAMES, type JobRun, runJob } from "../../cron/jobs";
import { SHOP_DOMAIN } from "../../durable/shop-access";
import { SOURCES } from "../../shared/envelope";
import { AppError } from "../../shared/errors";

const bodySchema = z
  .object({
    sources: z.array(z.enum(SOURCES)).min(1).max(3).optional(),
    shops: z.array(z.string().regex(SHOP_DOMAIN).max(255)).min(1).max(100).optional(),
    checks: z
      .array(z.string().regex(/^[a-z_]{1,64}$/))
      .min(1)
      .max(20)
      .optional(),
    day: compactOptionsSchema.shape.day,
    batchObjects: z.number().int().min(1).max(100_000).optional(),
    batchEvents: z.number().int().min(1).max(100_000).optional(),
    tables: compactOptionsSchema.shape.tables,
    rebuild: upkeepOptionsSchema.shape.rebuild,
    snapshotDays: upkeepOptionsSchema.shape.snapshotDays,
    kpiRefreshHours: upkeepOptionsSchema.shape.kpiRefreshHours,
  })
  .strict();

export async function runJobRequest(env: Env, name: string, bodyText: string): Promise<JobRun> {
  if (!isJobName(name)) {
    throw new AppError(404, "not_found", `No job "${name.slice(0, 64)}". Jobs: ${JOB_NAMES.join(", ")}.`);
  }
  let doc: unknown = {};
  if (bodyText.trim() !== "") {
    try {
      doc = JSON.parse(bodyText);
    } catch {
      throw new AppError(400, "bad_request", "The body must be JSON (or empty).");
    }
  }
  const parsed = bodySchema.safeParse(doc);
  if (!parsed.success) {
    throw new AppError(
      400,
      "bad_request",
      'Optional body: {"sources": ["shopify"|"stripe"|"recharge"], "shops": ["<shop>.myshopify.com"], "checks": ["<check name>"], "day": "YYYY-MM-DD", "tables": ["<table>"] (compact), "rebuild": ["<table>"], "snapshotDays": n, "kpiRefreshHours": n (lake-upkeep), "batchObjects": n (privacy), "batchEvents": n (replay)}.',
    );
  }
  return runJob(env, name, { now: new Date(), options: parsed.data });
}
