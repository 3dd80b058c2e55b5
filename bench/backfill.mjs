// Stripe and Recharge history backfill benchmark: the whole pipeline (wrangler.toml in `wrangler dev`,
// local D1, R2 and Queues) backfills BENCH_BACKFILL_OBJECTS (default 20,000: half Stripe customers, half
// Recharge subscriptions) from the fakes of test/fakes/, served over HTTP from this process with the
// sources' rate limits (Stripe 25 reads/s, test mode; Recharge a 40-call bucket draining 2/s) and the
// job's own pacing at its defaults (BACKFILL_STRIPE_REQUESTS_PER_SECOND 25, _RECHARGE_ 2).
// Printed per source: the job's listing (pages listed, archived to R2 and queued: objects/s, requests/s
// against the limit, 429s), then the consumer applying the queued events (events/s, until the ledger
// holds every one as applied). Baseline in the same run: the same pages listed from Node through the
// same fake at the same pacing with nothing done with them, so the ratio shows what archiving and
// queueing a page costs on top of the rate limit; and the same pages unpaced (the fake's own speed).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./lib/bundle.mjs";
import { freePort, releasePort, startWrangler } from "./lib/server.mjs";

const OBJECTS = Number(process.env.BENCH_BACKFILL_OBJECTS ?? 20_000);
const APPLY_TIMEOUT_S = Number(process.env.BENCH_BACKFILL_APPLY_TIMEOUT ?? 900);
const STRIPE_RPS = 25;
const RECHARGE_RPS = 2;
const ADMIN_TOKEN = "bench-backfill-admin";
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

/** Serves a fake's `handle(Request)` over HTTP on a port of BENCH_PORTS. */
async function serve(makeFake) {
  const port = await freePort();
  const fake = makeFake(`http://127.0.0.1:${port}`);
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      const request = new Request(`http://127.0.0.1:${port}${req.url}`, {
        method: req.method,
        headers: Object.entries(req.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])),
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      const answer = await fake.handle(request);
      res.writeHead(answer.status, Object.fromEntries(answer.headers));
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    fake,
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve(releasePort(port)))),
  };
}

function stripeCustomers(n) {
  const fixture = JSON.parse(readFileSync(join(root, "test/fixtures/stripe/customer.json"), "utf8"));
  const t0 = Math.floor(Date.parse("2024-01-01T00:00:00Z") / 1000);
  return Array.from({ length: n }, (_, i) => ({
    ...fixture,
    id: `cus_bench${String(i).padStart(7, "0")}`,
    email: `bench-stripe-${i}@example.com`,
    created: t0 + i * 60,
  }));
}

function rechargeSubscriptions(n) {
  const fixture = JSON.parse(readFileSync(join(root, "test/fixtures/recharge/subscription.json"), "utf8")).subscription;
  const t0 = Date.parse("2024-01-01T00:00:00Z");
  return Array.from({ length: n }, (_, i) => ({
    ...fixture,
    id: 900_000_000 + i,
    customer_id: 800_000_000 + i,
    email: `bench-recharge-${i}@example.com`,
    updated_at: new Date(t0 + i * 60_000).toISOString().replace(/\.\d{3}Z$/, "+00:00"),
  }));
}

async function admin(url, path, body) {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text.slice(0, 1000)}`);
  return JSON.parse(text);
}

/** Lists every page from Node as the job would (same URLs, same pacing, 429s retried), doing nothing with them. */
async function bareListing(source, base, headers, rps) {
  const interval = rps > 0 ? 1000 / rps : 0;
  let last = 0;
  let requests = 0;
  let throttled = 0;
  let objects = 0;
  const started = performance.now();
  let cursor = null;
  for (;;) {
    const url =
      source === "stripe"
        ? `${base}/v1/customers?limit=100${cursor ? `&starting_after=${cursor}` : ""}`
        : `${base}/subscriptions?limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : "&sort_by=id-asc"}`;
    const wait = last + interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    last = performance.now();
    requests++;
    const res = await fetch(url, { headers });
    const text = await res.text();
    if (res.status === 429) {
      throttled++;
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    if (!res.ok) throw new Error(`bare listing: HTTP ${res.status} ${text.slice(0, 200)}`);
    const page = JSON.parse(text);
    if (source === "stripe") {
      objects += page.data.length;
      cursor = page.has_more ? page.data.at(-1).id : null;
    } else {
      objects += page.subscriptions.length;
      cursor = page.next_cursor ?? null;
    }
    if (cursor === null) break;
  }
  const seconds = (performance.now() - started) / 1000;
  return { objects, requests, throttled, seconds };
}

async function applied(url, source) {
  const status = await admin(url, "/admin/status");
  return status.ledger.filter((r) => r.source === source && r.status === "applied").reduce((n, r) => n + r.count, 0);
}

async function backfillSource(url, source, resource, count, fake, limitRps) {
  const before = fake.requests;
  const throttledBefore = fake.throttled;
  const started = performance.now();
  const { backfillId } = await admin(url, "/admin/backfill", { source, resources: [resource] });
  let state;
  for (;;) {
    await admin(url, "/admin/jobs/backfill", {});
    state = (await admin(url, `/admin/backfill/${backfillId}`)).backfill;
    if (state.status !== "running") break;
  }
  const listSeconds = (performance.now() - started) / 1000;
  const r = state.resources[0];
  if (state.status !== "completed") throw new Error(`${source} backfill ended ${state.status}: ${r?.error}`);
  // The consumer runs beside the listing; wait until the ledger holds every object as applied.
  let done = await applied(url, source);
  const deadline = Date.now() + APPLY_TIMEOUT_S * 1000;
  while (done < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    done = await applied(url, source);
  }
  const applySeconds = (performance.now() - started) / 1000;
  return {
    listed: r.listed,
    pages: r.pages,
    apiCalls: fake.requests - before,
    throttled: fake.throttled - throttledBefore,
    jobThrottled: r.throttled,
    listSeconds,
    applied: done,
    applySeconds,
    limitRps,
  };
}

export async function run() {
  process.env.PATH = [join(root, "node_modules", ".bin"), process.env.PATH].join(delimiter);
  const m = await bundle("backfill", {
    FakeStripeApi: "test/fakes/stripe-api.ts#FakeStripeApi",
    FakeRechargeApi: "test/fakes/recharge-api.ts#FakeRechargeApi",
  });
  const half = Math.floor(OBJECTS / 2);
  const stripe = await serve((base) => new m.FakeStripeApi(base, "sk_test_bench"));
  const recharge = await serve((base) => new m.FakeRechargeApi(base, "rc_bench_token"));
  stripe.fake.objects.customers = stripeCustomers(half);
  recharge.fake.subscriptions.push(...rechargeSubscriptions(OBJECTS - half));
  // Stripe answers 429 past its per-second read limit; Recharge's bucket holds 40 and drains 2/s.
  stripe.fake.rateLimit = { requests: STRIPE_RPS, windowMs: 1000 };

  // The example settings, with the admin token, the fakes' URLs and credentials, and the default pacing.
  const settings = Object.fromEntries(
    readFileSync(join(root, ".dev.vars.example"), "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  Object.assign(settings, {
    ADMIN_TOKEN,
    STRIPE_API_KEY: stripe.fake.key,
    STRIPE_API_BASE: stripe.base,
    RECHARGE_API_TOKEN: recharge.fake.token,
    RECHARGE_API_BASE: recharge.base,
    BACKFILL_STRIPE_REQUESTS_PER_SECOND: String(STRIPE_RPS),
    BACKFILL_RECHARGE_REQUESTS_PER_SECOND: String(RECHARGE_RPS),
  });
  mkdirSync(join(root, "bench", "out"), { recursive: true });
  const envFile = join(root, "bench", "out", "backfill.dev.vars");
  writeFileSync(
    envFile,
    Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  );

  const server = await startWrangler({ config: join(root, "wrangler.toml"), envFile, migrate: true });
  const results = {};
  try {
    const stripeHeaders = { Authorization: `Bearer ${stripe.fake.key}` };
    const rechargeHeaders = { "X-Recharge-Access-Token": recharge.fake.token, "X-Recharge-Version": "2021-11" };
    for (const [source, resource, count, served, rps, headers] of [
      ["stripe", "customers", half, stripe, STRIPE_RPS, stripeHeaders],
      ["recharge", "subscriptions", OBJECTS - half, recharge, RECHARGE_RPS, rechargeHeaders],
    ]) {
      const paced = await bareListing(source, served.base, headers, rps);
      // The fake's own speed: the same pages with its rate limit lifted and no pacing.
      const limits = { rateLimit: served.fake.rateLimit, bucket: served.fake.bucket };
      if (source === "stripe") served.fake.rateLimit = null;
      else served.fake.bucket = 1e9;
      const unpaced = await bareListing(source, served.base, headers, 0);
      if (source === "stripe") served.fake.rateLimit = limits.rateLimit;
      else served.fake.bucket = limits.bucket;
      // The window and the bucket drain before the job's turn, so it starts from the same limit.
      await new Promise((r) => setTimeout(r, 2_000));
      const ours = await backfillSource(server.url, source, resource, count, served.fake, rps);
      results[source] = { ours, paced, unpaced };
      const rate = (n, s) => (n / s).toFixed(0);
      console.log(`  ${source} ${resource}: ${count} objects`);
      console.log(
        `    backfill job  listed ${ours.listed} in ${ours.pages} pages in ${ours.listSeconds.toFixed(1)} s: ${rate(ours.listed, ours.listSeconds)} objects/s, ` +
          `${(ours.apiCalls / ours.listSeconds).toFixed(1)} requests/s (limit ${rps}/s), 429s ${ours.throttled} (job counted ${ours.jobThrottled})`,
      );
      console.log(
        `    applied       ${ours.applied} of ${count} in ${ours.applySeconds.toFixed(1)} s from the start: ${rate(ours.applied, ours.applySeconds)} objects/s end to end`,
      );
      console.log(
        `    baseline      bare listing at the same pacing: ${paced.objects} in ${paced.seconds.toFixed(1)} s, ${rate(paced.objects, paced.seconds)} objects/s, ` +
          `${(paced.requests / paced.seconds).toFixed(1)} requests/s, 429s ${paced.throttled}; unpaced, no limit: ${rate(unpaced.objects, unpaced.seconds)} objects/s`,
      );
      console.log(
        `    ratio         listing job / bare paced listing = ${(paced.seconds / ours.listSeconds).toFixed(2)}; ` +
          `end to end (applied) / bare paced listing = ${(paced.seconds / ours.applySeconds).toFixed(2)}`,
      );
    }
  } finally {
    await server.stop();
    await stripe.close();
    await recharge.close();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
