/**
 * `shop/redact`: everything of one shop goes. R2 objects are found through the subject index
 * (walking each shard by its primary key, the position kept on the request between runs), the ledger and the bulk records (never by
 * listing the bucket: only a bulk export's folder of parts is listed) and deleted 1,000 keys per R2
 * call; then every D1 row keyed by the shop, the identity profiles only that shop held, and the
 * shop coordinator's bulk state. Rows go in chunks of ROWS_PER_STATEMENT per table, never in one
 * batch (a shop of millions of rows would pass D1's 30 s per batch), so the work spreads over
 * runs and resumes where it stopped: what was deleted is gone, and the next chunk is the first
 * rows still there. The tombstone and the erased-shop marker keep the domain: it is the shop's,
 * not a person's, and it keeps later events of the shop redacted.
 */
import { describeError, log } from "../../shared/log";
import { sharedDatabase, shopDatabase } from "../../tables/database";
import { forgetEntries, type ShardCursor, shopIndexedEntries } from "../../tables/subject-index";

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
  "webhook_events",
];
/**
 * The privacy tables keep their proof of erasure; `archive_subjects` is empty once its rows moved to
 * the subject index objects, which requests wait for (move-index.ts); `privacy_late_objects` (WITHOUT
 * ROWID, so not deleted in rowid chunks) names objects this request deletes, and the sweep drops its
 * rows when it finds them missing.
 */
const KEEP = new Set(["erased_subjects", "privacy_requests", "archive_subjects", "privacy_late_objects"]);

/** Every table with a `shop` column: the list above plus any added later. */
async function shopTables(db: D1Database): Promise<string[]> {
  try {
    const r = await db
      .prepare(
        "SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'shop'",
      )
      .all<{ name: string }>();
    const found = r.results.map((x) => x.name).filter((n) => !KEEP.has(n) && !SHOP_TABLES.includes(n));
    return [...SHOP_TABLES.slice(0, -1), ...found, ...SHOP_TABLES.slice(-1)];
  } catch (err) {
    // Some D1 builds refuse pragma functions (SQLITE_AUTH): the known tables still go, and the log
    // says (once per isolate) that a table added later and not listed above would keep the shop's rows.
    if (!warnedTables) {
      warnedTables = true;
      log.warn("shop/redact could not list the tables with a shop column; deleting from the known ones", {
        error: describeError(err),
      });
    }
    return SHOP_TABLES;
  }
}

let warnedTables = false;

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

/**
 * Deletes a chunk of the shop's R2 objects, at most about `limit`. First those the subject index
 * names, walking its shards from `cursor` (the request keeps it between runs); then the ledger's
 * and the bulk exports'; then the data-request answers. `done`: nothing is left.
 */
export async function deleteShopObjects(
  env: Env,
  shop: string,
  limit: number,
  cursor: ShardCursor,
): Promise<{ deleted: number; days: string[]; done: boolean }> {
  const walked = await shopIndexedEntries(env, shop, cursor);
  if (walked !== null) {
    const out = await deleteKeys(env, new Set(walked.entries.map((e) => e[3])));
    await forgetEntries(env, walked.shard, walked.entries);
    return { deleted: out.deleted, days: out.days, done: false };
  }
  // The shop's database holds its events; the shared one its bulk exports (the same when not routed).
  for (const db of shopDatabases(env, shop)) {
    const out = await deleteObjectsIn(env, db, shop, limit);
    if (out.deleted > 0) return { ...out, done: false };
  }
  // Last: the data-request answers under the shop's own prefix (a bounded listing).
  let exports = 0;
  let next: string | undefined;
  do {
    const page = await env.LAKE.list({ prefix: `exports/${shop}/`, cursor: next });
    if (page.objects.length > 0) await env.LAKE.delete(page.objects.map((o) => o.key));
    exports += page.objects.length;
    next = page.truncated ? page.cursor : undefined;
  } while (next !== undefined);
  return { deleted: exports, days: [], done: exports === 0 };
}

/**
 * About how many objects the shop's deletion has to do, for the status page: its ledger's and its
 * bulk exports'. The subject index's are found as its shards are walked (counting them first would
 * read every shard once more), so the count can grow while the request runs.
 */
export async function countShopObjects(env: Env, shop: string): Promise<number> {
  let n = 0;
  for (const db of shopDatabases(env, shop)) {
    const [ledger, bulk] = await db.batch<{ n: number }>([
      db.prepare("SELECT count(*) AS n FROM webhook_events WHERE shop = ?1 AND r2_key IS NOT NULL").bind(shop),
      db.prepare("SELECT count(*) AS n FROM bulk_operations WHERE shop = ?1 AND r2_key IS NOT NULL").bind(shop),
    ]);
    n += (ledger?.results[0]?.n ?? 0) + (bulk?.results[0]?.n ?? 0);
  }
  return n;
}

/** The shop's database, then the shared one when they differ. */
function shopDatabases(env: Env, shop: string): D1Database[] {
  const own = shopDatabase(env, shop);
  const shared = sharedDatabase(env);
  return own === shared ? [own] : [own, shared];
}

/**
 * Deletes the objects of `found`. A bulk export archived as parts is a folder (`…/{operation}/`):
 * its parts are listed and deleted a page at a time until none is left (an export has hundreds of
 * parts at most). Returns the objects deleted and their days.
 */
async function deleteKeys(env: Env, found: Iterable<string>): Promise<{ deleted: number; days: string[] }> {
  const objects: string[] = [];
  let deleted = 0;
  const days = new Set<string>();
  for (const k of found) {
    const d = /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(k)?.[1];
    if (d) days.add(d);
    if (!k.endsWith("/")) {
      objects.push(k);
      continue;
    }
    for (;;) {
      const page = await env.LAKE.list({ prefix: k, limit: 1000 });
      if (page.objects.length > 0) await env.LAKE.delete(page.objects.map((o) => o.key));
      deleted += page.objects.length;
      if (!page.truncated) break;
    }
  }
  for (let i = 0; i < objects.length; i += 1000) await env.LAKE.delete(objects.slice(i, i + 1000));
  return { deleted: deleted + objects.length, days: [...days] };
}

async function deleteObjectsIn(
  env: Env,
  db: D1Database,
  shop: string,
  limit: number,
): Promise<{ deleted: number; days: string[] }> {
  // One indexed read per table, not a UNION: a UNION builds the distinct set of all the shop's
  // keys before its LIMIT, millions of rows for every chunk of a large shop.
  const ledger = await db
    .prepare("SELECT rowid AS rid, r2_key FROM webhook_events WHERE shop = ?1 AND r2_key IS NOT NULL LIMIT ?2")
    .bind(shop, limit)
    .all<{ rid: number; r2_key: string }>();
  const found = new Set(ledger.results.map((x) => x.r2_key));
  const bulk =
    found.size >= limit
      ? []
      : (
          await db
            .prepare("SELECT r2_key FROM bulk_operations WHERE shop = ?1 AND r2_key IS NOT NULL LIMIT ?2")
            .bind(shop, limit - found.size)
            .all<{ r2_key: string }>()
        ).results.map((x) => x.r2_key);
  for (const k of bulk) found.add(k);
  if (found.size === 0) return { deleted: 0, days: [] };
  const out = await deleteKeys(env, found);
  // Each list as one JSON value: two statements for any number of keys. The ledger's rows go by
  // rowid: by (shop, key), each chunk would walk every row the shop has left.
  await db.batch([
    db
      .prepare("DELETE FROM webhook_events WHERE rowid IN (SELECT value FROM json_each(?1))")
      .bind(JSON.stringify(ledger.results.map((x) => x.rid))),
    db
      .prepare(
        "UPDATE bulk_operations SET r2_key = NULL WHERE shop = ?1 AND r2_key IN (SELECT value FROM json_each(?2))",
      )
      .bind(shop, JSON.stringify(bulk)),
  ]);
  return { deleted: Math.max(out.deleted, 1), days: out.days };
}

/** Rows one statement deletes: thousands of index entries and trigger writes, well inside 30 s. */
export const ROWS_PER_STATEMENT = 2_000;

/**
 * Deletes the next chunk of the shop's D1 rows in every database it has rows in, and the profiles
 * only its identities held; returns how many rows went (0: none left). After the last chunk, the
 * coordinator forgets the shop's bulk state.
 */
export async function deleteShopRowsChunk(env: Env, shop: string, n = ROWS_PER_STATEMENT): Promise<number> {
  let rows = 0;
  for (const db of shopDatabases(env, shop)) rows += await deleteRowsIn(db, shop, n);
  if (rows === 0) {
    const forgotten = await env.SHOP.getByName(shop).forgetShop();
    log.info("shop rows erased", { shop, coordinatorJobs: forgotten.jobs });
  }
  return rows;
}

async function deleteRowsIn(db: D1Database, shop: string, n: number): Promise<number> {
  // The profiles of the next chunk of the shop's identities that no other shop's identity holds,
  // deleted before those identities (in the same batch, so the chunk is the same rows).
  const onlyHere = `SELECT c.profile_id FROM (SELECT profile_id FROM customer_identities WHERE shop = ?1 LIMIT ${n}) c
    WHERE NOT EXISTS (SELECT 1 FROM customer_identities j WHERE j.profile_id = c.profile_id AND j.shop <> ?1)`;
  const chunk = (t: string) =>
    db.prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE shop = ?1 LIMIT ${n})`).bind(shop);
  const statements = [
    db.prepare(`DELETE FROM customer_profile_emails WHERE profile_id IN (${onlyHere})`).bind(shop),
    db.prepare(`DELETE FROM customer_profiles WHERE id IN (${onlyHere})`).bind(shop),
    ...(await shopTables(db)).map(chunk),
  ];
  const results = await db.batch(statements);
  return results.reduce((sum, r) => sum + r.meta.changes, 0);
}
