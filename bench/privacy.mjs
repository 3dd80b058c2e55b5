// Privacy and replay benchmark (bench/privacy-worker.ts in one `wrangler dev`, timed inside the
// Worker): BENCH_PRIVACY_EVENTS (default 100,000) Shopify orders of 5,000 customers go through the
// real consumer (the webhook path, measured again on BENCH_PRIVACY_REDELIVER of them delivered a
// second time, so it does the same work as a replay: rows already stored); then one person (20 orders) is erased with the `privacy` job,
// counting the R2 calls it makes (goal: reads proportional to that person's objects, not to the
// bucket); then the whole range is replayed through the `replay` job and the consumer, and its
// rate is set against the webhook path's measured in the same run.
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWrangler } from "./lib/server.mjs";

const EVENTS = Number(process.env.BENCH_PRIVACY_EVENTS ?? 100_000);
const CHUNK = 1_000;
/** Webhooks delivered a second time for the baseline (rows already stored, as for a replay). */
const REDELIVER = Math.min(EVENTS, Number(process.env.BENCH_PRIVACY_REDELIVER ?? 10_000));
const here = dirname(fileURLToPath(import.meta.url));

/** Seeding and redelivery are idempotent, so a request cut off by a local workerd restart is sent again. */
async function post(url, path, body, retries = path === "/seed" || path === "/redeliver" ? 3 : 0) {
  const res = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status === 503 && retries > 0) {
    console.log(`  (${path} ${JSON.stringify(body)}: ${text.slice(0, 80)}; sending it again)`);
    return post(url, path, body, retries - 1);
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text.slice(0, 2000)}`);
  return JSON.parse(text);
}

export async function run() {
  process.env.PATH = [join(here, "..", "node_modules", ".bin"), process.env.PATH].join(delimiter);
  const server = await startWrangler({ config: join(here, "privacy.wrangler.toml"), migrate: true });
  try {
    let seeded = 0;
    let seedMs = 0;
    for (let from = 0; from < EVENTS; from += CHUNK) {
      const r = await post(server.url, "/seed", { from, count: Math.min(CHUNK, EVENTS - from) });
      seeded += r.events;
      seedMs += r.ms;
    }
    console.log(
      `privacy: ${seeded} orders of 5,000 customers stored through the consumer in ${(seedMs / 1000).toFixed(1)} s (${((seeded * 1000) / seedMs).toFixed(0)} events/s, first delivery)`,
    );
    let again = 0;
    let againMs = 0;
    for (let from = 0; from < REDELIVER; from += CHUNK) {
      const r = await post(server.url, "/redeliver", { from, count: Math.min(CHUNK, REDELIVER - from) });
      again += r.events;
      againMs += r.ms;
    }
    const webhookRate = (again * 1000) / againMs;
    console.log(`  webhook path, ${again} of them delivered again (rows stored): ${webhookRate.toFixed(0)} events/s`);

    const erased = await post(server.url, "/erase", { email: "person-7@example.com" });
    const reads = erased.r2.get + erased.r2.head;
    console.log(
      `  erasure of one person (${EVENTS / 5000} orders) among ${seeded} events: ${erased.status} in ${(erased.ms / 1000).toFixed(2)} s over ${erased.runs} run(s); ` +
        `${erased.objectsRewritten} objects rewritten, ${erased.rowsChanged} D1 rows changed; R2 objects read ${reads} ` +
        `(get ${erased.r2.get}, head ${erased.r2.head}), put ${erased.r2.put}, list ${erased.r2.list}, delete ${erased.r2.delete}; ` +
        `${erased.indexedObjects} objects in the index, ${erased.parquetParts} Parquet parts re-compacted`,
    );
    console.log(
      `  reads / person's objects = ${(reads / Math.max(1, erased.objectsRewritten)).toFixed(2)}; reads / stored events = ${(reads / seeded).toFixed(5)}`,
    );

    // One replay per slice of 10,000 seconds (10,000 events), so no request outlives the HTTP client's timeout.
    const replayed = { events: 0, ms: 0, listMs: 0, runs: 0, listed: 0, sent: 0, applied: 0 };
    const at = (i) => new Date(Date.UTC(2026, 9, 1) + i * 1000).toISOString();
    for (let from = 0; from < EVENTS; from += 10_000) {
      const r = await post(server.url, "/replay", { from: at(from), to: at(Math.min(EVENTS, from + 10_000) - 1) });
      for (const k of Object.keys(replayed)) replayed[k] += r[k];
    }
    const replayRate = (replayed.events * 1000) / replayed.ms;
    console.log(
      `  replay of the whole range (in slices of 10,000 events): ${replayed.listed} listed, ${replayed.sent} sent, ${replayed.applied} applied in ${(replayed.ms / 1000).toFixed(1)} s ` +
        `(listing and sending ${(replayed.listMs / 1000).toFixed(1)} s, ${replayed.runs} job runs): ${replayRate.toFixed(0)} events/s`,
    );
    console.log(`  ratio replay/webhook path = ${(replayRate / webhookRate).toFixed(2)}`);
    return { webhookRate, replayRate, erased };
  } finally {
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
