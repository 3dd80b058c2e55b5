// Every index costs a billed D1 row written per row inserted or updated in its table, so each one
// must be needed by a query. The migrations are applied to an in-memory SQLite (node:sqlite, the
// engine D1 runs, without sqlite_stat1 as on D1), and EXPLAIN QUERY PLAN of each query below, as the
// code, a view or a trigger runs it, must use the index it names. An index that is in neither NEEDED
// nor RULES fails the test: a new index comes with the query that needs it. Migrations 0153 and 0161
// dropped the indexes no query used; they stay gone.
import { readFileSync } from "node:fs";
import type { DatabaseSync } from "node:sqlite";
import { getTableName } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { COMPACT_TABLES, readSql } from "../../src/cron/compact/tables";
import { ERROR_RATE, PIPELINE_LAG } from "../../src/cron/health/sql";
import { walkEndsSql, walkedDeleteSql, walkWindowSql } from "../../src/cron/privacy/shop-sql";
import { DUPLICATE_DELIVERIES, HOURLY_COUNTS, LAST_WEBHOOKS } from "../../src/cron/quality/sql";
import { deleteByRowidSql, LEDGER_ELIGIBLE, ledgerPageSql, OLDEST_LEDGER_DAY } from "../../src/cron/retention/sql";
import { ENTRIES_AFTER, SCHEMA as SUBJECT_INDEX_SCHEMA, subjectKeys } from "../../src/durable/subject-index-sql";
import { HELD_STATUS_SQL } from "../../src/shared/ledger-status";
import { childRemoveSql } from "../../src/tables/child-sql";
import { SHOPIFY_CHILD_SETS } from "../../src/tables/shopify-child-sets";
import { migratedDatabase } from "./harness/schema-db";

const root = new URL("../..", import.meta.url).pathname;
let db: DatabaseSync;

beforeAll(() => {
  db = migratedDatabase();
});

/** The plan's detail lines; parameters stay unbound (EXPLAIN QUERY PLAN does not need them). */
function plan(sql: string): string {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[];
  return rows.map((r) => r.detail).join("\n");
}

const usesIndex = (name: string) => new RegExp(`USING (COVERING )?INDEX ${name}\\b`);

type Needed = [index: string, from: string, sql: string];

/**
 * The compaction's read of a changed day, first page and a later one, as readSql builds it for each
 * table it snapshots (src/cron/compact/read.ts pages by READ_PAGE_ROWS): each `*_by_lake_day` index
 * (migrations/0140_lake_iceberg.sql) is the day column and the primary key, in the reader's order.
 */
const LAKE_DAY_READS: Needed[] = COMPACT_TABLES.flatMap((t) =>
  [false, true].map(
    (after): Needed => [
      `${t.table}_by_lake_day`,
      `src/cron/compact/tables.ts: a changed day of ${t.table}, ${after ? "a later page" : "its first page"}`,
      readSql(t, t.readByLakeKey ? "lake-key" : "day", { after, limit: 1_000 }),
    ],
  ),
);

/**
 * Erasure's rows of a person (src/cron/privacy/erase-rows.ts): `daysOf` reads their days, then the
 * UPDATE nulls their columns, both with the WHERE whereFor builds (every id and e-mail of an erase).
 */
const IN_LIST = "(SELECT value FROM json_each(?))";
const IN_PAIRS = "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))";
const erased = (table: string, where: string) =>
  `SELECT DISTINCT substr(updated_at, 1, 10) AS d FROM ${table} WHERE ${where}`;
const byCustomerOrEmail = `customer_id IN ${IN_LIST} OR email IN ${IN_LIST}`;

/** A child set's DELETE of the children its new set leaves out (src/tables/children.ts), by child table. */
const childRemove = (child: string) => {
  const set = SHOPIFY_CHILD_SETS.find((c) => getTableName(c.child) === child);
  if (!set) throw new Error(`no child set ${child}`);
  return childRemoveSql(set);
};

/** The people pass's range of analytics_customer_orders (src/cron/compact/kpi-people.ts, rangeSql). */
const PEOPLE_RANGE = `SELECT * FROM (SELECT * FROM analytics_customer_orders WHERE profile_id > ?1 AND profile_id <= ?2) v
  ORDER BY v."profile_id", v."source", v."shop", v."id"`;

/**
 * [index, where the query comes from, the query]. A trigger's statements are planned on their own,
 * NEW.x bound as ?n: EXPLAIN QUERY PLAN of the write that fires a trigger does not show them.
 */
const NEEDED: Needed[] = [
  [
    "webhook_events_by_received",
    "src/cron/health/rules.ts: a source's events in a window",
    "SELECT 1 AS hit FROM webhook_events WHERE source = ?1 AND received_at >= ?2 AND received_at < ?3 LIMIT 1",
  ],
  [
    "webhook_events_held",
    "src/cron/quality/ledger.ts: events of a held status (partial index)",
    `SELECT source, COUNT(*) AS n FROM webhook_events WHERE status = ?4 AND ${HELD_STATUS_SQL} AND updated_at > ?1 AND updated_at <= ?2 GROUP BY source`,
  ],
  [
    "shopify_orders_by_created",
    "src/cron/quality/parity.ts: orders created in a window",
    "SELECT COUNT(*) AS n FROM shopify_orders WHERE shop = ?1 AND created_at >= ?2 AND created_at < ?3 AND deleted_at IS NULL",
  ],
  [
    "shopify_orders_by_customer",
    "migrations/0006_identity.sql: customer_orders for one profile (shopify arm by customer id)",
    "SELECT * FROM customer_orders WHERE profile_id = ?1",
  ],
  [
    "shopify_orders_by_email",
    "migrations/0006_identity.sql: customer_orders for one profile (shopify arm by email)",
    "SELECT * FROM customer_orders WHERE profile_id = ?1",
  ],
  [
    "customer_identities_by_profile",
    "migrations/0006_identity.sql: customer_orders pushes profile_id down to the identities",
    "SELECT * FROM customer_orders WHERE profile_id = ?1",
  ],
  [
    "recharge_subscriptions_without_currency",
    "src/tables/recharge-store.ts: the subscriptions the store currency fill prices (partial index)",
    "SELECT id, price_decimal AS priceDecimal FROM recharge_subscriptions WHERE currency IS NULL AND price_decimal IS NOT NULL LIMIT ?1",
  ],
  [
    "customer_profile_emails_by_profile",
    "migrations/0006_identity.sql: customer_orders pushes profile_id down to the profile's emails",
    "SELECT * FROM customer_orders WHERE profile_id = ?1",
  ],
  [
    "recharge_subscriptions_by_customer",
    "migrations/0006_identity.sql: customer_subscriptions for one profile",
    "SELECT * FROM customer_subscriptions WHERE profile_id = ?1",
  ],
  [
    "stripe_charges_by_customer",
    "migrations/0006_identity.sql: customer_charges for one profile",
    "SELECT * FROM customer_charges WHERE profile_id = ?1",
  ],
  [
    "recharge_charges_by_email",
    "migrations/0006_identity.sql: customer_charges for one profile (recharge arm by email)",
    "SELECT * FROM customer_charges WHERE profile_id = ?1",
  ],
  [
    "stripe_checkout_sessions_by_customer",
    "migrations/0006_identity.sql: customer_orders, the Stripe checkout arm",
    "SELECT * FROM customer_orders WHERE profile_id = ?1",
  ],
  [
    "recharge_charges_by_shopify_order",
    "migrations/0060_kpi_views.sql: is an order a Recharge rebill",
    "SELECT 1 FROM recharge_charges rc WHERE rc.shopify_order_id = ?1 AND rc.deleted_at IS NULL LIMIT 1",
  ],
  [
    "customer_profiles_by_email",
    "src/tables/identity.ts: the profile of an email",
    "SELECT id FROM customer_profiles WHERE email = ?1",
  ],
  [
    "shopify_orders_by_created",
    "migrations/0155_inventory.sql: shopify_inventory_days_of_cover reads the last 90 days of orders per shop",
    "SELECT * FROM shopify_inventory_days_of_cover",
  ],
  [
    "shopify_order_line_items_by_order",
    "migrations/0155_inventory.sql: shopify_inventory_dead_stock reads those orders' lines",
    "SELECT * FROM shopify_inventory_dead_stock WHERE shop = ?1",
  ],
  [
    "sqlite_autoindex_shopify_inventory_levels_1",
    "migrations/0155_inventory.sql: shopify_inventory_on_hand reads each variant's levels by primary key",
    "SELECT * FROM shopify_inventory_on_hand WHERE shop = ?1",
  ],
  [
    "reconcile_runs_by_scope",
    "src/cron/reconcile/lag-alert.ts: each scope's latest runs",
    `SELECT r.source, r.scope, r.stopped_by, r.lag_seconds FROM json_each(?1) s
     JOIN reconcile_runs r ON r.source = s.value ->> '$[0]' AND r.scope = s.value ->> '$[1]'
       AND r.started_at IN (SELECT started_at FROM reconcile_runs
         WHERE source = r.source AND scope = r.scope AND coalesce(stopped_by, '') <> 'deferred'
         ORDER BY started_at DESC LIMIT ?2)`,
  ],
  // ---- alerts, jobs and the ops page ----
  [
    "alerts_by_key",
    "src/shared/alerts.ts: raiseAlert counts a repeat of an alert raised within the dedup window",
    `UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = ?3
     WHERE alert_key = ?1 AND created_at > ?2 AND (?4 IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_events
       WHERE source = ?4 AND event_id = ?5 AND status IN ('archived', 'applied', 'quarantined')))`,
  ],
  [
    "alerts_by_due",
    "src/cron/alerts/delivery.ts: claims the alerts due for delivery",
    `UPDATE alerts SET status = 'sending', claimed_until = ?2
     WHERE id IN (SELECT id FROM alerts WHERE (status = 'pending' OR (status = 'sending' AND claimed_until < ?1))
       AND next_attempt_at <= ?1 AND created_at >= ?3 ORDER BY created_at LIMIT ?4)
     RETURNING id, rule, alert_key AS alertKey, severity, title, fields, created_at AS createdAt, occurrences,
       attempts, source`,
  ],
  [
    "backfills_by_status",
    "src/cron/backfill/backfill.ts: the running backfills due for a slice",
    `SELECT backfill_id AS backfillId, source, resource, since, until, cursor, pages, failures, note
     FROM backfills WHERE status = 'running' AND (retry_at IS NULL OR retry_at <= ?1) ORDER BY requested_at, resource`,
  ],
  [
    "backfills_one_running",
    "src/cron/backfills.ts: the running backfills that refused a start",
    `SELECT resource, backfill_id AS backfillId FROM backfills WHERE status = 'running' AND source = ?1
     AND resource IN (SELECT value FROM json_each(?2)) ORDER BY resource`,
  ],
  [
    "bulk_operations_by_backfill",
    "src/durable/operations-table.ts: a backfill's bulk operations (drizzle's select)",
    `select * from "bulk_operations" where "bulk_operations"."backfill_id" = ?
     order by "bulk_operations"."requested_at", "bulk_operations"."resource"`,
  ],
  [
    "bulk_operations_by_shop",
    "src/cron/privacy/shop.ts: a shop's archived bulk exports (shop/redact)",
    "SELECT r2_key FROM bulk_operations WHERE shop = ?1 AND r2_key IS NOT NULL LIMIT ?2",
  ],
  [
    "bulk_operations_by_status",
    "src/cron/health/rules.ts: bulk exports that failed in the last day",
    `SELECT id, backfill_id AS backfillId, shop, resource, error FROM bulk_operations
     WHERE status = 'failed' AND finished_at > ?1 AND finished_at <= ?2 ORDER BY finished_at LIMIT 50`,
  ],
  [
    "dq_runs_by_started",
    "src/ingress/admin/ops-data.ts: the latest data-quality run",
    `SELECT run_id AS runId, finished_at AS finishedAt, pass_count AS passCount, warn_count AS warnCount,
       fail_count AS failCount FROM dq_runs ORDER BY started_at DESC LIMIT 1`,
  ],
  [
    "ops_sessions_by_expiry",
    "src/ingress/admin/session.ts: expired sessions go at each sign-in",
    "DELETE FROM ops_sessions WHERE expires_at <= ?1",
  ],
  [
    "privacy_requests_by_status",
    "src/cron/privacy/privacy.ts: the open privacy requests, oldest first",
    `SELECT r.request_id, r.kind, r.shop, r.stage, r.status, r.objects_rewritten, r.objects_deleted, r.rows_changed,
       w.subject, w.days
     FROM privacy_requests r JOIN privacy_work w ON w.request_id = r.request_id
     WHERE r.status IN ('pending', 'running') ORDER BY r.received_at, r.request_id LIMIT ?1`,
  ],
  [
    "replay_runs_by_status",
    "src/cron/replay/replay.ts: the replays to continue",
    "SELECT id, filter, cursor, listed, sent FROM replay_runs WHERE status IN ('pending', 'running') ORDER BY created_at, id LIMIT 10",
  ],
  [
    "shop_installs_by_status",
    "src/tables/shop-installs.ts: the uninstalled shops",
    "SELECT shop FROM shop_installs WHERE status = 'uninstalled'",
  ],
  // ---- identity linking ----
  [
    "customer_identities_by_shopify_customer",
    "src/tables/identity.ts (and the trigger of migrations/0120): the profile a Shopify customer id links to",
    `SELECT l.profile_id FROM customer_identities l
     WHERE l.shopify_customer_id = ?1 AND NOT (l.source = ?2 AND l.external_id = ?3 AND l.shop = ?4)
     ORDER BY l.source = 'shopify' DESC, l.created_at, l.external_id LIMIT 1`,
  ],
  [
    "stripe_disputes_by_charge",
    "src/ingress/admin/people.ts: a person's activity (customer_disputes by their charges)",
    `SELECT activity, source, shop, id, reference, status, currency, amount_minor AS amountMinor,
       occurred_at AS occurredAt, attributed_by AS attributedBy, is_test AS isTest
     FROM customer_activity WHERE profile_id = ?1 ORDER BY occurred_at DESC, source, id LIMIT 500`,
  ],
  // ---- erasure: a person's rows by customer id or e-mail ----
  [
    "shopify_customers_by_email",
    "src/cron/privacy/erase-rows.ts: a person's Shopify customers",
    erased("shopify_customers", `(shop, id) IN ${IN_PAIRS} OR email IN ${IN_LIST}`),
  ],
  // customers/redact and data requests are scoped to a shop: `+shop` keeps the e-mail index in use
  // (seeking by the shop read every order, customer and checkout of the shop).
  ...(["shopify_orders", "shopify_customers", "shopify_checkouts"] as const).map(
    (table): Needed => [
      `${table}_by_email`,
      `src/cron/privacy/erase-rows.ts: a person's ${table} in one shop (customers/redact)`,
      erased(
        table,
        `(shop, ${table === "shopify_customers" ? "id" : "customer_id"}) IN ${IN_PAIRS} OR (+shop = ? AND email IN ${IN_LIST})`,
      ),
    ],
  ),
  [
    "shopify_checkouts_by_customer",
    "src/cron/privacy/erase-rows.ts: a person's Shopify checkouts (by customer)",
    erased("shopify_checkouts", `(shop, customer_id) IN ${IN_PAIRS} OR email IN ${IN_LIST}`),
  ],
  [
    "shopify_checkouts_by_email",
    "src/cron/privacy/erase-rows.ts: a person's Shopify checkouts (by e-mail)",
    erased("shopify_checkouts", `(shop, customer_id) IN ${IN_PAIRS} OR email IN ${IN_LIST}`),
  ],
  [
    "shopify_refunds_by_order",
    "src/cron/privacy/erase-rows.ts: the refunds of a person's orders",
    erased(
      "shopify_refunds",
      `(shop, order_id) IN (SELECT shop, id FROM shopify_orders WHERE (shop, customer_id) IN ${IN_PAIRS} OR (shop, id) IN ${IN_PAIRS} OR email IN ${IN_LIST})`,
    ),
  ],
  [
    "stripe_customers_by_email",
    "src/cron/privacy/erase-rows.ts: a person's Stripe customers",
    erased("stripe_customers", `id IN ${IN_LIST} OR email IN ${IN_LIST}`),
  ],
  [
    "stripe_charges_by_email",
    "src/cron/privacy/erase-rows.ts: a person's Stripe charges (by e-mail)",
    erased("stripe_charges", byCustomerOrEmail),
  ],
  [
    "stripe_payment_intents_by_customer",
    "src/cron/privacy/erase-rows.ts: a person's payment intents (by customer)",
    erased("stripe_payment_intents", byCustomerOrEmail),
  ],
  [
    "stripe_payment_intents_by_email",
    "src/cron/privacy/erase-rows.ts: a person's payment intents (by e-mail)",
    erased("stripe_payment_intents", byCustomerOrEmail),
  ],
  [
    "stripe_invoices_by_customer",
    "src/cron/privacy/erase-rows.ts: a person's invoices (by customer)",
    erased("stripe_invoices", byCustomerOrEmail),
  ],
  [
    "stripe_invoices_by_email",
    "src/cron/privacy/erase-rows.ts: a person's invoices (by e-mail)",
    erased("stripe_invoices", byCustomerOrEmail),
  ],
  [
    "stripe_checkout_sessions_by_email",
    "src/cron/privacy/erase-rows.ts: a person's checkout sessions (by e-mail)",
    erased("stripe_checkout_sessions", byCustomerOrEmail),
  ],
  [
    "stripe_subscriptions_by_customer",
    "src/cron/privacy/erase-rows.ts: a person's Stripe subscriptions",
    erased("stripe_subscriptions", `customer_id IN ${IN_LIST}`),
  ],
  [
    "recharge_customers_by_email",
    "src/cron/privacy/erase-rows.ts: a person's Recharge customers",
    erased("recharge_customers", `id IN ${IN_LIST} OR email IN ${IN_LIST}`),
  ],
  [
    "recharge_subscriptions_by_email",
    "src/cron/privacy/erase-rows.ts: a person's Recharge subscriptions (by e-mail)",
    erased("recharge_subscriptions", byCustomerOrEmail),
  ],
  [
    "recharge_charges_by_customer",
    "src/cron/privacy/erase-rows.ts: a person's Recharge charges (by customer)",
    erased("recharge_charges", byCustomerOrEmail),
  ],
  // ---- child sets replaced with their parent ----
  [
    "shopify_order_line_items_by_order",
    "src/tables/children.ts: an order's lines its new set leaves out",
    childRemove("shopify_order_line_items"),
  ],
  [
    "shopify_product_variants_by_product",
    "src/tables/children.ts: a product's variants its new set leaves out",
    childRemove("shopify_product_variants"),
  ],
  [
    "shopify_refund_line_items_by_refund",
    "src/tables/children.ts: a refund's lines its new set leaves out",
    childRemove("shopify_refund_line_items"),
  ],
  // ---- Stripe invoice links: triggers of migrations/0152_stripe_recharge_versions.sql ----
  [
    "stripe_invoice_payments_by_payment_intent",
    "migrations/0152 stripe_payment_intents_invoice_link: a new payment intent's invoice",
    `UPDATE stripe_payment_intents SET invoice_id = (SELECT ip.invoice_id FROM stripe_invoice_payments ip
         WHERE ip.payment_intent_id = ?1 AND ip.deleted_at IS NULL AND ip.invoice_id IS NOT NULL
         ORDER BY ip.status = 'paid' DESC, ip.paid_at DESC, ip.id DESC LIMIT 1)
     WHERE id = ?1 AND invoice_id IS NULL AND EXISTS (SELECT 1 FROM stripe_invoice_payments ip
       WHERE ip.payment_intent_id = ?1 AND ip.deleted_at IS NULL AND ip.invoice_id IS NOT NULL)`,
  ],
  [
    "stripe_invoice_payments_by_charge",
    "migrations/0152 stripe_charges_invoice_link_insert: a new charge's invoice (by payment intent or charge)",
    `UPDATE stripe_charges SET invoice_id = (SELECT ip.invoice_id FROM stripe_invoice_payments ip
         WHERE (ip.payment_intent_id = ?2 OR ip.charge_id = ?1) AND ip.deleted_at IS NULL AND ip.invoice_id IS NOT NULL
         ORDER BY ip.status = 'paid' DESC, ip.paid_at DESC, ip.id DESC LIMIT 1)
     WHERE id = ?1 AND invoice_id IS NULL AND EXISTS (SELECT 1 FROM stripe_invoice_payments ip
       WHERE (ip.payment_intent_id = ?2 OR ip.charge_id = ?1) AND ip.deleted_at IS NULL AND ip.invoice_id IS NOT NULL)`,
  ],
  [
    "stripe_invoice_payments_by_invoice",
    "migrations/0152 stripe_invoices_payment_link: a new invoice's payment",
    `UPDATE stripe_invoices SET
       payment_intent_id = coalesce(payment_intent_id, (SELECT ip.payment_intent_id FROM stripe_invoice_payments ip
         WHERE ip.invoice_id = ?1 AND ip.status = 'paid' AND ip.deleted_at IS NULL
         ORDER BY ip.paid_at DESC, ip.is_default DESC, ip.id DESC LIMIT 1))
     WHERE id = ?1 AND EXISTS (SELECT 1 FROM stripe_invoice_payments ip
       WHERE ip.invoice_id = ?1 AND ip.status = 'paid' AND ip.deleted_at IS NULL)`,
  ],
  [
    "stripe_charges_by_payment_intent",
    "migrations/0152 stripe_invoice_payments_link_insert: the charges a paid invoice payment links",
    `UPDATE stripe_charges SET invoice_id = ?1
     WHERE invoice_id IS NULL AND (id = ?3 OR payment_intent_id = ?2)`,
  ],
  // ---- KPI snapshots (src/cron/compact/kpis.ts, kpi-people.ts) over the views of migrations/0060 ----
  [
    "recharge_charges_by_status",
    "src/cron/compact/kpi-people.ts: analytics_customer_orders, a range of profiles (Recharge rebills)",
    PEOPLE_RANGE,
  ],
  [
    "stripe_invoices_by_status",
    "src/cron/compact/kpi-people.ts: analytics_customer_orders, a range of profiles (paid invoices' rebills)",
    PEOPLE_RANGE,
  ],
  [
    "shopify_orders_by_id",
    "src/cron/compact/kpi-people.ts: analytics_customer_orders, a range of profiles (charges that are Shopify orders)",
    PEOPLE_RANGE,
  ],
  [
    "recharge_subscriptions_by_status",
    "src/cron/compact/kpis.ts: the analytics_customers_at_risk snapshot (active subscriptions)",
    `SELECT * FROM "analytics_customers_at_risk" v ORDER BY v."source", v."subscription_id", v."profile_id" LIMIT 50001`,
  ],
  [
    "recharge_charge_line_items_by_purchase_item",
    "src/cron/compact/kpis.ts: the analytics_customers_at_risk snapshot (a subscription's charges)",
    `SELECT * FROM "analytics_customers_at_risk" v ORDER BY v."source", v."subscription_id", v."profile_id" LIMIT 50001`,
  ],
  ...LAKE_DAY_READS,
];

/**
 * Unique indexes that enforce a rule, whatever plans on them: the only indexes NEEDED may lack
 * (the test checks each is UNIQUE, so a plain index cannot hide here).
 */
const RULES: Record<string, string> = {
  backfills_one_running:
    "one running backfill per (source, resource): startApiBackfill's INSERT fails on it (src/cron/backfills.ts)",
  customer_profiles_by_email:
    "an e-mail keys one profile: identity linking inserts ON CONFLICT (email) DO NOTHING (src/tables/identity.ts)",
};

describe("indexes", () => {
  for (const [index, from, sql] of NEEDED) {
    it(`${index} is used by ${from}`, () => {
      expect(plan(sql)).toMatch(usesIndex(index));
    });
  }

  // shop/redact's walks: a window of rowids, never a scan of the ledger or the identities.
  it("shop/redact walks the ledger and the identities by rowid ranges", () => {
    for (const table of ["webhook_events", "customer_identities"] as const) {
      expect(plan(walkWindowSql(table, "shop"))).toMatch(
        new RegExp(`^SEARCH ${table} USING INTEGER PRIMARY KEY \\(rowid>\\? AND rowid<\\?\\)$`),
      );
      expect(plan(walkEndsSql(table))).not.toMatch(new RegExp(`SCAN ${table}`));
      expect(plan(walkEndsSql(table))).toMatch(new RegExp(`SEARCH ${table}`));
      expect(plan(walkedDeleteSql(table))).toMatch(
        new RegExp(`SEARCH ${table} USING INTEGER PRIMARY KEY \\(rowid=\\?\\)`),
      );
    }
  });

  // A day of a large brand is 1,000,000 ledger rows: retention must seek, never read the day per query.
  it("retention finds the oldest ledger day by one seek per source", () => {
    const lines = plan(OLDEST_LEDGER_DAY)
      .split("\n")
      .filter((l) => l.includes("webhook_events"));
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(usesIndex("webhook_events_by_received"));
  });

  it("retention pages a source's day in index order, each page stopping at its limit", () => {
    for (const after of [false, true]) {
      const text = plan(ledgerPageSql(after, 1000));
      expect(text).toMatch(usesIndex("webhook_events_by_received"));
      expect(text).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("retention deletes archived rows by rowid, not by a range over the day", () => {
    const text = plan(deleteByRowidSql("webhook_events", LEDGER_ELIGIBLE, 6));
    expect(text).toMatch(/SEARCH webhook_events USING INTEGER PRIMARY KEY \(rowid=\?\)/);
    expect(text).not.toMatch(/MULTI-INDEX OR|webhook_events_by_received/);
  });

  // The ledger holds millions of rows: the health rules (every 5 minutes) and the data-quality checks
  // (hourly) seek it by (source, received_at), never read it whole.
  for (const [name, sql] of Object.entries({
    ERROR_RATE,
    PIPELINE_LAG,
    HOURLY_COUNTS,
    LAST_WEBHOOKS,
    DUPLICATE_DELIVERIES,
  })) {
    it(`${name} seeks the ledger by source and time`, () => {
      const text = plan(sql);
      expect(text).toMatch(
        /SEARCH webhook_events USING (COVERING )?INDEX webhook_events_by_received \(source=\? AND received_at>\?/,
      );
      expect(text).not.toMatch(/SCAN webhook_events/);
    });
  }

  // A basil invoice payment names no charge: its trigger looks up the payment intent's succeeded
  // charge, which must seek by payment intent, not walk every succeeded charge (migrations/0163).
  it("the Stripe link triggers find a payment intent's succeeded charge by payment intent", () => {
    const triggers = db
      .prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%SELECT c.id FROM stripe_charges c WHERE c.payment_intent_id%'",
      )
      .all() as { name: string; sql: string }[];
    expect(triggers.map((t) => t.name).sort()).toEqual([
      "stripe_invoice_payments_link_insert",
      "stripe_invoice_payments_link_update",
      "stripe_invoices_payment_link",
    ]);
    for (const t of triggers) {
      const lookup = /\(SELECT c\.id FROM stripe_charges c WHERE [\s\S]*?LIMIT 1\)/.exec(t.sql)?.[0] ?? "";
      const sql = lookup.slice(1, -1).replace(/\b(NEW|ip)\.payment_intent_id\b/g, "?1");
      const text = plan(sql);
      expect(text, t.name).toMatch(usesIndex("stripe_charges_by_payment_intent"));
      expect(text, t.name).not.toMatch(/stripe_charges_by_status/);
    }
  });

  // A shop/redact logs a delete per order: the compaction re-reads each chunk of 1,000 orders' line
  // items, which must seek those orders' rows, not walk every line item of the shop.
  for (const t of COMPACT_TABLES.filter((x) => !x.lakeKey.every((c, i) => x.key[i] === c))) {
    it(`the compaction reads ${t.table} of logged parent keys by its parent index`, () => {
      for (const after of [false, true]) {
        const text = plan(readSql(t, "keys", { after, limit: 1_000 }));
        expect(text).toMatch(
          new RegExp(`SEARCH ${t.table} USING INDEX \\w+ \\(${t.lakeKey.map((c) => `${c}=\\?`).join(" AND ")}\\)`),
        );
      }
    });
  }

  // The KPI people pass reads the per-person views by ranges of profiles: each arm of the identity
  // views seeks the range's identities, never every identity of a source (migrations/0165).
  it("a range of profiles reads its identities by profile, not every identity of a source", () => {
    const lines = plan(PEOPLE_RANGE).split("\n");
    const identities = lines.filter((l) => / i USING /.test(l) && l.includes("customer_identities"));
    expect(identities.length).toBeGreaterThan(0);
    for (const l of identities) expect(l).toMatch(/customer_identities_by_profile \(profile_id>\? AND profile_id<\?\)/);
  });

  // shop/redact deletes the ledger rows whose objects it deleted by rowid: by (shop, key) each chunk
  // walked every row the shop had left.
  it("shop/redact deletes a chunk of ledger rows by rowid", () => {
    const text = plan("DELETE FROM webhook_events WHERE rowid IN (SELECT value FROM json_each(?1))");
    expect(text).toMatch(/SEARCH webhook_events USING INTEGER PRIMARY KEY \(rowid=\?\)/);
  });

  // A subject index shard (a Durable Object's SQLite) holds millions of entries: an erasure seeks
  // its subjects by the primary key, and shop/redact walks it by the primary key from where it stopped.
  it("a subject index shard seeks by subject, and walks on from a key, never scanning its entries", async () => {
    const { DatabaseSync } = await import("node:sqlite");
    const shard = new DatabaseSync(":memory:");
    for (const s of SUBJECT_INDEX_SCHEMA) shard.exec(s);
    const shardPlan = (sql: string) =>
      (shard.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join("\n");
    for (const anyShop of [false, true]) {
      for (const anyState of [false, true]) {
        const text = shardPlan(subjectKeys(anyShop, anyState));
        expect(text).toMatch(/SEARCH entries USING PRIMARY KEY \(kind=\? AND id=\?/);
        expect(text).not.toMatch(/SCAN entries/);
      }
    }
    // shop/redact's walk goes on from where it stopped: a seek, then the next rows in key order.
    expect(shardPlan(ENTRIES_AFTER)).toMatch(
      /SEARCH entries USING PRIMARY KEY \(\(kind,id,shop,r2_key\)>\(\?,\?,\?,\?\)\)/,
    );
    expect(shardPlan(ENTRIES_AFTER)).not.toMatch(/TEMP B-TREE/);
  });

  it("every index is needed by a query above, or enforces a rule", () => {
    const indexes = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name",
      )
      .all() as { name: string }[];
    const proven = new Set(NEEDED.map(([index]) => index));
    const unproven = indexes.map((i) => i.name).filter((name) => !proven.has(name) && !(name in RULES));
    // Each costs a billed row written per row written to its table: add to NEEDED the query whose plan
    // uses it, or drop it in a migration.
    expect(unproven, "indexes no query in NEEDED plans on").toEqual([]);
  });

  it("the rules' indexes are unique indexes of the schema", () => {
    for (const name of Object.keys(RULES)) {
      const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1").get(name) as
        | { sql: string }
        | undefined;
      expect(row?.sql, name).toMatch(/^CREATE UNIQUE INDEX/);
    }
  });

  it("the indexes migrations 0153, 0161 and 0166 dropped are gone", () => {
    for (const [file, atLeast] of [
      ["0153_drop_unused_indexes.sql", 30],
      ["0161_drop_unneeded_indexes.sql", 15],
      ["0166_drop_stripe_charges_by_status.sql", 0],
      ["0168_ledger_held_index.sql", 0],
      ["0169_walk_shop_rows.sql", 1],
    ] as const) {
      const text = readFileSync(`${root}/migrations/${file}`, "utf8");
      const dropped = [...text.matchAll(/^DROP INDEX IF EXISTS (\w+);/gm)].map((m) => m[1] as string);
      expect(dropped.length, file).toBeGreaterThan(atLeast);
      const left = db
        .prepare(
          `SELECT name FROM sqlite_master WHERE type = 'index' AND name IN (${dropped.map(() => "?").join(",")})`,
        )
        .all(...dropped);
      expect(left, file).toEqual([]);
    }
  });

  // The statements that planned on an index 0161 dropped, and what they plan on now: as before, a seek
  // where they sought, and the same scan where they scanned it whole.
  it.each([
    [
      "src/cron/privacy/shop.ts: a shop's fulfillments (shop/redact) seek the primary key by shop",
      "DELETE FROM shopify_fulfillments WHERE rowid IN (SELECT rowid FROM shopify_fulfillments WHERE shop = ?1 LIMIT 2000)",
      /SEARCH shopify_fulfillments USING COVERING INDEX sqlite_autoindex_shopify_fulfillments_1 \(shop=\?\)/,
    ],
    [
      "src/cron/health/rules.ts: stalled privacy requests seek the open ones by status",
      `SELECT request_id AS requestId, kind, shop, stage, received_at AS receivedAt, progressed_at AS progressedAt, error
       FROM privacy_requests WHERE status IN ('pending', 'running') AND progressed_at <= ?1 ORDER BY progressed_at LIMIT 50`,
      /SEARCH privacy_requests USING INDEX privacy_requests_by_status \(status=\?\)/,
    ],
    [
      "src/cron/compact/changes.ts: the compaction takes its tables' marks by the primary key",
      `UPDATE lake_changes SET read_seq = seq WHERE rowid IN (SELECT rowid FROM lake_changes
         WHERE table_name IN (?1, ?2) ORDER BY changed_at, table_name, dt LIMIT 200) RETURNING table_name, dt, seq, changed_at`,
      /SEARCH lake_changes USING INDEX sqlite_autoindex_lake_changes_1 \(table_name=\?\)/,
    ],
    [
      "src/cron/retention/retention.ts: the oldest reconcile run reads a covering index, not the table",
      "SELECT min(started_at) AS d FROM reconcile_runs WHERE started_at >= ?1 AND 1 = 1",
      /(SEARCH|SCAN) reconcile_runs USING COVERING INDEX reconcile_runs_by_scope/,
    ],
    [
      "src/cron/quality/volume.ts: the hourly counts scan the ledger in source order, as they did",
      `SELECT source, coalesce(resource, 'unknown') AS resource, substr(received_at, 1, 13) AS hour, COUNT(*) AS n
       FROM webhook_events WHERE received_at >= ?1 AND received_at < ?2 AND origin = 'webhook'
       GROUP BY source, resource, hour`,
      /SCAN webhook_events USING INDEX webhook_events_by_received/,
    ],
  ])("%s", (_what, sql, expected) => {
    expect(plan(sql)).toMatch(expected);
  });
});
