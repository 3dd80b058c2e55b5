/**
 * The Recharge store's currency (table `recharge_store`, migrations/0154). API 2021-11 subscriptions
 * often carry `presentment_currency: null`; their price then takes the store's currency. Reconciliation
 * and the Recharge backfill, which already call Recharge, refresh it from `GET /store` when it is
 * missing or older than a day (one request a day). Each call then fills, a few pages at a time, the
 * subscriptions applied while no currency was known: their price was kept as text (`price_decimal`) with `currency` and
 * `price_minor` NULL, so nothing is stored without its currency, and the fill gives them both, and
 * their MRR history rows the amount they lacked.
 */
import { z } from "zod";
import { toMinor } from "../mapping/money";
import { describeError, log } from "../shared/log";

export const STORE_REFRESH_MS = 24 * 60 * 60_000;
const FILL_PAGE = 200;

/** What `GET /store` must answer (only the currency is read). */
const storeSchema = z.object({
  store: z.object({ currency: z.string().regex(/^[A-Za-z]{3}$/, "expected an ISO 4217 code") }),
});

/** The stored currency (upper case), or null when none was fetched yet. */
export async function storedRechargeCurrency(db: D1Database): Promise<string | null> {
  const row = await db.prepare("SELECT currency FROM recharge_store WHERE id = 1").first<{ currency: string }>();
  return row?.currency ?? null;
}

export interface StoreRefresh {
  /** The currency known after this call (fetched or stored), or null. */
  currency: string | null;
  /** Whether `GET /store` was called. */
  fetched: boolean;
  /** Subscriptions given the currency by the fill. */
  filled: number;
  /** Why the fetch failed, when it did (the stored currency, if any, is kept). */
  error: string | null;
}

/**
 * Fetches the store's currency through `get` (the caller's paced or counted GET, answering the body
 * text) when the stored one is missing or older than STORE_REFRESH_MS, stores it, and fills the
 * subscriptions without one. A failed fetch is reported, never thrown: the listing goes on.
 */
export async function refreshRechargeStore(
  db: D1Database,
  base: string,
  get: (url: URL) => Promise<string>,
  now: Date,
): Promise<StoreRefresh> {
  const stored = await db
    .prepare("SELECT currency, fetched_at AS fetchedAt FROM recharge_store WHERE id = 1")
    .first<{ currency: string; fetchedAt: string }>();
  if (stored !== null && now.getTime() - Date.parse(stored.fetchedAt) < STORE_REFRESH_MS) {
    // What an earlier call's pages did not reach (one indexed probe when nothing is left).
    const filled = await fillSubscriptionCurrency(db, stored.currency);
    return { currency: stored.currency, fetched: false, filled, error: null };
  }
  let currency: string;
  try {
    const text = await get(new URL(`${base.replace(/\/+$/, "")}/store`));
    currency = storeSchema.parse(JSON.parse(text)).store.currency.toUpperCase();
  } catch (err) {
    const error = `GET /store: ${describeError(err).slice(0, 300)}`;
    log.warn("recharge store currency not fetched", { error });
    return { currency: stored?.currency ?? null, fetched: true, filled: 0, error };
  }
  const at = now.toISOString();
  await db
    .prepare(
      `INSERT INTO recharge_store (id, currency, fetched_at, updated_at) VALUES (1, ?1, ?2, ?2)
       ON CONFLICT (id) DO UPDATE SET currency = excluded.currency, fetched_at = excluded.fetched_at,
         updated_at = CASE WHEN recharge_store.currency IS excluded.currency THEN recharge_store.updated_at
           ELSE excluded.updated_at END`,
    )
    .bind(currency, at)
    .run();
  const filled = await fillSubscriptionCurrency(db, currency);
  if (filled > 0) log.info("recharge subscriptions given the store currency", { currency, filled });
  return { currency, fetched: true, filled, error: null };
}

/** Pages one call fills at most (3 D1 queries each): the rest is filled by the next call. */
export const FILL_PAGES_PER_CALL = 10;

/**
 * Gives subscriptions without a currency (and with a price text) the store's currency and their
 * price in minor units, and the MRR history rows written for them while the price was unknown
 * (paying, amount NULL) the amount now known: pages of FILL_PAGE, found by the partial index of
 * such rows, each page three statements whatever its size, at most `maxPages` a call, so a brand
 * with tens of thousands of them is filled over a few runs, inside each run's D1 queries.
 */
export async function fillSubscriptionCurrency(
  db: D1Database,
  currency: string,
  maxPages = FILL_PAGES_PER_CALL,
): Promise<number> {
  let filled = 0;
  for (let page = 0; page < maxPages; page++) {
    const rows = await db
      .prepare(
        `SELECT id, price_decimal AS priceDecimal FROM recharge_subscriptions
         WHERE currency IS NULL AND price_decimal IS NOT NULL LIMIT ?1`,
      )
      .bind(FILL_PAGE)
      .all<{ id: string; priceDecimal: string }>();
    if (rows.results.length === 0) break;
    // [id, minor units]: exact decimal arithmetic in toMinor, never SQL's floating point.
    const prices = JSON.stringify(rows.results.map((r) => [r.id, toMinor(r.priceDecimal, currency)]));
    await db.batch([
      db
        .prepare(
          `UPDATE recharge_subscriptions SET currency = ?2,
             price_minor = (SELECT p.value ->> '$[1]' FROM json_each(?1) p WHERE p.value ->> '$[0]' = recharge_subscriptions.id)
           WHERE id IN (SELECT p.value ->> '$[0]' FROM json_each(?1) p) AND currency IS NULL`,
        )
        .bind(prices, currency),
      db
        .prepare(
          `UPDATE subscription_mrr_history
           SET amount_minor = (SELECT (p.value ->> '$[1]') * coalesce(s.quantity, 1) FROM json_each(?1) p
             JOIN recharge_subscriptions s ON s.id = p.value ->> '$[0]'
             WHERE p.value ->> '$[0]' = subscription_mrr_history.subscription_id)
           WHERE source = 'recharge' AND paying = 1 AND amount_minor IS NULL
             AND subscription_id IN (SELECT p.value ->> '$[0]' FROM json_each(?1) p WHERE p.value ->> '$[1]' IS NOT NULL)`,
        )
        .bind(prices),
    ]);
    filled += rows.results.length;
    if (rows.results.length < FILL_PAGE) break;
  }
  return filled;
}
