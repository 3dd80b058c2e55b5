/**
 * Bench Worker for bench/privacy.mjs (`wrangler dev` with bench/privacy.wrangler.toml, on the
 * project's migrations). Every step runs the project's own code inside the Worker and times it there:
 * - POST /seed {from, count}: `count` Shopify orders (of CUSTOMERS customers, with e-mail, names
 *   and addresses) through the real consumer, 100 per queue batch: the webhook path;
 * - POST /redeliver {from, count}: the same webhooks delivered again (rows already stored, as for a
 *   replay): the baseline of the replay rate;
 * - POST /erase {email}: records `POST /admin/privacy/erase` and runs the `privacy` job until the
 *   request completes, counting every R2 call the job makes;
 * - POST /replay {from, to}: the `replay` job over the range (its messages captured) and the
 *   captured messages through the real consumer, 100 per batch.
 */
import { consumeEvents } from "../src/consumers/events";
import { runJob } from "../src/cron/jobs";
import { createReplay } from "../src/cron/replay/replay";
import type { Envelope } from "../src/shared/envelope";
import { requestStatements } from "../src/tables/privacy-requests";
import { indexedKeys } from "../src/tables/subject-index";
import { emailHash } from "../src/tables/subjects";
import { messageBatch } from "./lib/batch";

const SHOP = "bench-privacy.myshopify.com";
const CUSTOMERS = 5_000;
const BATCH = 100;

/** The subject index shards the consumer writes, bound in this Worker's wrangler.toml. */
export { SubjectIndex } from "../src/durable/subject-index";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (request.method !== "POST") return new Response("not found", { status: 404 });
    const body = (await request.json()) as Record<string, unknown>;
    const info = console.log;
    // wrangler dev relays each log line to its terminal at a cost the deployed Worker does not pay.
    console.log = () => {};
    try {
      if (url.pathname === "/seed") return Response.json(await seed(env, Number(body.from), Number(body.count)));
      if (url.pathname === "/redeliver") return Response.json(await seed(env, Number(body.from), Number(body.count)));
      if (url.pathname === "/erase") return Response.json(await erase(env, String(body.email)));
      if (url.pathname === "/replay") return Response.json(await replay(env, String(body.from), String(body.to)));
    } finally {
      console.log = info;
    }
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;

export function emailOf(customer: number): string {
  return `person-${customer}@example.com`;
}

function envelope(i: number): Envelope {
  // One event a second from 2026-10-01: 100k events span about 28 hours.
  const at = new Date(Date.UTC(2026, 9, 1) + i * 1000).toISOString();
  const c = i % CUSTOMERS;
  const email = emailOf(c);
  const customerId = `4${String(c).padStart(17, "0")}`;
  const id = `5${String(i).padStart(17, "0")}`;
  const address = `{"first_name":"First${c}","last_name":"Last${c}","address1":"${c} Main St","city":"Ottawa","zip":"K2P 1L4","country_code":"CA","province_code":"ON","phone":"+1613555${String(c).padStart(4, "0")}"}`;
  const body = `{"id":${id},"name":"#${1000 + i}","email":"${email}","phone":null,"created_at":"${at}","updated_at":"${at}","financial_status":"paid","currency":"USD","total_price":"25.00","subtotal_price":"25.00","source_name":"web","note":"Leave at the door","customer":{"id":${customerId},"email":"${email}","first_name":"First${c}","last_name":"Last${c}"},"shipping_address":${address},"billing_address":${address},"line_items":[{"id":6${String(i).padStart(17, "0")},"title":"Tea","quantity":1,"price":"25.00","sku":"TEA-1"}]}`;
  return {
    v: 1,
    source: "shopify",
    topic: "orders/create",
    eventId: `bench-${i}`,
    shop: SHOP,
    receivedAt: at,
    eventAt: at,
    apiVersion: "2026-01",
    origin: "webhook",
    body,
  };
}

async function consumeAll(env: Env, bodies: readonly unknown[]): Promise<number> {
  let acked = 0;
  for (let i = 0; i < bodies.length; i += BATCH) {
    const b = messageBatch(bodies.slice(i, i + BATCH));
    await consumeEvents(b.batch, env);
    acked += b.acked();
  }
  if (acked !== bodies.length) throw new Error(`${bodies.length - acked} messages not acked`);
  return acked;
}

async function seed(env: Env, from: number, count: number) {
  const bodies = Array.from({ length: count }, (_, k) => envelope(from + k));
  const started = Date.now();
  const events = await consumeAll(env, bodies);
  return { events, ms: Date.now() - started };
}

interface R2Counts {
  get: number;
  head: number;
  put: number;
  list: number;
  delete: number;
}

function countingBucket(bucket: R2Bucket, counts: R2Counts): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (typeof prop === "string" && prop in counts) counts[prop as keyof R2Counts]++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function erase(env: Env, email: string) {
  const counts: R2Counts = { get: 0, head: 0, put: 0, list: 0, delete: 0 };
  const e = { ...env, LAKE: countingBucket(env.LAKE, counts) };
  const requestId = `pr-erase-bench-${Date.now()}`;
  const subject = { shop: null, email, shopifyCustomerId: null, orders: [] };
  await env.DB.batch(
    await requestStatements(env.DB, env, {
      requestId,
      kind: "erase",
      subject,
      sourceEventId: null,
      now: new Date().toISOString(),
    }),
  );
  // The objects the index names for the person (their e-mail, in every shop).
  const indexed = {
    n: (await indexedKeys(env, [{ kind: "email", id: await emailHash(env, email), shop: "*" }], null, 1e6)).length,
  };
  const started = Date.now();
  let runs = 0;
  let row: Record<string, unknown> | null = null;
  for (; runs < 50; ) {
    runs++;
    await runJob(e, "privacy", { now: new Date(), options: { batchObjects: 1000 } });
    row = await env.DB.prepare("SELECT * FROM privacy_requests WHERE request_id = ?").bind(requestId).first();
    // The erased days' Parquet is re-compacted by the compact job (hourly), counted in the same figures.
    if (row?.stage === "compact") {
      await runJob(e, "compact", { now: new Date() });
      row = await env.DB.prepare("SELECT * FROM privacy_requests WHERE request_id = ?").bind(requestId).first();
    }
    if (row?.status === "completed") break;
  }
  const ms = Date.now() - started;
  const parquet = await env.LAKE.list({ prefix: "processed/shopify/shopify_orders/" });
  return {
    ms,
    runs,
    status: row?.status,
    objectsRewritten: row?.objects_rewritten,
    rowsChanged: row?.rows_changed,
    r2: counts,
    indexedObjects: indexed?.n ?? 0,
    parquetParts: parquet.objects.length,
  };
}

class CaptureQueue {
  readonly sent: unknown[] = [];
  async send(body: unknown) {
    this.sent.push(body);
  }
  async sendBatch(messages: Iterable<MessageSendRequest<unknown>>) {
    for (const m of messages) this.sent.push(m.body);
  }
}

async function replay(env: Env, from: string, to: string) {
  const capture = new CaptureQueue();
  const e = { ...env, EVENTS: capture as unknown as Queue<unknown> };
  const replayId = await createReplay(env.DB, { from, to }, new Date().toISOString());
  const started = Date.now();
  let runs = 0;
  while (runs < 1000) {
    runs++;
    await runJob(e, "replay", { now: new Date(), options: { batchEvents: 10_000 } });
    const row = await env.DB.prepare("SELECT status FROM replay_runs WHERE id = ?")
      .bind(replayId)
      .first<{ status: string }>();
    if (row?.status !== "running" && row?.status !== "pending") break;
  }
  const listMs = Date.now() - started;
  const events = await consumeAll(env, capture.sent);
  const ms = Date.now() - started;
  const row = await env.DB.prepare("SELECT listed, sent, applied FROM replay_runs WHERE id = ?").bind(replayId).first();
  return { events, ms, listMs, runs, ...row };
}
