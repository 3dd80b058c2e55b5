/**
 * `shop/redact`: everything of one shop goes. R2 objects are found through the subject index
 * (walking each shard by its primary key), the ledger and the bulk records (never by listing the
 * bucket: only a bulk export's folder of parts is listed) and deleted 1,000 keys per R2 call; then
 * every D1 row keyed by the shop, the identity profiles only that shop held, and the shop
 * coordinator's bulk state. The ledger and the identities have no index by shop (each would cost a
 * written row for every event and identity of every shop, for a walk done once per uninstalled
 * shop): their rows are found by walking rowids in windows, each query reading at most a window.
 * Every walk's position is kept on the request between runs (`ShopCursor`). Rows go in chunks of
 * ROWS_PER_STATEMENT per table, never in one batch (a shop of millions of rows would pass D1's 30 s
 * per batch), so the work spreads over runs and resumes where it stopped: what was deleted is gone,
 * and the next chunk is the first rows still there (or the walk's next window). The tombstone and
 * the erased-shop marker keep the domain: it is the shop's, not a person's, and it keeps later events
 * of the shop redacted.
 */
import { describeError, log } from "../../shared/log";
import { sharedDatabase, shopDatabase } from "../../tables/database";
import { forgetEntries, type ShardCursor, shopIndexedEntries } from "../../tables/subject-index";
import { type WalkEnds, type WalkedTable, walkEndsSql, walkedDeleteSql, walkWindowSql } from "./shop-sql";

/**
 * Where a shop's deletion stands: the walk of the index shards, and each rowid walk by
 * `table@database` (the database's place in shopDatabases) as the last rowid walked.
 */
export interface ShopCursor extends ShardCursor {
  rowids?: Record<string, number>;
}

/**
 * A rowid walk's steps: `rowids` one query spans (it reads at most this many rows, however few are
 * the shop's: a seek and a short range read, milliseconds and $0.00005 of rows read), and `windows`
 * one call reads at most before it returns (the caller saves the cursor and comes back).
 */
export interface Walk {
  rowids: number;
  windows: number;
}
const WALK: Walk = { rowids: 50_000, windows: 4 };

/** A walk's place in the cursor: the table and the database's place in shopDatabases. */
const walkKey = (table: WalkedTable, at: number) => `${table}@${at}`;

/** The cursor's walk positions, made on first use. */
function positions(cursor: ShopCursor): Record<string, number> {
  cursor.rowids ??= {};
  return cursor.rowids;
}

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
  "bulk_operations",
  "sync_cursors",
];
/** Walked by rowid (no index by shop), not deleted by the chunk of SHOP_TABLES. */
const WALKED = new Set(["webhook_events", "customer_identities"]);
/**
 * The privacy tables keep their proof of erasure; `archive_subjects` is empty once its rows moved to
 * the subject index objects, which requests wait for (move-index.ts); `privacy_late_objects` (WITHOUT
 * ROWID, so not deleted in rowid chunks) names objects this request deletes, and the sweep drops its
 * rows when it finds them missing.
 */
const KEEP = new Set(["erased_subjects", "privacy_requests", "archive_subjects", "privacy_late_objects", ...WALKED]);

/** Every table with a `shop` column: the list above plus any added later. */
async function shopTables(db: D1Database): Promise<string[]> {
  try {
    const r = await db
      .prepare(
        "SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'shop'",
      )
      .all<{ name: string }>();
    const found = r.results.map((x) => x.name).filter((n) => !KEEP.has(n) && !SHOP_TABLES.includes(n));
    return [...SHOP_TABLES, ...found];
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

/** The days of the shop's Shopify rows (each table's key starts with the shop); the identities' come with their walk. */
export async function shopDays(db: D1Database, shop: string): Promise<string[]> {
  const days = new Set<string>();
  for (const table of SHOP_TABLES.filter((t) => t.startsWith("shopify_"))) {
    const r = await db
      .prepare(`SELECT DISTINCT substr(updated_at, 1, 10) AS d FROM ${table} WHERE shop = ?1`)
      .bind(shop)
      .all<{ d: string | null }>();
    for (const x of r.results) if (x.d) days.add(x.d);
  }
  return [...days].sort();
}

/**
 * The next of the shop's rows of `table` (up to `limit`), found by walking its rowids from where
 * `cursor` stands under `key`, a window of `walk.rowids` per query, at most `walk.windows` a call;
 * the cursor moves past what was read. `done`: the walk reached the table's last rowid and found
 * nothing more (rows written after the walk passed come after it, so they are found too).
 */
async function walkRows<T>(
  db: D1Database,
  table: WalkedTable,
  columns: string,
  shop: string,
  key: string,
  cursor: ShopCursor,
  limit: number,
  walk: Walk,
): Promise<{ rows: Array<T & { rid: number }>; done: boolean; queries: number }> {
  const rowids = positions(cursor);
  const ends = await db.prepare(walkEndsSql(table)).first<WalkEnds>();
  const hi = ends?.hi ?? 0;
  // Never below the first rowid left: retention may have deleted the rows a saved position stood among.
  let after = Math.max(rowids[key] ?? 0, (ends?.lo ?? 1) - 1);
  const rows: Array<T & { rid: number }> = [];
  let queries = 1;
  for (let w = 0; w < walk.windows && after < hi && rows.length === 0; w++) {
    queries++;
    const r = await db
      .prepare(walkWindowSql(table, columns))
      .bind(after, after + walk.rowids, shop, limit)
      .all<T & { rid: number }>();
    rows.push(...r.results);
    // A full page may leave rows of the window: the next read starts after its last row.
    after = r.results.length === limit ? (r.results.at(-1)?.rid ?? after) : Math.min(after + walk.rowids, hi);
  }
  rowids[key] = after;
  return { rows, done: rows.length === 0 && after >= hi, queries };
}

/**
 * The DELETE of walked rows (by rowid, the shop checked again on each) and, in the same batch, the
 * table's rowid ends after it, which `keepBelowTop` reads.
 */
function deleteWalked(
  db: D1Database,
  table: WalkedTable,
  shop: string,
  rows: ReadonlyArray<{ rid: number }>,
  returning = "",
): [D1PreparedStatement, D1PreparedStatement] {
  return [
    db.prepare(walkedDeleteSql(table, returning)).bind(shop, JSON.stringify(rows.map((r) => r.rid))),
    db.prepare(walkEndsSql(table)),
  ];
}

/**
 * After a walk deleted rows: a rowid table gives a new row the highest rowid it holds plus one, so
 * once the rows at the top are gone their rowids come back. The position comes down to the highest
 * rowid left (`ends`, read in the delete's batch), so a row written later is still ahead of the walk.
 */
function keepBelowTop(cursor: ShopCursor, key: string, ends: D1Result<Partial<WalkEnds>> | undefined): void {
  const rowids = positions(cursor);
  const at = rowids[key];
  if (at !== undefined) rowids[key] = Math.min(at, ends?.results[0]?.hi ?? 0);
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
  cursor: ShopCursor,
  walk: Walk = WALK,
): Promise<{ deleted: number; days: string[]; done: boolean; queries: number }> {
  const walked = await shopIndexedEntries(env, shop, cursor);
  if (walked !== null) {
    const out = await deleteKeys(env, new Set(walked.entries.map((e) => e[3])));
    await forgetEntries(env, walked.shard, walked.entries);
    return { deleted: out.deleted, days: out.days, done: false, queries: 0 };
  }
  // The shop's database holds its events; the shared one its bulk exports (the same when not routed).
  let queries = 0;
  for (const [i, db] of shopDatabases(env, shop).entries()) {
    const out = await deleteObjectsIn(env, db, shop, limit, cursor, walkKey("webhook_events", i), walk);
    queries += out.queries;
    if (!out.done) return { deleted: out.deleted, days: out.days, done: false, queries };
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
  return { deleted: exports, days: [], done: exports === 0, queries };
}

/**
 * About how many objects the shop's deletion has to do, for the status page: its bulk exports'. The
 * subject index's and the ledger's are found as they are walked (counting them first would read
 * every shard and the whole ledger once more), so the count grows while the request runs.
 */
export async function countShopObjects(env: Env, shop: string): Promise<number> {
  let n = 0;
  for (const db of shopDatabases(env, shop)) {
    const bulk = await db
      .prepare("SELECT count(*) AS n FROM bulk_operations WHERE shop = ?1 AND r2_key IS NOT NULL")
      .bind(shop)
      .first<{ n: number }>();
    n += bulk?.n ?? 0;
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

/**
 * The next chunk of the shop's ledger rows, walked by rowid, their objects deleted and then the rows;
 * once the walk is through, the bulk exports' objects. `done`: neither has anything left.
 */
async function deleteObjectsIn(
  env: Env,
  db: D1Database,
  shop: string,
  limit: number,
  cursor: ShopCursor,
  key: string,
  walk: Walk,
): Promise<{ deleted: number; days: string[]; done: boolean; queries: number }> {
  const ledger = await walkRows<{ r2_key: string | null }>(
    db,
    "webhook_events",
    "r2_key",
    shop,
    key,
    cursor,
    limit,
    walk,
  );
  if (!ledger.done) {
    const out = await deleteKeys(env, new Set(ledger.rows.flatMap((x) => (x.r2_key ? [x.r2_key] : []))));
    const [, ends] = await db.batch<WalkEnds>(deleteWalked(db, "webhook_events", shop, ledger.rows));
    keepBelowTop(cursor, key, ends);
    return { deleted: out.deleted, days: out.days, done: false, queries: ledger.queries + 2 };
  }
  const bulk = (
    await db
      .prepare("SELECT r2_key FROM bulk_operations WHERE shop = ?1 AND r2_key IS NOT NULL LIMIT ?2")
      .bind(shop, limit)
      .all<{ r2_key: string }>()
  ).results.map((x) => x.r2_key);
  if (bulk.length === 0) return { deleted: 0, days: [], done: true, queries: ledger.queries + 1 };
  const out = await deleteKeys(env, bulk);
  await db
    .prepare("UPDATE bulk_operations SET r2_key = NULL WHERE shop = ?1 AND r2_key IN (SELECT value FROM json_each(?2))")
    .bind(shop, JSON.stringify(bulk))
    .run();
  return { deleted: out.deleted, days: out.days, done: false, queries: ledger.queries + 2 };
}

/** Rows one statement deletes: thousands of index entries and trigger writes, well inside 30 s. */
export const ROWS_PER_STATEMENT = 2_000;

/**
 * Deletes the next chunk of the shop's D1 rows in every database it has rows in, and the profiles
 * only its identities held; `done` once none is left. Then the coordinator forgets the shop's bulk
 * state. `days`: the days of the identities deleted (the lake's partitions to rewrite).
 */
export async function deleteShopRowsChunk(
  env: Env,
  shop: string,
  cursor: ShopCursor,
  n = ROWS_PER_STATEMENT,
  walk: Walk = WALK,
): Promise<{ rows: number; days: string[]; done: boolean; queries: number }> {
  let rows = 0;
  let done = true;
  let queries = 0;
  const days = new Set<string>();
  for (const [i, db] of shopDatabases(env, shop).entries()) {
    const out = await deleteRowsIn(db, shop, n, cursor, i, walk);
    rows += out.rows;
    queries += out.queries;
    done &&= out.done;
    for (const d of out.days) days.add(d);
  }
  if (done) {
    const forgotten = await env.SHOP.getByName(shop).forgetShop();
    log.info("shop rows erased", { shop, coordinatorJobs: forgotten.jobs });
  }
  return { rows, days: [...days], done, queries };
}

async function deleteRowsIn(
  db: D1Database,
  shop: string,
  n: number,
  cursor: ShopCursor,
  at: number,
  walk: Walk,
): Promise<{ rows: number; days: string[]; done: boolean; queries: number }> {
  const chunk = (t: string) =>
    db.prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE shop = ?1 LIMIT ${n})`).bind(shop);
  // The next identities of the shop, by their rowid walk; the profiles among theirs that no other
  // shop's identity holds go first, in the same batch.
  const identities = await walkRows<{ profile_id: string }>(
    db,
    "customer_identities",
    "profile_id",
    shop,
    walkKey("customer_identities", at),
    cursor,
    n,
    walk,
  );
  // The ledger's walk goes on from where the objects' walk ended: rows written since (late events of
  // the shop), or every row when the objects' walk never ran here.
  const ledger = await walkRows<{ r2_key: string | null }>(
    db,
    "webhook_events",
    "r2_key",
    shop,
    walkKey("webhook_events", at),
    cursor,
    n,
    walk,
  );
  const rids = JSON.stringify(identities.rows.map((r) => r.rid));
  const onlyHere = `SELECT c.profile_id FROM customer_identities c WHERE c.rowid IN (SELECT value FROM json_each(?2))
    AND NOT EXISTS (SELECT 1 FROM customer_identities j WHERE j.profile_id = c.profile_id AND j.shop <> ?1)`;
  const [identitiesDelete, identitiesEnds] = deleteWalked(
    db,
    "customer_identities",
    shop,
    identities.rows,
    "RETURNING substr(updated_at, 1, 10) AS d",
  );
  const [ledgerDelete, ledgerEnds] = deleteWalked(db, "webhook_events", shop, ledger.rows);
  const statements = [
    db.prepare(`DELETE FROM customer_profile_emails WHERE profile_id IN (${onlyHere})`).bind(shop, rids),
    db.prepare(`DELETE FROM customer_profiles WHERE id IN (${onlyHere})`).bind(shop, rids),
    identitiesDelete,
    ledgerDelete,
    ...(await shopTables(db)).map(chunk),
  ];
  const results = await db.batch<{ d?: string | null } & Partial<WalkEnds>>([
    ...statements,
    ledgerEnds,
    identitiesEnds,
  ]);
  keepBelowTop(cursor, walkKey("webhook_events", at), results.at(-2));
  keepBelowTop(cursor, walkKey("customer_identities", at), results.at(-1));
  const rows = results.slice(0, statements.length).reduce((sum, r) => sum + r.meta.changes, 0);
  const days = new Set((results[2]?.results ?? []).flatMap((r) => (r.d ? [r.d] : [])));
  return {
    rows,
    days: [...days],
    done: rows === 0 && identities.done && ledger.done,
    queries: identities.queries + ledger.queries + statements.length + 2,
  };
}
