// D1 ceiling: a simulated shop's history (orders with 5 line items, a new customer every third
// order, a refund every tenth) applied to local D1 by the real consumer, batched as the queue
// delivers it. At each size: the database's bytes per order, the fill rate, and the time of the
// hot queries (status page, reconciliation's stored-versions lookup, the analytics views, one
// person's activity), median of 3. Then the bytes per table (SQLite dbstat) and where D1's 10 GB
// limit falls. `npm run bench -- d1-ceiling`; D1_CEILING_ORDERS (default 25000,50000,100000)
// sets the sizes measured, cumulatively; the full 1,000,000 took about 90 minutes on a shared 2-core machine.
import { readdirSync, rmSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWrangler } from "./lib/server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SIZES = (process.env.D1_CEILING_ORDERS ?? "25000,50000,100000").split(",").map(Number);
const CHUNK = 2000;
/** Orders between progress lines on long runs. */
const PROGRESS = 50_000;
const LIMIT = 10 * 1000 ** 3; // D1's per-database limit, 10 GB

export async function run() {
  process.env.PATH = [join(here, "..", "node_modules", ".bin"), process.env.PATH].join(delimiter);
  const server = await startWrangler({ config: join(here, "d1-ceiling.wrangler.toml"), migrate: true });
  const rows = [];
  let orders = 0;
  let fillMs = 0;
  let events = 0;
  try {
    const baseline = await post(server, "/queries", { from: 0, orders: 1 });
    for (const target of SIZES) {
      while (orders < target) {
        const n = Math.min(CHUNK, target - orders);
        const r = await post(server, "/fill", { from: orders, orders: n });
        orders += n;
        fillMs += r.ms;
        events += r.events;
        if (orders % PROGRESS === 0 && orders < target) {
          console.log(
            `    ${new Date().toISOString().slice(11, 19)} ${orders} orders applied, ${(r.bytes / 1e6).toFixed(0)} MB, ${Math.round((r.events * 1000) / r.ms)} events/s now`,
          );
        }
      }
      const q = await post(server, "/queries", { from: 0, orders });
      const median = Object.fromEntries(Object.entries(q.ms).map(([k, v]) => [k, [...v].sort((a, b) => a - b)[1]]));
      rows.push({ orders, bytes: q.bytes, eventsPerSecond: Math.round((events * 1000) / fillMs), ...median });
      console.log(
        `  ${String(orders).padStart(8)} orders  ${(q.bytes / 1e6).toFixed(1).padStart(8)} MB  ${String(Math.round(q.bytes / orders)).padStart(5)} B/order  ` +
          `fill ${Math.round((events * 1000) / fillMs)} events/s  ` +
          Object.entries(median)
            .map(([k, v]) => `${k} ${v} ms`)
            .join(", "),
      );
    }
    console.log(
      `  baseline (empty database): ${Object.entries(baseline.ms)
        .map(([k, v]) => `${k} ${[...v].sort((a, b) => a - b)[1]} ms`)
        .join(", ")}`,
    );
  } finally {
    await server.stop();
  }
  printTableSizes(server.persist, events);
  rmSync(server.persist, { recursive: true, force: true });
  const last = rows.at(-1);
  const perOrder = last.bytes / last.orders;
  console.log(
    `  ${Math.round(perOrder)} bytes per order (with its 5 line items, ledger row, a third of a customer, a tenth of a refund, identity rows, indexes)`,
  );
  console.log(`  D1's 10 GB limit falls at about ${(LIMIT / perOrder / 1e6).toFixed(1)} million orders per database`);
  const growth = rows.length > 1 ? (last.bytes - rows[0].bytes) / (last.orders - rows[0].orders) : perOrder;
  console.log(`  marginal bytes per order between the first and last size: ${Math.round(growth)}`);
  console.log(
    `  at 1,000,000 orders (extrapolated from ${last.orders}): ${((rows[0].bytes + growth * (1e6 - rows[0].orders)) / 1e9).toFixed(2)} GB`,
  );
}

/** Bytes per table and index, from SQLite's dbstat over the D1 file wrangler dev left. */
function printTableSizes(persist, events) {
  const file = findSqlite(join(persist, "v3", "d1"));
  if (!file) return;
  let DatabaseSync;
  try {
    ({ DatabaseSync } = process.getBuiltinModule("node:sqlite"));
  } catch {
    return; // Node without node:sqlite
  }
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const rows = db
      .prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 12")
      .all();
    console.log(
      `  largest tables and indexes: ${rows.map((r) => `${r.name} ${(r.bytes / 1e6).toFixed(1)} MB`).join(", ")}`,
    );
    // What grows with events rather than with the brand's data: the ledger, which retention moves
    // to R2 past its horizon, and (in earlier versions) the subject index, which stayed.
    const of = (pattern) =>
      db.prepare("SELECT coalesce(sum(pgsize), 0) AS b FROM dbstat WHERE name LIKE ?").get(pattern).b;
    const ledger = of("%webhook_events%");
    const kept = of("%archive_subjects%");
    console.log(
      `  D1 bytes per event: the ledger ${Math.round(ledger / events)} (leaves with retention past its horizon); ` +
        `history kept after the horizon ${Math.round(kept / events)} (archive_subjects)`,
    );
    const shards = sqliteBytes(join(persist, "v3", "do"));
    console.log(
      `  the subject index in its Durable Objects: ${Math.round(shards / events)} bytes per event (${(shards / 1e6).toFixed(1)} MB over ${events} events)`,
    );
  } catch {
    // a SQLite build without dbstat
  } finally {
    db.close();
  }
}

/** Bytes of every SQLite file under `dir` (the Durable Objects' storage wrangler dev left). */
function sqliteBytes(dir) {
  let n = 0;
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) n += sqliteBytes(p);
    else if (name.endsWith(".sqlite")) n += statSync(p).size;
  }
  return n;
}

function findSqlite(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      const hit = findSqlite(p);
      if (hit) return hit;
    } else if (name.endsWith(".sqlite") && !name.startsWith("metadata")) return p;
  }
  return null;
}

async function post(server, path, body) {
  const res = await fetch(`${server.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text.slice(0, 2000)}`);
  return JSON.parse(text);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
