// Consumer benchmark: queue batches of 100 realistic Shopify orders (5 line items each, 18-digit
// ids, about one new customer per three orders) applied to local D1 and R2 by the real consumer
// (`consumeEvents`: one D1 batch per queue batch, identity linking included), against a naive
// consumer in the same run that does the same archive put, mapping and rows message by message,
// one statement per row. Both run in one `wrangler dev` (bench/consumer-worker.ts), timed inside
// the Worker, alternating rounds so neither gets the emptier tables. Goal: >= 10x the naive one.
// Also in the same run: both modes on returning customers (4 of 5 batches from customers an earlier
// batch linked, as subscription renewals are), the archive put alone (the floor under both modes: the ratio cannot pass naive/floor),
// and the consumer without the lake change-mark triggers (migration 0020), whose
// cost is the difference. Also reported per event: D1 statements, and the CPU time of the local workerd process (the Worker
// plus the local D1/R2 simulators it hosts: an upper bound of what the Worker itself uses).
// BENCH_ROUNDS (default 3) rounds of BENCH_BATCHES (default 5) batches per mode.
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWrangler } from "./lib/server.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 5);
const SIZE = 100;
const here = dirname(fileURLToPath(import.meta.url));

let calls = 0;
async function lakeMarks(server, on) {
  const res = await fetch(`${server.url}/lake-marks`, { method: "POST", body: JSON.stringify({ on }) });
  if (!res.ok) throw new Error(`lake-marks: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()).triggers;
}

async function apply(server, label, batches) {
  const url = server.url;
  const mode = { unmarked: "pipeline", returning: "pipeline", "naive-returning": "naive" }[label] ?? label;
  const returning = label.endsWith("returning");
  // The lake change-mark triggers are off only while the `unmarked` runs.
  if (label === "unmarked" && (await lakeMarks(server, false)) === 0) throw new Error("no lake triggers to drop");
  const cpuBefore = server.cpuMs();
  const res = await fetch(`${url}/run`, {
    method: "POST",
    body: JSON.stringify({ mode, batches, size: SIZE, run: ++calls, returning }),
  });
  const text = await res.text();
  if (label === "unmarked") await lakeMarks(server, true);
  if (!res.ok) throw new Error(`${mode}: HTTP ${res.status}: ${text.slice(0, 2000)}`);
  return { ...JSON.parse(text), cpuMs: server.cpuMs() - cpuBefore };
}

export async function run() {
  // Standalone (`node bench/consumer.mjs`) the local wrangler is not on PATH as it is under npm.
  process.env.PATH = [join(here, "..", "node_modules", ".bin"), process.env.PATH].join(delimiter);
  const server = await startWrangler({ config: join(here, "consumer.wrangler.toml"), migrate: true });
  try {
    // Warm-up: compile the Worker, create the tables' first pages, prime the isolate's caches.
    await apply(server, "pipeline", 1);
    await apply(server, "naive", 1);
    const zero = () => ({ events: 0, ms: 0, d1Ms: 0, statements: 0, cpuMs: 0, r2Ms: 0, r2Calls: 0 });
    await apply(server, "archive", 1);
    const labels = ["pipeline", "unmarked", "archive", "naive", "returning", "naive-returning"];
    const total = Object.fromEntries(labels.map((l) => [l, zero()]));
    for (let r = 0; r < ROUNDS; r++) {
      // Each round starts one place further along, and after an unmeasured batch: the first run of a
      // round was the slowest (the local D1 and R2 settle after the last), so no mode keeps that place.
      const order = labels.map((_, i) => labels[(i + r * 2) % labels.length]);
      await apply(server, "archive", 1);
      for (const mode of order) {
        const { events, ms, d1Ms, statements, cpuMs, r2Ms, r2Calls } = await apply(server, mode, BATCHES);
        total[mode].r2Ms += r2Ms;
        total[mode].r2Calls += r2Calls;
        total[mode].events += events;
        total[mode].ms += ms;
        total[mode].d1Ms += d1Ms;
        total[mode].statements += statements;
        total[mode].cpuMs += cpuMs;
        console.log(
          `  round ${r + 1} ${mode.padEnd(15)} ${events} events in ${ms} ms (D1 ${d1Ms} ms, R2 calls ${r2Ms} ms summed, workerd CPU ${cpuMs.toFixed(0)} ms)`,
        );
      }
    }
    const rate = (t) => (t.events * 1000) / t.ms;
    const d1PerEvent = (t) => t.d1Ms / t.events;
    const ours = rate(total.pipeline);
    const naive = rate(total.naive);
    const line = (name, t, what) =>
      `  ${name.padEnd(9)} ${rate(t).toFixed(0).padStart(6)} events/s   D1 ${d1PerEvent(t).toFixed(2)} ms/event   ` +
      `${(t.statements / t.events).toFixed(2)} D1 statements/event   R2 ${(t.r2Calls / t.events).toFixed(2)} calls, ${(t.r2Ms / t.events).toFixed(2)} ms/event (summed)   ` +
      `workerd CPU ${(t.cpuMs / t.events).toFixed(2)} ms/event   (${what})`;
    console.log(`consumer: batches of ${SIZE} orders x 5 line items, ${ROUNDS} rounds x ${BATCHES} batches per mode`);
    console.log(line("pipeline", total.pipeline, "consumeEvents: one D1 batch per queue batch"));
    console.log(line("naive", total.naive, "one statement per row, one message at a time"));
    console.log(line("unmarked", total.unmarked, "consumeEvents without the lake change-mark triggers"));
    console.log(line("archive", total.archive, "the archive put alone, six in flight: the floor under both"));
    console.log(line("returning", total.returning, "consumeEvents, 4 of 5 batches from the first batch's customers"));
    console.log(line("naive-ret", total["naive-returning"], "the naive consumer on the same returning customers"));
    const d1Ratio = d1PerEvent(total.naive) / d1PerEvent(total.pipeline);
    console.log(
      `  ratio pipeline/naive = ${(ours / naive).toFixed(2)} end to end (goal >= 10); D1 time alone ${d1Ratio.toFixed(1)}x`,
    );
    // Time per event above the archive floor: what the D1 writes and the mapping cost in each mode.
    const perEvent = (t) => t.ms / t.events;
    const floor = perEvent(total.archive);
    console.log(
      `  archive floor ${floor.toFixed(2)} ms/event: the end-to-end ratio cannot pass ${(perEvent(total.naive) / floor).toFixed(1)}x; ` +
        `above the floor, pipeline ${(perEvent(total.pipeline) - floor).toFixed(2)} against naive ${(perEvent(total.naive) - floor).toFixed(2)} ms/event = ` +
        `${((perEvent(total.naive) - floor) / (perEvent(total.pipeline) - floor)).toFixed(1)}x`,
    );
    console.log(
      `  returning customers (their identity known, so an order's 4 link statements are skipped): ` +
        `pipeline/naive = ${(rate(total.returning) / rate(total["naive-returning"])).toFixed(2)} end to end; ` +
        `above the floor ${((perEvent(total["naive-returning"]) - floor) / (perEvent(total.returning) - floor)).toFixed(1)}x`,
    );
    const unmarked = rate(total.unmarked);
    console.log(
      `  lake change marks: consumeEvents ${(ours / unmarked).toFixed(2)}x the rate without them, ` +
        `D1 ${d1PerEvent(total.pipeline).toFixed(2)} against ${d1PerEvent(total.unmarked).toFixed(2)} ms/event`,
    );
    const returningRatio = rate(total.returning) / rate(total["naive-returning"]);
    return { ours, naive, unmarked, ratio: ours / naive, d1Ratio, archiveFloorMs: floor, returningRatio };
  } finally {
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
