/**
 * The scenarios of the CPU bench (bench/cpu.mjs), the same code whether it runs in Node (bundled) or
 * in workerd (bench/cpu-worker.ts), with bindings that answer at once and keep nothing:
 * - ingress: the Hono app's POST /webhooks/shopify; its floor reads the body and sends the message;
 *   `verified` is that floor with the body's HMAC checked between the read and the send;
 * - consumer: `consumeEvents` on a queue batch of BATCH_SIZE realistic orders; its floor parses each
 *   body, puts the archive object and runs one ledger statement; `digest` is each body's SHA-256 alone.
 * Each function runs one unit (a request, or a queue batch) and takes its index, so ids never repeat.
 */
import { consumeEvents } from "../../src/consumers/events";
import { app } from "../../src/ingress/app";
import { shopifySignature } from "../../test/helpers/sign";
import { makeBatch } from "./orders";

export const BATCH_SIZE = 100;

/** Bindings that answer at once and keep nothing; `sent` counts the queue's messages. */
export function stubs() {
  const statement = () => {
    const st = {
      bind: () => st,
      run: async () => ({ meta: { changes: 1 }, results: [] }),
      first: async () => null,
      all: async () => ({ results: [] }),
      raw: async () => [],
    };
    return st;
  };
  let sent = 0;
  return {
    DB: {
      prepare: statement,
      batch: async (st: unknown[]) => st.map(() => ({ meta: { changes: 1 }, results: [] })),
    },
    LAKE: {
      put: async () => ({}),
      get: async () => null,
      head: async () => null,
      list: async () => ({ objects: [], truncated: false }),
    },
    EVENTS: {
      send: async () => {
        sent++;
      },
      sendBatch: async (m: unknown[]) => {
        sent += m.length;
      },
    },
    METRICS: { writeDataPoint() {} },
    // The subject index shards: a call that reports nothing late (their own CPU is the object's, not the consumer's).
    SUBJECT_INDEX: { getByName: () => ({ add: async () => [] }) },
    sent: () => sent,
  };
}

export type Scenario = (i: number) => Promise<void>;

export interface CpuScenarios {
  /** Builds the queue batches of units [from, from + count) before a measurement (and drops the others). */
  prepare(from: number, count: number): void;
  ingress: Scenario;
  floor: Scenario;
  verified: Scenario;
  consumer: Scenario;
  minimal: Scenario;
  digest: Scenario;
  refused: () => number;
}

/** `vars`: the Worker's vars and secrets as `wrangler dev` passes them (wrangler.toml and .dev.vars.example). */
export async function cpuScenarios(vars: Record<string, string>): Promise<CpuScenarios> {
  const env = { ...vars, ...stubs() } as unknown as Env;
  const secret = (vars.SHOPIFY_WEBHOOK_SECRET ?? "").split(",")[0] as string;
  const body = (makeBatch("0000000001", 1).batch.messages[0] as Message<{ body: string }>).body.body;
  const headers = {
    "Content-Type": "application/json",
    // As Shopify sends it.
    "Content-Length": String(new TextEncoder().encode(body).byteLength),
    "X-Shopify-Hmac-Sha256": await shopifySignature(body, secret),
    "X-Shopify-Topic": "orders/create",
    "X-Shopify-Shop-Domain": "bench-shop.myshopify.com",
    "X-Shopify-Triggered-At": "2026-11-20T15:00:00Z",
  };
  const request = (i: number) =>
    new Request("http://localhost/webhooks/shopify", {
      method: "POST",
      body,
      headers: { ...headers, "X-Shopify-Event-Id": `cpu-${i}` },
    });
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
  let refused = 0;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const given = Uint8Array.from(atob(headers["X-Shopify-Hmac-Sha256"]), (c) => c.charCodeAt(0));
  const send = async (i: number, text: string) => {
    const now = new Date().toISOString();
    await env.EVENTS.send(
      {
        v: 1,
        source: "shopify",
        topic: "orders/create",
        eventId: `cpu-${i}`,
        shop: "bench-shop.myshopify.com",
        receivedAt: now,
        eventAt: now,
        apiVersion: null,
        origin: "webhook",
        body: text,
      },
      { contentType: "json" },
    );
    const res = new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
    await res.arrayBuffer();
  };
  // Built before the clock runs, each with ids of its own.
  const made = new Map<number, MessageBatch<unknown>>();
  const queueBatch = (i: number) => {
    const batch = made.get(i);
    if (!batch) throw new Error(`queue batch ${i} was not prepared`);
    return batch;
  };
  const encoder = new TextEncoder();
  return {
    prepare(from, count) {
      made.clear();
      for (let i = from; i < from + count; i++) made.set(i, makeBatch(String(i).padStart(9, "0"), BATCH_SIZE).batch);
    },
    ingress: async (i) => {
      const res = await app.fetch(request(i), env, ctx);
      if (res.status !== 200) refused++;
      await res.arrayBuffer();
    },
    floor: async (i) => send(i, await request(i).text()),
    verified: async (i) => {
      const bytes = new Uint8Array(await request(i).arrayBuffer());
      if (!(await crypto.subtle.verify("HMAC", key, given, bytes))) refused++;
      await send(i, new TextDecoder().decode(bytes));
    },
    consumer: (i) => consumeEvents(queueBatch(i), env),
    minimal: async (i) => {
      for (const msg of queueBatch(i).messages) {
        const e = msg.body as { source: string; eventId: string; body: string };
        JSON.parse(e.body);
        await env.LAKE.put(`raw/${e.eventId}.json`, e.body);
        await env.DB.prepare("INSERT INTO webhook_events (source, event_id) VALUES (?1, ?2)")
          .bind(e.source, e.eventId)
          .run();
        msg.ack();
      }
    },
    digest: async (i) => {
      for (const msg of queueBatch(i).messages)
        await crypto.subtle.digest("SHA-256", encoder.encode((msg.body as { body: string }).body));
    },
    refused: () => refused,
  };
}
