import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";

// A seeded data set, written straight into the tables, with every expected number worked out by
// hand in the comments. Tests share one local D1: the Shopify rows live in shops of their own
// (the Shopify views group by shop), and the Recharge rows, which carry no shop, use ids prefixed
// `avt-` and cohort months in 2014, a year no other test writes. Re-seeding deletes them first.
const SHOP = "avt-main.myshopify.com";
const OTHER_SHOP = "avt-other.myshopify.com";

interface Order {
  id: string;
  currency: string;
  total: number;
  discounts?: number;
  codes?: string[];
  source: string | null;
  country?: string | null;
  province?: string | null;
  test?: boolean;
  deleted?: boolean;
  cancelled?: boolean;
  shop?: string;
}
const ORDERS: Order[] = [
  { id: "1", currency: "USD", total: 10000, source: "web", country: "US", province: "CA" },
  {
    id: "2",
    currency: "USD",
    total: 5000,
    discounts: 500,
    codes: ["SAVE10"],
    source: "web",
    country: "US",
    province: "CA",
  },
  { id: "3", currency: "USD", total: 2550, source: "web", country: "US", province: "NY" },
  // A code worth nothing on the items (free shipping) still makes the order discounted.
  { id: "4", currency: "USD", total: 1999, codes: ["FREESHIP"], source: "pos", country: "US", province: "NY" },
  { id: "5", currency: "USD", total: 3001, source: null, country: null, province: null },
  {
    id: "6",
    currency: "EUR",
    total: 4000,
    discounts: 1000,
    codes: ["WINTER"],
    source: "web",
    country: "DE",
    province: "BE",
  },
  { id: "7", currency: "EUR", total: 2001, source: "web", country: "DE", province: "BE" },
  // Zero-decimal currency: 12000 is ¥12,000; it is never added to USD or EUR.
  { id: "8", currency: "JPY", total: 12000, source: "web", country: "JP", province: "13" },
  // Left out: a test order, a deleted one, a cancelled one.
  { id: "9", currency: "USD", total: 99900, source: "web", country: "US", province: "CA", test: true },
  { id: "10", currency: "USD", total: 88800, source: "web", country: "US", province: "CA", deleted: true },
  { id: "11", currency: "USD", total: 77700, source: "web", country: "US", province: "CA", cancelled: true },
  // Another shop: never mixed into SHOP's rows.
  { id: "12", currency: "USD", total: 7000, source: "web", country: "US", province: "CA", shop: OTHER_SHOP },
];

// Recharge: subscriptions [id, customer, created, cancelled, deleted].
type Sub = [id: string, customer: string, created: string, cancelled: string | null, deleted?: boolean];
const SUBS: Sub[] = [
  ["s1", "c1", "2014-01-05", "2014-03-10"], // c1: cohort 2014-01, churns 2014-03
  ["s2", "c2", "2014-01-20", null], // c2: cohort 2014-01, one subscription still active: never churns
  ["s3", "c2", "2014-02-01", "2014-02-15"],
  ["s4", "c3", "2014-01-25", "2014-01-28"], // c3: cohort 2014-01, churns in its first month
  ["s5", "c4", "2014-01-02", "2014-02-10"], // c4: cohort 2014-01, churns at its last cancellation, 2014-04
  ["s6", "c4", "2014-02-05", "2014-04-01"],
  ["s7", "c5", "2014-01-03", null, true], // deleted: c5 is nobody's customer
  ["s8", "c6", "2014-02-11", "2014-03-02"], // c6: cohort 2014-02, churns 2014-03
  ["s9", "c7", "2014-02-20", null], // c7: cohort 2014-02, active
  ["s10", "c8", "2014-06-15", null], // c8: cohort 2014-06; also makes 2014-06 the data's latest month at least
];
// Charges [id, status, deleted, subscriptions of its line items].
type Charge = [id: string, status: string, deleted: boolean, lines: string[]];
const CHARGES: Charge[] = [
  ["ch1", "success", false, ["s1"]],
  ["ch2", "success", false, ["s1"]],
  ["ch3", "error", false, ["s1"]], // failed: not a rebill
  ["ch4", "success", false, ["s2"]],
  ["ch5", "success", false, ["s2"]],
  ["ch6", "refunded", false, ["s2"]], // went through, refunded later: counts
  ["ch7", "success", true, ["s2"]], // deleted: does not count
  ["ch8", "error", false, ["s4"]],
  ["ch9", "success", false, ["s5"]],
  ["ch10", "success", false, ["s3"]],
  ["ch11", "success", false, ["s6"]],
  ["ch12", "success", false, ["s6"]],
  ["ch13", "success", false, ["s9", "s9"]], // two lines of one subscription: one charge
  ["ch14", "success", false, ["s6", "s8"]], // one charge rebilling two subscriptions
];

const p = (id: string) => `avt-${id}`;

async function seed() {
  const db = env.DB;
  const t = "2014-07-01T00:00:00.000Z";
  const statements: D1PreparedStatement[] = [
    db.prepare("DELETE FROM shopify_orders WHERE shop IN (?, ?)").bind(SHOP, OTHER_SHOP),
    db.prepare("DELETE FROM recharge_subscriptions WHERE id LIKE 'avt-%'"),
    db.prepare("DELETE FROM recharge_charges WHERE id LIKE 'avt-%'"),
    db.prepare("DELETE FROM recharge_charge_line_items WHERE charge_id LIKE 'avt-%'"),
  ];
  for (const o of ORDERS) {
    statements.push(
      db
        .prepare(
          `INSERT INTO shopify_orders (shop, id, currency, total_price_minor, total_discounts_minor, discount_codes,
            source_name, shipping_country_code, shipping_province_code, test, deleted_at, cancelled_at, created_at,
            updated_at, last_event_id, event_at, origin)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '2026-10-01T00:00:00.000Z', ?, 'seed', ?, 'webhook')`,
        )
        .bind(
          o.shop ?? SHOP,
          o.id,
          o.currency,
          o.total,
          o.discounts ?? 0,
          JSON.stringify(o.codes ?? []),
          o.source,
          o.country ?? null,
          o.province ?? null,
          o.test ? 1 : 0,
          o.deleted ? t : null,
          o.cancelled ? t : null,
          t,
          t,
        ),
    );
  }
  for (const [id, customer, created, cancelled, deleted] of SUBS) {
    statements.push(
      db
        .prepare(
          `INSERT INTO recharge_subscriptions (id, customer_id, status, created_at, cancelled_at, deleted_at,
            updated_at, last_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, 'seed')`,
        )
        .bind(
          p(id),
          p(customer),
          cancelled ? "cancelled" : "active",
          `${created}T12:00:00.000Z`,
          cancelled ? `${cancelled}T12:00:00.000Z` : null,
          deleted ? t : null,
          t,
        ),
    );
  }
  for (const [id, status, deleted, lines] of CHARGES) {
    statements.push(
      db
        .prepare(
          `INSERT INTO recharge_charges (id, status, currency, total_price_minor, deleted_at, updated_at, last_event_id)
           VALUES (?, ?, 'USD', 2000, ?, ?, 'seed')`,
        )
        .bind(p(id), status, deleted ? t : null, t),
      ...lines.map((sub, position) =>
        db
          .prepare(
            `INSERT INTO recharge_charge_line_items (charge_id, position, purchase_item_id, purchase_item_type,
              updated_at, last_event_id) VALUES (?, ?, ?, 'subscription', ?, 'seed')`,
          )
          .bind(p(id), position, p(sub), t),
      ),
    );
  }
  await db.batch(statements);
}

async function rows(sql: string, ...params: unknown[]) {
  return (
    await env.DB.prepare(sql)
      .bind(...params)
      .all<Record<string, unknown>>()
  ).results;
}

beforeAll(seed);

describe("Shopify order views (per shop, per currency; test, deleted and cancelled orders left out)", () => {
  it("analytics_revenue_by_source: orders, revenue and average order value per source and currency", async () => {
    expect(
      await rows(
        `SELECT source_name, currency, orders, revenue_minor, average_order_value_minor
         FROM analytics_revenue_by_source WHERE shop = ? ORDER BY currency, source_name`,
        SHOP,
      ),
    ).toEqual([
      // EUR web: orders 6, 7 → 4000 + 2001 = 6001; 6001 / 2 = 3000.5 → 3001 (half away from zero).
      { source_name: "web", currency: "EUR", orders: 2, revenue_minor: 6001, average_order_value_minor: 3001 },
      // JPY web: order 8 alone.
      { source_name: "web", currency: "JPY", orders: 1, revenue_minor: 12000, average_order_value_minor: 12000 },
      // USD without a source: order 5 (NULL sorts first).
      { source_name: null, currency: "USD", orders: 1, revenue_minor: 3001, average_order_value_minor: 3001 },
      // USD pos: order 4.
      { source_name: "pos", currency: "USD", orders: 1, revenue_minor: 1999, average_order_value_minor: 1999 },
      // USD web: orders 1, 2, 3 → 10000 + 5000 + 2550 = 17550; / 3 = 5850. Orders 9-11 excluded.
      { source_name: "web", currency: "USD", orders: 3, revenue_minor: 17550, average_order_value_minor: 5850 },
    ]);
  });

  it("analytics_discounted_orders: discounted (amount or code) against full price, with the share of orders", async () => {
    expect(
      await rows(
        `SELECT currency, discounted, orders, revenue_minor, discounts_minor, average_order_value_minor, share_of_orders
         FROM analytics_discounted_orders WHERE shop = ? ORDER BY currency, discounted`,
        SHOP,
      ),
    ).toEqual([
      // EUR: order 7 full price (2001); order 6 discounted (4000, discount 1000); 1 of 2 each.
      {
        currency: "EUR",
        discounted: 0,
        orders: 1,
        revenue_minor: 2001,
        discounts_minor: 0,
        average_order_value_minor: 2001,
        share_of_orders: 0.5,
      },
      {
        currency: "EUR",
        discounted: 1,
        orders: 1,
        revenue_minor: 4000,
        discounts_minor: 1000,
        average_order_value_minor: 4000,
        share_of_orders: 0.5,
      },
      {
        currency: "JPY",
        discounted: 0,
        orders: 1,
        revenue_minor: 12000,
        discounts_minor: 0,
        average_order_value_minor: 12000,
        share_of_orders: 1,
      },
      // USD full price: orders 1, 3, 5 → 10000 + 2550 + 3001 = 15551; / 3 = 5183.67 → 5184; 3 of 5 = 0.6.
      {
        currency: "USD",
        discounted: 0,
        orders: 3,
        revenue_minor: 15551,
        discounts_minor: 0,
        average_order_value_minor: 5184,
        share_of_orders: 0.6,
      },
      // USD discounted: orders 2 (500 off) and 4 (a code, nothing off the items) → 5000 + 1999 = 6999;
      // / 2 = 3499.5 → 3500; 2 of 5 = 0.4.
      {
        currency: "USD",
        discounted: 1,
        orders: 2,
        revenue_minor: 6999,
        discounts_minor: 500,
        average_order_value_minor: 3500,
        share_of_orders: 0.4,
      },
    ]);
  });

  it("analytics_orders_by_region: orders and revenue per shipping country and province", async () => {
    expect(
      await rows(
        `SELECT country_code, province_code, currency, orders, revenue_minor, average_order_value_minor
         FROM analytics_orders_by_region WHERE shop = ? ORDER BY country_code, province_code, currency`,
        SHOP,
      ),
    ).toEqual([
      // Order 5 has no shipping address.
      {
        country_code: null,
        province_code: null,
        currency: "USD",
        orders: 1,
        revenue_minor: 3001,
        average_order_value_minor: 3001,
      },
      // Orders 6, 7: 6001, / 2 = 3000.5 → 3001.
      {
        country_code: "DE",
        province_code: "BE",
        currency: "EUR",
        orders: 2,
        revenue_minor: 6001,
        average_order_value_minor: 3001,
      },
      {
        country_code: "JP",
        province_code: "13",
        currency: "JPY",
        orders: 1,
        revenue_minor: 12000,
        average_order_value_minor: 12000,
      },
      // Orders 1, 2: 10000 + 5000 = 15000 (9, 10, 11 excluded; 12 is the other shop's).
      {
        country_code: "US",
        province_code: "CA",
        currency: "USD",
        orders: 2,
        revenue_minor: 15000,
        average_order_value_minor: 7500,
      },
      // Orders 3, 4: 2550 + 1999 = 4549; / 2 = 2274.5 → 2275.
      {
        country_code: "US",
        province_code: "NY",
        currency: "USD",
        orders: 2,
        revenue_minor: 4549,
        average_order_value_minor: 2275,
      },
    ]);
    expect(
      await rows("SELECT orders, revenue_minor FROM analytics_orders_by_region WHERE shop = ?", OTHER_SHOP),
    ).toEqual([{ orders: 1, revenue_minor: 7000 }]);
  });
});

describe("Recharge subscription views", () => {
  it("analytics_subscription_churn_by_cohort: monthly churn of each acquisition cohort", async () => {
    expect(
      await rows(
        `SELECT cohort_month, month, months_since_acquisition AS n, cohort_customers, active_at_start, churned, churn_rate
         FROM analytics_subscription_churn_by_cohort
         WHERE cohort_month BETWEEN '2014-01' AND '2014-06' AND month <= '2014-06' ORDER BY cohort_month, month`,
      ),
    ).toEqual([
      // Cohort 2014-01 = c1, c2, c3, c4 (c5's only subscription is deleted). Churn months: c1 03,
      // c3 01, c4 04 (its last cancellation), c2 never (s2 still active though s3 was cancelled).
      {
        cohort_month: "2014-01",
        month: "2014-01",
        n: 0,
        cohort_customers: 4,
        active_at_start: 4,
        churned: 1,
        churn_rate: 0.25,
      },
      {
        cohort_month: "2014-01",
        month: "2014-02",
        n: 1,
        cohort_customers: 4,
        active_at_start: 3,
        churned: 0,
        churn_rate: 0,
      },
      // 1 of c1, c2, c4.
      {
        cohort_month: "2014-01",
        month: "2014-03",
        n: 2,
        cohort_customers: 4,
        active_at_start: 3,
        churned: 1,
        churn_rate: 0.3333,
      },
      {
        cohort_month: "2014-01",
        month: "2014-04",
        n: 3,
        cohort_customers: 4,
        active_at_start: 2,
        churned: 1,
        churn_rate: 0.5,
      },
      {
        cohort_month: "2014-01",
        month: "2014-05",
        n: 4,
        cohort_customers: 4,
        active_at_start: 1,
        churned: 0,
        churn_rate: 0,
      },
      {
        cohort_month: "2014-01",
        month: "2014-06",
        n: 5,
        cohort_customers: 4,
        active_at_start: 1,
        churned: 0,
        churn_rate: 0,
      },
      // Cohort 2014-02 = c6 (churns 03), c7 (active). c2's February subscription belongs to its January cohort.
      {
        cohort_month: "2014-02",
        month: "2014-02",
        n: 0,
        cohort_customers: 2,
        active_at_start: 2,
        churned: 0,
        churn_rate: 0,
      },
      {
        cohort_month: "2014-02",
        month: "2014-03",
        n: 1,
        cohort_customers: 2,
        active_at_start: 2,
        churned: 1,
        churn_rate: 0.5,
      },
      {
        cohort_month: "2014-02",
        month: "2014-04",
        n: 2,
        cohort_customers: 2,
        active_at_start: 1,
        churned: 0,
        churn_rate: 0,
      },
      {
        cohort_month: "2014-02",
        month: "2014-05",
        n: 3,
        cohort_customers: 2,
        active_at_start: 1,
        churned: 0,
        churn_rate: 0,
      },
      {
        cohort_month: "2014-02",
        month: "2014-06",
        n: 4,
        cohort_customers: 2,
        active_at_start: 1,
        churned: 0,
        churn_rate: 0,
      },
      // Cohort 2014-06 = c8, active.
      {
        cohort_month: "2014-06",
        month: "2014-06",
        n: 0,
        cohort_customers: 1,
        active_at_start: 1,
        churned: 0,
        churn_rate: 0,
      },
    ]);
  });

  it("analytics_subscription_retention: share of each cohort's subscriptions reaching the nth successful charge", async () => {
    expect(
      await rows(
        `SELECT cohort_month, rebill_number, cohort_subscriptions, subscriptions_charged, retention_rate
         FROM analytics_subscription_retention WHERE cohort_month BETWEEN '2014-01' AND '2014-12'
         ORDER BY cohort_month, rebill_number`,
      ),
    ).toEqual([
      // Cohort 2014-01 = s1, s2, s4, s5 (s7 deleted). Successful charges: s1 2 (ch1, ch2; ch3 failed),
      // s2 3 (ch4, ch5, ch6 refunded; ch7 deleted), s4 0 (ch8 failed), s5 1 (ch9).
      {
        cohort_month: "2014-01",
        rebill_number: 1,
        cohort_subscriptions: 4,
        subscriptions_charged: 3,
        retention_rate: 0.75,
      },
      {
        cohort_month: "2014-01",
        rebill_number: 2,
        cohort_subscriptions: 4,
        subscriptions_charged: 2,
        retention_rate: 0.5,
      },
      {
        cohort_month: "2014-01",
        rebill_number: 3,
        cohort_subscriptions: 4,
        subscriptions_charged: 1,
        retention_rate: 0.25,
      },
      // Cohort 2014-02 = s3, s6, s8, s9: s3 1 (ch10), s6 3 (ch11, ch12, ch14), s8 1 (ch14), s9 1 (ch13's two lines).
      {
        cohort_month: "2014-02",
        rebill_number: 1,
        cohort_subscriptions: 4,
        subscriptions_charged: 4,
        retention_rate: 1,
      },
      {
        cohort_month: "2014-02",
        rebill_number: 2,
        cohort_subscriptions: 4,
        subscriptions_charged: 1,
        retention_rate: 0.25,
      },
      {
        cohort_month: "2014-02",
        rebill_number: 3,
        cohort_subscriptions: 4,
        subscriptions_charged: 1,
        retention_rate: 0.25,
      },
      // Cohort 2014-06 (s10) has no successful charge yet: no rows.
    ]);
  });
});
