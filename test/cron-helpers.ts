/**
 * Helpers for the cron tests: a queue that captures what reconciliation sends (so a
 * test can hand it to the real consumer), a fetch spy that routes upstream URLs to the
 * fakes, ledger seeding for data-quality windows, and the Shopify token registration
 * the coordinator reads from the shared `env`.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import worker from "../src/index";
import { type Envelope, envelopeSchema } from "../src/shared/envelope";
import { checkSend, checkSendBatch } from "./fakes/limits";

/** A `Queue` that keeps what is sent instead of enqueueing it, under the limits a real one has. */
export class CaptureQueue implements Queue<unknown> {
  readonly sent: unknown[] = [];
  async send(message: unknown): Promise<QueueSendResponse> {
    checkSend(message);
    this.sent.push(message);
    return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
  }
  async sendBatch(messages: Iterable<MessageSendRequest<unknown>>): Promise<QueueSendBatchResponse> {
    const list = [...messages];
    checkSendBatch(list);
    for (const m of list) this.sent.push(m.body);
    return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
  }
  async metrics(): Promise<QueueMetrics> {
    return { backlogCount: 0, backlogBytes: 0 };
  }
  envelopes(): Envelope[] {
    return this.sent.map((m) => envelopeSchema.parse(m));
  }
  clear(): void {
    this.sent.length = 0;
  }
}

let batchSeq = 0;

/** Runs the captured envelopes through the real consumer; returns the queue result. */
export async function consumeCaptured(queue: CaptureQueue, e: Env = env) {
  return consumeBodies(queue.sent, e);
}

/** wrangler.toml `max_batch_size` of `commerce-events`: the most messages one consumer invocation gets. */
export const QUEUE_BATCH_SIZE = 50;

/**
 * Delivers message bodies to the real `commerce-events` consumer (first attempt each), in batches
 * of at most QUEUE_BATCH_SIZE as Queues hands them over; returns the batches' results together.
 */
export async function consumeBodies(bodies: readonly unknown[], e: Env = env) {
  const results: Array<Awaited<ReturnType<typeof getQueueResult>>> = [];
  for (let start = 0; start === 0 || start < bodies.length; start += QUEUE_BATCH_SIZE) {
    const batch = createMessageBatch(
      "commerce-events",
      bodies
        .slice(start, start + QUEUE_BATCH_SIZE)
        .map((body, i) => ({ id: `cron-${++batchSeq}-${start + i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, e);
    results.push(await getQueueResult(batch, ctx));
  }
  const last = results.at(-1) as Awaited<ReturnType<typeof getQueueResult>>;
  return {
    ...last,
    explicitAcks: results.flatMap((r) => r.explicitAcks),
    retryMessages: results.flatMap((r) => r.retryMessages),
  };
}

export interface FakeServer {
  serves(url: URL): boolean;
  handle(request: Request): Promise<Response>;
}

/** Routes fetches to the fakes that serve them; anything else fails loudly. */
export function routeFetch(fakes: () => Iterable<FakeServer>) {
  return vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    for (const f of fakes()) if (f.serves(url)) return f.handle(request);
    throw new Error(`unexpected fetch in a cron test: ${request.method} ${url.origin}${url.pathname}`);
  });
}

/** Adds a shop's Admin API token to the shared env, where the coordinator reads it. */
export function registerShopToken(shop: string, token: string): void {
  const settings = env as unknown as Record<string, string>;
  const tokens = JSON.parse(settings.SHOPIFY_ACCESS_TOKENS || "{}") as Record<string, string>;
  tokens[shop] = token;
  settings.SHOPIFY_ACCESS_TOKENS = JSON.stringify(tokens);
}

export interface LedgerSeed {
  source: "shopify" | "stripe" | "recharge";
  eventId: string;
  topic?: string;
  resource?: string;
  receivedAt: string;
  origin?: string;
  status?: string;
  deliveries?: number;
  updatedAt?: string;
}

/** Inserts ledger rows directly (8 per statement: 96 bound parameters, under D1's limit of 100). */
export async function seedLedger(rows: readonly LedgerSeed[]): Promise<void> {
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += 8) {
    const part = rows.slice(i, i + 8);
    const values = part.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ");
    const binds = part.flatMap((r) => [
      r.source,
      r.eventId,
      r.topic ?? "orders/create",
      r.resource ?? "orders",
      r.receivedAt,
      r.receivedAt,
      r.origin ?? "webhook",
      r.status ?? "applied",
      r.deliveries ?? 1,
      r.receivedAt,
      r.updatedAt ?? r.receivedAt,
      null,
    ]);
    statements.push(
      env.DB.prepare(
        `INSERT INTO webhook_events (source, event_id, topic, resource, received_at, event_at, origin, status, deliveries,
           first_seen_at, updated_at, error) VALUES ${values}`,
      ).bind(...binds),
    );
  }
  for (let i = 0; i < statements.length; i += 50) await env.DB.batch(statements.slice(i, i + 50));
}

export const iso = (ms: number) => new Date(ms).toISOString();
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
