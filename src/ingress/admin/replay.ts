/**
 * `POST /admin/replay`, two forms:
 * - `{"key": "dead-letter/…"}` sends a dead-lettered envelope back through the queue with origin
 *   `replay` (answers at once: `{eventId, source}`). The consumer is idempotent (same R2 key, same
 *   ledger row), so replaying an event that did land after all changes nothing.
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
import { DEAD_LETTER_PREFIX } from "../../shared/keys";
import { describeError, log } from "../../shared/log";

type Ctx = Context<{ Bindings: Env }>;

const deadLetterRequest = z.object({ key: z.string().startsWith(DEAD_LETTER_PREFIX).max(1024) });
const deadLetterSchema = z.object({ envelope: envelopeSchema });

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
    return c.json({ ok: true, ...(await replayDeadLetter(c.env, body)) });
  }
  const parsed = replayFilterSchema.safeParse(body);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new AppError(
      400,
      "bad_request",
      `Send {"key": "dead-letter/…"} or {"source"?, "resource"?, "shop"?, "from", "to"} (UTC ISO times): ${detail}`,
    );
  }
  const replayId = await createReplay(c.env.DB, parsed.data, new Date().toISOString());
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
  const row = /^rp-[A-Za-z0-9-]{1,64}$/.test(id) ? await replayStatus(c.env.DB, id) : null;
  if (row === null) return c.json(errorBody("not_found", `No replay ${id.slice(0, 80)}.`), 404);
  // The contract's shape: the progress fields at the top level.
  return c.json({ ok: true, ...row, filter: JSON.parse(String(row.filter)) });
}
