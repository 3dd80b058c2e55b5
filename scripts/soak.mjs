// `npm run soak`: 10,000 signed deliveries against `wrangler dev` on fresh local state, then the
// checks of test/helpers/soak-checks.ts and the end-to-end lag percentiles. Exits 1 on any loss
// or failed check. Options: --events N (10000), --concurrency N (20), --seed N, --port N (a free
// one by default; the inspector takes port + 1), --keep (leave the state directory).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Command } from "commander";
import { commerceDeliveries, newestVersions } from "../test/helpers/commerce-events.ts";
import { rechargeLegacySignature, shopifySignature, stripeSignature } from "../test/helpers/sign.ts";
import { checkSoak, percentiles, soakFailures } from "../test/helpers/soak-checks.ts";

const opts = new Command()
  .option("--events <n>", "deliveries to post", "10000")
  .option("--concurrency <n>", "requests in flight", "20")
  .option("--seed <n>", "seed of the generated stream", "10000")
  .option("--port <n>", "wrangler dev port (inspector: port + 1)")
  .option("--keep", "keep the local state directory")
  .parse()
  .opts();

const root = new URL("..", import.meta.url).pathname;
const events = Number(opts.events);
const concurrency = Number(opts.concurrency);
const seed = Number(opts.seed);
const port = opts.port ? Number(opts.port) : await freePort();
const state = mkdtempSync(join(tmpdir(), "commerce-soak-"));
const wrangler = join(root, "node_modules/.bin/wrangler");

spawnSync(process.execPath, [join(root, "scripts/prepare-dev.mjs")], { cwd: root, stdio: "inherit" });
const vars = Object.fromEntries(
  readFileSync(join(root, ".dev.vars"), "utf8")
    .split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);
const secretValues = [
  ...[
    "SHOPIFY_WEBHOOK_SECRET",
    "STRIPE_WEBHOOK_SECRET",
    "RECHARGE_WEBHOOK_SECRET",
    "ADMIN_TOKEN",
    "PRIVACY_HASH_KEY",
    "STRIPE_API_KEY",
    "RECHARGE_API_TOKEN",
    "ALERT_WEBHOOK_URL",
  ].flatMap((k) => (vars[k] ?? "").split(",")),
  ...Object.values(safeJson(vars.SHOPIFY_ACCESS_TOKENS)),
].filter(Boolean);

console.log(`soak: ${events} deliveries, concurrency ${concurrency}, seed ${seed}, port ${port}, state ${state}`);
const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
  cwd: root,
  env: { ...process.env, CI: "1" },
  encoding: "utf8",
});
if (migrate.status !== 0) fail(`migrations failed:\n${migrate.stderr}`);

const logs = [];
const dev = spawn(
  wrangler,
  [
    "dev",
    "--port",
    String(port),
    "--inspector-port",
    String(port + 1),
    "--persist-to",
    state,
    "--var",
    "RETRY_BASE_SECONDS:1",
  ],
  { cwd: root, env: { ...process.env, CI: "1" }, detached: true },
);
dev.stdout.on("data", (b) => logs.push(b.toString()));
dev.stderr.on("data", (b) => logs.push(b.toString()));
const stopDev = () => {
  try {
    process.kill(-dev.pid, "SIGTERM");
  } catch {}
};
process.on("exit", stopDev);
const base = `http://127.0.0.1:${port}`;
await waitFor(async () => (await fetch(`${base}/health`).catch(() => null))?.ok, 60_000, "wrangler dev did not start");

const tag = `soak${seed}`;
const deliveries = commerceDeliveries({
  seed,
  count: events,
  tag,
  shops: [`${tag}-a.myshopify.com`, `${tag}-b.myshopify.com`],
});
const accepted = [];
const responses = [];
let next = 0;
const started = Date.now();
async function poster() {
  while (next < deliveries.length) {
    const delivery = deliveries[next++];
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${base}${pathOf(delivery)}`, await requestInit(delivery)).catch((e) => ({
        status: 0,
        text: async () => String(e),
      }));
      const text = await res.text();
      if ((res.status === 503 || res.status === 0) && attempt < 5) {
        await new Promise((r) => setTimeout(r, 200 * attempt));
        continue;
      }
      responses.push(text);
      let eventId = null;
      try {
        eventId = JSON.parse(text).eventId ?? null;
      } catch {}
      accepted.push({ delivery, status: res.status, eventId, at: Date.now() });
      break;
    }
  }
}

// Watch the ledger file: the first poll that sees a row is when it became readable.
const dbFile = await waitFor(() => findFile(join(state, "v3/d1"), ".sqlite"), 30_000, "no local D1 file");
const watcher = new DatabaseSync(dbFile, { readOnly: true });
const firstSeen = new Map();
let lastRowid = 0;
let posting = true;
const watching = (async () => {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      for (const row of watcher
        .prepare("SELECT rowid AS r, source, event_id FROM webhook_events WHERE rowid > ? ORDER BY rowid")
        .all(lastRowid)) {
        firstSeen.set(`${row.source}/${row.event_id}`, Date.now());
        lastRowid = row.r;
      }
    } catch {} // the writer holds a lock for a moment
    const want = accepted.filter((a) => a.eventId).map((a) => `${a.delivery.source}/${a.eventId}`);
    if (!posting && want.every((k) => firstSeen.has(k))) return;
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 100));
  }
})();
await Promise.all(Array.from({ length: concurrency }, poster));
const postedMs = Date.now() - started;
posting = false;
await watching;
const settledMs = Date.now() - started;
await new Promise((r) => setTimeout(r, 3000)); // the last batches' table rows
watcher.close();
stopDev();
await new Promise((r) => setTimeout(r, 1500));

// Read D1 and R2 from the files wrangler dev left (SQLite; R2 keeps object bytes in blob files).
const d1 = new DatabaseSync(dbFile, { readOnly: true });
const r2Index = new DatabaseSync(findFile(join(state, "v3/r2"), ".sqlite"), { readOnly: true });
const blobs = join(state, "v3/r2/commerce-lake/blobs");
const store = {
  all: async (sql, params = []) => d1.prepare(sql).all(...params),
  text: async (key) => {
    const row = r2Index.prepare("SELECT blob_id FROM _mf_objects WHERE key = ?").get(key);
    return row ? (row.blob_id ? readFileSync(join(blobs, row.blob_id), "utf8") : "") : null;
  },
  keys: async (prefix) =>
    r2Index
      .prepare("SELECT key FROM _mf_objects WHERE substr(key, 1, ?) = ? ORDER BY key")
      .all(prefix.length, prefix)
      .map((r) => r.key),
};
const report = await checkSoak(store, accepted, newestVersions(deliveries), secretValues, { exclusive: true });
d1.close();
r2Index.close();
for (const text of [...responses, ...logs]) {
  for (const s of secretValues.filter((v) => v.length >= 8))
    if (text.includes(s)) report.secretLeaks.push("a response or log line holds a configured secret");
}

const lags = accepted
  .filter((a) => !a.delivery.redelivery && a.eventId)
  .map((a) => firstSeen.get(`${a.delivery.source}/${a.eventId}`) - a.at)
  .filter((l) => Number.isFinite(l));
const statuses = {};
for (const a of accepted) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
console.log(
  JSON.stringify(
    {
      deliveries: events,
      answered: statuses,
      distinctEvents: report.distinctEvents,
      ledgerRows: Object.values(report.ledgerByStatus).reduce((a, b) => a + b, 0),
      ledgerByStatus: report.ledgerByStatus,
      claimChecked: deliveries.filter((d) => d.large).length,
      invalid: deliveries.filter((d) => d.expect === "quarantined").length,
      redelivered: deliveries.filter((d) => d.redelivery).length,
      postSeconds: postedMs / 1000,
      settledSeconds: settledMs / 1000,
      acceptedPerSecond: Math.round(events / (postedMs / 1000)),
      lagMs: percentiles(lags),
      r2ObjectsScanned: report.checkedObjects,
      lost: report.lost.length,
    },
    null,
    2,
  ),
);
const failures = soakFailures(report);
if (!opts.keep) rmSync(state, { recursive: true, force: true });
if (failures.length > 0) fail(`soak failed (seed ${seed}):\n  ${failures.join("\n  ")}`);
console.log("soak passed: nothing lost, nothing stored twice, newest versions kept, no secret leaked");
process.exit(0);

function pathOf(d) {
  return `/webhooks/${d.source}`;
}

async function requestInit(d) {
  const headers = { "content-type": "application/json" };
  if (d.source === "shopify") {
    Object.assign(headers, {
      "x-shopify-topic": d.topic,
      "x-shopify-shop-domain": d.shop,
      "x-shopify-event-id": d.eventId,
      "x-shopify-triggered-at": d.triggeredAt,
      "x-shopify-api-version": "2026-01",
      "x-shopify-hmac-sha256": await shopifySignature(d.body, first(vars.SHOPIFY_WEBHOOK_SECRET)),
    });
  } else if (d.source === "stripe") {
    headers["stripe-signature"] = await stripeSignature(d.body, first(vars.STRIPE_WEBHOOK_SECRET));
  } else {
    headers["x-recharge-topic"] = d.topic;
    headers["x-recharge-hmac-sha256"] = await rechargeLegacySignature(d.body, first(vars.RECHARGE_WEBHOOK_SECRET));
  }
  return { method: "POST", headers, body: d.body };
}

function first(list) {
  return (list ?? "").split(",")[0].trim();
}

function safeJson(text) {
  try {
    return JSON.parse(text ?? "{}");
  } catch {
    return {};
  }
}

function findFile(dir, suffix) {
  try {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        const hit = findFile(p, suffix);
        if (hit) return hit;
      } else if (name.endsWith(suffix) && !name.startsWith("metadata")) return p;
    }
  } catch {}
  return null;
}

async function waitFor(probe, ms, message) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) fail(message);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function fail(message) {
  console.error(message);
  stopDev();
  process.exit(1);
}
