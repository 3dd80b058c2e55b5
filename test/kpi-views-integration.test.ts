import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { subscriptionMrrHistory } from "../src/shared/schema/kpi";
import { expectMatchesMigration } from "./helpers/schema-match";

// A seeded data set for the KPI views (migrations/0060_kpi_views.sql), written straight into the
// tables, with every expected number worked out by hand in the comments. Tests share one local
// D1, so this set uses currencies no other test writes (XTS, XBB: ISO's codes for testing, and XBA
// for the at-risk subscriptions), ids prefixed `kpi-` and dates in 2012.
const T = (day: string) => `${day}T12:00:00.000Z`;
const STAMP = "2012-12-31T00:00:00.000Z";
type Row = Record<string, string | number | null>;

function insert(table: string, row: Row): D1PreparedStatement {
  const cols = Object.keys(row);
  return env.DB.prepare(`INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`).bind(
    ...Object.values(row),
  );
}
async function rows(sql: string, ...params: unknown[]) {
  return (
    await env.DB.prepare(sql)
      .bind(...params)
      .all<Record<string, unknown>>()
  ).results;
}

const recharge = (id: string, r: Row): Row => ({
  id: `kpi-${id}`,
  order_interval_unit: "month",
  quantity: 1,
  updated_at: r.created_at ?? STAMP,
  last_event_id: "seed",
  ...r,
});
const stripe = (id: string, r: Row): Row => ({
  id: `kpi-${id}`,
  quantity: 1,
  price_interval: "month",
  price_interval_count: 1,
  livemode: 1,
  event_created: 1,
  updated_at: r.start_date ?? STAMP,
  last_event_id: "seed",
  ...r,
});

// MRR in XTS. Recharge R1..R4, Stripe S1..S5; MRR per subscription (amount x quantity per interval,
// normalized to a month and rounded):
//   R1 1000 x 2, monthly                      = 2000 from 01-10; quantity 3 from 02-20 = 3000
//   R2 3000, billed every 3 months            = 1000 from 01-15; price 1500 from 03-05 = 500
//   R3 1200 weekly = 1200 x 52 / 12           = 5200 from 01-20, cancelled 02-10, active again 04-02
//   R4 999 every 30 days = 999 x 365 / 12 / 30 = 1012.875 -> 1013 from 02-05
//   S1 12000 yearly                           = 1000 from 01-05
//   S2 2500 x 2 monthly, trial to 01-15       = 5000 from 01-15 (trial end, not start), ended 03-01
//   S3 trialing from 02-01 (nothing), active 1000 monthly from 02-15
//   S4 test mode, S5 deleted: left out. XBB: S6 700 every 2 weeks = 700 x 52 / 12 / 2 = 1516.67 -> 1517.
const SUBSCRIPTIONS: D1PreparedStatement[] = [
  insert(
    "recharge_subscriptions",
    recharge("r1", {
      status: "active",
      currency: "XTS",
      price_minor: 1000,
      quantity: 2,
      charge_interval_frequency: 1,
      created_at: T("2012-01-10"),
    }),
  ),
  insert(
    "recharge_subscriptions",
    recharge("r2", {
      status: "active",
      currency: "XTS",
      price_minor: 3000,
      charge_interval_frequency: 3,
      order_interval_frequency: 1,
      created_at: T("2012-01-15"),
    }),
  ),
  insert(
    "recharge_subscriptions",
    recharge("r3", {
      status: "cancelled",
      currency: "XTS",
      price_minor: 1200,
      order_interval_unit: "week",
      charge_interval_frequency: 1,
      created_at: T("2012-01-20"),
      cancelled_at: T("2012-02-10"),
      updated_at: T("2012-02-10"),
    }),
  ),
  insert(
    "recharge_subscriptions",
    recharge("r4", {
      status: "active",
      currency: "XTS",
      price_minor: 999,
      order_interval_unit: "day",
      charge_interval_frequency: 30,
      created_at: T("2012-02-05"),
    }),
  ),
  insert(
    "stripe_subscriptions",
    stripe("s1", {
      status: "active",
      currency: "XTS",
      unit_amount_minor: 12000,
      price_interval: "year",
      start_date: T("2012-01-05"),
    }),
  ),
  insert(
    "stripe_subscriptions",
    stripe("s2", {
      status: "canceled",
      currency: "XTS",
      unit_amount_minor: 2500,
      quantity: 2,
      start_date: T("2012-01-01"),
      trial_end: T("2012-01-15"),
      canceled_at: T("2012-02-20"),
      ended_at: T("2012-03-01"),
      updated_at: T("2012-03-01"),
    }),
  ),
  insert(
    "stripe_subscriptions",
    stripe("s3", {
      status: "trialing",
      currency: "XTS",
      unit_amount_minor: 1000,
      start_date: T("2012-02-01"),
      trial_end: T("2012-02-15"),
    }),
  ),
  insert(
    "stripe_subscriptions",
    stripe("s4", {
      status: "active",
      currency: "XTS",
      unit_amount_minor: 90000,
      start_date: T("2012-01-05"),
      livemode: 0,
    }),
  ),
  insert(
    "stripe_subscriptions",
    stripe("s5", {
      status: "active",
      currency: "XTS",
      unit_amount_minor: 80000,
      start_date: T("2012-01-05"),
      deleted_at: STAMP,
    }),
  ),
  insert(
    "stripe_subscriptions",
    stripe("s6", {
      status: "active",
      currency: "XBB",
      unit_amount_minor: 700,
      price_interval: "week",
      price_interval_count: 2,
      start_date: T("2012-01-03"),
    }),
  ),
];
// Later versions, written like the consumer's upserts that apply (UPDATE of the stored row).
const UPDATES: D1PreparedStatement[] = [
  env.DB.prepare("UPDATE recharge_subscriptions SET quantity = 3, updated_at = ? WHERE id = 'kpi-r1'").bind(
    T("2012-02-20"),
  ),
  env.DB.prepare("UPDATE stripe_subscriptions SET status = 'active', updated_at = ? WHERE id = 'kpi-s3'").bind(
    T("2012-02-15"),
  ),
  env.DB.prepare("UPDATE recharge_subscriptions SET price_minor = 1500, updated_at = ? WHERE id = 'kpi-r2'").bind(
    T("2012-03-05"),
  ),
  env.DB.prepare(
    "UPDATE recharge_subscriptions SET status = 'active', cancelled_at = NULL, updated_at = ? WHERE id = 'kpi-r3'",
  ).bind(T("2012-04-02")),
  // A redelivery (same values) and a change MRR does not depend on: no history.
  env.DB.prepare("UPDATE recharge_subscriptions SET quantity = 3, updated_at = ? WHERE id = 'kpi-r1'").bind(
    T("2012-05-01"),
  ),
  env.DB.prepare("UPDATE stripe_subscriptions SET metadata = '{}', updated_at = ? WHERE id = 'kpi-s1'").bind(
    T("2012-05-01"),
  ),
];

// Customers in XTS (and one XBB charge), ten profiles p1..p10, Shopify shop kpi-shop.
const SHOP = "kpi-shop.myshopify.com";
const profile = (n: number) => [
  insert("customer_profiles", {
    id: `kpi-p${n}`,
    email: `p${n}@kpi.test`,
    created_at: STAMP,
    updated_at: STAMP,
    last_event_id: "seed",
  }),
  insert("customer_profile_emails", {
    email: `p${n}@kpi.test`,
    profile_id: `kpi-p${n}`,
    created_at: STAMP,
    last_event_id: "seed",
  }),
];
const identity = (source: string, externalId: string, shop: string, n: number) =>
  insert("customer_identities", {
    source,
    external_id: externalId,
    shop,
    profile_id: `kpi-p${n}`,
    email: `p${n}@kpi.test`,
    matched_by: "email",
    created_at: STAMP,
    updated_at: STAMP,
    last_event_id: "seed",
  });
const order = (id: string, r: Row) =>
  insert("shopify_orders", {
    shop: SHOP,
    id: `kpi-${id}`,
    currency: "XTS",
    test: 0,
    updated_at: STAMP,
    last_event_id: "seed",
    event_at: STAMP,
    origin: "webhook",
    ...r,
  });
const rcharge = (id: string, r: Row, sub: string | null) => [
  insert("recharge_charges", { id: `kpi-${id}`, currency: "XTS", updated_at: STAMP, last_event_id: "seed", ...r }),
  ...(sub
    ? [
        insert("recharge_charge_line_items", {
          charge_id: `kpi-${id}`,
          position: 0,
          purchase_item_id: `kpi-${sub}`,
          updated_at: STAMP,
          last_event_id: "seed",
        }),
      ]
    : []),
];
const scharge = (id: string, r: Row) =>
  insert("stripe_charges", {
    id: `kpi-${id}`,
    currency: "XTS",
    livemode: 1,
    event_created: 1,
    updated_at: STAMP,
    last_event_id: "seed",
    ...r,
  });

const CUSTOMERS: D1PreparedStatement[] = [
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].flatMap(profile),
  identity("shopify", "kpi-c1", SHOP, 1),
  identity("recharge", "kpi-rc1", "", 1),
  identity("stripe", "kpi-cus2", "", 2),
  identity("recharge", "kpi-rc3", "", 3),
  ...[3, 4, 5, 6, 7, 8, 9, 10].map((n) => identity("shopify", `kpi-c${n}`, SHOP, n)),
  // p1: o1 5000 refunded 1500; o2 3000 paid by Recharge charge rc1 (so rc1 is not counted again:
  // the order is the sale); rc2 3000 whose Shopify order is not stored (the charge is the sale);
  // a test order and a cancelled one left out. 3 orders, gross 11000, refunded 1500, net 9500.
  order("o1", { customer_id: "kpi-c1", total_price_minor: 5000, created_at: T("2012-01-10") }),
  insert("shopify_refunds", {
    shop: SHOP,
    id: "kpi-rf1",
    order_id: "kpi-o1",
    currency: "XTS",
    refunded_amount_minor: 1500,
    updated_at: STAMP,
    last_event_id: "seed",
    event_at: STAMP,
    origin: "webhook",
  }),
  order("o2", { customer_id: "kpi-c1", total_price_minor: 3000, created_at: T("2012-02-10") }),
  order("o3", { customer_id: "kpi-c1", total_price_minor: 99999, created_at: T("2012-02-11"), test: 1 }),
  order("o4", {
    customer_id: "kpi-c1",
    total_price_minor: 88888,
    created_at: T("2012-02-12"),
    cancelled_at: T("2012-02-13"),
  }),
  // Recharge charges of subscription ar1 (p1): rc0 failed before any success, rc1 and rc2 are
  // rebills 1 and 2, rc3 and rc4 failed after the last success (at risk, 2 failed charges).
  insert(
    "recharge_subscriptions",
    recharge("ar1", {
      customer_id: "kpi-rc1",
      status: "active",
      currency: "XBA",
      price_minor: 3000,
      charge_interval_frequency: 1,
      created_at: T("2012-01-30"),
    }),
  ),
  ...rcharge(
    "rc0",
    { customer_id: "kpi-rc1", status: "error", total_price_minor: 3000, processed_at: T("2012-02-01") },
    "ar1",
  ),
  ...rcharge(
    "rc1",
    {
      customer_id: "kpi-rc1",
      status: "success",
      total_price_minor: 3000,
      processed_at: T("2012-02-10"),
      shopify_order_id: "kpi-o2",
    },
    "ar1",
  ),
  ...rcharge(
    "rc2",
    {
      customer_id: "kpi-rc1",
      status: "success",
      total_price_minor: 3000,
      processed_at: T("2012-03-10"),
      shopify_order_id: "kpi-not-stored",
    },
    "ar1",
  ),
  ...rcharge(
    "rc3",
    { customer_id: "kpi-rc1", status: "error", total_price_minor: 3000, processed_at: T("2012-04-10") },
    "ar1",
  ),
  ...rcharge(
    "rc4",
    { customer_id: "kpi-rc1", status: "error", total_price_minor: 3000, processed_at: T("2012-04-13") },
    "ar1",
  ),
  // p2: Stripe ch1 4000 refunded 1000, paid invoice of a subscription (rebill 1); a guest Shopify
  // order o5 2000 by p2's email; left out: ch2 failed, ch3 test mode, ch4 naming the stored Shopify
  // order o1. 2 orders, gross 6000, refunded 1000, net 5000. In XBB: ch5 500.
  insert("stripe_invoices", {
    id: "kpi-inv1",
    customer_id: "kpi-cus2",
    subscription_id: "kpi-ss1",
    charge_id: "kpi-ch1",
    status: "paid",
    currency: "XTS",
    paid_at: T("2012-01-20"),
    event_created: 1,
    updated_at: STAMP,
    last_event_id: "seed",
  }),
  scharge("ch1", {
    customer_id: "kpi-cus2",
    invoice_id: "kpi-inv1",
    status: "succeeded",
    amount_minor: 4000,
    amount_captured_minor: 4000,
    amount_refunded_minor: 1000,
    created_at: T("2012-01-20"),
  }),
  scharge("ch2", { customer_id: "kpi-cus2", status: "failed", amount_minor: 7000, created_at: T("2012-01-21") }),
  scharge("ch3", {
    customer_id: "kpi-cus2",
    status: "succeeded",
    amount_minor: 7000,
    livemode: 0,
    created_at: T("2012-01-22"),
  }),
  scharge("ch4", {
    customer_id: "kpi-cus2",
    status: "succeeded",
    amount_minor: 7000,
    metadata_order_id: "kpi-o1",
    created_at: T("2012-01-23"),
  }),
  scharge("ch5", {
    customer_id: "kpi-cus2",
    status: "succeeded",
    amount_minor: 500,
    currency: "XBB",
    created_at: T("2012-03-01"),
  }),
  order("o5", { email: "p2@kpi.test", total_price_minor: 2000, created_at: T("2012-02-01") }),
  // p3..p10: one order each of 100 x (n - 2): 100 .. 800.
  ...[3, 4, 5, 6, 7, 8, 9, 10].map((n) =>
    order(`o${n + 10}`, { customer_id: `kpi-c${n}`, total_price_minor: 100 * (n - 2), created_at: T("2012-05-01") }),
  ),
  // At risk besides ar1: ar2 (p3) reached max retries; not at risk: ar3 (p3) whose failure came
  // before a success, ar4 (p3) cancelled; Stripe ss1 (p2) past_due is, ss2 (p2) active is not.
  insert(
    "recharge_subscriptions",
    recharge("ar2", {
      customer_id: "kpi-rc3",
      status: "active",
      currency: "XBA",
      price_minor: 100,
      max_retries_reached: 1,
      created_at: T("2012-01-30"),
    }),
  ),
  insert(
    "recharge_subscriptions",
    recharge("ar3", {
      customer_id: "kpi-rc3",
      status: "active",
      currency: "XBA",
      price_minor: 100,
      created_at: T("2012-01-30"),
    }),
  ),
  ...rcharge("rc5", { customer_id: "kpi-rc3", status: "error", processed_at: T("2012-02-01") }, "ar3"),
  ...rcharge("rc6", { customer_id: "kpi-rc3", status: "success", processed_at: T("2012-02-02") }, "ar3"),
  insert(
    "recharge_subscriptions",
    recharge("ar4", {
      customer_id: "kpi-rc3",
      status: "cancelled",
      currency: "XBA",
      price_minor: 100,
      created_at: T("2012-01-30"),
      cancelled_at: T("2012-02-01"),
    }),
  ),
  ...rcharge("rc7", { customer_id: "kpi-rc3", status: "error", processed_at: T("2012-02-05") }, "ar4"),
  insert(
    "stripe_subscriptions",
    stripe("ss1", {
      customer_id: "kpi-cus2",
      status: "past_due",
      currency: "XBA",
      unit_amount_minor: 4000,
      start_date: T("2012-01-20"),
    }),
  ),
  insert(
    "stripe_subscriptions",
    stripe("ss2", {
      customer_id: "kpi-cus2",
      status: "active",
      currency: "XBA",
      unit_amount_minor: 4000,
      start_date: T("2012-01-20"),
    }),
  ),
];

// Attribution, shop kpi-attr: a1, a2, a7 subscription orders from google/cpc/spring landing on
// /products/x (a2's landing site a full URL, a7 a subscription because a Recharge charge made it);
// a3 one-time from the same campaign; a4 and a5 one guest (emails differ in case and spaces) with
// no UTM and no landing site; a6 a test order.
const ATTR = "kpi-attr.myshopify.com";
const attr = (id: string, r: Row) =>
  insert("shopify_orders", {
    shop: ATTR,
    id: `kpi-${id}`,
    currency: "XTS",
    test: 0,
    updated_at: STAMP,
    last_event_id: "seed",
    event_at: STAMP,
    origin: "webhook",
    created_at: T("2012-06-01"),
    ...r,
  });
const google = { utm_source: "google", utm_medium: "cpc", utm_campaign: "spring" };
const ATTRIBUTION: D1PreparedStatement[] = [
  attr("a1", {
    ...google,
    landing_site: "/products/x?utm_source=google",
    customer_id: "kpi-ac1",
    total_price_minor: 1000,
    is_subscription: 1,
  }),
  attr("a2", {
    ...google,
    landing_site: "https://kpi-attr.myshopify.com/products/x?utm_source=google&x=1",
    customer_id: "kpi-ac2",
    total_price_minor: 2000,
    is_subscription: 1,
  }),
  attr("a3", {
    ...google,
    landing_site: "/products/x",
    customer_id: "kpi-ac1",
    total_price_minor: 500,
    is_subscription: 0,
  }),
  attr("a4", { email: " G@kpi.test ", total_price_minor: 700 }),
  attr("a5", { email: "g@kpi.test", total_price_minor: 300 }),
  attr("a6", { ...google, landing_site: "/products/x", customer_id: "kpi-ac9", total_price_minor: 99999, test: 1 }),
  attr("a7", { ...google, landing_site: "/products/x", customer_id: "kpi-ac3", total_price_minor: 1500 }),
  insert("recharge_charges", {
    id: "kpi-rc-a7",
    status: "success",
    shopify_order_id: "kpi-a7",
    updated_at: STAMP,
    last_event_id: "seed",
  }),
];

async function seed() {
  const clear = [
    "DELETE FROM recharge_subscriptions WHERE id LIKE 'kpi-%'",
    "DELETE FROM stripe_subscriptions WHERE id LIKE 'kpi-%'",
    "DELETE FROM subscription_mrr_history WHERE subscription_id LIKE 'kpi-%'",
    "DELETE FROM customer_profiles WHERE id LIKE 'kpi-%'",
    "DELETE FROM customer_profile_emails WHERE profile_id LIKE 'kpi-%'",
    "DELETE FROM customer_identities WHERE profile_id LIKE 'kpi-%'",
    "DELETE FROM shopify_orders WHERE id LIKE 'kpi-%'",
    "DELETE FROM shopify_refunds WHERE id LIKE 'kpi-%'",
    "DELETE FROM recharge_charges WHERE id LIKE 'kpi-%'",
    "DELETE FROM recharge_charge_line_items WHERE charge_id LIKE 'kpi-%'",
    "DELETE FROM stripe_charges WHERE id LIKE 'kpi-%'",
    "DELETE FROM stripe_invoices WHERE id LIKE 'kpi-%'",
  ].map((sql) => env.DB.prepare(sql));
  await env.DB.batch([...clear, ...SUBSCRIPTIONS, ...CUSTOMERS, ...ATTRIBUTION]);
  // One at a time, in order, as events would apply.
  for (const update of UPDATES) await update.run();
}

beforeAll(seed);

describe("subscription_mrr_history (written by triggers on the subscription tables)", () => {
  it("matches its drizzle definition", async () => {
    await expectMatchesMigration(subscriptionMrrHistory);
  });

  it("no trigger relies on its own conflict clause (the statement that fires it overrides that clause)", async () => {
    const triggers = await env.DB.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all<{
      name: string;
      sql: string;
    }>();
    expect(triggers.results.length).toBeGreaterThan(50);
    const offending = triggers.results
      .filter((t) => /\b(INSERT|UPDATE)\s+OR\s+(REPLACE|IGNORE|ABORT|FAIL|ROLLBACK)\b|\bREPLACE\s+INTO\b/i.test(t.sql))
      .map((t) => t.name);
    expect(offending).toEqual([]);
  });

  it("records starts, changes and ends, and nothing for a redelivery or an unrelated change", async () => {
    expect(
      await rows(
        `SELECT source, subscription_id AS id, substr(effective_at, 1, 10) AS day, paying, amount_minor AS amount
         FROM subscription_mrr_history WHERE subscription_id IN ('kpi-r1', 'kpi-r3', 'kpi-s1', 'kpi-s2', 'kpi-s3')
         ORDER BY subscription_id, effective_at`,
      ),
    ).toEqual([
      { source: "recharge", id: "kpi-r1", day: "2012-01-10", paying: 1, amount: 2000 },
      { source: "recharge", id: "kpi-r1", day: "2012-02-20", paying: 1, amount: 3000 },
      // First seen cancelled: paying from its start to its cancellation; then reactivated.
      { source: "recharge", id: "kpi-r3", day: "2012-01-20", paying: 1, amount: 1200 },
      { source: "recharge", id: "kpi-r3", day: "2012-02-10", paying: 0, amount: null },
      { source: "recharge", id: "kpi-r3", day: "2012-04-02", paying: 1, amount: 1200 },
      { source: "stripe", id: "kpi-s1", day: "2012-01-05", paying: 1, amount: 12000 },
      { source: "stripe", id: "kpi-s2", day: "2012-01-15", paying: 1, amount: 5000 },
      { source: "stripe", id: "kpi-s2", day: "2012-03-01", paying: 0, amount: null },
      { source: "stripe", id: "kpi-s3", day: "2012-02-15", paying: 1, amount: 1000 },
    ]);
  });
});

describe("MRR views", () => {
  it("analytics_mrr_by_day: MRR at the end of each day per currency, carried over days without change", async () => {
    const days = ["2012-01-05", "2012-01-16", "2012-02-10", "2012-02-28", "2012-03-31", "2012-04-02", "2013-06-01"];
    expect(
      await rows(
        `SELECT day, currency, mrr_minor, paying_subscriptions FROM analytics_mrr_by_day
         WHERE currency IN ('XTS', 'XBB') AND day IN (${days.map(() => "?").join(", ")}) ORDER BY currency, day`,
        ...days,
      ),
    ).toEqual([
      // XBB: S6 1517 from 01-03 on.
      ...days.map((day) => ({ day, currency: "XBB", mrr_minor: 1517, paying_subscriptions: 1 })),
      // 01-05: S1 1000. 01-16: + R1 2000 (01-10), R2 1000 and S2 5000 (01-15) = 9000.
      { day: "2012-01-05", currency: "XTS", mrr_minor: 1000, paying_subscriptions: 1 },
      { day: "2012-01-16", currency: "XTS", mrr_minor: 9000, paying_subscriptions: 4 },
      // + R3 5200 (01-20), R4 1013 (02-05), R3 cancelled 02-10: 9000 + 5200 + 1013 - 5200 = 10013.
      { day: "2012-02-10", currency: "XTS", mrr_minor: 10013, paying_subscriptions: 5 },
      // + S3 1000 (02-15), R1 +1000 (02-20) = 12013.
      { day: "2012-02-28", currency: "XTS", mrr_minor: 12013, paying_subscriptions: 6 },
      // S2 ended 03-01 (-5000), R2 down to 500 (-500) = 6513.
      { day: "2012-03-31", currency: "XTS", mrr_minor: 6513, paying_subscriptions: 5 },
      // R3 active again 04-02: + 5200 = 11713, and so on after (the update of S1's metadata changes nothing).
      { day: "2012-04-02", currency: "XTS", mrr_minor: 11713, paying_subscriptions: 6 },
      { day: "2013-06-01", currency: "XTS", mrr_minor: 11713, paying_subscriptions: 6 },
    ]);
    // No row before a currency's first change.
    expect(await rows("SELECT * FROM analytics_mrr_by_day WHERE currency = 'XTS' AND day = '2012-01-04'")).toEqual([]);
  });

  it("analytics_mrr_movements: new, reactivation, expansion, contraction and churn per month", async () => {
    expect(
      await rows(
        `SELECT month, currency, new_mrr_minor AS new, reactivation_mrr_minor AS react, expansion_mrr_minor AS exp,
           contraction_mrr_minor AS con, churned_mrr_minor AS churn, net_new_mrr_minor AS net,
           new_subscriptions AS new_subs, churned_subscriptions AS churned_subs
         FROM analytics_mrr_movements WHERE currency IN ('XTS', 'XBB') ORDER BY currency, month`,
      ),
    ).toEqual([
      {
        month: "2012-01",
        currency: "XBB",
        new: 1517,
        react: 0,
        exp: 0,
        con: 0,
        churn: 0,
        net: 1517,
        new_subs: 1,
        churned_subs: 0,
      },
      // January: S1 1000 + R1 2000 + R2 1000 + S2 5000 + R3 5200 = 14200, five new.
      {
        month: "2012-01",
        currency: "XTS",
        new: 14200,
        react: 0,
        exp: 0,
        con: 0,
        churn: 0,
        net: 14200,
        new_subs: 5,
        churned_subs: 0,
      },
      // February: new R4 1013 + S3 1000; R1 +1000; R3 churned -5200. Net -2187: 14200 - 2187 = 12013.
      {
        month: "2012-02",
        currency: "XTS",
        new: 2013,
        react: 0,
        exp: 1000,
        con: 0,
        churn: -5200,
        net: -2187,
        new_subs: 2,
        churned_subs: 1,
      },
      // March: S2 churned -5000, R2 1000 -> 500. Net -5500: 6513.
      {
        month: "2012-03",
        currency: "XTS",
        new: 0,
        react: 0,
        exp: 0,
        con: -500,
        churn: -5000,
        net: -5500,
        new_subs: 0,
        churned_subs: 1,
      },
      // April: R3 back, 5200.
      {
        month: "2012-04",
        currency: "XTS",
        new: 0,
        react: 5200,
        exp: 0,
        con: 0,
        churn: 0,
        net: 5200,
        new_subs: 0,
        churned_subs: 0,
      },
    ]);
  });

  it("analytics_subscription_mrr: one row per recorded state with its MRR and the change", async () => {
    expect(
      await rows(
        `SELECT subscription_id AS id, mrr_minor, change_minor FROM analytics_subscription_mrr
         WHERE subscription_id IN ('kpi-r2', 'kpi-r4', 'kpi-s4', 'kpi-s5') ORDER BY subscription_id, effective_at`,
      ),
    ).toEqual([
      { id: "kpi-r2", mrr_minor: 1000, change_minor: 1000 },
      { id: "kpi-r2", mrr_minor: 500, change_minor: -500 },
      { id: "kpi-r4", mrr_minor: 1013, change_minor: 1013 },
      // S4 (test mode) and S5 (deleted) are not there.
    ]);
  });
});

describe("customer views (through the identity graph)", () => {
  it("analytics_customer_orders: paid orders across sources, net of refunds, with order and rebill numbers", async () => {
    expect(
      await rows(
        `SELECT profile_id, source, id, currency, gross_minor, refunded_minor, net_minor, is_subscription,
           rebill_number, order_number
         FROM analytics_customer_orders WHERE profile_id IN ('kpi-p1', 'kpi-p2') ORDER BY profile_id, order_number`,
      ),
    ).toEqual([
      {
        profile_id: "kpi-p1",
        source: "shopify",
        id: "kpi-o1",
        currency: "XTS",
        gross_minor: 5000,
        refunded_minor: 1500,
        net_minor: 3500,
        is_subscription: 0,
        rebill_number: null,
        order_number: 1,
      },
      // o2 was made by Recharge charge rc1: a subscription order, rebill 1 (rc0 failed).
      {
        profile_id: "kpi-p1",
        source: "shopify",
        id: "kpi-o2",
        currency: "XTS",
        gross_minor: 3000,
        refunded_minor: 0,
        net_minor: 3000,
        is_subscription: 1,
        rebill_number: 1,
        order_number: 2,
      },
      {
        profile_id: "kpi-p1",
        source: "recharge",
        id: "kpi-rc2",
        currency: "XTS",
        gross_minor: 3000,
        refunded_minor: 0,
        net_minor: 3000,
        is_subscription: 1,
        rebill_number: 2,
        order_number: 3,
      },
      {
        profile_id: "kpi-p2",
        source: "stripe",
        id: "kpi-ch1",
        currency: "XTS",
        gross_minor: 4000,
        refunded_minor: 1000,
        net_minor: 3000,
        is_subscription: 1,
        rebill_number: 1,
        order_number: 1,
      },
      // The guest order, by email.
      {
        profile_id: "kpi-p2",
        source: "shopify",
        id: "kpi-o5",
        currency: "XTS",
        gross_minor: 2000,
        refunded_minor: 0,
        net_minor: 2000,
        is_subscription: 0,
        rebill_number: null,
        order_number: 2,
      },
      {
        profile_id: "kpi-p2",
        source: "stripe",
        id: "kpi-ch5",
        currency: "XBB",
        gross_minor: 500,
        refunded_minor: 0,
        net_minor: 500,
        is_subscription: 0,
        rebill_number: null,
        order_number: 3,
      },
    ]);
  });

  it("analytics_customer_ltv: per person and currency, with first order and days since acquisition", async () => {
    const days = (iso: string) => Math.floor((Date.now() - Date.parse(iso)) / 86_400_000);
    const ltv = await rows(
      `SELECT profile_id, email, currency, orders, gross_minor, refunded_minor, ltv_minor, subscription_orders,
         first_order_at, last_order_at, days_since_acquisition
       FROM analytics_customer_ltv WHERE profile_id IN ('kpi-p1', 'kpi-p2', 'kpi-p10') ORDER BY profile_id, currency`,
    );
    expect(ltv).toEqual([
      {
        profile_id: "kpi-p1",
        email: "p1@kpi.test",
        currency: "XTS",
        orders: 3,
        gross_minor: 11000,
        refunded_minor: 1500,
        ltv_minor: 9500,
        subscription_orders: 2,
        first_order_at: T("2012-01-10"),
        last_order_at: T("2012-03-10"),
        days_since_acquisition: days(T("2012-01-10")),
      },
      {
        profile_id: "kpi-p10",
        email: "p10@kpi.test",
        currency: "XTS",
        orders: 1,
        gross_minor: 800,
        refunded_minor: 0,
        ltv_minor: 800,
        subscription_orders: 0,
        first_order_at: T("2012-05-01"),
        last_order_at: T("2012-05-01"),
        days_since_acquisition: days(T("2012-05-01")),
      },
      // Acquisition is the first order in any currency: 01-20 for the XBB row too.
      {
        profile_id: "kpi-p2",
        email: "p2@kpi.test",
        currency: "XBB",
        orders: 1,
        gross_minor: 500,
        refunded_minor: 0,
        ltv_minor: 500,
        subscription_orders: 0,
        first_order_at: T("2012-03-01"),
        last_order_at: T("2012-03-01"),
        days_since_acquisition: days(T("2012-01-20")),
      },
      {
        profile_id: "kpi-p2",
        email: "p2@kpi.test",
        currency: "XTS",
        orders: 2,
        gross_minor: 6000,
        refunded_minor: 1000,
        ltv_minor: 5000,
        subscription_orders: 1,
        first_order_at: T("2012-01-20"),
        last_order_at: T("2012-02-01"),
        days_since_acquisition: days(T("2012-01-20")),
      },
    ]);
  });

  it("segments: repeat rate, top decile by LTV, customers at risk", async () => {
    // XTS: ten people, p1 (3 orders) and p2 (2) repeat: 2 / 10. XBB: p2 alone, once.
    expect(
      await rows("SELECT * FROM analytics_repeat_rate WHERE currency IN ('XTS', 'XBB') ORDER BY currency"),
    ).toEqual([
      { currency: "XBB", customers: 1, repeat_customers: 0, repeat_rate: 0 },
      { currency: "XTS", customers: 10, repeat_customers: 2, repeat_rate: 0.2 },
    ]);
    // Ten XTS people: the top tenth is p1 (9500); XBB's single person is its own top decile.
    expect(
      await rows(
        "SELECT profile_id, currency, ltv_minor FROM analytics_high_value_customers WHERE currency IN ('XTS', 'XBB') ORDER BY currency",
      ),
    ).toEqual([
      { profile_id: "kpi-p2", currency: "XBB", ltv_minor: 500 },
      { profile_id: "kpi-p1", currency: "XTS", ltv_minor: 9500 },
    ]);
    expect(
      await rows(
        `SELECT profile_id, source, subscription_id, status, failed_charges, last_failed_at, max_retries_reached
         FROM analytics_customers_at_risk WHERE subscription_id LIKE 'kpi-%' ORDER BY subscription_id`,
      ),
    ).toEqual([
      // ar1: rc3 and rc4 failed after the last success (rc2); rc0 failed before it.
      {
        profile_id: "kpi-p1",
        source: "recharge",
        subscription_id: "kpi-ar1",
        status: "active",
        failed_charges: 2,
        last_failed_at: T("2012-04-13"),
        max_retries_reached: 0,
      },
      {
        profile_id: "kpi-p3",
        source: "recharge",
        subscription_id: "kpi-ar2",
        status: "active",
        failed_charges: 0,
        last_failed_at: null,
        max_retries_reached: 1,
      },
      {
        profile_id: "kpi-p2",
        source: "stripe",
        subscription_id: "kpi-ss1",
        status: "past_due",
        failed_charges: 0,
        last_failed_at: null,
        max_retries_reached: 0,
      },
    ]);
  });
});

describe("analytics_attribution", () => {
  it("orders, customers and revenue by UTM and landing page, subscription against one-time", async () => {
    expect(
      await rows(
        `SELECT utm_source, utm_medium, utm_campaign, landing_page, order_type, currency, orders, customers, revenue_minor
         FROM analytics_attribution WHERE shop = ? ORDER BY utm_source, order_type`,
        ATTR,
      ),
    ).toEqual([
      // a4 + a5: one guest (emails compared trimmed and lower-cased), 700 + 300.
      {
        utm_source: null,
        utm_medium: null,
        utm_campaign: null,
        landing_page: null,
        order_type: "one_time",
        currency: "XTS",
        orders: 2,
        customers: 1,
        revenue_minor: 1000,
      },
      {
        utm_source: "google",
        utm_medium: "cpc",
        utm_campaign: "spring",
        landing_page: "/products/x",
        order_type: "one_time",
        currency: "XTS",
        orders: 1,
        customers: 1,
        revenue_minor: 500,
      },
      // a1 + a2 (host and query stripped) + a7 (made by a Recharge charge): 3 subscribers, 1000 + 2000 + 1500.
      {
        utm_source: "google",
        utm_medium: "cpc",
        utm_campaign: "spring",
        landing_page: "/products/x",
        order_type: "subscription",
        currency: "XTS",
        orders: 3,
        customers: 3,
        revenue_minor: 4500,
      },
    ]);
  });
});
