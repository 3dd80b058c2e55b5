/**
 * The large brand of the scale run, as numbers: how many of each record, when each
 * happened and which ids it has. Everything scales with SCALE (the `SCALE` binding, from the
 * `SCALE` environment variable; 1 = full size), except the per-person sizes (a person's 200 or
 * 100 orders), which are what one request costs whatever the shop's size. Ids and times are
 * pure functions of an index, so the SQL seeding, the R2 objects, the fake Shopify and the jobs'
 * checks all agree without passing lists around. Shopify ids follow the fake Admin API's own
 * numbering (test/fakes/shopify-data.ts: customers first, then per order its 5 line items and
 * the order), so the bulk export and reconciliation meet the very rows D1 holds.
 */
import { env } from "cloudflare:workers";

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

function scaleOf(value: unknown): number {
  const n = Number(value ?? 1);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new Error(`SCALE must be in (0, 1], got ${String(value)}`);
  return n;
}

export const SCALE = scaleOf((env as unknown as { SCALE?: string }).SCALE);
const scaled = (full: number, min = 1) => Math.max(min, Math.round(full * SCALE));

export const SHOP = "large-brand.myshopify.com";
export const LINES_PER_ORDER = 5;

export const COUNTS = {
  orders: scaled(1_000_000, 1000),
  shopifyCustomers: scaled(300_000, 300),
  stripeCustomers: scaled(50_000, 50),
  stripeCharges: scaled(200_000, 200),
  stripeInvoices: scaled(200_000, 200),
  rechargeSubscriptions: scaled(50_000, 50),
  rechargeChargesPerSubscription: 10,
  ledgerDayEvents: scaled(1_000_000, 1000),
  replayDayEvents: scaled(100_000, 100),
  changedOrders: scaled(10_000, 100),
  reconcileChangedOrders: scaled(10_000, 100),
  /** Of the orders changed upstream, the share whose webhook never arrived (README's reconcile bench: 5 %). */
  reconcileMissedShare: 0.05,
  erasedPersonShopifyOrders: 120,
  erasedPersonStripeCharges: 40,
  erasedPersonRechargeCharges: 40,
  redactedPersonOrders: 100,
} as const;

/** The run's "now": the jobs run on the wall clock, so the data is placed around it. */
export const NOW_MS = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
const SPAN_MS = 730 * DAY_MS;
/** Two years of history, ending a day before now. */
export const HISTORY_START_MS = NOW_MS - SPAN_MS - DAY_MS;

export const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const iso = (ms: number) => new Date(ms).toISOString();
/** Shopify's own format: whole seconds, `Z`. */
export const shopifyIso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

/** The day whose 1M ledger rows retention moves (older than RETENTION_DAYS, 90). */
export const LEDGER_DAY = dayOf(NOW_MS - 100 * DAY_MS);
/** The day whose raw events are replayed (inside the retention window). */
export const REPLAY_DAY = dayOf(NOW_MS - 10 * DAY_MS);

/** Milliseconds between consecutive orders, customers, charges: each spread over the two years. */
export const stepMs = (count: number) => SPAN_MS / count;
export const orderMs = (i: number) => HISTORY_START_MS + Math.floor((i * stepMs(COUNTS.orders)) / 1000) * 1000;

// Shopify ids: the fake's numbering with `customers` customers and no products.
const FIRST_ID = 9_007_199_254_740_993n;
export const customerId = (k: number) => (FIRST_ID + BigInt(k)).toString();
const orderBase = (i: number) => FIRST_ID + BigInt(COUNTS.shopifyCustomers) + BigInt(i * (LINES_PER_ORDER + 1));
export const orderId = (i: number) => (orderBase(i) + BigInt(LINES_PER_ORDER)).toString();
export const lineItemId = (i: number, l: number) => (orderBase(i) + BigInt(l)).toString();
export const FIRST_SHOPIFY_ID = FIRST_ID;

/** A line's unit price and quantity, so every order's money adds up (the money-integrity check). */
export const linePriceMinor = (i: number, l: number) => 1000 + l * 100 + (i % 50) * 10;
export const lineQuantity = (l: number) => 1 + (l % 3);
export const SHIPPING_MINOR = 500;
export const TAX_MINOR = 150;
export function orderTotalMinor(i: number): number {
  let sum = 0;
  for (let l = 0; l < LINES_PER_ORDER; l++) sum += linePriceMinor(i, l) * lineQuantity(l);
  return sum + SHIPPING_MINOR + TAX_MINOR;
}

/** Evenly spread indexes: `n` of `count`, starting at `offset` (the persons' orders, the changed ones). */
export function spread(n: number, count: number, offset = 0): number[] {
  const stride = Math.max(1, Math.floor(count / n));
  return Array.from({ length: Math.min(n, count) }, (_, k) => (offset + k * stride) % count);
}

/** The people whose requests are measured: ids outside every seeded range. */
export const ERASED = {
  email: "erase.me@large-brand.example",
  shopifyCustomer: "8100000000000000001",
  stripeCustomer: "cus_scale_erase",
  rechargeCustomer: "910000001",
  rechargeSubscription: "920000001",
};
export const REDACTED = {
  email: "redact.me@large-brand.example",
  shopifyCustomer: "8100000000000000002",
};
