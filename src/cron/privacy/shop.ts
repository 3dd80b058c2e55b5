/**
 * `shop/redact`: everything of one shop goes. R2 objects are found through the subject index,
 * the ledger and the bulk records (never by listing the bucket) and deleted in bounded chunks;
 * then every D1 row keyed by the shop, the identity profiles only that shop held, and the shop
 * coordinator's bulk state. The tombstone and the erased-shop marker keep the domain: it is the
 * shop's, not a person's, and it keeps later events of the shop redacted.
 */
import { log } from "../../shared/log";
import { sharedDatabase, shopDatabase } from "../../tables/database";

/** Tables whose rows are the shop's; the privacy tables keep their proof of erasure. */
const SHOP_TABLES = [
  "shopify_order_line_items",
  "shopify_orders",
  "shopify_customers",
  "shopify_product_variants",
  "shopify_products",
  "shopify_fulfillments",
  "shopify_refund_line_items",
  "shopify_refunds",
  "shopify_checkouts",
  "customer_identity_conflicts",
  "customer_identities",
  "bulk_operations",
  "sync_cursors",
  "archive_subjects",
  "webhook_events",
];
const KEEP = new Set(["erased_subjects", "privacy_requests"]);

/** Every table with a `shop` column: the list above plus any added later. */
async function shopTables(db: D1Database): Promise<string[]> {
  try {
    const r = await db
      .prepare(
        "SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'shop'",
      )
      .all<{ name: string }>();
    const found = r.results.map((x) => x.name).filter((n) => !KEEP.has(n) && !SHOP_TABLES.includes(n));
    return [...SHOP_TABLES.slice(0, -2), ...found, ...SHOP_TABLES.slice(-2)];
  } catch {
    return SHOP_TABLES;
  }
}

export async function shopDays(db: D1Database, shop: string): Promise<string[]> {
  const days = new Set<string>();
  for (const table of [...SHOP_TABLES.filter((t) => t.startsWith("shopify_")), "customer_identities"]) {
    const r = await db
      .prepare(`SELECT DISTINCT substr(updated_at, 1, 10) AS d FROM ${table} WHERE shop = ?1`)
      .bind(shop)
      .all<{ d: string | null }>();
    for (const x of r.results) if (x.d) days.add(x.d);
  }
  return [...days].sort();
}

/** Deletes up to `limit` of the shop's R2 objects; returns how many (0: none left). */
export async function deleteShopObjects(
  env: Env,
  shop: string,
  limit: number,
): Promise<{ deleted: number; days: string[] }> {
  // The shop's database holds its events and index; the shared one its bulk exports (the same when not routed).
  for (const db of shopDatabases(env, shop)) {
    const out = await deleteObjectsIn(env, db, shop, limit);
    if (out.deleted > 0) return out;
  }
  // Last: the data-request answers under the shop's own prefix (a bounded listing).
  let exports = 0;
  let cursor: string | undefined;
  do {
    const page = await env.LAKE.list({ prefix: `exports/${shop}/`, cursor });
    if (page.objects.length > 0) await env.LAKE.delete(page.objects.map((o) => o.key));
    exports += page.objects.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return { deleted: exports, days: [] };
}

/** The shop's database, then the shared one when they differ. */
function shopDatabases(env: Env, shop: string): D1Database[] {
  const own = shopDatabase(env, shop);
  const shared = sharedDatabase(env);
  return own === shared ? [own] : [own, shared];
}

async function deleteObjectsIn(
  env: Env,
  db: D1Database,
  shop: string,
  limit: number,
): Promise<{ deleted: number; days: string[] }> {
  const r = await db
    .prepare(
      `SELECT r2_key FROM (
         SELECT r2_key FROM archive_subjects WHERE shop = ?1
         UNION SELECT r2_key FROM webhook_events WHERE shop = ?1 AND r2_key IS NOT NULL
         UNION SELECT r2_key FROM bulk_operations WHERE shop = ?1 AND r2_key IS NOT NULL)
       LIMIT ?2`,
    )
    .bind(shop, limit)
    .all<{ r2_key: string }>();
  const keys = r.results.map((x) => x.r2_key);
  if (keys.length === 0) return { deleted: 0, days: [] };
  for (let i = 0; i < keys.length; i += 1000) await env.LAKE.delete(keys.slice(i, i + 1000));
  const days = new Set<string>();
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < keys.length; i += 90) {
    const chunk = keys.slice(i, i + 90);
    for (const k of chunk) {
      const d = /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(k)?.[1];
      if (d) days.add(d);
    }
    const marks = chunk.map((_, j) => `?${j + 2}`).join(", ");
    statements.push(
      db.prepare(`DELETE FROM archive_subjects WHERE shop = ?1 AND r2_key IN (${marks})`).bind(shop, ...chunk),
      db.prepare(`DELETE FROM webhook_events WHERE shop = ?1 AND r2_key IN (${marks})`).bind(shop, ...chunk),
      db
        .prepare(`UPDATE bulk_operations SET r2_key = NULL WHERE shop = ?1 AND r2_key IN (${marks})`)
        .bind(shop, ...chunk),
    );
  }
  await db.batch(statements);
  return { deleted: keys.length, days: [...days] };
}

/** Deletes every D1 row of the shop, and the profiles only its identities held. */
export async function deleteShopRows(env: Env, shop: string): Promise<number> {
  let rows = 0;
  for (const db of shopDatabases(env, shop)) rows += await deleteRowsIn(db, shop);
  const forgotten = await env.SHOP.getByName(shop).forgetShop();
  log.info("shop rows erased", { shop, rows, coordinatorJobs: forgotten.jobs });
  return rows;
}

async function deleteRowsIn(db: D1Database, shop: string): Promise<number> {
  const onlyHere = `SELECT profile_id FROM customer_identities WHERE shop = ?1
    EXCEPT SELECT profile_id FROM customer_identities WHERE shop <> ?1`;
  const statements = [
    db.prepare(`DELETE FROM customer_profile_emails WHERE profile_id IN (${onlyHere})`).bind(shop),
    db.prepare(`DELETE FROM customer_profiles WHERE id IN (${onlyHere})`).bind(shop),
    ...(await shopTables(db)).map((t) => db.prepare(`DELETE FROM ${t} WHERE shop = ?1`).bind(shop)),
  ];
  const results = await db.batch(statements);
  return results.reduce((n, r) => n + r.meta.changes, 0);
}
