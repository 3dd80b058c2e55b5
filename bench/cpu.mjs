// CPU benchmark: the CPU time our own code spends per accepted webhook (ingress) and per applied
// event (consumer), which is what Cloudflare bills, with the bindings stubbed, so neither the local
// simulators nor the network count. Each is printed beside a floor measured the same way in the same
// rounds (the scenarios: bench/lib/cpu-scenarios.ts):
// - ingress: the Hono app's POST /webhooks/shopify (read, HMAC verify, envelope, EVENTS.send) vs a
//   handler that only reads the body and sends the same message (what bench/bare-send does); beside
//   it, not instead of it, that floor with the HMAC check every webhook needs (read, verify, send);
// - consumer: `consumeEvents` on queue batches of 100 realistic orders (archive object, mapping,
//   statements, identity, ledger; D1 and R2 answer at once) vs the least any consumer does per
//   message: JSON.parse the body, write the archive object, one ledger statement; beside it the
//   SHA-256 of each body alone.
// Measured twice, the same scenarios:
// - in workerd, where a deployed Worker runs (bench/cpu-worker.ts under `wrangler dev`, the workerd
//   process's CPU read from /proc around each call): the figures the goals are judged by;
// - in Node (process.cpuUsage), whose WebCrypto runs through its crypto job queue at several times
//   workerd's cost (a 5 KB body's HMAC or SHA-256: 30–40 µs against 5–8 µs), for comparison with
//   earlier runs.
// BENCH_CPU_EVENTS (default 5000) requests and events per measurement, after a warm-up;
// BENCH_CPU_ONLY=ingress|consumer measures only that half, in workerd only.
import { readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./lib/bundle.mjs";
import { startWrangler } from "./lib/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.BENCH_CPU_EVENTS ?? 5000);
/** Orders per queue batch (BATCH_SIZE of bench/lib/cpu-scenarios.ts). */
const SIZE = 100;
/** Rounds each figure is measured in, alternating with its floor; the median round is reported. */
const ROUNDS = 5;
/** Units per workerd measurement, in times the Node run's: enough of /proc's 10 ms ticks for 2 % resolution. */
const WORKERD_SCALE = 10;

/** Vars from wrangler.toml [vars] and secrets from .dev.vars.example, as `wrangler dev` passes them. */
export function localVars() {
  const root = join(here, "..");
  const env = {};
  const vars = readFileSync(join(root, "wrangler.toml"), "utf8").split("[vars]")[1]?.split(/\n\[/)[0] ?? "";
  for (const m of vars.matchAll(/^([A-Z_]+)\s*=\s*"(.*)"\s*$/gm)) env[m[1]] = m[2];
  for (const m of readFileSync(join(root, ".dev.vars.example"), "utf8").matchAll(/^([A-Z_]+)=(.*)$/gm))
    env[m[1]] = m[2];
  return env;
}

/** The scenarios whose unit is a queue batch, built by `prepare` before it is measured. */
export const BATCHED = new Set(["consumer", "minimal", "digest"]);

/**
 * bench/cpu-worker.ts under `wrangler dev`, set up with the local vars: `{ server, post }`, where
 * `post(path, body)` returns the Worker's JSON answer. The caller stops the server.
 */
export async function startCpuWorker() {
  process.env.PATH = [join(here, "..", "node_modules", ".bin"), process.env.PATH].join(delimiter);
  const server = await startWrangler({ config: join(here, "cpu.wrangler.toml") });
  const post = async (path, body) => {
    const res = await fetch(`${server.url}${path}`, { method: "POST", body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text.slice(0, 2000)}`);
    return JSON.parse(text);
  };
  try {
    await post("/setup", { vars: localVars() });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { server, post };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * CPU ms per unit of each scenario in `whats`: after n/5 warm-up units each, ROUNDS rounds of n/ROUNDS
 * units each, the scenarios taking turns within a round (so a slow stretch of the machine hits all),
 * and the median round of each. `measure(what, from, count)` runs units [from, from + count) and
 * returns the CPU ms they took.
 */
async function cpuPer(n, whats, measure) {
  let next = 0;
  for (const what of whats) {
    await measure(what, next, Math.ceil(n / 5));
    next += Math.ceil(n / 5);
  }
  const per = whats.map(() => []);
  const units = Math.ceil(n / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, what] of whats.entries()) {
      per[k].push((await measure(what, next, units)) / units);
      next += units;
    }
  }
  return per.map(median);
}

/** In Node: process.cpuUsage counts every thread, GC helpers and the crypto pool too. */
async function inNode() {
  const m = await bundle("cpu", { cpuScenarios: "bench/lib/cpu-scenarios.ts#cpuScenarios" });
  // `wrangler dev` relays every log line; a deployed Worker pays nothing comparable inline.
  const info = console.log;
  console.log = () => {};
  try {
    const s = await m.cpuScenarios(localVars());
    const measure = async (what, from, count) => {
      if (BATCHED.has(what)) s.prepare(from, count);
      const start = process.cpuUsage();
      for (let i = from; i < from + count; i++) await s[what](i);
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1000;
    };
    return await figures(measure, s.refused);
  } finally {
    console.log = info;
  }
}

/** In workerd: one `/run` per measurement, the workerd process's CPU from /proc (10 ms ticks, so long runs). */
async function inWorkerd() {
  const { server, post } = await startCpuWorker();
  try {
    let refused = 0;
    const measure = async (what, from, count) => {
      if (BATCHED.has(what)) await post("/prepare", { from, count });
      const before = server.cpuMs();
      refused = (await post("/run", { what, from, count })).refused;
      return server.cpuMs() - before;
    };
    // WORKERD_SCALE times the units of the Node run: a measurement must span many of /proc's 10 ms ticks.
    return await figures(measure, () => refused, WORKERD_SCALE);
  } finally {
    await server.stop();
  }
}

const ONLY = process.env.BENCH_CPU_ONLY;

async function figures(measure, refused, scale = 1) {
  const [ingress, floor, verified] =
    ONLY === "consumer" ? [0, 1, 1] : await cpuPer(N * scale, ["ingress", "floor", "verified"], measure);
  const [consumerBatch, minimalBatch, digestBatch] =
    ONLY === "ingress" ? [0, 1, 1] : await cpuPer((N * scale) / SIZE, ["consumer", "minimal", "digest"], measure);
  return {
    ingress,
    floor,
    verified,
    consumer: consumerBatch / SIZE,
    minimal: minimalBatch / SIZE,
    digest: digestBatch / SIZE,
    refused: refused(),
  };
}

function print(where, f, n) {
  console.log(
    `cpu in ${where}: ${n} requests and ${n} events (queue batches of ${SIZE}) per figure, median of ${ROUNDS} alternating rounds, bindings stubbed`,
  );
  console.log(
    `  ingress  ${f.ingress.toFixed(3)} ms CPU per accepted webhook (POST /webhooks/shopify, ${f.refused} refused)   ` +
      `floor read+send ${f.floor.toFixed(3)} ms   our code ${(f.ingress - f.floor).toFixed(3)} ms = ${(f.ingress / f.floor).toFixed(1)}x the floor`,
  );
  console.log(
    `           read+verify+send ${f.verified.toFixed(3)} ms (the HMAC: ${(f.verified - f.floor).toFixed(3)} ms)   ` +
      `${(f.ingress / f.verified).toFixed(1)}x read+verify+send`,
  );
  console.log(
    `  consumer ${f.consumer.toFixed(3)} ms CPU per applied event (consumeEvents, batches of ${SIZE})   ` +
      `floor parse+put+ledger ${f.minimal.toFixed(3)} ms   ${(f.consumer / f.minimal).toFixed(1)}x the floor`,
  );
  console.log(`           SHA-256 of the body alone ${f.digest.toFixed(3)} ms`);
}

export async function run() {
  const workerd = await inWorkerd();
  print("workerd (the figures the goals are judged by)", workerd, N * WORKERD_SCALE);
  const node = ONLY ? { refused: 0 } : await inNode();
  if (!ONLY) print(`Node ${process.version} (its WebCrypto costs several times workerd's)`, node, N);
  const refused = workerd.refused + node.refused;
  if (refused > 0) throw new Error(`${refused} bench webhooks were refused`);
  return { workerd, node };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
