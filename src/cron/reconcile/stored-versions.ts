/**
 * What D1 already holds for a page of upstream records: the stored `updated_at` per id
 * (entity tables) or whether an event id is in the ledger (Stripe). Reads are chunked
 * under D1's 100-bound-parameter limit. Table names come from a fixed list, never
 * from input. A record is *missing* when D1 has no row, *stale* when the stored
 * version is older than upstream's; equal or newer is in sync (webhooks can be ahead).
 */

const VERSIONED_TABLES = {
  "shopify:orders": "shopify_orders",
  "shopify:customers": "shopify_customers",
  "shopify:products": "shopify_products",
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

/** id → stored updated_at, for the ids that have a row (scoped to `shop` for Shopify tables). */
export async function storedVersions(
  db: D1Database,
  table: VersionedTable,
  ids: readonly string[],
  shop: string | null,
): Promise<Map<string, string>> {
  const name = VERSIONED_TABLES[table];
  const out = new Map<string, string>();
  for (const part of chunks([...new Set(ids)])) {
    const marks = part.map((_, i) => `?${i + 2}`).join(", ");
    const sql =
      shop === null
        ? `SELECT id, updated_at FROM ${name} WHERE id IN (${part.map((_, i) => `?${i + 1}`).join(", ")})`
        : `SELECT id, updated_at FROM ${name} WHERE shop = ?1 AND id IN (${marks})`;
    const stmt = shop === null ? db.prepare(sql).bind(...part) : db.prepare(sql).bind(shop, ...part);
    const { results } = await stmt.all<{ id: string; updated_at: string }>();
    for (const r of results) out.set(r.id, r.updated_at);
  }
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
