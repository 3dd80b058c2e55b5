/**
 * Stripe and Recharge history backfills, as rows of `backfills` (one per backfill and resource).
 * Starting one is an insert: the admin route and Stripe reconciliation (for a gap older than the
 * Events API keeps) both start them here, and the `backfill` job advances them. The partial unique
 * index on running rows is the lock, so two concurrent requests cannot both start a resource: the
 * loser's whole batch rolls back and it is told what is running. A resource the source cannot list
 * in full (Recharge charges older than 90 days) gets a `note` saying what will be missing.
 */
import { z } from "zod";
import { backfillGapNote } from "../shared/backfill-resources";
import { distinctList, optionalUtcTime } from "../shared/params";
import {
  API_BACKFILL_RESOURCES,
  API_BACKFILL_SOURCES,
  type ApiBackfillSource,
  type BackfillRow,
} from "../shared/schema/backfills";

export const apiBackfillRequestSchema = z
  .object({
    source: z.enum(API_BACKFILL_SOURCES),
    resources: distinctList(z.string()),
    since: optionalUtcTime("since"),
  })
  .strict()
  .superRefine((req, ctx) => {
    const known: readonly string[] = API_BACKFILL_RESOURCES[req.source];
    for (const r of req.resources) {
      if (!known.includes(r)) {
        ctx.addIssue({
          code: "custom",
          path: ["resources"],
          message: `${req.source} resources are ${known.join(", ")}`,
        });
      }
    }
  });
export type ApiBackfillRequest = z.output<typeof apiBackfillRequestSchema>;

export type StartApiBackfillResult =
  | { ok: true; backfillId: string; resources: string[] }
  | { ok: false; running: Array<{ resource: string; backfillId: string }> };

/** Starts a backfill of `resources`, or names the running ones that stand in the way (nothing is started then). */
export async function startApiBackfill(
  db: D1Database,
  req: ApiBackfillRequest & { until?: string; requestedBy: "admin" | "reconcile"; now: Date },
): Promise<StartApiBackfillResult> {
  const backfillId = `bf_${crypto.randomUUID()}`;
  const now = req.now.toISOString();
  const insert = db.prepare(
    `INSERT INTO backfills (backfill_id, source, resource, since, until, status, requested_by, requested_at, updated_at, note)
     VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?7, ?8)`,
  );
  try {
    await db.batch(
      req.resources.map((r) =>
        insert.bind(
          backfillId,
          req.source,
          r,
          req.since ?? null,
          req.until ?? null,
          req.requestedBy,
          now,
          backfillGapNote(req.source, r, req.since ?? null, req.now),
        ),
      ),
    );
  } catch (err) {
    if (!String(err).includes("UNIQUE")) throw err;
    return { ok: false, running: await runningBackfills(db, req.source, req.resources) };
  }
  return { ok: true, backfillId, resources: req.resources };
}

async function runningBackfills(db: D1Database, source: ApiBackfillSource, resources: string[]) {
  const rows = await db
    .prepare(
      `SELECT resource, backfill_id AS backfillId FROM backfills WHERE status = 'running' AND source = ?1
       AND resource IN (SELECT value FROM json_each(?2)) ORDER BY resource`,
    )
    .bind(source, JSON.stringify(resources))
    .all<{ resource: string; backfillId: string }>();
  return rows.results;
}

/** The rows of one backfill, in resource order (empty when there is none). */
export async function apiBackfillRows(db: D1Database, backfillId: string): Promise<BackfillRow[]> {
  const rows = await db
    .prepare(
      `SELECT backfill_id AS backfillId, source, resource, since, until, status, cursor, pages, listed, sent,
         api_calls AS apiCalls, throttled, failures, retry_at AS retryAt, requested_by AS requestedBy,
         requested_at AS requestedAt, started_at AS startedAt, updated_at AS updatedAt, finished_at AS finishedAt, error,
         note
       FROM backfills WHERE backfill_id = ?1 ORDER BY resource`,
    )
    .bind(backfillId)
    .all<BackfillRow>();
  return rows.results;
}
