// Every index costs a billed D1 row written per row inserted or updated in its table, so each one
// must be needed by a query. The migrations are applied to an in-memory SQLite (node:sqlite, the
// engine D1 runs), and EXPLAIN QUERY PLAN of each query below, as the code or a view runs it,
// must use the index it names. Migration 0153 dropped the indexes no query used; they stay gone.
import { readdirSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { beforeAll, describe, expect, it } from "vitest";
import { ERASED_IN_KEY, SWEEP_KEYS } from "../../src/cron/privacy/sql";
import { deleteByRowidSql, LEDGER_ELIGIBLE, OLDEST_LEDGER_DAY } from "../../src/cron/retention/sql";

const root = new URL("../..", import.meta.url).pathname;
let db: DatabaseSync;

beforeAll(() => {
  db = new DatabaseSync(":memory:");
  for (const f of readdirSync(`${root}/migrations`)
    .filter((n) => n.endsWith(".sql"))
    .sort()) {
    db.exec(readFileSync(`${root}/migrations/${f}`, "utf8"));
  }
});

/** The plan's detail lines; parameters stay unbound (EXPLAIN QUERY PLAN does not need them). */
function plan(sql: string): string {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[];
  return rows.map((r) => r.detail).join("\n");
}

const usesIndex = (name: string) => new RegExp(`USING (COVERING )?INDEX ${name}\\b`);

/** [index, where the query comes from, the query]. */
const NEEDED: [string, string, string][] = [
  [
    "webhook_events_by_shop",
    "src/cron/privacy/shop.ts: a shop's archived keys (shop/redact)",
    "SELECT r2_key FROM webhook_events WHERE shop = ?1 AND r2_key IS NOT NULL LIMIT ?2",
  ],
  [
    "webhook_events_by_received",
    "src/cron/health/rules.ts: a source's events in a window",
    "SELECT 1 AS hit FROM webhook_events WHERE source = ?1 AND received_at >= ?2 AND received_at < ?3 LIMIT 1",
  ],
  [
    "webhook_events_by_status",
    "src/cron/quality/ledger.ts: events of a status",
    "SELECT source, COUNT(*) AS n FROM webhook_events WHERE status = ?4 AND updated_at > ?1 AND updated_at <= ?2 GROUP BY source",
  ],
  [
    "archive_subjects_by_shop",
    "src/cron/privacy/shop.ts: a shop's subject keys",
    "SELECT DISTINCT r2_key FROM archive_subjects WHERE shop = ?1 LIMIT ?2",
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
    "shopify_orders_by_lake_day",
    "src/cron/compact/tables.ts: a changed day's rows in key order",
    "SELECT * FROM shopify_orders WHERE updated_at >= ?1 AND updated_at < ?2 ORDER BY updated_at, shop, id LIMIT 500",
  ],
  [
    "shopify_inventory_items_by_lake_day",
    "src/cron/compact/tables.ts: a changed day's rows in key order",
    "SELECT * FROM shopify_inventory_items WHERE updated_at >= ?1 AND updated_at < ?2 ORDER BY updated_at, shop, id LIMIT 500",
  ],
  [
    "shopify_inventory_levels_by_lake_day",
    "src/cron/compact/tables.ts: a changed day's rows in key order",
    "SELECT * FROM shopify_inventory_levels WHERE updated_at >= ?1 AND updated_at < ?2 ORDER BY updated_at, shop, inventory_item_id, location_id LIMIT 500",
  ],
  [
    "shopify_locations_by_lake_day",
    "src/cron/compact/tables.ts: a changed day's rows in key order",
    "SELECT * FROM shopify_locations WHERE updated_at >= ?1 AND updated_at < ?2 ORDER BY updated_at, shop, id LIMIT 500",
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
  [
    "stripe_charges_by_lake_day",
    "src/cron/compact/tables.ts: a changed day's rows in key order",
    "SELECT * FROM stripe_charges WHERE updated_at >= ?1 AND updated_at < ?2 ORDER BY updated_at, id LIMIT 500",
  ],
];

describe("indexes", () => {
  for (const [index, from, sql] of NEEDED) {
    it(`${index} is used by ${from}`, () => {
      expect(plan(sql)).toMatch(usesIndex(index));
    });
  }

  // A day of a large brand is 1,000,000 ledger rows: retention must seek, never read the day per query.
  it("retention finds the oldest ledger day by one seek per source", () => {
    const lines = plan(OLDEST_LEDGER_DAY)
      .split("\n")
      .filter((l) => l.includes("webhook_events"));
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(usesIndex("webhook_events_by_received"));
  });

  it("retention deletes archived rows by rowid, not by a range over the day", () => {
    const text = plan(deleteByRowidSql("webhook_events", LEDGER_ELIGIBLE, 6));
    expect(text).toMatch(/SEARCH webhook_events USING INTEGER PRIMARY KEY \(rowid=\?\)/);
    expect(text).not.toMatch(/MULTI-INDEX OR|webhook_events_by_received/);
  });

  // The subject index holds a row per subject of every stored object: the sweep seeks it by subject.
  it("the privacy sweep seeks the subject index from the erased subjects, never scans it", () => {
    const text = plan(SWEEP_KEYS);
    expect(text).toMatch(/SCAN e\b/);
    expect(text).toMatch(
      /SEARCH a USING (COVERING )?INDEX sqlite_autoindex_archive_subjects_1 \(subject_kind=\? AND subject_id=\?/,
    );
    expect(text).not.toMatch(/SCAN a\b/);
    expect(plan(ERASED_IN_KEY)).toMatch(usesIndex("archive_subjects_by_key"));
  });

  it("the indexes migration 0153 dropped are gone, and no query above planned on them", () => {
    const text = readFileSync(`${root}/migrations/0153_drop_unused_indexes.sql`, "utf8");
    const dropped = [...text.matchAll(/^DROP INDEX IF EXISTS (\w+);/gm)].map((m) => m[1]);
    expect(dropped.length).toBeGreaterThan(30);
    const left = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name IN (${dropped.map(() => "?").join(",")})`)
      .all(...(dropped as string[]));
    expect(left).toEqual([]);
  });
});
