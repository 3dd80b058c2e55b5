/**
 * Consumer of `commerce-events-dlq`: messages that exhausted their retries.
 * Each is written to `dead-letter/{source}/dt=…/{id}.json` with its last error
 * (read from the ledger, where the retry path recorded it) and the ledger row is
 * marked `failed`. Nothing is acked before it is in R2; if R2 or D1 fail, the
 * DLQ message is retried (the DLQ consumer allows the maximum retries).
 */
import { type Envelope, envelopeSchema } from "../shared/envelope";
import { deadLetterKey } from "../shared/keys";
import { describeError, log } from "../shared/log";
import { recordMetric } from "../shared/metrics";
import { resourceFor } from "../shared/topics";
import { DatabaseRoutingError, eventDatabase, sharedDatabase } from "../tables/database";
import { ledgerError, ledgerUpsert } from "../tables/ledger";
import { indexObjects } from "../tables/subject-index";
import { retryDelaySeconds } from "./retry";
import { payloadSubjects } from "./subjects";

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const now = new Date().toISOString();
  for (const msg of batch.messages) {
    try {
      const parsed = envelopeSchema.safeParse(msg.body);
      if (parsed.success) await deadLetterEvent(env, msg, parsed.data, now);
      else await archiveInvalidMessage(env, msg, parsed.error.message, now);
      msg.ack();
    } catch (err) {
      log.error("dead-letter write failed", { messageId: msg.id, error: describeError(err) });
      msg.retry({ delaySeconds: retryDelaySeconds(env, msg.attempts) });
    }
  }
}

async function deadLetterEvent(env: Env, msg: Message<unknown>, envelope: Envelope, now: string): Promise<void> {
  const resource = resourceFor(envelope.source, envelope.topic);
  const db = deadLetterDatabase(env, envelope, resource);
  const last = await ledgerError(db, envelope.source, envelope.eventId);
  const key = deadLetterKey(envelope.source, now, envelope.eventId);
  await env.LAKE.put(
    key,
    JSON.stringify({
      message_id: msg.id,
      dead_at: now,
      attempts: last?.attempts ?? null,
      last_error: last?.error ?? "unknown (no error was recorded before the message was dead-lettered)",
      envelope,
    }),
    {
      httpMetadata: { contentType: "application/json" },
      customMetadata: { source: envelope.source, topic: envelope.topic, event_id: envelope.eventId },
    },
  );
  // The dead letter holds the body too: it is indexed like the raw object, before the ledger row.
  const subjects =
    envelope.body === undefined ? [] : await payloadSubjects(env, envelope, resource ?? "other", envelope.body);
  await indexObjects(env, [{ r2Key: key, subjects, redacted: false }], now);
  await db.batch([
    ledgerUpsert(db, {
      envelope,
      resource,
      status: "failed",
      r2Key: key,
      attempts: last?.attempts ?? msg.attempts,
      error: last?.error ?? "dead-lettered",
      now,
    }),
  ]);
  recordMetric(env, {
    stage: "dead_lettered",
    source: envelope.source,
    topic: envelope.topic,
    origin: envelope.origin,
  });
  log.error("event dead-lettered", { source: envelope.source, eventId: envelope.eventId, key, lastError: last?.error });
}

/** A message that is not a valid envelope: kept as-is under `dead-letter/unknown/`, never retried. */
export async function archiveInvalidMessage(
  env: Env,
  msg: Message<unknown>,
  reason: string,
  now: string,
): Promise<void> {
  const key = deadLetterKey("unknown", now, msg.id.replace(/[^A-Za-z0-9._:-]/g, "_"));
  await env.LAKE.put(
    key,
    JSON.stringify({
      message_id: msg.id,
      dead_at: now,
      attempts: msg.attempts,
      last_error: `invalid envelope: ${reason}`,
      message: msg.body,
    }),
    { httpMetadata: { contentType: "application/json" }, customMetadata: { reason: "invalid_envelope" } },
  );
  recordMetric(env, { stage: "dead_lettered", source: "unknown", topic: "", origin: "" });
  log.error("invalid queue message dead-lettered", { messageId: msg.id, key });
}

/** The event's database; the shared one when SHOP_DATABASES is broken, so the dead letter is still on record. */
function deadLetterDatabase(env: Env, envelope: Envelope, resource: string | null): D1Database {
  try {
    return eventDatabase(env, envelope.shop, resource);
  } catch (err) {
    if (!(err instanceof DatabaseRoutingError)) throw err;
    log.error("dead letter recorded in DB: SHOP_DATABASES is broken", { shop: envelope.shop, error: err.message });
    return sharedDatabase(env);
  }
}
