/**
 * Operator API for privacy (behind the admin token):
 *   POST /admin/privacy/erase {"email"} | {"shop", "customerId"} → 202 {requestId}: erase one
 *        person across Shopify, Stripe and Recharge through the identity graph
 *   GET  /admin/privacy/:requestId → the request's tombstone (no PII): stage, counts, times
 *   GET  /admin/privacy/:requestId/export → a data request's export, to send to the merchant
 * Only the request is recorded here; the `privacy` job carries it out.
 */
import type { Context } from "hono";
import { z } from "zod";
import { normalizeEmail } from "../../mapping/common";
import { AppError, errorBody } from "../../shared/errors";
import { sharedDatabase } from "../../tables/database";
import { requestStatements } from "../../tables/privacy-requests";
import { PrivacyKeyMissingError } from "../../tables/subjects";

type Ctx = Context<{ Bindings: Env }>;

const eraseSchema = z.union([
  z
    .object({
      email: z
        .string()
        .trim()
        .min(3)
        .max(320)
        .regex(/^[^\s@]+@[^\s@]+$/),
    })
    .strict(),
  z
    .object({
      shop: z
        .string()
        .max(255)
        .regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/),
      customerId: z.string().regex(/^\d{1,20}$/),
    })
    .strict(),
]);

const REQUEST_ID = /^pr-[A-Za-z0-9._:-]{1,140}$/;

export async function requestErasure(c: Ctx): Promise<Response> {
  const body: unknown = await c.req.json().catch(() => null);
  const parsed = eraseSchema.safeParse(body);
  if (!parsed.success) {
    throw new AppError(
      400,
      "bad_request",
      'Send {"email": "…"} or {"shop": "<shop>.myshopify.com", "customerId": "<digits>"} (customerId as a string).',
    );
  }
  const d = parsed.data;
  const subject =
    "email" in d
      ? { shop: null, email: normalizeEmail(d.email), shopifyCustomerId: null, orders: [] }
      : { shop: d.shop, email: null, shopifyCustomerId: d.customerId, orders: [] };
  const requestId = `pr-erase-${crypto.randomUUID()}`;
  try {
    const statements = await requestStatements(sharedDatabase(c.env), c.env, {
      requestId,
      kind: "erase",
      subject,
      sourceEventId: null,
      now: new Date().toISOString(),
    });
    await sharedDatabase(c.env).batch(statements);
  } catch (err) {
    if (err instanceof PrivacyKeyMissingError) throw new AppError(503, "not_configured", err.message);
    throw err;
  }
  return c.json({ ok: true, requestId, status: `/admin/privacy/${requestId}` }, 202);
}

export async function privacyRequestStatus(c: Ctx): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const row = REQUEST_ID.test(id)
    ? await sharedDatabase(c.env)
        .prepare(
          `SELECT request_id AS requestId, kind, shop, subject_hash AS subjectHash, status, stage,
           received_at AS receivedAt, completed_at AS completedAt, objects_rewritten AS objectsRewritten,
           objects_deleted AS objectsDeleted, rows_changed AS rowsChanged, export_key AS exportKey, error,
           progressed_at AS progressedAt, objects_total AS objectsTotal
         FROM privacy_requests WHERE request_id = ?1`,
        )
        .bind(id)
        .first()
    : null;
  if (row === null) return c.json(errorBody("not_found", `No privacy request ${id.slice(0, 160)}.`), 404);
  return c.json({ ok: true, request: row });
}

/** A `customers/data_request`'s export (`exports/{shop}/{requestId}.json`), as the job wrote it. */
export async function privacyExport(c: Ctx): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const row = REQUEST_ID.test(id)
    ? await sharedDatabase(c.env)
        .prepare("SELECT kind, status, export_key AS exportKey FROM privacy_requests WHERE request_id = ?1")
        .bind(id)
        .first<{ kind: string; status: string; exportKey: string | null }>()
    : null;
  if (row === null) return c.json(errorBody("not_found", `No privacy request ${id.slice(0, 160)}.`), 404);
  if (row.kind !== "data_request") {
    return c.json(errorBody("not_found", `${id} is a ${row.kind} request; only a data request has an export.`), 404);
  }
  const object = row.exportKey === null ? null : await c.env.LAKE.get(row.exportKey);
  if (object === null) {
    const why =
      row.exportKey === null
        ? `The export of ${id} is not written yet (status ${row.status}): the privacy job writes it; run it now with POST /admin/jobs/privacy.`
        : `The export of ${id} was deleted from ${row.exportKey} (exports are deleted once sent to the merchant).`;
    return c.json(errorBody("not_found", why), 404);
  }
  return new Response(object.body, { headers: { "Content-Type": "application/json" } });
}
