// CPU benchmark: the CPU time our own code spends per accepted webhook (ingress) and per applied
// event (consumer), which is what Cloudflare bills, measured in Node (process.cpuUsage) with the
// bindings stubbed, so neither the local simulators nor the network count. Each is printed beside
// a floor measured the same way in the same run:
// - ingress: the Hono app's POST /webhooks/shopify (read, HMAC verify, envelope, EVENTS.send) vs a
//   handler that only reads the body and sends the same message (what bench/bare-send does);
// - consumer: `consumeEvents` on queue batches of 100 realistic orders (archive object, mapping,
//   statements, identity, ledger; D1 and R2 answer at once) vs the least any consumer does per
//   message: JSON.parse the body, write the archive object, one ledger statement.
// Two more figures, in the same rounds, say how much of each is WebCrypto, which Node runs through
// its crypto job queue at several times the cost workerd pays (workerd signs and digests on the
// request's thread: a 5 KB body's HMAC or SHA-256 in 5–8 µs):
// - ingress: the floor plus the HMAC check every webhook needs (read, verify, send), printed beside
//   the ratio to the floor above, not instead of it;
// - consumer: the SHA-256 of each body alone (WebCrypto, as the archive's payload_sha256 takes it).
// BENCH_CPU_EVENTS (default 5000) requests and events per measurement, after a warm-up.
import { readFileSync } from "node:fs";
import { bundle } from "./lib/bundle.mjs";

const N = Number(process.env.BENCH_CPU_EVENTS ?? 5000);

/** Vars from wrangler.toml [vars] and secrets from .dev.vars.example, as `wrangler dev` passes them. */
function localEnv() {
  const env = {};
  const vars = readFileSync("wrangler.toml", "utf8").split("[vars]")[1]?.split(/\n\[/)[0] ?? "";
  for (const m of vars.matchAll(/^([A-Z_]+)\s*=\s*"(.*)"\s*$/gm)) env[m[1]] = m[2];
  for (const m of readFileSync(".dev.vars.example", "utf8").matchAll(/^([A-Z_]+)=(.*)$/gm)) env[m[1]] = m[2];
  return env;
}

/** Bindings that answer at once and keep nothing. */
function stubs() {
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
      batch: async (st) => st.map(() => ({ meta: { changes: 1 }, results: [] })),
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
      sendBatch: async (m) => {
        sent += m.length;
      },
    },
    METRICS: { writeDataPoint() {} },
    // The subject index shards: a call that reports nothing late (their own CPU is the object's, not the consumer's).
    SUBJECT_INDEX: { getByName: () => ({ add: async () => [] }) },
    sent: () => sent,
  };
}

/** Rounds each figure is measured in, alternating with its floor; the median round is reported. */
const ROUNDS = 5;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * CPU ms per call of each `fns[k](i)`: after n/5 warm-up calls each, ROUNDS rounds of n/ROUNDS calls
 * each, the functions taking turns within a round (so a slow stretch of the machine hits both), and
 * the median round of each. process.cpuUsage counts every thread: GC helpers and the crypto pool too.
 */
async function cpuPer(n, ...fns) {
  let next = 0;
  for (const fn of fns) for (let i = 0; i < n / 5; i++) await fn(next++);
  const per = fns.map(() => []);
  const calls = Math.ceil(n / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, fn] of fns.entries()) {
      const start = process.cpuUsage();
      for (let i = 0; i < calls; i++) await fn(next++);
      const used = process.cpuUsage(start);
      per[k].push((used.user + used.system) / 1000 / calls);
    }
  }
  return per.map(median);
}

export async function run() {
  const m = await bundle("cpu", {
    app: "src/ingress/app.ts#app",
    consumeEvents: "src/consumers/events.ts#consumeEvents",
    makeBatch: "bench/lib/orders.ts#makeBatch",
    shopifySignature: "test/helpers/sign.ts#shopifySignature",
  });
  const env = { ...localEnv(), ...stubs() };
  // `wrangler dev` relays every log line; a deployed Worker pays nothing comparable inline.
  const info = console.log;
  console.log = () => {};
  try {
    // ---- ingress ----
    const batch = m.makeBatch("0000000001", 1).batch;
    const body = batch.messages[0].body.body;
    const headers = {
      "Content-Type": "application/json",
      "X-Shopify-Hmac-Sha256": await m.shopifySignature(body, env.SHOPIFY_WEBHOOK_SECRET.split(",")[0]),
      "X-Shopify-Topic": "orders/create",
      "X-Shopify-Shop-Domain": "bench-shop.myshopify.com",
      "X-Shopify-Triggered-At": "2026-11-20T15:00:00Z",
    };
    const request = (i) =>
      new Request("http://localhost/webhooks/shopify", {
        method: "POST",
        body,
        headers: { ...headers, "X-Shopify-Event-Id": `cpu-${i}` },
      });
    const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} };
    let refused = 0;
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(env.SHOPIFY_WEBHOOK_SECRET.split(",")[0]),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    const given = Uint8Array.from(atob(headers["X-Shopify-Hmac-Sha256"]), (c) => c.charCodeAt(0));
    /** The floor's read and send, with the body's HMAC checked between them. */
    const readVerifySend = async (i) => {
      const req = request(i);
      const bytes = new Uint8Array(await req.arrayBuffer());
      if (!(await crypto.subtle.verify("HMAC", key, given, bytes))) refused++;
      const text = new TextDecoder().decode(bytes);
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
    const [ingress, floor, verified] = await cpuPer(
      N,
      async (i) => {
        const res = await m.app.fetch(request(i), env, ctx);
        if (res.status !== 200) refused++;
        await res.arrayBuffer();
      },
      async (i) => {
        const req = request(i);
        const text = await req.text();
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
      },
      readVerifySend,
    );

    // ---- consumer ---- (a call is one queue batch of SIZE orders)
    const SIZE = 100;
    // Built before the clock runs, each with ids of its own: warm-up and rounds of the three functions.
    const made = Array.from({ length: 3 * Math.ceil(N / SIZE / 5) + 3 * Math.ceil(N / SIZE) }, (_, i) =>
      m.makeBatch(String(i).padStart(9, "0"), SIZE),
    );
    const queueBatch = (i) => made[i].batch;
    const encoder = new TextEncoder();
    const [consumerBatch, minimalBatch, digestBatch] = await cpuPer(
      N / SIZE,
      (i) => m.consumeEvents(queueBatch(i), env),
      async (i) => {
        for (const msg of queueBatch(i).messages) {
          const e = msg.body;
          JSON.parse(e.body);
          await env.LAKE.put(`raw/${e.eventId}.json`, e.body);
          await env.DB.prepare("INSERT INTO webhook_events (source, event_id) VALUES (?1, ?2)")
            .bind(e.source, e.eventId)
            .run();
          msg.ack();
        }
      },
      async (i) => {
        for (const msg of queueBatch(i).messages) await crypto.subtle.digest("SHA-256", encoder.encode(msg.body.body));
      },
    );
    const consumer = consumerBatch / SIZE;
    const minimal = minimalBatch / SIZE;
    const digest = digestBatch / SIZE;

    console.log = info;
    console.log(
      `cpu: ${N} requests and ${N} events (queue batches of ${SIZE}) per figure, median of ${ROUNDS} alternating rounds, Node ${process.version}, bindings stubbed`,
    );
    console.log(
      `  ingress  ${ingress.toFixed(3)} ms CPU per accepted webhook (POST /webhooks/shopify, ${refused} refused)   ` +
        `floor read+send ${floor.toFixed(3)} ms   our code ${(ingress - floor).toFixed(3)} ms = ${(ingress / floor).toFixed(1)}x the floor`,
    );
    console.log(
      `           read+verify+send ${verified.toFixed(3)} ms (the HMAC in Node: ${(verified - floor).toFixed(3)} ms)   ` +
        `${(ingress / verified).toFixed(1)}x read+verify+send`,
    );
    console.log(
      `  consumer ${consumer.toFixed(3)} ms CPU per applied event (consumeEvents, batches of ${SIZE})   ` +
        `floor parse+put+ledger ${minimal.toFixed(3)} ms   ${(consumer / minimal).toFixed(1)}x the floor`,
    );
    console.log(`           SHA-256 of the body alone (WebCrypto in Node) ${digest.toFixed(3)} ms`);
    if (refused > 0) throw new Error(`${refused} bench webhooks were refused`);
    return { ingress, floor, verified, consumer, minimal, digest };
  } finally {
    console.log = info;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
