/**
 * Seeds the brand's tables straight into D1 with `INSERT … SELECT` over a recursive counter, a
 * chunk of rows per statement, so a million orders take a minute instead of a million webhooks.
 * It runs outside any invocation (the limits layer does not count it) and fires the tables'
 * triggers (lake_changes marks, MRR history) as real writes would. Values are those of
 * ./world.ts, computed in SQL from the row's index: integers are written into the SQL text, not
 * bound, because D1 binds JavaScript numbers as REAL and ids past 2^53 would lose digits.
 */
import { env } from "cloudflare:workers";
import {
  COUNTS,
  FIRST_SHOPIFY_ID,
  HISTORY_START_MS,
  LINES_PER_ORDER,
  SHIPPING_MINOR,
  SHOP,
  stepMs,
  TAX_MINOR,
} from "./world";

/** Rows per statement: a few seconds of local SQLite at most. */
const CHUNK = 20_000;
const DAY_S = 86_400;

/** `WITH RECURSIVE s(n)` over [from, to): every seeding statement counts its rows with it. */
const counter = (from: number, to: number) =>
  `WITH RECURSIVE s(n) AS (SELECT ${from} UNION ALL SELECT n + 1 FROM s WHERE n < ${to - 1})`;

/** A UTC ISO-8601 time in SQL, whole seconds: `secondsSql` seconds after the epoch. */
const isoSql = (secondsSql: string) => `strftime('%Y-%m-%dT%H:%M:%fZ', ${secondsSql}, 'unixepoch')`;
/** Seconds of the n-th of `count` records spread over the two years (./world.ts `orderMs` in SQL). */
const spreadSeconds = (count: number, n = "n") =>
  `(${HISTORY_START_MS / 1000} + CAST(${n} * ${stepMs(count)} / 1000.0 AS INTEGER))`;
const idSql = (offsetSql: string) => `CAST(${FIRST_SHOPIFY_ID} + ${offsetSql} AS TEXT)`;
const orderIdSql = (n = "n") =>
  idSql(`${COUNTS.shopifyCustomers} + ${n} * ${LINES_PER_ORDER + 1} + ${LINES_PER_ORDER}`);

async function insertChunks(total: number, statements: (from: number, to: number) => string[]): Promise<void> {
  for (let from = 0; from < total; from += CHUNK) {
    for (const sql of statements(from, Math.min(total, from + CHUNK))) await env.DB.prepare(sql).run();
  }
}

function ordersSql(from: number, to: number): string {
  const at = isoSql(spreadSeconds(COUNTS.orders));
  const lines = `(10900 + 90 * (n % 50))`;
  return `INSERT INTO shopify_orders (shop, id, name, order_number, confirmation_number, email, customer_id,
      customer_orders_count, created_at, processed_at, financial_status, test, confirmed, buyer_accepts_marketing,
      currency, presentment_currency, total_price_minor, subtotal_price_minor, total_line_items_price_minor,
      total_discounts_minor, total_tax_minor, total_shipping_minor, current_total_price_minor, discount_codes, tags,
      payment_gateway_names, source_name, referring_site, landing_site, utm_source, utm_medium, utm_campaign,
      shipping_city, shipping_province, shipping_province_code, shipping_zip, shipping_country, shipping_country_code,
      billing_city, billing_province, billing_province_code, billing_zip, billing_country, billing_country_code,
      line_item_count, total_quantity, is_subscription, subscription_type, updated_at, last_event_id, event_at, origin)
    ${counter(from, to)}
    SELECT '${SHOP}', ${orderIdSql()}, '#' || (1001 + n), 1001 + n, 'CONF' || n, 'buyer' || n || '@example.com',
      ${idSql(`n % ${COUNTS.shopifyCustomers}`)}, n % 7, t, t, 'paid', 0, 1, n % 2, 'USD', 'USD',
      ${lines} + ${SHIPPING_MINOR + TAX_MINOR}, ${lines}, ${lines}, 0, ${TAX_MINOR}, ${SHIPPING_MINOR},
      ${lines} + ${SHIPPING_MINOR + TAX_MINOR}, CASE WHEN n % 3 = 0 THEN '["WELCOME10"]' ELSE '[]' END,
      CASE WHEN n % 5 = 0 THEN '["subscription"]' ELSE '[]' END, '["shopify_payments"]', 'web',
      'https://www.google.com/', '/?utm_source=news&utm_medium=email&utm_campaign=c' || (n % 3), 'news', 'email',
      'c' || (n % 3), 'Ottawa', 'Ontario', 'ON', 'K2P 1L4', 'Canada', 'CA', 'Ottawa', 'Ontario', 'ON', 'K2P 1L4',
      'Canada', 'CA', ${LINES_PER_ORDER}, 9, n % 5 = 0, CASE WHEN n % 5 = 0 THEN 'subscription' END, t,
      'seed-order-' || n, t, 'bulk'
    FROM (SELECT n, ${at} AS t FROM s)`;
}

function lineItemsSql(from: number, to: number): string {
  const at = isoSql(spreadSeconds(COUNTS.orders));
  const base = `${COUNTS.shopifyCustomers} + n * ${LINES_PER_ORDER + 1}`;
  return `INSERT INTO shopify_order_line_items (shop, id, order_id, position, product_id, variant_id, sku, title,
      variant_title, vendor, quantity, currency, price_minor, discount_minor, gift_card, updated_at, last_event_id,
      event_at, origin)
    ${counter(from, to)}
    SELECT '${SHOP}', ${idSql(`${base} + p`)}, ${orderIdSql()}, p + 1, CAST(1000 + p AS TEXT), CAST(2000 + p AS TEXT),
      CASE WHEN p = 0 AND n % 5 = 0 THEN 'SUB-BOX-1' ELSE 'SKU-' || p END, 'Item ' || p, 'Size ' || (p + 1),
      'Fake Vendor', 1 + p % 3, 'USD', 1000 + p * 100 + (n % 50) * 10, 0, 0, t, 'seed-order-' || n, t, 'bulk'
    FROM (SELECT n, ${at} AS t FROM s), (SELECT 0 AS p UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
      UNION ALL SELECT 4)`;
}

function customersSql(from: number, to: number): string {
  const at = isoSql(spreadSeconds(COUNTS.shopifyCustomers));
  return `INSERT INTO shopify_customers (shop, id, email, first_name, last_name, state, verified_email, tax_exempt, tags,
      currency, orders_count, total_spent_minor, accepts_marketing, city, province, province_code, zip, country,
      country_code, created_at, updated_at, last_event_id, event_at, origin)
    ${counter(from, to)}
    SELECT '${SHOP}', ${idSql("n")}, 'customer' || n || '@example.com', 'First' || n, 'Last' || n, 'enabled', 1, 0,
      '[]', 'USD', n % 7, 12000, n % 2, 'Montréal', 'Quebec', 'QC', 'H2X 1Y4', 'Canada', 'CA', t, t,
      'seed-customer-' || n, t, 'bulk'
    FROM (SELECT n, ${at} AS t FROM s)`;
}

/** One profile per Shopify customer, its e-mail and its identity: the graph erasure walks. */
function identitySql(from: number, to: number): string[] {
  const rows = `${counter(from, to)} SELECT n, ${isoSql(spreadSeconds(COUNTS.shopifyCustomers))} AS t,
    'customer' || n || '@example.com' AS email, 'cp_seed_' || n AS profile FROM s`;
  return [
    `INSERT INTO customer_profiles (id, email, created_at, updated_at, last_event_id)
     SELECT profile, email, t, t, 'seed-customer-' || n FROM (${rows})`,
    `INSERT INTO customer_profile_emails (email, profile_id, created_at, last_event_id)
     SELECT email, profile, t, 'seed-customer-' || n FROM (${rows})`,
    `INSERT INTO customer_identities (source, external_id, shop, profile_id, email, shopify_customer_id, matched_by,
       created_at, updated_at, last_event_id)
     SELECT 'shopify', ${idSql("n")}, '${SHOP}', profile, email, ${idSql("n")}, 'email', t, t, 'seed-customer-' || n
     FROM (${rows})`,
  ];
}

function stripeCustomersSql(from: number, to: number): string {
  const secs = spreadSeconds(COUNTS.stripeCustomers);
  return `INSERT INTO stripe_customers (id, email, name, currency, balance_minor, delinquent, address_country, livemode,
      created_at, event_created, updated_at, last_event_id)
    ${counter(from, to)}
    SELECT 'cus_seed' || n, 'stripe' || n || '@example.com', 'Stripe ' || n, 'USD', 0, 0, 'US', 1, ${isoSql(secs)},
      ${secs}, ${isoSql(secs)}, 'seed-stripe-customer-' || n FROM s`;
}

function stripeChargesSql(from: number, to: number): string {
  const secs = spreadSeconds(COUNTS.stripeCharges);
  return `INSERT INTO stripe_charges (id, customer_id, email, amount_minor, amount_captured_minor, amount_refunded_minor,
      currency, status, paid, captured, refunded, disputed, payment_method_type, card_brand, livemode, created_at,
      event_created, updated_at, last_event_id)
    ${counter(from, to)}
    SELECT 'ch_seed' || n, 'cus_seed' || (n % ${COUNTS.stripeCustomers}),
      'stripe' || (n % ${COUNTS.stripeCustomers}) || '@example.com', 2000 + (n % 100) * 10, 2000 + (n % 100) * 10, 0,
      'USD', 'succeeded', 1, 1, 0, 0, 'card', 'visa', 1, ${isoSql(secs)}, ${secs}, ${isoSql(secs)},
      'seed-stripe-charge-' || n FROM s`;
}

function stripeInvoicesSql(from: number, to: number): string {
  const secs = spreadSeconds(COUNTS.stripeInvoices);
  return `INSERT INTO stripe_invoices (id, number, customer_id, email, status, billing_reason, collection_method,
      currency, amount_due_minor, amount_paid_minor, amount_remaining_minor, subtotal_minor, total_minor, tax_minor,
      attempt_count, attempted, period_start, period_end, paid_at, livemode, created_at, event_created, updated_at,
      last_event_id)
    ${counter(from, to)}
    SELECT 'in_seed' || n, 'INV-' || n, 'cus_seed' || (n % ${COUNTS.stripeCustomers}),
      'stripe' || (n % ${COUNTS.stripeCustomers}) || '@example.com', 'paid', 'subscription_cycle',
      'charge_automatically', 'USD', 2500, 2500, 0, 2500, 2500, 0, 1, 1, ${isoSql(secs)},
      ${isoSql(`${secs} + ${30 * DAY_S}`)}, ${isoSql(secs)}, 1, ${isoSql(secs)}, ${secs}, ${isoSql(secs)},
      'seed-stripe-invoice-' || n FROM s`;
}

/** Subscriptions start in the first year; every fifth is cancelled 200 days after it started. */
const subscriptionStart = (n = "n") =>
  `(${HISTORY_START_MS / 1000} + CAST(${n} * ${stepMs(COUNTS.rechargeSubscriptions) / 2} / 1000.0 AS INTEGER))`;

function rechargeCustomersSql(from: number, to: number): string {
  const at = isoSql(subscriptionStart());
  return `INSERT INTO recharge_customers (id, email, first_name, last_name, status, subscriptions_active_count,
      subscriptions_total_count, has_valid_payment_method, has_payment_method_in_dunning, created_at, updated_at,
      last_event_id)
    ${counter(from, to)}
    SELECT CAST(700000000 + n AS TEXT), 'sub' || n || '@example.com', 'Sub' || n, 'Scriber', 'active', 1, 1, 1, 0,
      ${at}, ${at}, 'seed-recharge-customer-' || n FROM s`;
}

function rechargeSubscriptionsSql(from: number, to: number): string {
  const start = subscriptionStart();
  const cancelled = `CASE WHEN n % 5 = 0 THEN ${isoSql(`${start} + ${200 * DAY_S}`)} END`;
  return `INSERT INTO recharge_subscriptions (id, customer_id, email, address_id, status, product_title, sku, currency,
      price_minor, price_decimal, quantity, order_interval_unit, order_interval_frequency, charge_interval_frequency,
      next_charge_scheduled_at, is_prepaid, is_skippable, is_swappable, max_retries_reached, cancelled_at,
      cancellation_reason, created_at, updated_at, last_event_id)
    ${counter(from, to)}
    SELECT CAST(800000000 + n AS TEXT), CAST(700000000 + n AS TEXT), 'sub' || n || '@example.com',
      CAST(750000000 + n AS TEXT), CASE WHEN n % 5 = 0 THEN 'cancelled' ELSE 'active' END, 'Coffee box', 'SUB-BOX-1',
      'USD', 2500, '25.00', 1, 'month', 1, 1, ${isoSql(`${start} + ${400 * DAY_S}`)}, 0, 1, 1, 0, ${cancelled},
      CASE WHEN n % 5 = 0 THEN 'too expensive' END, ${isoSql(start)}, coalesce(${cancelled}, ${isoSql(start)}),
      'seed-recharge-subscription-' || n FROM s`;
}

/** Ten charges per subscription, every 20 days from its start (before any cancellation). */
function rechargeChargeRows(from: number, to: number): string {
  const per = COUNTS.rechargeChargesPerSubscription;
  return `${counter(from, to)} SELECT n, n / ${per} AS sub, ${isoSql(`${subscriptionStart(`(n / ${per})`)} + (n % ${per}) * ${20 * DAY_S}`)} AS t FROM s`;
}

function rechargeChargesSql(from: number, to: number): string {
  return `INSERT INTO recharge_charges (id, customer_id, email, address_id, status, type, currency, subtotal_minor,
      total_price_minor, total_tax_minor, total_discounts_minor, total_refunds_minor, total_line_items_price_minor,
      total_duties_minor, total_shipping_minor, line_item_count, scheduled_at, processed_at, charge_attempts,
      payment_processor, tags, created_at, updated_at, last_event_id)
    SELECT CAST(600000000 + n AS TEXT), CAST(700000000 + sub AS TEXT), 'sub' || sub || '@example.com',
      CAST(750000000 + sub AS TEXT), 'success', 'recurring', 'USD', 2500, 2990, 0, 0, 0, 2500, 0, 490, 1, t, t, 1,
      'stripe', 'Subscription, Subscription Recurring Order', t, t, 'seed-recharge-charge-' || n
    FROM (${rechargeChargeRows(from, to)})`;
}

function rechargeChargeLinesSql(from: number, to: number): string {
  return `INSERT INTO recharge_charge_line_items (charge_id, position, purchase_item_id, purchase_item_type, sku, title,
      quantity, currency, unit_price_minor, total_price_minor, tax_due_minor, updated_at, last_event_id)
    SELECT CAST(600000000 + n AS TEXT), 0, CAST(800000000 + sub AS TEXT), 'subscription', 'SUB-BOX-1', 'Coffee box',
      1, 'USD', 2500, 2500, 0, t, 'seed-recharge-charge-' || n
    FROM (${rechargeChargeRows(from, to)})`;
}

export interface SeedTiming {
  table: string;
  rows: number;
  ms: number;
}

/** Every entity table of the brand; returns how long each took. */
export async function seedTables(): Promise<SeedTiming[]> {
  const rechargeCharges = COUNTS.rechargeSubscriptions * COUNTS.rechargeChargesPerSubscription;
  // [table, records its statements count through, their statements]; line items are 5 per order.
  const steps: Array<[string, number, (from: number, to: number) => string[]]> = [
    ["shopify_customers", COUNTS.shopifyCustomers, (a, b) => [customersSql(a, b)]],
    ["identity (profiles, e-mails, identities)", COUNTS.shopifyCustomers, identitySql],
    ["shopify_orders", COUNTS.orders, (a, b) => [ordersSql(a, b)]],
    [`shopify_order_line_items (${LINES_PER_ORDER} per order)`, COUNTS.orders, (a, b) => [lineItemsSql(a, b)]],
    ["stripe_customers", COUNTS.stripeCustomers, (a, b) => [stripeCustomersSql(a, b)]],
    ["stripe_charges", COUNTS.stripeCharges, (a, b) => [stripeChargesSql(a, b)]],
    ["stripe_invoices", COUNTS.stripeInvoices, (a, b) => [stripeInvoicesSql(a, b)]],
    ["recharge_customers", COUNTS.rechargeSubscriptions, (a, b) => [rechargeCustomersSql(a, b)]],
    ["recharge_subscriptions", COUNTS.rechargeSubscriptions, (a, b) => [rechargeSubscriptionsSql(a, b)]],
    ["recharge_charges", rechargeCharges, (a, b) => [rechargeChargesSql(a, b)]],
    ["recharge_charge_line_items", rechargeCharges, (a, b) => [rechargeChargeLinesSql(a, b)]],
  ];
  const timings: SeedTiming[] = [];
  for (const [table, rows, sql] of steps) {
    const started = performance.now();
    await insertChunks(rows, sql);
    timings.push({
      table,
      rows: table.startsWith("shopify_order_line_items") ? rows * LINES_PER_ORDER : rows,
      ms: performance.now() - started,
    });
  }
  return timings;
}
