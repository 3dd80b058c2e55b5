/** Stripe webhooks as ingress queues them, handed straight to the consumer. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import worker from "../../src/index";
import type { Envelope } from "../../src/shared/envelope";
import { fromUnixSeconds } from "../../src/shared/time";

/** An Event wrapping a bare API object (the fixtures are bare objects), `api_version` in it when given. */
export function stripeEnvelope(
  type: string,
  object: object,
  o: { eventId: string; created: number; apiVersion: string | null; livemode?: boolean },
): Envelope {
  const version = o.apiVersion === null ? {} : { api_version: o.apiVersion };
  const body = JSON.stringify({
    id: o.eventId,
    object: "event",
    ...version,
    created: o.created,
    type,
    livemode: o.livemode ?? false,
    data: { object },
  });
  const at = fromUnixSeconds(o.created) ?? "";
  return {
    v: 1,
    source: "stripe",
    topic: type,
    eventId: o.eventId,
    shop: null,
    receivedAt: at,
    eventAt: at,
    apiVersion: o.apiVersion,
    origin: "webhook",
    body,
  };
}

/** Hands each envelope to the consumer in a batch of its own, in order; each must be acknowledged. */
export async function consumeOneByOne(envelopes: Envelope[], messageId: () => string): Promise<void> {
  for (const body of envelopes) {
    const batch = createMessageBatch("commerce-events", [
      { id: messageId(), timestamp: new Date(), attempts: 1, body },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(1);
  }
}
