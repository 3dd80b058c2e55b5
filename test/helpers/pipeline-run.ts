/**
 * Drives the real handlers the way the platform would, with any `env` (for instance one whose
 * bindings fail): webhook deliveries are posted to the Hono app and retried by their "source"
 * while it answers 503; what ingress queues lands in a simulated queue that redelivers retried
 * messages with attempts + 1, moves a message to the dead-letter queue after max_retries (8,
 * as wrangler.toml sets), and feeds the DLQ consumer until it acks.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import worker from "../../src/index";
import { app } from "../../src/ingress/app";
import type { Delivery } from "./commerce-events";
import { rechargeRequest, shopifyRequest, stripeRequest } from "./requests";

export const MAX_RETRIES = 8;
const EVENTS_QUEUE = "commerce-events";
const DLQ = "commerce-events-dlq";

export interface Pending {
  id: string;
  body: unknown;
  attempts: number;
}

/** A queue binding that keeps what is sent, for `drain` to deliver. */
export class SimulatedQueue {
  readonly pending: Pending[] = [];
  private seq = 0;
  readonly binding = {
    send: async (body: unknown) => {
      this.pending.push({ id: `sim-${++this.seq}`, body: structuredClone(body), attempts: 1 });
    },
    sendBatch: async (messages: Iterable<MessageSendRequest>) => {
      for (const m of messages) await this.binding.send(m.body);
    },
  } as unknown as Queue;
}

export function requestFor(d: Delivery): Promise<Request> {
  switch (d.source) {
    case "shopify":
      return shopifyRequest(d.body, {
        topic: d.topic,
        shop: d.shop,
        eventId: d.eventId,
        triggeredAt: d.triggeredAt,
        apiVersion: "2026-01",
      });
    case "stripe":
      return stripeRequest(d.body);
    case "recharge":
      return rechargeRequest(d.body, { topic: d.topic });
  }
}

export interface Posted {
  delivery: Delivery;
  status: number;
  eventId: string | null;
  /** 503 answers before the 200 (the source retried). */
  refusals: number;
}

/** Posts each delivery, retrying on 503 as a webhook source does, until it is accepted (or `maxTries`). */
export async function postAll(deliveries: readonly Delivery[], env: Env, maxTries = 30): Promise<Posted[]> {
  const out: Posted[] = [];
  for (const delivery of deliveries) {
    let refusals = 0;
    for (;;) {
      const res = await app.fetch(await requestFor(delivery), env, createExecutionContext());
      const body = (await res.json()) as { eventId?: string };
      if (res.status === 503 && refusals + 1 < maxTries) {
        refusals++;
        continue;
      }
      out.push({ delivery, status: res.status, eventId: body.eventId ?? null, refusals });
      break;
    }
  }
  return out;
}

export interface Drained {
  /** Deliveries of messages to the events consumer, including redeliveries. */
  deliveries: number;
  deadLettered: unknown[];
  /** Consumer calls that threw out of the handler (the platform then retries the whole batch). */
  handlerErrors: number;
}

/** Delivers everything in the queue, as Queues would, until each message is acked or dead-lettered and archived. */
export async function drain(queue: SimulatedQueue, env: Env, dlqEnv: Env = env, batchSize = 50): Promise<Drained> {
  const result: Drained = { deliveries: 0, deadLettered: [], handlerErrors: 0 };
  const dlq: Pending[] = [];
  while (queue.pending.length > 0) {
    const batch = queue.pending.splice(0, batchSize);
    result.deliveries += batch.length;
    const outcome = await deliver(EVENTS_QUEUE, batch, env);
    if (outcome.threw) result.handlerErrors++;
    for (const m of batch) {
      if (outcome.acked.has(m.id)) continue;
      if (m.attempts > MAX_RETRIES) dlq.push({ ...m, attempts: 1 });
      else queue.pending.push({ ...m, attempts: m.attempts + 1 });
    }
  }
  while (dlq.length > 0) {
    const batch = dlq.splice(0, 10);
    const outcome = await deliver(DLQ, batch, dlqEnv);
    for (const m of batch) {
      if (outcome.acked.has(m.id)) result.deadLettered.push(m.body);
      else if (m.attempts > 100) throw new Error(`dead letter ${m.id} was never archived`);
      else dlq.push({ ...m, attempts: m.attempts + 1 });
    }
  }
  return result;
}

/** One delivery of each message to the events consumer, nothing redelivered: how many were acked. */
export async function deliverOnce(messages: Pending[], env: Env): Promise<number> {
  let acked = 0;
  for (let i = 0; i < messages.length; i += 50) {
    acked += (await deliver(EVENTS_QUEUE, messages.slice(i, i + 50), env)).acked.size;
  }
  return acked;
}

async function deliver(queue: string, messages: Pending[], env: Env) {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts, body: m.body })),
  );
  const ctx = createExecutionContext();
  let threw = false;
  try {
    await worker.queue(batch, env);
  } catch {
    threw = true; // the platform retries every message not acked
  }
  const r = await getQueueResult(batch, ctx);
  const retried = new Set(r.retryMessages.map((m) => m.msgId));
  const acked = new Set(threw || r.retryBatch.retry ? [] : r.explicitAcks.filter((id) => !retried.has(id)));
  return { acked, threw };
}
