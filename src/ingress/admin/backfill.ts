/**
 * Operator API for backfills (behind the admin token):
 *   POST /admin/backfill {shop, resources, since?} → 202 {backfillId, operations}; 409 if a
 *        requested resource is already being exported for that shop (nothing is duplicated).
 *        With `"source": "stripe"|"recharge"` it is a history backfill instead (./api-backfill.ts).
 *   GET  /admin/backfill/:id → the backfill's operations (or resources) with their progress
 * Starting goes to the shop's coordinator, which owns the decision; progress is read from
 * the D1 `bulk_operations` mirror, so a status check never wakes or waits on the object.
 */
import type { Context } from "hono";
import { BACKFILL_ID, backfillRequestSchema } from "../../durable/backfill-request";
import { operationsOfBackfill } from "../../durable/operations-table";
import { resolveShopAccess } from "../../durable/shop-credentials";
import { AppError, errorBody } from "../../shared/errors";
import type { BulkOperationRow } from "../../shared/schema/operations";
import { sharedDatabase } from "../../tables/database";
import { uninstalledShops } from "../../tables/shop-installs";
import { apiBackfillStatus, startApiBackfillRequest } from "./api-backfill";

type Ctx = Context<{ Bindings: Env }>;

export async function startBackfill(c: Ctx): Promise<Response> {
  let body: unknown = await c.req.json().catch(() => {
    throw new AppError(
      400,
      "bad_request",
      'Send a JSON body: {"shop", "resources": ["orders"|"customers"|"products"|"fulfillments"|"refunds"|"inventory"|"locations"], "since"?}.',
    );
  });
  if (typeof body === "object" && body !== null && "source" in body) {
    const { source, ...rest } = body as Record<string, unknown>;
    if (source !== "shopify") return startApiBackfillRequest(c, body);
    body = rest;
  }
  const parsed = backfillRequestSchema.safeParse(body);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new AppError(400, "bad_request", `Invalid backfill request: ${detail}`);
  }
  const { shop } = parsed.data;
  const access = await resolveShopAccess(c.env, shop);
  // Checked here too so a misconfigured shop never wakes a coordinator.
  if (!access.ok) throw new AppError(503, "not_configured", access.message);
  if ((await uninstalledShops(c.env)).has(shop)) {
    return c.json(errorBody("uninstalled", `${shop} uninstalled the app: it is not backfilled.`), 409);
  }

  const result = await c.env.SHOP.getByName(shop).startBackfill(parsed.data);
  if (result.ok) {
    return c.json(
      {
        ok: true,
        backfillId: result.backfillId,
        status: `/admin/backfill/${result.backfillId}`,
        operations: result.operations,
      },
      202,
    );
  }
  switch (result.reason) {
    case "already_running":
      return c.json(
        { ok: false, error: { code: "already_running", message: result.message }, running: result.running },
        409,
      );
    case "not_configured":
      throw new AppError(503, "not_configured", result.message);
    case "invalid":
      throw new AppError(400, "bad_request", result.message);
  }
}

export async function backfillStatus(c: Ctx): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const operations = BACKFILL_ID.test(id) ? await operationsOfBackfill(sharedDatabase(c.env), id) : [];
  if (operations.length === 0) {
    const history = BACKFILL_ID.test(id) ? await apiBackfillStatus(sharedDatabase(c.env), id) : null;
    if (history === null) return c.json(errorBody("not_found", `No backfill ${id}.`), 404);
    return c.json({ ok: true, backfill: history });
  }
  return c.json({
    ok: true,
    backfill: {
      id,
      shop: operations[0]?.shop,
      status: overallStatus(operations),
      requestedAt: operations[0]?.requestedAt,
      operations,
    },
  });
}

/** running while any export is active; otherwise failed, canceled or completed, worst first. */
function overallStatus(ops: BulkOperationRow[]): "running" | "failed" | "canceled" | "completed" {
  if (ops.some((o) => !["completed", "failed", "canceled"].includes(o.status))) return "running";
  if (ops.some((o) => o.status === "failed")) return "failed";
  if (ops.some((o) => o.status === "canceled")) return "canceled";
  return "completed";
}
