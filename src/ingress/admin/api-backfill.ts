/**
 * Stripe and Recharge history backfills over the admin API (the Shopify ones go to the shop's
 * coordinator, ./backfill.ts): `POST /admin/backfill {"source":"stripe"|"recharge","resources",
 * "since"?}` records the backfill (202), or answers 409 naming the running backfill of a resource
 * (nothing is started then); the `backfill` job pages through it within a minute. Progress is
 * the rows of `backfills`.
 */
import type { Context } from "hono";
import { apiBackfillRequestSchema, apiBackfillRows, startApiBackfill } from "../../cron/backfills";
import { AppError } from "../../shared/errors";
import type { BackfillRow } from "../../shared/schema/backfills";
import { sharedDatabase } from "../../tables/database";

type Ctx = Context<{ Bindings: Env }>;

export async function startApiBackfillRequest(c: Ctx, body: unknown): Promise<Response> {
  const parsed = apiBackfillRequestSchema.safeParse(body);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new AppError(400, "bad_request", `Invalid backfill request: ${detail}`);
  }
  const { source } = parsed.data;
  const configured = source === "stripe" ? c.env.STRIPE_API_KEY : c.env.RECHARGE_API_TOKEN;
  if (!configured) {
    throw new AppError(
      503,
      "not_configured",
      `${source === "stripe" ? "STRIPE_API_KEY" : "RECHARGE_API_TOKEN"} is not set.`,
    );
  }
  const result = await startApiBackfill(sharedDatabase(c.env), {
    ...parsed.data,
    requestedBy: "admin",
    now: new Date(),
  });
  if (!result.ok) {
    return c.json(
      {
        ok: false,
        error: {
          code: "already_running",
          message: `A ${source} backfill is already running for ${result.running.map((r) => r.resource).join(", ")}.`,
        },
        running: result.running,
      },
      409,
    );
  }
  return c.json(
    {
      ok: true,
      backfillId: result.backfillId,
      status: `/admin/backfill/${result.backfillId}`,
      resources: result.resources,
    },
    202,
  );
}

/** The backfill's progress, or null when no Stripe or Recharge backfill has that id. */
export async function apiBackfillStatus(db: D1Database, id: string) {
  const rows = await apiBackfillRows(db, id);
  const first = rows[0];
  if (first === undefined) return null;
  return {
    id,
    source: first.source,
    status: overall(rows),
    since: first.since,
    until: first.until,
    requestedBy: first.requestedBy,
    requestedAt: first.requestedAt,
    resources: rows.map(({ backfillId: _id, source: _source, ...r }) => r),
  };
}

function overall(rows: BackfillRow[]): "running" | "failed" | "completed" {
  if (rows.some((r) => r.status === "running")) return "running";
  return rows.some((r) => r.status === "failed") ? "failed" : "completed";
}
