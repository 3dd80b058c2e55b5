/**
 * Seeds what the brand received as events: the ledger day retention moves (1M `webhook_events`
 * rows, in SQL, with their subject index rows in D1's `archive_subjects` as an earlier version kept
 * them, which the first privacy runs move to the shards; retention reads no R2 object, so none is
 * written), the day that is replayed (ledger rows, index rows and the raw R2 objects the replay
 * lists and the consumer reads, put directly), and the two people whose requests are measured.
 * Those few hundred events go through the real consumer, outside any measured job, because their
 * raw objects, index rows and identity links must be exactly what the pipeline writes.
 */
import { env } from "cloudflare:workers";
import { rawEventObject } from "../../src/shared/archive";
import type { Envelope } from "../../src/shared/envelope";
import { consumeBodies } from "../../test/cron-helpers";
import {
  COUNTS,
  customerId,
  ERASED,
  iso,
  LEDGER_DAY,
  LINES_PER_ORDER,
  lineItemId,
  linePriceMinor,
  lineQuantity,
  orderId,
  orderMs,
  orderTotalMinor,
  REDACTED,
  REPLAY_DAY,
  SHIPPING_MINOR,
  SHOP,
  shopifyIso,
  spread,
  TAX_MINOR,
} from "./world";

const CHUNK = 20_000;
const PUTS_AT_ONCE = 50;
const DAY_S = 86_400;

const dayStartSeconds = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;
const counter = (from: number, to: number) =>
  `WITH RECURSIVE s(n) AS (SELECT ${from} UNION ALL SELECT n + 1 FROM s WHERE n < ${to - 1})`;

/**
 * The ledger rows of one day, received evenly over it: 80 % Shopify orders, 10 % Stripe charges and
 * 10 % Recharge charges, or only Shopify orders (the replayed day, whose objects are all orders).
 */
function ledgerRows(prefix: string, day: string, count: number, range: [number, number], ordersOnly: boolean): string {
  const secs = `(${dayStartSeconds(day)} + CAST(n * ${DAY_S / count} AS INTEGER))`;
  const pick = (stripe: string, recharge: string, shopify: string) =>
    ordersOnly ? shopify : `CASE n % 10 WHEN 0 THEN ${stripe} WHEN 1 THEN ${recharge} ELSE ${shopify} END`;
  return `${counter(range[0], range[1])}
    SELECT n, '${prefix}' || n AS event_id, strftime('%Y-%m-%dT%H:%M:%fZ', ${secs}, 'unixepoch') AS t,
      ${pick("'stripe'", "'recharge'", "'shopify'")} AS source,
      ${pick("'charge.succeeded'", "'charge/paid'", "'orders/updated'")} AS topic,
      ${pick("'charges'", "'charges'", "'orders'")} AS resource,
      ${pick("NULL", "NULL", `'${SHOP}'`)} AS shop FROM s`;
}

const keySql = `'raw/' || source || '/' || resource || '/events/dt=' || substr(t, 1, 10) || '/hour=' || substr(t, 12, 2)
  || '/' || event_id || '.json'`;

function ledgerSql(rows: string): string {
  return `INSERT INTO webhook_events (source, event_id, topic, resource, shop, received_at, event_at, api_version,
      origin, r2_key, status, attempts, deliveries, first_seen_at, updated_at)
    SELECT source, event_id, topic, resource, shop, t, t, '2026-01', 'webhook', ${keySql}, 'applied', 1, 1, t, t
    FROM (${rows})`;
}

/** Two index rows per object, as the consumer writes them: the customer and the (hashed) e-mail. */
function subjectsSql(rows: string): string {
  const customer = `CASE source WHEN 'shopify' THEN 'shopify_customer' WHEN 'stripe' THEN 'stripe_customer'
    ELSE 'recharge_customer' END`;
  const customerIdSql = `CASE source WHEN 'shopify' THEN CAST(${customerId(0)} + n % ${COUNTS.shopifyCustomers} AS TEXT)
    WHEN 'stripe' THEN 'cus_seed' || (n % ${COUNTS.stripeCustomers}) ELSE CAST(700000000 + n % ${COUNTS.rechargeSubscriptions} AS TEXT) END`;
  return `INSERT INTO archive_subjects (subject_kind, subject_id, shop, r2_key, source, indexed_at, redacted)
    SELECT ${customer}, ${customerIdSql}, coalesce(shop, ''), ${keySql}, source, t, 0 FROM (${rows})
    UNION ALL SELECT 'email', lower(hex(randomblob(32))), coalesce(shop, ''), ${keySql}, source, t, 0 FROM (${rows})`;
}

async function seedDay(prefix: string, day: string, count: number, ordersOnly: boolean): Promise<void> {
  for (let from = 0; from < count; from += CHUNK) {
    const rows = ledgerRows(prefix, day, count, [from, Math.min(count, from + CHUNK)], ordersOnly);
    await env.DB.prepare(ledgerSql(rows)).run();
    await env.DB.prepare(subjectsSql(rows)).run();
  }
}

/** The 1M-event day that `retention` moves to R2. */
export async function seedLedgerDay(): Promise<void> {
  await seedDay("ld-", LEDGER_DAY, COUNTS.ledgerDayEvents, false);
}

/** The REST body of order i, as its webhook carried it (the values D1 holds for it). */
export function orderBody(i: number, customer = customerId(i % COUNTS.shopifyCustomers), email?: string): string {
  const at = shopifyIso(orderMs(i));
  const lines = Array.from({ length: LINES_PER_ORDER }, (_, l) => ({
    id: `@${lineItemId(i, l)}@`,
    title: `Item ${l}`,
    sku: l === 0 && i % 5 === 0 ? "SUB-BOX-1" : `SKU-${l}`,
    quantity: lineQuantity(l),
    price: (linePriceMinor(i, l) / 100).toFixed(2),
    product_id: 1000 + l,
    variant_id: 2000 + l,
  }));
  const buyer = email ?? `buyer${i}@example.com`;
  const body = {
    id: `@${orderId(i)}@`,
    name: `#${1001 + i}`,
    order_number: 1001 + i,
    email: buyer,
    customer: { id: `@${customer}@`, email: email ?? `customer${i % COUNTS.shopifyCustomers}@example.com` },
    currency: "USD",
    total_price: (orderTotalMinor(i) / 100).toFixed(2),
    subtotal_price: ((orderTotalMinor(i) - SHIPPING_MINOR - TAX_MINOR) / 100).toFixed(2),
    total_tax: (TAX_MINOR / 100).toFixed(2),
    financial_status: "paid",
    source_name: "web",
    created_at: at,
    updated_at: at,
    shipping_address: { city: "Ottawa", province_code: "ON", country_code: "CA", zip: "K2P 1L4" },
    line_items: lines,
  };
  // Ids are JSON numbers, as Shopify sends them (18+ digits: written into the text, not through a double).
  return JSON.stringify(body).replace(/"@(\d+)@"/g, "$1");
}

/** The day replayed: ledger rows and index rows in SQL, each order event's raw object in R2. */
export async function seedReplayDay(): Promise<void> {
  const count = COUNTS.replayDayEvents;
  await seedDay("rp-", REPLAY_DAY, count, true);
  const orders = spread(count, COUNTS.orders, 3);
  const start = Date.parse(`${REPLAY_DAY}T00:00:00Z`);
  for (let from = 0; from < count; from += PUTS_AT_ONCE) {
    const puts: Array<Promise<unknown>> = [];
    for (let n = from; n < Math.min(count, from + PUTS_AT_ONCE); n++) {
      const at = iso(start + Math.floor((n * DAY_S) / count) * 1000);
      const head = {
        eventId: `rp-${n}`,
        source: "shopify" as const,
        topic: "orders/updated",
        shop: SHOP,
        receivedAt: at,
        eventAt: at,
        apiVersion: "2026-01",
        origin: "webhook" as const,
      };
      puts.push(
        rawEventObject(head, "orders", orderBody(orders[n] as number)).then((o) =>
          env.LAKE.put(o.key, o.body, { customMetadata: o.customMetadata }),
        ),
      );
    }
    await Promise.all(puts);
  }
}

let seq = 0;
function envelope(source: Envelope["source"], topic: string, body: string, at: string): Envelope {
  return {
    v: 1,
    source,
    topic,
    eventId: `${source === "stripe" ? "evt_" : ""}scale-${++seq}`,
    shop: source === "shopify" ? SHOP : null,
    receivedAt: at,
    eventAt: at,
    apiVersion: null,
    origin: "webhook",
    body,
  };
}

/** Orders of the two measured people: even indexes for the erased one, odd for the redacted one. */
export const erasedOrders = () =>
  spread(COUNTS.erasedPersonShopifyOrders, Math.floor(COUNTS.orders / 2), 7).map((k) => 2 * k);
export const redactedOrders = () =>
  spread(COUNTS.redactedPersonOrders, Math.floor(COUNTS.orders / 2), 13).map((k) => 2 * k + 1);

function shopifyCustomerEvent(id: string, email: string, first: string): Envelope {
  const at = shopifyIso(orderMs(0));
  const body = `{"id":${id},"email":"${email}","first_name":"${first}","last_name":"Person","phone":"+15550001111","created_at":"${at}","updated_at":"${at}","default_address":{"address1":"1 Main St","city":"Ottawa","zip":"K2P 1L4","country_code":"CA"}}`;
  return envelope("shopify", "customers/create", body, iso(orderMs(0)));
}

function stripeEvent(type: string, object: Record<string, unknown>, atMs: number): Envelope {
  const e = envelope("stripe", type, "", iso(atMs));
  const created = Math.floor(atMs / 1000);
  return {
    ...e,
    body: JSON.stringify({ id: e.eventId, object: "event", type, created, livemode: true, data: { object } }),
  };
}

function rechargeEvent(topic: string, key: string, object: Record<string, unknown>, atMs: number): Envelope {
  return envelope("recharge", topic, JSON.stringify({ [key]: object }), iso(atMs));
}

/** The erased person: Shopify customer and orders, Stripe customer and charges, Recharge customer, subscription and charges. */
function erasedPersonEvents(): Envelope[] {
  const p = ERASED;
  const startMs = orderMs(0);
  const stepMs = (orderMs(COUNTS.orders - 1) - startMs) / COUNTS.erasedPersonStripeCharges;
  const rcAt = (ms: number) => iso(ms).slice(0, 19);
  const events = [
    shopifyCustomerEvent(p.shopifyCustomer, p.email, "Erin"),
    ...erasedOrders().map((i) => {
      const body = orderBody(i, p.shopifyCustomer, p.email);
      return envelope("shopify", "orders/updated", body, iso(orderMs(i)));
    }),
    stripeEvent(
      "customer.created",
      { id: p.stripeCustomer, object: "customer", email: p.email, name: "Erin Person", livemode: true, created: 1 },
      startMs,
    ),
    rechargeEvent(
      "customer/created",
      "customer",
      {
        id: p.rechargeCustomer,
        email: p.email,
        first_name: "Erin",
        last_name: "Person",
        created_at: rcAt(startMs),
        updated_at: rcAt(startMs),
      },
      startMs,
    ),
    rechargeEvent(
      "subscription/created",
      "subscription",
      {
        id: p.rechargeSubscription,
        customer_id: p.rechargeCustomer,
        email: p.email,
        status: "ACTIVE",
        sku: "SUB-BOX-1",
        price: "25.00",
        currency: "USD",
        quantity: 1,
        order_interval_unit: "month",
        order_interval_frequency: 1,
        created_at: rcAt(startMs),
        updated_at: rcAt(startMs),
      },
      startMs,
    ),
  ];
  for (let k = 0; k < COUNTS.erasedPersonStripeCharges; k++) {
    const at = startMs + k * stepMs;
    events.push(
      stripeEvent(
        "charge.succeeded",
        {
          id: `ch_scale_erase_${k}`,
          object: "charge",
          customer: p.stripeCustomer,
          billing_details: { email: p.email, name: "Erin Person" },
          receipt_email: p.email,
          amount: 2500,
          currency: "usd",
          status: "succeeded",
          paid: true,
          livemode: true,
          created: Math.floor(at / 1000),
        },
        at,
      ),
    );
  }
  for (let k = 0; k < COUNTS.erasedPersonRechargeCharges; k++) {
    const at = startMs + k * stepMs + 3_600_000;
    events.push(
      rechargeEvent(
        "charge/paid",
        "charge",
        {
          id: String(930000000 + k),
          customer: { id: p.rechargeCustomer, email: p.email },
          customer_id: p.rechargeCustomer,
          email: p.email,
          status: "SUCCESS",
          type: "RECURRING",
          currency: "USD",
          subtotal_price: "25.00",
          total_price: "29.90",
          line_items: [
            {
              purchase_item_id: p.rechargeSubscription,
              sku: "SUB-BOX-1",
              quantity: 1,
              unit_price: "25.00",
              total_price: "25.00",
            },
          ],
          scheduled_at: rcAt(at),
          processed_at: rcAt(at),
          created_at: rcAt(at),
          updated_at: rcAt(at),
        },
        at,
      ),
    );
  }
  return events;
}

function redactedPersonEvents(): Envelope[] {
  const p = REDACTED;
  return [
    shopifyCustomerEvent(p.shopifyCustomer, p.email, "Reda"),
    ...redactedOrders().map((i) =>
      envelope("shopify", "orders/updated", orderBody(i, p.shopifyCustomer, p.email), iso(orderMs(i))),
    ),
  ];
}

/** Delivers the two people's events through the consumer; fails the seeding if any was not applied. */
export async function seedPeople(): Promise<{ events: number }> {
  const events = [...erasedPersonEvents(), ...redactedPersonEvents()];
  const result = await consumeBodies(events);
  if (result.retryMessages.length > 0) throw new Error(`seeding: ${result.retryMessages.length} person events retried`);
  const notApplied = await env.DB.prepare(
    "SELECT source, topic, status, note FROM webhook_events WHERE event_id LIKE '%scale-%' AND status <> 'applied' LIMIT 5",
  ).all();
  if (notApplied.results.length > 0)
    throw new Error(`seeding: person events not applied: ${JSON.stringify(notApplied.results)}`);
  return { events: events.length };
}

/** A compliance webhook (`customers/redact`, `customers/data_request`, `shop/redact`) as the consumer receives it. */
export function complianceEnvelope(topic: string, body: Record<string, unknown>): Envelope {
  return envelope("shopify", topic, JSON.stringify(body), iso(Date.now()));
}
