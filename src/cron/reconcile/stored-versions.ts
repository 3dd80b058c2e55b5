/**
 * What D1 already holds for a page of upstream records: the stored `updated_at` per id
 * (entity tables) or whether an event id is in the ledger (Stripe). Ledger reads are
 * chunked under D1's 100-bound-parameter limit. Table names come from a fixed list, never
 * from input. Id lists are bound as one JSON value. A record is *missing* when D1 has no row, *stale* when the stored
 * version is older than upstream's; equal or newer is in sync (webhooks can be ahead).
 */

const VERSIONED_TABLES = {
  "shopify:orders": "shopify_orders",
  "shopify:customers": "shopify_customers",
  "shopify:products": "shopify_products",
  "shopify:inventory_items": "shopify_inventory_items",
  "shopify:locations": "shopify_locations",
  "recharge:subscriptions": "recharge_subscriptions",
  "recharge:charges": "recharge_charges",
} as const;

export type VersionedTable = keyof typeof VERSIONED_TABLES;

const CHUNK = 90;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * id → stored updated_at, for the ids that have a row (scoped to `shop` for Shopify tables). The
 * ids are bound as one JSON array (a page of 250 is one query, under the 100-parameter limit).
 */
export async function storedVersions(
  db: D1Database,
  table: VersionedTable,
  ids: readonly string[],
  shop: string | null,
): Promise<Map<string, string>> {
  const name = VERSIONED_TABLES[table];
  const out = new Map<string, string>();
  if (ids.length === 0) return out;
  const list = JSON.stringify([...new Set(ids)]);
  const stmt =
    shop === null
      ? db.prepare(`SELECT id, updated_at FROM ${name} WHERE id IN (SELECT value FROM json_each(?1))`).bind(list)
      : db
          .prepare(`SELECT id, updated_at FROM ${name} WHERE shop = ?1 AND id IN (SELECT value FROM json_each(?2))`)
          .bind(shop, list);
  const { results } = await stmt.all<{ id: string; updated_at: string }>();
  for (const r of results) out.set(r.id, r.updated_at);
  return out;
}

/** `{item}/{location}` → stored updated_at of the shop's levels of these inventory items. */
export async function storedLevelVersions(
  db: D1Database,
  shop: string,
  itemIds: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (itemIds.length === 0) return out;
  const { results } = await db
    .prepare(
      "SELECT inventory_item_id, location_id, updated_at FROM shopify_inventory_levels WHERE shop = ?1 AND inventory_item_id IN (SELECT value FROM json_each(?2))",
    )
    .bind(shop, JSON.stringify([...new Set(itemIds)]))
    .all<{ inventory_item_id: string; location_id: string; updated_at: string }>();
  for (const r of results) out.set(`${r.inventory_item_id}/${r.location_id}`, r.updated_at);
  return out;
}

export type Drift = "missing" | "stale" | "in_sync";

export function drift(stored: string | undefined, upstream: string): Drift {
  if (stored === undefined) return "missing";
  return stored < upstream ? "stale" : "in_sync";
}

/** The event ids of `ids` the ledger already has for `source`. */
export async function seenEventIds(db: D1Database, source: string, ids: readonly string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  for (const part of chunks([...new Set(ids)])) {
    const marks = part.map((_, i) => `?${i + 2}`).join(", ");
    const { results } = await db
      .prepare(`SELECT event_id FROM webhook_events WHERE source = ?1 AND event_id IN (${marks})`)
      .bind(source, ...part)
      .all<{ event_id: string }>();
    for (const r of results) seen.add(r.event_id);
  }
  return seen;
}
