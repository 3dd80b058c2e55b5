/**
 * `POST /admin/replay`, three forms:
 * - `{"key": "dead-letter/…"}` sends a dead-lettered envelope back through the queue with origin
 *   `replay` (answers at once: `{eventId, source}`). The consumer is idempotent (same R2 key, same
 *   ledger row), so replaying an event that did land after all changes nothing.
 * - `{"key": "quarantine/…"}` sends a quarantined event back with origin `replay` and the
 *   quarantine object as its `bodyKey`: the consumer runs the stored body through the normal apply
 *   path (after a mapper fix, say). Applied, the ledger row moves to `applied` (or `archived`) and
 *   points at the raw object; still invalid, it stays `quarantined` and its note says why. The
 *   quarantine object stays as the record either way. Answers `{eventId, source, key, sentAt}`:
 *   the ledger row's `updated_at` reaching `sentAt` is the outcome. A body that is not UTF-8 text
 *   is refused (422): no mapper can read it.
 * - `{"source"?, "resource"?, "shop"?, "from", "to"}` (event time, UTC) records a replay of every
 *   archived raw event in that range and answers `202 {replayId}`; the `replay` job sends it in
 *   resumable chunks (the first right away, after the answer). `GET /admin/replay/:id` reports
 *   `{status, listed, sent, applied}`.
 */
import type { Context } from "hono";
import { z } from "zod";
import { runJob } from "../../cron/jobs";
import { createReplay, replayFilterSchema, replayStatus } from "../../cron/replay/replay";
import { envelopeSchema } from "../../shared/envelope";
import { AppError, errorBody } from "../../shared/errors";
import { DEAD_LETTER_PREFIX, QUARANTINE_PREFIX } from "../../shared/keys";
import { describeError, log } from "../../shared/log";
import { sharedDatabase } from "../../tables/database";

type Ctx = Context<{ Bindings: Env }>;

const deadLetterRequest = z.object({ key: z.string().startsWith(DEAD_LETTER_PREFIX).max(1024) });
const deadLetterSchema = z.object({ envelope: envelopeSchema });
const heldRequest = z.object({ key: z.string().max(1024) });

/** The head of a quarantine object (src/shared/archive.ts `quarantineObject`) and which body it kept. */
const quarantinedSchema = z.object({
  event_id: z.string(),
  source: z.string(),
  topic: z.string(),
  shop: z.string().nullable(),
  received_at: z.string(),
  event_at: z.string(),
  api_version: z.string().nullable(),
  reason: z.string(),
  payload_text: z.string().optional(),
  payload_base64: z.string().optional(),
});

export interface ReplaySent {
  eventId: string;
  source: string;
  /** Quarantine replays: the object replayed, and when it was sent (the ledger row's updated_at reaches it). */
  key?: string;
  sentAt?: string;
}

/** `{"key"}` naming a dead letter or a quarantined event: sends it back through the queue. */
export async function replayHeld(env: Env, body: unknown): Promise<ReplaySent> {
  const req = heldRequest.safeParse(body);
  if (req.success && req.data.key.startsWith(QUARANTINE_PREFIX)) return replayQuarantined(env, req.data.key);
  if (req.success && !req.data.key.startsWith(DEAD_LETTER_PREFIX)) {
    throw new AppError(400, "bad_request", 'Send {"key": "dead-letter/…"} or {"key": "quarantine/…"}.');
  }
  return replayDeadLetter(env, body);
}

export async function replayQuarantined(env: Env, key: string): Promise<ReplaySent> {
  const obj = await env.LAKE.get(key);
  if (!obj) throw new AppError(404, "not_found", `No object at ${key}.`);
  const stored = quarantinedSchema.safeParse(await obj.json().catch(() => null));
  if (!stored.success) throw new AppError(400, "bad_request", `${key} is not a quarantined event this pipeline wrote.`);
  const q = stored.data;
  if (q.payload_text === undefined) {
    throw new AppError(
      422,
      "not_replayable",
      `${key} holds a body that is not UTF-8 text (${q.reason}): no mapper can read it, so it stays quarantined.`,
    );
  }
  const envelope = envelopeSchema.safeParse({
    v: 1,
    source: q.source,
    topic: q.topic,
    eventId: q.event_id,
    shop: q.shop,
    receivedAt: q.received_at,
    eventAt: q.event_at,
    apiVersion: q.api_version,
    origin: "replay",
    bodyKey: key,
  });
  if (!envelope.success)
    throw new AppError(400, "bad_request", `${key} does not name a valid event (source, id, times).`);
  const sentAt = new Date().toISOString();
  await env.EVENTS.send(envelope.data, { contentType: "json" });
  return { eventId: envelope.data.eventId, source: envelope.data.source, key, sentAt };
}

export async function replayDeadLetter(env: Env, body: unknown): Promise<{ eventId: string; source: string }> {
  const req = deadLetterRequest.safeParse(body);
  if (!req.success)
    throw new AppError(400, "bad_request", 'Send {"key": "dead-letter/…"} naming a dead-letter object.');
  const obj = await env.LAKE.get(req.data.key);
  if (!obj) throw new AppError(404, "not_found", `No object at ${req.data.key}.`);
  const stored = deadLetterSchema.safeParse(await obj.json().catch(() => null));
  if (!stored.success) {
    throw new AppError(
      400,
      "bad_request",
      `${req.data.key} holds no valid envelope (a malformed message cannot be replayed).`,
    );
  }
  const envelope = { ...stored.data.envelope, origin: "replay" as const };
  await env.EVENTS.send(envelope, { contentType: "json" });
  return { eventId: envelope.eventId, source: envelope.source };
}

export async function replayRoute(c: Ctx): Promise<Response> {
  const body: unknown = await c.req.json().catch(() => null);
  if (typeof body === "object" && body !== null && "key" in body) {
    return c.json({ ok: true, ...(await replayHeld(c.env, body)) });
  }
  const parsed = replayFilterSchema.safeParse(body);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new AppError(
      400,
      "bad_request",
      `Send {"key": "dead-letter/…"|"quarantine/…"} or {"source"?, "resource"?, "shop"?, "from", "to"} (UTC ISO times): ${detail}`,
    );
  }
  const replayId = await createReplay(sharedDatabase(c.env), parsed.data, new Date().toISOString());
  // The first chunk goes out after the answer; the scheduled job continues a long replay.
  c.executionCtx.waitUntil(
    runJob(c.env, "replay", { now: new Date() }).catch((err: unknown) =>
      log.error("replay start failed", { replayId, error: describeError(err) }),
    ),
  );
  return c.json({ ok: true, replayId, status: `/admin/replay/${replayId}` }, 202);
}

export async function replayProgress(c: Ctx): Promise<Response> {
  const id = c.req.param("id") ?? "";
  const row = /^rp-[A-Za-z0-9-]{1,64}$/.test(id) ? await replayStatus(sharedDatabase(c.env), id) : null;
  if (row === null) return c.json(errorBody("not_found", `No replay ${id.slice(0, 80)}.`), 404);
  // The contract's shape: the progress fields at the top level.
  return c.json({ ok: true, ...row, filter: JSON.parse(String(row.filter)) });
}
