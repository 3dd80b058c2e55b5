/**
 * Bench Worker for bench/d1-ceiling.mjs (`wrangler dev` with bench/d1-ceiling.wrangler.toml, the
 * project's migrations). POST /fill {from, orders} applies a simulated shop's history through the
 * real consumer (`consumeEvents`, queue batches of 100): each order has 5 line items, every third
 * order brings a new customer (customers/create), every tenth order gets a refund. R2 puts go to a
 * stand-in bucket that keeps nothing: only D1 is measured. POST /queries times the hot reads:
 * the status page, reconciliation's stored-versions lookup (250 ids), the analytics views for the
 * shop and one person's activity. Every D1 answer carries the database size (`meta.size_after`).
 */
import { consumeEvents } from "../src/consumers/events";
import { storedVersions } from "../src/cron/reconcile/stored-versions";
import { pipelineStatus } from "../src/ingress/admin/status";
import type { Envelope } from "../src/shared/envelope";
import { messageBatch } from "./lib/batch";

const SHOP = "ceiling-shop.myshopify.com";
const LINES = 5;
const BATCH = 100;

/** A bucket that accepts every put and keeps nothing (the archive is not what is measured here). */
const nullLake = {
  put: async () => ({}),
  get: async () => null,
  head: async () => null,
} as unknown as R2Bucket;

/** The subject index shards the consumer writes, bound in this Worker's wrangler.toml. */
export { SubjectIndex } from "../src/durable/subject-index";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (url.pathname === "/fill" && request.method === "POST") return fill(env, (await request.json()) as Fill);
    if (url.pathname === "/queries" && request.method === "POST") return queries(env, (await request.json()) as Fill);
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;

interface Fill {
  from: number;
  orders: number;
}

async function fill(env: Env, req: Fill): Promise<Response> {
  const info = console.log;
  console.log = () => {}; // wrangler dev relays every line at a cost the deployed Worker does not pay
  const started = Date.now();
  let acked = 0;
  let events = 0;
  try {
    let pending: Envelope[] = [];
    const flush = async () => {
      const b = messageBatch(pending, (i) => `${pending[i]?.eventId}-${i}`);
      events += pending.length;
      await consumeEvents(b.batch, { ...env, LAKE: nullLake });
      acked += b.acked();
      pending = [];
    };
    for (let n = req.from; n < req.from + req.orders; n++) {
      const at = new Date(Date.UTC(2024, 0, 1) + n * 60_000).toISOString();
      if (n % 3 === 0) pending.push(envelope("customers/create", `c${n}`, at, customer(n, at)));
      pending.push(envelope("orders/create", `o${n}`, at, order(n, at)));
      if (n % 10 === 0) pending.push(envelope("refunds/create", `r${n}`, at, refund(n, at)));
      if (pending.length >= BATCH) await flush();
    }
    if (pending.length > 0) await flush();
  } finally {
    console.log = info;
  }
  const ms = Date.now() - started;
  if (acked !== events) return Response.json({ error: `${events - acked} of ${events} not acked` }, { status: 500 });
  return Response.json({ events, ms, bytes: await size(env) });
}

async function size(env: Env): Promise<number> {
  const r = await env.DB.prepare("SELECT 1").run();
  return (r.meta as { size_after?: number }).size_after ?? 0;
}

async function queries(env: Env, req: Fill): Promise<Response> {
  const total = req.from + req.orders;
  const pick = (k: number) => String(orderId(Math.floor((k * 7919) % total)));
  const ids = Array.from({ length: 250 }, (_, k) => pick(k));
  const email = `buyer-${Math.floor(total / 2) - (Math.floor(total / 2) % 3)}@ceiling.example.com`;
  const runs: Record<string, () => Promise<unknown>> = {
    status: () => pipelineStatus({ ...env, LAKE: nullLakeList }),
    storedVersions: () => storedVersions(env.DB, "shopify:orders", ids, SHOP),
    revenueBySource: () => env.DB.prepare("SELECT * FROM analytics_revenue_by_source WHERE shop = ?1").bind(SHOP).all(),
    discountedOrders: () =>
      env.DB.prepare("SELECT * FROM analytics_discounted_orders WHERE shop = ?1").bind(SHOP).all(),
    ordersByRegion: () => env.DB.prepare("SELECT * FROM analytics_orders_by_region WHERE shop = ?1").bind(SHOP).all(),
    customerActivity: () =>
      env.DB.prepare(
        `SELECT * FROM customer_activity WHERE profile_id =
           (SELECT profile_id FROM customer_profile_emails WHERE email = lower(trim(?1)))`,
      )
        .bind(email)
        .all(),
  };
  const out: Record<string, number[]> = {};
  for (const [name, run] of Object.entries(runs)) {
    out[name] = [];
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      await run();
      out[name].push(Date.now() - t);
    }
  }
  return Response.json({ ms: out, bytes: await size(env) });
}

/** The status page lists quarantine/ and dead-letter/; this bench stores nothing in R2. */
const nullLakeList = {
  list: async () => ({ objects: [], truncated: false, delimitedPrefixes: [] }),
} as unknown as R2Bucket;

function envelope(topic: string, id: string, at: string, body: string): Envelope {
  return {
    v: 1,
    source: "shopify",
    topic,
    eventId: `ceiling-${id}`,
    shop: SHOP,
    receivedAt: at,
    eventAt: at,
    apiVersion: "2026-01",
    origin: "bulk",
    body,
  };
}

const orderId = (n: number) => 5_000_000_000_000_000_000n + BigInt(n);
const lineId = (n: number, l: number) => 6_000_000_000_000_000_000n + BigInt(n * LINES + l);
const customerId = (n: number) => 4_000_000_000_000_000_000n + BigInt(n - (n % 3));
const COUNTRIES = ["US", "CA", "GB", "DE", "FR", "JP", "AU", "NL"];
const SOURCES = ["web", "pos", "shopify_draft_order", "iphone"];

function customer(n: number, at: string): string {
  return `{"id":${customerId(n)},"email":"buyer-${n}@ceiling.example.com","first_name":"Ada","last_name":"Buyer${n}","phone":"+1613555${String(n % 10000).padStart(4, "0")}","state":"enabled","verified_email":true,"tax_exempt":false,"tags":"newsletter","currency":"USD","orders_count":${1 + (n % 5)},"total_spent":"${(n % 900) + 20}.00","accepts_marketing":true,"default_address":{"city":"Ottawa","province":"Ontario","province_code":"ON","zip":"K2P 1L4","country":"Canada","country_code":"CA"},"created_at":"${at}","updated_at":"${at}"}`;
}

/** An orders/create body as Shopify writes it (~4 KB): 5 line items, 19-digit ids, addresses, discounts. */
function order(n: number, at: string): string {
  const email = `buyer-${n - (n % 3)}@ceiling.example.com`;
  const country = COUNTRIES[n % COUNTRIES.length];
  const address = `{"first_name":"Ada","last_name":"Buyer","address1":"${n} Main St","city":"City ${n % 500}","province":"Province","province_code":"P${n % 13}","zip":"${String(n % 99999).padStart(5, "0")}","country":"${country}","country_code":"${country}","phone":null}`;
  const lines = Array.from({ length: LINES }, (_, l) => {
    const price = `${19 + ((n + l) % 80)}.99`;
    return `{"id":${lineId(n, l)},"product_id":${7_000_000_000_000 + ((n + l) % 2000)},"variant_id":${8_000_000_000_000 + ((n + l) % 6000)},"sku":"SKU-${(n + l) % 2000}","title":"Product ${(n + l) % 2000}","variant_title":"Large","vendor":"Ceiling Vendor","quantity":${1 + (l % 3)},"price":"${price}","total_discount":"0.00","fulfillment_status":null,"gift_card":false,"discount_allocations":[]}`;
  }).join(",");
  const discounted = n % 4 === 0;
  return `{"id":${orderId(n)},"name":"#${1000 + n}","order_number":${1000 + n},"email":"${email}","contact_email":"${email}","phone":null,"created_at":"${at}","updated_at":"${at}","processed_at":"${at}","closed_at":null,"cancelled_at":null,"cancel_reason":null,"financial_status":"paid","fulfillment_status":null,"test":false,"confirmed":true,"buyer_accepts_marketing":true,"currency":"USD","presentment_currency":"USD","total_price":"${100 + (n % 400)}.95","subtotal_price":"${90 + (n % 400)}.95","total_line_items_price":"${95 + (n % 400)}.95","total_discounts":"${discounted ? "5.00" : "0.00"}","total_tax":"14.30","total_shipping_price_set":{"shop_money":{"amount":"9.99","currency_code":"USD"}},"current_total_price":"${100 + (n % 400)}.95","discount_codes":[${discounted ? '{"code":"WELCOME5","amount":"5.00","type":"fixed_amount"}' : ""}],"tags":"${n % 7 === 0 ? "vip, newsletter" : ""}","note":null,"payment_gateway_names":["shopify_payments"],"source_name":"${SOURCES[n % SOURCES.length]}","referring_site":"https://www.google.com/","landing_site":"/products/x?utm_source=google&utm_medium=cpc&utm_campaign=c${n % 20}","landing_site_ref":null,"checkout_token":"ct${n}","cart_token":"cart${n}","customer":{"id":${customerId(n)},"orders_count":${1 + (n % 4)},"total_spent":"250.00","currency":"USD"},"shipping_address":${address},"billing_address":${address},"line_items":[${lines}],"shipping_lines":[{"title":"Standard","price":"9.99","code":"STD"}]}`;
}

function refund(n: number, at: string): string {
  return `{"id":${9_000_000_000_000_000_000n + BigInt(n)},"order_id":${orderId(n)},"created_at":"${at}","processed_at":"${at}","note":"damaged","restock":true,"refund_line_items":[{"id":${9_100_000_000_000_000_000n + BigInt(n)},"line_item_id":${lineId(n, 0)},"quantity":1,"subtotal":"19.99","total_tax":"2.60","restock_type":"return"}],"transactions":[{"id":${9_200_000_000_000_000_000n + BigInt(n)},"amount":"22.59","currency":"USD","kind":"refund","status":"success","gateway":"shopify_payments"}]}`;
}
