/**
 * Sends events a job produced down the normal path: envelopes on `commerce-events` with the
 * job's origin (`reconcile`, `bulk`), validated with the same zod schema the consumer uses, so
 * they are archived and applied exactly like webhooks. Ids are deterministic per job, so sending
 * the same events again is absorbed by the ledger and the write-once R2 key. A body too big for a
 * queue message is written to its raw R2 key first and sent as `bodyKey`, as ingress does.
 */
import { putOnce, rawEventObject } from "../shared/archive";
import { type Envelope, envelopeBytes, envelopeSchema, MAX_MESSAGE_BYTES, type Source } from "../shared/envelope";
import { log } from "../shared/log";
import { recordMetrics } from "../shared/metrics";
import { resourceFor } from "../shared/topics";

export interface OutgoingEvent {
  source: Source;
  topic: string;
  eventId: string;
  shop: string | null;
  /** UTC ISO: the object's updated_at (or the Stripe event's created). */
  eventAt: string;
  apiVersion: string | null;
  body: string;
}

/** Queues limits: 100 messages and 256 KB per sendBatch call. */
const BATCH_MESSAGES = 100;
const BATCH_BYTES = 240 * 1024;

/** Sends the events; returns how many were queued (invalid ones are logged and left out). */
export async function sendEvents(
  env: Env,
  events: readonly OutgoingEvent[],
  receivedAt: string,
  origin: "reconcile" | "bulk",
): Promise<number> {
  const ready: Array<{ envelope: Envelope; bytes: number }> = [];
  for (const e of events) {
    const parsed = envelopeSchema.safeParse({ v: 1, ...e, receivedAt, origin });
    if (!parsed.success) {
      log.error("job envelope invalid, not sent", { source: e.source, eventId: e.eventId.slice(0, 128) });
      continue;
    }
    let envelope = parsed.data;
    if (envelopeBytes(envelope) > MAX_MESSAGE_BYTES) envelope = await claimCheck(env, envelope, e.body);
    ready.push({ envelope, bytes: envelopeBytes(envelope) });
  }

  let batch: Envelope[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await env.EVENTS.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
    batch = [];
    bytes = 0;
  };
  for (const r of ready) {
    if (batch.length >= BATCH_MESSAGES || bytes + r.bytes > BATCH_BYTES) await flush();
    batch.push(r.envelope);
    bytes += r.bytes;
  }
  await flush();
  // One point per topic, not per event: a run sends thousands, an invocation may write 250 points.
  recordMetrics(
    env,
    ready.map((r) => ({ stage: "accepted" as const, source: r.envelope.source, topic: r.envelope.topic, origin })),
  );
  return ready.length;
}

async function claimCheck(env: Env, envelope: Envelope, body: string): Promise<Envelope> {
  const resource = resourceFor(envelope.source, envelope.topic);
  if (resource === null) throw new Error(`a job produced an unknown topic ${envelope.topic}`);
  const obj = await rawEventObject(envelope, resource, body);
  await putOnce(env.LAKE, obj);
  const { body: _inline, ...head } = envelope;
  return envelopeSchema.parse({ ...head, bodyKey: obj.key });
}
