// `npm run demo`: signs the sample payloads in test/fixtures with the secrets in .dev.vars,
// posts them to the running pipeline (`npm start`), and prints what landed: ledger rows and R2 keys.
// Shopify's compliance samples come last, as a shop sends them: a data request and a redaction for
// the customer of the sample order, and a shop/redact for a second shop that only got one product
// (so the demo shop keeps its data). Then it runs the privacy job (and the compaction it waits on)
// until the requests complete, and prints what each changed and the data request's export.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { STRIPE_API_VERSION } from "../src/shared/stripe-version.ts";
import { rechargeLegacySignature, shopifySignature, stripeSignature } from "../test/helpers/sign.ts";

const BASE = process.env.PIPELINE_URL ?? "http://127.0.0.1:8787";
const varsFile = existsSync(".dev.vars") ? ".dev.vars" : ".dev.vars.example";
const vars = Object.fromEntries(
  readFileSync(varsFile, "utf8")
    .split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]),
);
const first = (name) => (vars[name] ?? "").split(",")[0].trim();
const fixture = (path) => readFileSync(new URL(`../test/fixtures/${path}`, import.meta.url), "utf8");
const SHOP = "demo-shop.myshopify.com";
/** Receives one product, then shop/redact: the shop-wide deletion, without touching the demo shop. */
const CLOSED_SHOP = "demo-closed-shop.myshopify.com";
const COMPLIANCE = ["customers/data_request", "customers/redact"];
const auth = () => ({ Authorization: `Bearer ${first("ADMIN_TOKEN")}` });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const STRIPE_TYPES = {
  charge: "charge.succeeded",
  payment_intent: "payment_intent.succeeded",
  invoice: "invoice.paid",
  dispute: "charge.dispute.created",
  "checkout.session": "checkout.session.completed",
  customer: "customer.created",
  subscription: "customer.subscription.created",
  refund: "refund.created",
};
const RECHARGE_TOPICS = {
  subscription: "subscription/created",
  charge: "charge/paid",
  customer: "customer/created",
  order: "order/created",
};

async function post(path, body, headers) {
  const res = await fetch(`${BASE}${path}`, {
    method: "POST",
    body,
    headers: { "Content-Type": "application/json", ...headers },
  });
  const json = await res.json().catch(() => ({}));
  return { status: res.status, json };
}

async function postShopify(shop, topic, body) {
  const eventId = crypto.randomUUID();
  const r = await post("/webhooks/shopify", body, {
    "X-Shopify-Hmac-Sha256": await shopifySignature(body, first("SHOPIFY_WEBHOOK_SECRET")),
    "X-Shopify-Topic": topic,
    "X-Shopify-Shop-Domain": shop,
    "X-Shopify-Event-Id": eventId,
    "X-Shopify-Triggered-At": new Date().toISOString(),
    "X-Shopify-API-Version": "2026-01",
  });
  return { source: "shopify", topic, shop, ...r };
}

/**
 * Shopify fills a compliance request in with the shop and the customer it is about. The samples
 * name `{shop}.myshopify.com` and a customer the other samples never mention: they are sent for
 * the shop they go to, about the customer of the sample order and that order. Text replacement,
 * so an 18-digit id never passes through a double.
 */
function compliancePayload(body, shop) {
  const order = fixture("shopify/orders__create.json");
  const orderId = /^ {2}"id": (\d+)/m.exec(order)?.[1];
  const customerId = /"customer": \{\s*"id": (\d+)/.exec(order)?.[1];
  if (!orderId || !customerId) throw new Error("test/fixtures/shopify/orders__create.json has no order or customer id");
  return body
    .replaceAll("{shop}.myshopify.com", shop)
    .replace(/("customer": \{\s*"id": )\d+/, `$1${customerId}`)
    .replace(/("orders_(?:to_redact|requested)": )\[[^\]]*\]/, `$1[${orderId}]`);
}

async function admin(method, path, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: { ...auth(), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    console.error(`${path} answered 401: ADMIN_TOKEN in ${varsFile} is not the running pipeline's admin token.`);
    process.exit(1);
  }
  return { status: res.status, json: await res.json().catch(() => ({})) };
}

async function main() {
  const health = await fetch(`${BASE}/health`).catch(() => null);
  if (!health?.ok) {
    console.error(`No pipeline answers at ${BASE}. Start it first with \`npm start\` (or set PIPELINE_URL).`);
    process.exit(1);
  }
  const sent = [];
  const now = Math.floor(Date.now() / 1000);
  const shopifyFiles = readdirSync(new URL("../test/fixtures/shopify", import.meta.url))
    .filter((f) => f.endsWith(".json"))
    .map((file) => ({ file, topic: file.replace(/\.json$/, "").replace("__", "/") }));

  for (const { file, topic } of shopifyFiles.filter((f) => !COMPLIANCE.includes(f.topic) && f.topic !== "shop/redact"))
    sent.push(await postShopify(SHOP, topic, fixture(`shopify/${file}`)));
  sent.push(await postShopify(CLOSED_SHOP, "products/create", fixture("shopify/products__create.json")));

  for (const [name, type] of Object.entries(STRIPE_TYPES)) {
    // Stripe delivers Events; the fixtures are bare objects, so each is wrapped verbatim in one.
    const body = `{"id":"evt_demo_${name.replace(".", "_")}_${now}","object":"event","api_version":"${STRIPE_API_VERSION}","created":${now},"type":"${type}","livemode":false,"data":{"object":${fixture(`stripe/${name}.json`)}}}`;
    const r = await post("/webhooks/stripe", body, {
      "Stripe-Signature": await stripeSignature(body, first("STRIPE_WEBHOOK_SECRET")),
    });
    sent.push({ source: "stripe", topic: type, ...r });
  }

  for (const [name, topic] of Object.entries(RECHARGE_TOPICS)) {
    const body = fixture(`recharge/${name}.json`);
    const r = await post("/webhooks/recharge", body, {
      "X-Recharge-Hmac-Sha256": await rechargeLegacySignature(body, first("RECHARGE_WEBHOOK_SECRET")),
      "X-Recharge-Topic": topic,
    });
    sent.push({ source: "recharge", topic, ...r });
  }

  // Compliance last, one after the other: the privacy job takes requests oldest first, so the
  // export is written before the redaction of the same person.
  const compliance = [];
  for (const topic of COMPLIANCE) {
    const file = `shopify/${topic.replace("/", "__")}.json`;
    compliance.push(await postShopify(SHOP, topic, compliancePayload(fixture(file), SHOP)));
  }
  compliance.push(
    await postShopify(CLOSED_SHOP, "shop/redact", compliancePayload(fixture("shopify/shop__redact.json"), CLOSED_SHOP)),
  );
  sent.push(...compliance);

  console.log("Posted:");
  for (const s of sent)
    console.log(
      `  ${s.status}  ${s.source.padEnd(8)} ${s.topic.padEnd(29)} ${s.json.eventId ?? s.json.error?.message ?? ""}${s.shop === CLOSED_SHOP ? `  (${CLOSED_SHOP})` : ""}`,
    );
  const refused = sent.filter((s) => s.status !== 200);
  if (refused.length > 0) {
    console.error(
      `${refused.length} sample(s) refused: the secrets in ${varsFile} must be the running pipeline's (restart \`npm start\` after editing it).`,
    );
    process.exit(1);
  }

  const ids = new Set(sent.map((s) => s.json.eventId));
  const deadline = Date.now() + 30_000;
  let landed = [];
  while (Date.now() < deadline) {
    const res = await admin("GET", "/admin/events?limit=500");
    if (res.status !== 200) {
      console.error(`/admin/events answered ${res.status}: ${res.json.error?.message ?? "see the wrangler dev log"}`);
      process.exit(1);
    }
    landed = res.json.events.filter((e) => ids.has(e.event_id) && e.status !== "retrying");
    if (landed.length >= ids.size) break;
    await sleep(500);
  }
  const recorded = new Set(compliance.map((s) => s.json.eventId));
  const shown = (e) => (recorded.has(e.event_id) && e.status === "applied" ? "recorded" : e.status);
  console.log(`\nLanded (${landed.length}/${ids.size} in the ledger):`);
  for (const e of landed)
    console.log(`  ${shown(e).padEnd(11)} ${e.source.padEnd(8)} ${e.topic.padEnd(29)} ${e.r2_key}`);
  console.log(
    "  (applied: in the tables; archived: kept in raw/, no table for that topic; recorded: a privacy request)",
  );
  if (landed.length < ids.size) {
    console.error(
      "Some events have not landed yet: the queue consumer may still be working; run `npm run demo` again or check the wrangler dev log.",
    );
    process.exit(1);
  }
  const held = landed.filter((e) => e.status === "quarantined" || e.status === "failed");
  if (held.length > 0) {
    for (const e of held) console.error(`  ${e.status}: ${e.topic} ${e.event_id}: ${e.note ?? e.error ?? ""}`);
    console.error(
      "Samples were held back: see why on /ops or with `npm run ops -- events --status quarantined`, fix, then `npm run ops -- redrive --quarantine`.",
    );
    process.exit(1);
  }

  await runPrivacy(compliance);
}

/** Runs the privacy job, and the lake jobs its erasures wait on, until the demo's requests complete. */
async function runPrivacy(compliance) {
  const requests = compliance.map((s) => ({ id: `pr-${s.json.eventId}`, topic: s.topic, shop: s.shop }));
  console.log("\nPrivacy: running the privacy job until the requests complete (POST /admin/jobs/privacy)");
  const deadline = Date.now() + 120_000;
  let states = [];
  for (;;) {
    const job = await admin("POST", "/admin/jobs/privacy");
    if (job.status !== 200) {
      console.error(`The privacy job answered ${job.status}: ${job.json.error?.message ?? "see the wrangler dev log"}`);
      process.exit(1);
    }
    states = await Promise.all(
      requests.map(async (r) => ({ ...r, ...(await admin("GET", `/admin/privacy/${r.id}`)) })),
    );
    if (states.every((s) => s.json.request?.status === "completed")) break;
    // An erasure completes once the lake no longer holds the person: the hourly compact run
    // commits its days (stage compact), then lake-upkeep rewrites the files that held them
    // (stage lake). The demo runs them now instead of waiting for minutes 35 and 50.
    for (const [stage, job] of [
      ["compact", "compact"],
      ["lake", "lake-upkeep"],
    ]) {
      if (!states.some((s) => s.json.request?.stage === stage)) continue;
      const run = await admin("POST", `/admin/jobs/${job}`);
      if (run.status !== 200) console.error(`The ${job} job answered ${run.status}: ${run.json.error?.message ?? ""}`);
    }
    if (Date.now() > deadline) break;
    await sleep(1000);
  }
  for (const s of states) {
    const r = s.json.request;
    if (!r) {
      console.log(`  ${s.topic.padEnd(23)} ${s.id}: ${s.json.error?.message ?? `HTTP ${s.status}`}`);
      continue;
    }
    console.log(
      `  ${s.topic.padEnd(23)} ${r.status.padEnd(9)} ${s.shop}: ${r.objectsRewritten} R2 objects rewritten, ${r.objectsDeleted} deleted, ${r.rowsChanged} D1 rows changed${r.error ? ` (${r.error})` : ""}`,
    );
  }
  const request = states.find((s) => s.topic === "customers/data_request");
  if (request?.json.request?.exportKey) {
    const exp = await admin("GET", `/admin/privacy/${request.id}/export`);
    if (exp.status === 200) {
      const tables = Object.entries(exp.json.tables ?? {});
      console.log(
        `\nThe data request's export, ${request.json.request.exportKey} (GET /admin/privacy/${request.id}/export):`,
      );
      for (const [table, rows] of tables) console.log(`  ${table.padEnd(28)} ${rows.length} row(s)`);
      console.log(`  profiles                     ${(exp.json.profiles ?? []).length}`);
      console.log("  raw objects naming the person when it was written (customers/redact then rewrites them):");
      for (const key of exp.json.raw_objects ?? []) console.log(`    ${key}`);
    }
  }
  const person = await admin("GET", "/admin/people?email=john%40example.com");
  console.log(
    `\nAfter customers/redact, GET /admin/people?email=john@example.com: ${person.status === 404 ? "404, nobody holds that e-mail any more" : `${person.status} (the person is still there)`}`,
  );
  const open = states.filter((s) => s.json.request?.status !== "completed");
  if (open.length > 0) {
    console.error(
      `${open.length} privacy request(s) did not complete in 2 minutes: see their error above, \`npm run ops -- status\`, and the wrangler dev log; the scheduled privacy run (every 10 minutes) carries on from where it stopped.`,
    );
    process.exit(1);
  }
}

await main();
