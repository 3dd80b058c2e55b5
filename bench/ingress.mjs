// Ingress benchmark: a signed ~3 KB Shopify order posted with autocannon to the local pipeline
// (`wrangler dev`: verify, enqueue, and the consumer archiving behind it), against a bare Worker
// that reads the body and answers 200, measured the same way in the same run.
// Goal: throughput >= 0.6x the bare Worker, p99 < 50 ms on this machine. Throughput is measured at
// saturation; latency at a fixed moderate rate (BENCH_RATE, default 100 req/s), since at saturation
// p99 is only the queueing delay of whatever the machine can serve (the bare Worker's too).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { shopifySignature } from "../test/helpers/sign.ts";
import { startWrangler } from "./lib/server.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const SECRET = "shpss_local_development_secret"; // from .dev.vars.example

/** A ~3 KB order as Shopify writes it, with 18-digit ids kept as digits (built as text, not through JSON.stringify). */
function order() {
  const items = Array.from(
    { length: 4 },
    (_, i) =>
      `{"id":86655031176643900${i},"sku":"SKU-${i}","title":"Product ${i}","quantity":${i + 1},"price":"19.99","vendor":"Bench Vendor"}`,
  ).join(",");
  return `{"id":820982911946154508,"email":"jon@example.com","created_at":"2026-11-20T10:00:00-05:00","updated_at":"2026-11-20T10:00:00-05:00","currency":"USD","total_price":"109.95","subtotal_price":"99.95","total_tax":"10.00","line_items":[${items}],"shipping_address":{"city":"Ottawa","province":"Ontario","zip":"K2P 1L4","country":"Canada"},"note":"${"n".repeat(2300)}"}`;
}

const LATENCY_RATE = Number(process.env.BENCH_RATE ?? 100);

/** Saturating load (throughput), or a fixed `rate` in requests/s (latency without queueing). */
async function load(url, body, headers, rate) {
  let n = 0;
  const result = await autocannon({
    url: `${url}/webhooks/shopify`,
    method: "POST",
    duration: DURATION,
    connections: rate ? 10 : CONNECTIONS,
    ...(rate ? { overallRate: rate } : {}),
    requests: [
      {
        method: "POST",
        body,
        setupRequest: (req) => ({
          ...req,
          headers: { ...headers, "X-Shopify-Event-Id": `bench-${process.pid}-${++n}` },
        }),
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

export async function run() {
  const body = order();
  const headers = {
    "Content-Type": "application/json",
    "X-Shopify-Hmac-Sha256": await shopifySignature(body, SECRET),
    "X-Shopify-Topic": "orders/create",
    "X-Shopify-Shop-Domain": "bench-shop.myshopify.com",
    "X-Shopify-Triggered-At": "2026-11-20T15:00:00Z",
  };
  console.log(
    `ingress: ${new TextEncoder().encode(body).byteLength} B signed order, ${CONNECTIONS} connections, ${DURATION} s each`,
  );

  /** Throughput at saturation, then latency at a fixed moderate rate, against one server. */
  const measure = async (server) => {
    const throughput = await load(server.url, body, headers);
    const latency = await load(server.url, body, headers, LATENCY_RATE);
    await server.stop();
    return { throughput, latency };
  };
  const bare = await measure(await startWrangler({ config: "bench/bare/wrangler.toml" }));
  const ours = await measure(
    await startWrangler({ config: "wrangler.toml", envFile: ".dev.vars.example", migrate: true }),
  );
  // The same Worker with no queue consumer: locally the consumer shares the one workerd process
  // (and this machine's cores) with ingress, which it never does on Cloudflare.
  const alone = await measure(
    await startWrangler({ config: withoutConsumers(), envFile: ".dev.vars.example", migrate: true }),
  );

  const row = (name, r) =>
    `  ${name.padEnd(13)} ${r.throughput.rps.toFixed(0).padStart(6)} req/s (p99 ${String(r.throughput.p99).padStart(4)} ms saturated)` +
    `   at ${LATENCY_RATE} req/s: p50 ${String(r.latency.p50).padStart(3)} ms  p99 ${String(r.latency.p99).padStart(3)} ms` +
    `   non-2xx ${r.throughput.non2xx + r.latency.non2xx}  errors ${r.throughput.errors + r.latency.errors}`;
  console.log(row("bare", bare));
  console.log(row("pipeline", ours));
  console.log(row("ingress only", alone));
  const ratio = ours.throughput.rps / bare.throughput.rps;
  console.log(
    `  throughput ratio pipeline/bare = ${ratio.toFixed(2)} (goal >= 0.60), ingress-only/bare = ${(alone.throughput.rps / bare.throughput.rps).toFixed(2)}; ` +
      `pipeline p99 at ${LATENCY_RATE} req/s = ${ours.latency.p99} ms (goal < 50 ms; bare ${bare.latency.p99} ms)`,
  );
  return { bare, ours, alone, ratio };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
