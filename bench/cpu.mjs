// CPU benchmark: the CPU time our own code spends per accepted webhook (ingress) and per applied
// event (consumer), which is what Cloudflare bills, measured in Node (process.cpuUsage) with the
// bindings stubbed, so neither the local simulators nor the network count. Each is printed beside
// a floor measured the same way in the same run:
// - ingress: the Hono app's POST /webhooks/shopify (read, HMAC verify, envelope, EVENTS.send) vs a
//   handler that only reads the body and sends the same message (what bench/bare-send does);
// - consumer: `consumeEvents` on queue batches of 100 realistic orders (archive object, mapping,
//   statements, identity, ledger; D1 and R2 answer at once) vs the least any consumer does per
//   message: JSON.parse the body, write the archive object, one ledger statement.
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
    const [ingress, floor] = await cpuPer(
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
    );

    // ---- consumer ---- (a call is one queue batch of SIZE orders)
    const SIZE = 100;
    // Built before the clock runs, each with ids of its own: warm-up and rounds of both functions.
    const made = Array.from({ length: 2 * Math.ceil(N / SIZE / 5) + 2 * Math.ceil(N / SIZE) }, (_, i) =>
      m.makeBatch(String(i).padStart(9, "0"), SIZE),
    );
    const queueBatch = (i) => made[i].batch;
    const [consumerBatch, minimalBatch] = await cpuPer(
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
    );
    const consumer = consumerBatch / SIZE;
    const minimal = minimalBatch / SIZE;

    console.log = info;
    console.log(
      `cpu: ${N} requests and ${N} events (queue batches of ${SIZE}) per figure, median of ${ROUNDS} alternating rounds, Node ${process.version}, bindings stubbed`,
    );
    console.log(
      `  ingress  ${ingress.toFixed(3)} ms CPU per accepted webhook (POST /webhooks/shopify, ${refused} refused)   ` +
        `floor read+send ${floor.toFixed(3)} ms   our code ${(ingress - floor).toFixed(3)} ms = ${(ingress / floor).toFixed(1)}x the floor`,
    );
    console.log(
      `  consumer ${consumer.toFixed(3)} ms CPU per applied event (consumeEvents, batches of ${SIZE})   ` +
        `floor parse+put+ledger ${minimal.toFixed(3)} ms   ${(consumer / minimal).toFixed(1)}x the floor`,
    );
    if (refused > 0) throw new Error(`${refused} bench webhooks were refused`);
    return { ingress, floor, consumer, minimal };
  } finally {
    console.log = info;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
