/**
 * `POST /admin/replay {"key": "dead-letter/…"}`: sends a dead-lettered envelope back
 * through the queue with origin `replay`. The consumer is idempotent (same R2 key,
 * same ledger row), so replaying an event that did land after all changes nothing.
 */
import { z } from "zod";
import { envelopeSchema } from "../../shared/envelope";
import { AppError } from "../../shared/errors";
import { DEAD_LETTER_PREFIX } from "../../shared/keys";

const requestSchema = z.object({ key: z.string().startsWith(DEAD_LETTER_PREFIX).max(1024) });
const deadLetterSchema = z.object({ envelope: envelopeSchema });

export async function replayDeadLetter(env: Env, body: unknown): Promise<{ eventId: string; source: string }> {
  const req = requestSchema.safeParse(body);
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
