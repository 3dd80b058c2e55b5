// Ingress benchmark: a signed ~3 KB Shopify order posted with autocannon to local `wrangler dev`
// servers, each measured the same way in the same run:
// - bare:          a Worker that reads the body and answers 200 (the first baseline, kept);
// - bare+send:     a Worker that reads the body and does the same EVENTS.send as ingress, with
//                  no queue consumer: the platform's floor for accepting a webhook;
// - ingress only:  the pipeline's Worker without its queue consumer (verify, envelope, send);
// - pipeline:      the whole Worker, the consumer archiving and applying behind ingress. Locally
//                  the consumer and the queue simulator share one workerd (and this machine's
//                  cores) with ingress, which no deployment does.
// Throughput is measured at saturation (BENCH_CONNECTIONS, default 20), latency at a fixed rate
// (BENCH_RATE, default 100 req/s). CPU time per request is the workerd process's user+system
// time over the saturated run divided by the requests served: it includes the runtime and the
// local simulators, so the difference between two servers is what the code between them costs.
// End-to-end lag (pipeline, at the fixed rate): from sending a webhook to first seeing its ledger
// row `applied` through GET /admin/events, polled every BENCH_POLL_MS (default 200 ms), so each
// figure is an upper bound by up to one poll interval. The consumer's batch settings are read
// from wrangler.toml and printed with it.
// Goals: ingress only >= 0.9x bare+send; lag p99 < 2 s at 100 req/s.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { shopifySignature } from "../test/helpers/sign.ts";
import { startWrangler } from "./lib/server.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const LATENCY_RATE = Number(process.env.BENCH_RATE ?? 100);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 200);
const SECRET = "shpss_local_development_secret"; // from .dev.vars.example
const ADMIN_TOKEN = "local-admin-token"; // from .dev.vars.example

/** A ~3 KB order as Shopify writes it, with 18-digit ids kept as digits (built as text, not through JSON.stringify). */
function order() {
  const items = Array.from(
    { length: 4 },
    (_, i) =>
      `{"id":86655031176643900${i},"sku":"SKU-${i}","title":"Product ${i}","quantity":${i + 1},"price":"19.99","vendor":"Bench Vendor"}`,
  ).join(",");
  return `{"id":820982911946154508,"email":"jon@example.com","created_at":"2026-11-20T10:00:00-05:00","updated_at":"2026-11-20T10:00:00-05:00","currency":"USD","total_price":"109.95","subtotal_price":"99.95","total_tax":"10.00","line_items":[${items}],"shipping_address":{"city":"Ottawa","province":"Ontario","zip":"K2P 1L4","country":"Canada"},"note":"${"n".repeat(2300)}"}`;
}

let runs = 0;

/** Saturating load (throughput), or a fixed `rate` in requests/s (latency without queueing). */
async function load(url, body, headers, rate, sent) {
  let n = 0;
  const tag = `bench-${process.pid}-${++runs}`;
  const result = await autocannon({
    url: `${url}/webhooks/shopify`,
    method: "POST",
    duration: DURATION,
    // Enough connections that the rate holds even when a response takes a few hundred ms.
    connections: rate ? 50 : CONNECTIONS,
    ...(rate ? { overallRate: rate } : {}),
    requests: [
      {
        method: "POST",
        body,
        setupRequest: (req) => {
          const id = `${tag}-${++n}`;
          sent?.set(id, Date.now());
          return { ...req, headers: { ...headers, "X-Shopify-Event-Id": id } };
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

/** The queue consumer settings of wrangler.toml, for the report. */
function consumerSettings() {
  const toml = readFileSync("wrangler.toml", "utf8");
  const block = /\[\[queues\.consumers\]\]\s*\nqueue = "commerce-events"\n([^[]*)/.exec(toml)?.[1] ?? "";
  const value = (k) => /(\d+)/.exec(new RegExp(`${k}\\s*=\\s*(\\d+)`).exec(block)?.[0] ?? "")?.[1] ?? "?";
  return { batchSize: value("max_batch_size"), batchTimeout: value("max_batch_timeout") };
}

/** wrangler.toml without its queue consumers, written to bench/out/ (paths adjusted). */
function withoutConsumers() {
  const toml = readFileSync("wrangler.toml", "utf8")
    .replace(/\[\[queues\.consumers\]\][^[]*/g, "")
    .replace('main = "src/index.ts"', 'main = "../../src/index.ts"')
    .replace('migrations_dir = "migrations"', 'migrations_dir = "../../migrations"');
  mkdirSync("bench/out", { recursive: true });
  writeFileSync("bench/out/ingress-only.toml", toml);
  return "bench/out/ingress-only.toml";
}

/** Polls the ledger for applied events and records when each was first seen (client clock). */
function watchApplied(url, sent) {
  const seen = new Map();
  const polls = { ok: 0, failed: 0, last: "" };
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const started = Date.now();
      try {
        const res = await fetch(`${url}/admin/events?source=shopify&status=applied&limit=500`, {
          headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        if (res.ok) {
          polls.ok++;
          const at = Date.now();
          const { events } = await res.json();
          for (const row of events) if (sent.has(row.event_id) && !seen.has(row.event_id)) seen.set(row.event_id, at);
        } else {
          polls.failed++;
          polls.last = `HTTP ${res.status}`;
        }
      } catch (err) {
        // the server is busy: try again at the next tick
        polls.failed++;
        polls.last = String(err);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, POLL_MS - (Date.now() - started))));
    }
  })();
  return {
    async finish(graceMs) {
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && seen.size < sent.size) await new Promise((r) => setTimeout(r, POLL_MS));
      stop = true;
      await loop;
      if (seen.size === 0)
        console.log(`  lag watcher: ${polls.ok} polls answered, ${polls.failed} failed (${polls.last})`);
      return seen;
    },
  };
}

/** Lag percentiles overall and by thirds of the send window, and the applied rate against the sent one. */
function lagReport(sent, seen) {
  const rows = [...seen].map(([id, at]) => ({ sentAt: sent.get(id) ?? at, lag: at - (sent.get(id) ?? at), at }));
  const pct = (list) => {
    const lags = list.map((r) => r.lag).sort((a, b) => a - b);
    return { p50: percentile(lags, 50), p99: percentile(lags, 99) };
  };
  const sends = [...sent.values()];
  const first = Math.min(...sends);
  const last = Math.max(...sends);
  const third = (last - first) / 3;
  const thirds = [0, 1, 2].map((k) =>
    pct(rows.filter((r) => r.sentAt >= first + k * third && (k === 2 || r.sentAt < first + (k + 1) * third))),
  );
  const lastSeen = Math.max(...rows.map((r) => r.at));
  return {
    ...pct(rows),
    thirds,
    seen: seen.size,
    sent: sent.size,
    sentRate: (sent.size * 1000) / Math.max(1, last - first),
    appliedRate: (seen.size * 1000) / Math.max(1, lastSeen - first),
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function run() {
  const body = order();
  const headers = {
    "Content-Type": "application/json",
    "X-Shopify-Hmac-Sha256": await shopifySignature(body, SECRET),
    "X-Shopify-Topic": "orders/create",
    "X-Shopify-Shop-Domain": "bench-shop.myshopify.com",
    "X-Shopify-Triggered-At": "2026-11-20T15:00:00Z",
  };
  const { batchSize, batchTimeout } = consumerSettings();
  console.log(
    `ingress: ${new TextEncoder().encode(body).byteLength} B signed order, ${CONNECTIONS} connections, ${DURATION} s each; ` +
      `consumer max_batch_size ${batchSize}, max_batch_timeout ${batchTimeout} s (wrangler.toml)`,
  );

  /** Throughput and CPU per request at saturation, then latency (and lag) at the fixed rate. */
  const measure = async (server, { lag = false } = {}) => {
    try {
      const cpu0 = server.cpuMs();
      const throughput = await load(server.url, body, headers);
      const cpuPerRequest = (server.cpuMs() - cpu0) / Math.max(1, throughput.total);
      let lagMs = null;
      let latency;
      if (lag) {
        // Let the saturated run's backlog drain first, so the lag is the fixed rate's own.
        await drain(server.url);
        const sent = new Map();
        const watch = watchApplied(server.url, sent);
        latency = await load(server.url, body, headers, LATENCY_RATE, sent);
        const seen = await watch.finish(30_000);
        lagMs = lagReport(sent, seen);
      } else {
        latency = await load(server.url, body, headers, LATENCY_RATE);
      }
      return { throughput, latency, cpuPerRequest, lagMs };
    } finally {
      await server.stop();
    }
  };
  const envFile = ".dev.vars.example";
  const bare = await measure(await startWrangler({ config: "bench/bare/wrangler.toml" }));
  const floor = await measure(await startWrangler({ config: "bench/bare-send/wrangler.toml" }));
  const alone = await measure(await startWrangler({ config: withoutConsumers(), envFile, migrate: true }));
  const ours = await measure(await startWrangler({ config: "wrangler.toml", envFile, migrate: true }), {
    lag: true,
  });

  const row = (name, r) =>
    `  ${name.padEnd(13)} ${r.throughput.rps.toFixed(0).padStart(6)} req/s (p99 ${String(r.throughput.p99).padStart(4)} ms saturated)` +
    `   at ${LATENCY_RATE} req/s: p50 ${String(r.latency.p50).padStart(3)} ms  p99 ${String(r.latency.p99).padStart(3)} ms` +
    `   workerd CPU ${r.cpuPerRequest.toFixed(2)} ms/req   non-2xx ${r.throughput.non2xx + r.latency.non2xx}  errors ${r.throughput.errors + r.latency.errors}`;
  console.log(row("bare", bare));
  console.log(row("bare+send", floor));
  console.log(row("ingress only", alone));
  console.log(row("pipeline", ours));
  const ratio = (a, b) => (a.throughput.rps / b.throughput.rps).toFixed(2);
  console.log(
    `  throughput ingress-only/bare+send = ${ratio(alone, floor)} (goal >= 0.90); pipeline/bare = ${ratio(ours, bare)}, ` +
      `ingress-only/bare = ${ratio(alone, bare)}, bare+send/bare = ${ratio(floor, bare)}`,
  );
  console.log(
    `  CPU per accepted webhook: ingress only ${alone.cpuPerRequest.toFixed(2)} ms vs bare+send ${floor.cpuPerRequest.toFixed(2)} ms ` +
      `(our code: ${(alone.cpuPerRequest - floor.cpuPerRequest).toFixed(2)} ms)`,
  );
  const l = ours.lagMs;
  console.log(
    `  end-to-end lag at ${LATENCY_RATE} req/s (webhook sent -> ledger applied, +<=${POLL_MS} ms polling): ` +
      `p50 ${l.p50} ms, p99 ${l.p99} ms (goal < 2000 ms), ${l.seen}/${l.sent} seen applied; batch timeout ${batchTimeout} s, size ${batchSize}`,
  );
  // Queueing or the batch timeout? A consumer slower than the arrival rate makes the lag grow over
  // the run; one that keeps up leaves it flat, bounded by the batch fill time (or the timeout).
  console.log(
    `  lag by send time: first third p50 ${l.thirds[0].p50} / p99 ${l.thirds[0].p99} ms, middle ${l.thirds[1].p50} / ${l.thirds[1].p99} ms, ` +
      `last third ${l.thirds[2].p50} / ${l.thirds[2].p99} ms; applied ${l.appliedRate.toFixed(0)} events/s while ${l.sentRate.toFixed(0)} req/s were sent`,
  );
  return { bare, floor, alone, ours };
}

/** Waits until the ledger stops growing (the consumer caught up with what was sent before). */
async function drain(url) {
  let last = -1;
  let same = 0;
  for (let i = 0; i < 180 && same < 3; i++) {
    const res = await fetch(`${url}/admin/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }).catch(
      () => null,
    );
    const text = res?.ok ? await res.text() : "";
    same = text === last ? same + 1 : 0;
    last = text;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
