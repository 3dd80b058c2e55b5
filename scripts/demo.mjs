// `npm run demo`: signs the sample payloads in test/fixtures with the secrets in .dev.vars,
// posts them to the running pipeline (`npm start`), and prints what landed: ledger rows and R2 keys.
import { existsSync, readdirSync, readFileSync } from "node:fs";
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

async function main() {
  const health = await fetch(`${BASE}/health`).catch(() => null);
  if (!health?.ok) {
    console.error(`No pipeline answers at ${BASE}. Start it first with \`npm start\` (or set PIPELINE_URL).`);
    process.exit(1);
  }
  const sent = [];
  const now = Math.floor(Date.now() / 1000);

  for (const file of readdirSync(new URL("../test/fixtures/shopify", import.meta.url)).filter((f) =>
    f.endsWith(".json"),
  )) {
    const topic = file.replace(/\.json$/, "").replace("__", "/");
    const body = fixture(`shopify/${file}`);
    const eventId = crypto.randomUUID();
    const r = await post("/webhooks/shopify", body, {
      "X-Shopify-Hmac-Sha256": await shopifySignature(body, first("SHOPIFY_WEBHOOK_SECRET")),
      "X-Shopify-Topic": topic,
      "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
      "X-Shopify-Event-Id": eventId,
      "X-Shopify-Triggered-At": new Date().toISOString(),
      "X-Shopify-API-Version": "2026-01",
    });
    sent.push({ source: "shopify", topic, ...r });
  }

  for (const [name, type] of Object.entries(STRIPE_TYPES)) {
    // Stripe delivers Events; the fixtures are bare objects, so each is wrapped verbatim in one.
    const body = `{"id":"evt_demo_${name.replace(".", "_")}_${now}","object":"event","api_version":"2026-01-28","created":${now},"type":"${type}","livemode":false,"data":{"object":${fixture(`stripe/${name}.json`)}}}`;
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

  console.log("Posted:");
  for (const s of sent)
    console.log(
      `  ${s.status}  ${s.source.padEnd(8)} ${s.topic.padEnd(28)} ${s.json.eventId ?? s.json.error?.message ?? ""}`,
    );

  const ids = new Set(sent.filter((s) => s.status === 200).map((s) => s.json.eventId));
  const deadline = Date.now() + 20_000;
  let landed = [];
  while (Date.now() < deadline) {
    const res = await fetch(`${BASE}/admin/events?limit=500`, {
      headers: { Authorization: `Bearer ${first("ADMIN_TOKEN")}` },
    });
    if (!res.ok) {
      console.error(`/admin/events answered ${res.status}: check ADMIN_TOKEN in ${varsFile}.`);
      process.exit(1);
    }
    landed = (await res.json()).events.filter((e) => ids.has(e.event_id));
    if (landed.length >= ids.size) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`\nLanded (${landed.length}/${ids.size} in the ledger):`);
  for (const e of landed)
    console.log(`  ${e.status.padEnd(11)} ${e.source.padEnd(8)} ${e.topic.padEnd(28)} ${e.r2_key}`);
  if (landed.length < ids.size) {
    console.error(
      "Some events have not landed yet: the queue consumer may still be working; run `npm run demo` again or check the wrangler dev log.",
    );
    process.exit(1);
  }
}

await main();
