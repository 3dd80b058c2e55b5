/**
 * Changes made to the brand between jobs, outside any invocation: orders updated in D1 (as the
 * consumer would after their webhooks), for the second compaction; and orders changed in Shopify
 * (the fake), most of them also updated in D1 as their webhooks would have, the rest missed, for
 * reconciliation to find. The upstream changes are placed inside the window the first
 * reconciliation run looks at: from one lookback (60 min) before it to 2 minutes before it.
 */
import { env } from "cloudflare:workers";
import { changeUpstream } from "./fake-shop";
import { COUNTS, iso, orderId, SHOP, shopifyIso, spread } from "./world";

const MINUTE_MS = 60_000;

async function updateOrders(ids: readonly string[], updatedAt: (k: number) => string, status: string): Promise<void> {
  const rows = ids.map((id, k) => [id, updatedAt(k)]);
  // Keyed by (shop, id) from the list: an UPDATE … FROM json_each lets SQLite walk the shop's whole
  // index once per listed order (1,000,000 × 5,000 at full scale).
  for (let i = 0; i < rows.length; i += 1_000) {
    await env.DB.prepare(
      `UPDATE shopify_orders SET financial_status = ?2, last_event_id = 'scale-change',
         updated_at = (SELECT j.value ->> '$[1]' FROM json_each(?1) j WHERE j.value ->> '$[0]' = shopify_orders.id)
       WHERE shop = ?3 AND id IN (SELECT value ->> '$[0]' FROM json_each(?1))`,
    )
      .bind(JSON.stringify(rows.slice(i, i + 1_000)), status, SHOP)
      .run();
  }
}

/** `n` orders refunded now, as their `orders/updated` webhooks would leave them. */
export async function touchOrders(n: number): Promise<void> {
  const now = Date.now();
  const ids = spread(n, COUNTS.orders, 11).map(orderId);
  await updateOrders(ids, (k) => iso(now - k), "refunded");
}

/** `n` orders changed in Shopify in the last hour; all but `missedShare` of them delivered to D1. */
export async function changeOrdersUpstream(n: number, missedShare: number): Promise<void> {
  const now = Date.now();
  const indexes = spread(n, COUNTS.orders, 5);
  const at = (k: number) => now - 50 * MINUTE_MS + Math.floor((k * 45 * MINUTE_MS) / n / 1000) * 1000;
  for (const [k, i] of indexes.entries()) {
    changeUpstream(i, { updatedAt: shopifyIso(at(k)), displayFinancialStatus: "PARTIALLY_REFUNDED" });
  }
  const missed = Math.round(n * missedShare);
  const delivered = indexes.slice(missed);
  await updateOrders(delivered.map(orderId), (k) => iso(at(k + missed)), "partially_refunded");
}
