/**
 * Shop credentials at runtime: shops added by an operator live in D1 `shops` with their Admin
 * API token sealed (AES-256-GCM, `CREDENTIALS_KEY`, see src/shared/sealed.ts); shops listed in
 * the `SHOPIFY_ACCESS_TOKENS` secret keep working as a fallback. A D1 row wins over the secret,
 * and a removed row wins too, so removing a shop stops its jobs even while the secret still names
 * it. Tokens leave this module only towards the coordinator's Admin API client: never in a
 * record, a message or a log line. Reads are not cached, so a change applies on the next call.
 */
import { keyRing, open, seal } from "../shared/sealed";
import { sharedDatabase } from "../tables/database";
import { SHOP_DOMAIN, type ShopAccess, shopAccess } from "./shop-access";

export type ResolvedAccess =
  | ShopAccess
  | { ok: false; reason: "shop_removed" | "credentials_unreadable"; message: string };

/** What an operator may see of a shop: never the token. */
export interface ShopRecord {
  shop: string;
  status: "active" | "removed";
  /** `d1`: added at runtime; `secret`: only in SHOPIFY_ACCESS_TOKENS. */
  origin: "d1" | "secret";
  name: string | null;
  /** The shop's currency as Shopify answered when it was added; null for shops only in the secret. */
  currency: string | null;
  keyId: string | null;
  addedAt: string | null;
  updatedAt: string | null;
  removedAt: string | null;
}

interface ShopRow {
  shop: string;
  status: "active" | "removed";
  name: string | null;
  currency: string | null;
  key_id: string | null;
  iv: string | null;
  token_sealed: string | null;
  added_at: string;
  updated_at: string;
  removed_at: string | null;
}

type CredentialsEnv = Pick<Env, "DB" | "CREDENTIALS_KEY" | "SHOPIFY_ACCESS_TOKENS">;

/** The additional data of a sealed token: the row it belongs to. */
const context = (shop: string) => `shops/${shop}`;

/** A read is safe to repeat, so a D1 hiccup (thrown, or an answer lost) is tried again before it fails the caller. */
async function readRow(env: CredentialsEnv, shop: string): Promise<ShopRow | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sharedDatabase(env).prepare("SELECT * FROM shops WHERE shop = ?").bind(shop).first<ShopRow>();
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }
}

export async function resolveShopAccess(env: CredentialsEnv, shop: string): Promise<ResolvedAccess> {
  const row = await readRow(env, shop);
  if (!row) return shopAccess(env, shop);
  if (row.status === "removed" || !row.token_sealed || !row.iv || !row.key_id) {
    return {
      ok: false,
      reason: "shop_removed",
      message: `Shop "${shop}" was removed (${row.removed_at ?? "unknown time"}); add it again with \`npm run ops -- shops add\`.`,
    };
  }
  const ring = await keyRing(env.CREDENTIALS_KEY);
  if (!ring.ok) return { ok: false, reason: "credentials_unreadable", message: ring.message };
  const opened = await open(ring.keys, { keyId: row.key_id, iv: row.iv, sealed: row.token_sealed }, context(shop));
  if (!opened.ok) {
    const message =
      opened.reason === "unknown_key"
        ? `The token of "${shop}" is sealed with key "${row.key_id}", which CREDENTIALS_KEY no longer holds.`
        : `The token of "${shop}" does not open with key "${row.key_id}" (wrong key material or a damaged row).`;
    return { ok: false, reason: "credentials_unreadable", message };
  }
  return { ok: true, token: opened.plaintext };
}

export type StoreResult = { ok: true; record: ShopRecord } | { ok: false; message: string };

/** Seals and stores a token (a second add replaces it and re-activates a removed shop). */
export async function storeShop(
  env: CredentialsEnv,
  input: { shop: string; token: string; name: string | null; currency?: string | null },
  now = new Date().toISOString(),
): Promise<StoreResult> {
  if (!SHOP_DOMAIN.test(input.shop)) return { ok: false, message: `"${input.shop}" is not a shop domain.` };
  const ring = await keyRing(env.CREDENTIALS_KEY);
  if (!ring.ok) return { ok: false, message: ring.message };
  const sealed = await seal(ring.keys, input.token, context(input.shop));
  await sharedDatabase(env)
    .prepare(
      `INSERT INTO shops (shop, status, name, currency, key_id, iv, token_sealed, added_at, updated_at, removed_at)
     VALUES (?1, 'active', ?2, ?7, ?3, ?4, ?5, ?6, ?6, NULL)
     ON CONFLICT (shop) DO UPDATE SET status = 'active', name = excluded.name,
       currency = coalesce(excluded.currency, shops.currency), key_id = excluded.key_id, iv = excluded.iv,
       token_sealed = excluded.token_sealed, updated_at = excluded.updated_at, removed_at = NULL`,
    )
    .bind(input.shop, input.name, sealed.keyId, sealed.iv, sealed.sealed, now, input.currency ?? null)
    .run();
  const record = (await listShops(env)).find((s) => s.shop === input.shop);
  if (!record) return { ok: false, message: "the stored shop could not be read back" };
  return { ok: true, record };
}

/**
 * Marks a shop removed and erases its sealed token. Its rows in the entity tables stay
 * (they go with a `shop/redact`). A shop known only from the secret gets a removed row too,
 * so it stops here even before the secret is edited.
 */
export async function removeShop(
  env: CredentialsEnv,
  shop: string,
  now = new Date().toISOString(),
): Promise<ShopRecord | null> {
  const known = (await listShops(env)).find((s) => s.shop === shop);
  if (!known) return null;
  await sharedDatabase(env)
    .prepare(
      `INSERT INTO shops (shop, status, name, key_id, iv, token_sealed, added_at, updated_at, removed_at)
     VALUES (?1, 'removed', NULL, NULL, NULL, NULL, ?2, ?2, ?2)
     ON CONFLICT (shop) DO UPDATE SET status = 'removed', key_id = NULL, iv = NULL, token_sealed = NULL,
       updated_at = excluded.updated_at, removed_at = excluded.removed_at`,
    )
    .bind(shop, now)
    .run();
  return (await listShops(env)).find((s) => s.shop === shop) ?? null;
}

/** Every shop known to D1 or to the secret, without tokens, sorted by domain. */
export async function listShops(env: CredentialsEnv): Promise<ShopRecord[]> {
  const rows = await sharedDatabase(env)
    .prepare("SELECT shop, status, name, currency, key_id, added_at, updated_at, removed_at FROM shops ORDER BY shop")
    .all<Omit<ShopRow, "iv" | "token_sealed">>();
  const records: ShopRecord[] = rows.results.map((r) => ({
    shop: r.shop,
    status: r.status,
    origin: "d1",
    name: r.name,
    currency: r.currency,
    keyId: r.key_id,
    addedAt: r.added_at,
    updatedAt: r.updated_at,
    removedAt: r.removed_at,
  }));
  const inD1 = new Set(records.map((r) => r.shop));
  for (const shop of secretShops(env)) {
    if (inD1.has(shop)) continue;
    records.push({
      shop,
      status: "active",
      origin: "secret",
      name: null,
      currency: null,
      keyId: null,
      addedAt: null,
      updatedAt: null,
      removedAt: null,
    });
  }
  return records.sort((a, b) => (a.shop < b.shop ? -1 : a.shop > b.shop ? 1 : 0));
}

/** The shops jobs run for: active in D1, or in the secret and not removed in D1. */
export async function activeShops(env: CredentialsEnv): Promise<string[]> {
  return (await listShops(env)).filter((s) => s.status === "active").map((s) => s.shop);
}

/** Re-seals every active token under the ring's first key (after a rotation); returns how many moved. */
export async function resealShops(env: CredentialsEnv, now = new Date().toISOString()): Promise<number> {
  const ring = await keyRing(env.CREDENTIALS_KEY);
  if (!ring.ok) throw new Error(ring.message);
  const current = ring.keys[0]?.id;
  const rows = await sharedDatabase(env)
    .prepare("SELECT * FROM shops WHERE status = 'active' AND key_id <> ?")
    .bind(current)
    .all<ShopRow>();
  let moved = 0;
  for (const row of rows.results) {
    const access = await resolveShopAccess(env, row.shop);
    if (!access.ok) continue;
    const sealed = await seal(ring.keys, access.token, context(row.shop));
    await sharedDatabase(env)
      .prepare(
        "UPDATE shops SET key_id = ?2, iv = ?3, token_sealed = ?4, updated_at = ?5 WHERE shop = ?1 AND key_id = ?6",
      )
      .bind(row.shop, sealed.keyId, sealed.iv, sealed.sealed, now, row.key_id)
      .run();
    moved++;
  }
  return moved;
}

function secretShops(env: Pick<Env, "SHOPIFY_ACCESS_TOKENS">): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(env.SHOPIFY_ACCESS_TOKENS || "{}");
  } catch {
    return [];
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return [];
  return Object.entries(doc)
    .filter(([shop, token]) => SHOP_DOMAIN.test(shop) && typeof token === "string" && token.length > 0)
    .map(([shop]) => shop);
}
