/**
 * Count parity per shop: Shopify's `ordersCount` for orders created in a 24 h window
 * that ended an hour ago (so the last hour's webhooks have settled), against the
 * non-deleted `shopify_orders` rows created in the same window. One small query per
 * shop, through the shop's coordinator budget. Parity is exact or it fails: a missing
 * order is what this check exists to find; an inexact count (AT_LEAST) only warns.
 */
import { z } from "zod";
import { sharedDatabase } from "../../tables/database";
import { DAY_MS, type DqCheck, type DqResult, HOUR_MS, iso } from "./types";

export const ORDERS_COUNT_QUERY = `query ParityOrdersCount($query: String!) {
  ordersCount(query: $query, limit: null) { count precision }
}`;

const countSchema = z.object({
  ordersCount: z.object({ count: z.number().int().nonnegative(), precision: z.string() }).nullable(),
});

const SETTLE_MS = HOUR_MS;
const searchTime = (ms: number) => `${iso(ms).slice(0, 19)}Z`;

export const countParity: DqCheck = async ({ env, now, shops, connector }) => {
  const to = now.getTime() - SETTLE_MS;
  const from = to - DAY_MS;
  const results: DqResult[] = [];
  for (const shop of shops) {
    const base = { check: "count_parity", subject: shop, threshold: 0 };
    const details = { window_from: iso(from), window_to: iso(to) };
    const answer = await connector(shop)(
      ORDERS_COUNT_QUERY,
      { query: `created_at:>='${searchTime(from)}' AND created_at:<'${searchTime(to)}'` },
      { estimatedCost: 1 },
    );
    if (!answer.ok) {
      results.push({
        ...base,
        outcome: "WARN",
        value: null,
        message: `Shopify count unavailable: ${answer.error.kind}: ${answer.error.message}`.slice(0, 300),
        details,
      });
      continue;
    }
    const parsed = countSchema.safeParse(answer.data);
    if (!parsed.success || parsed.data.ordersCount === null) {
      results.push({ ...base, outcome: "WARN", value: null, message: "Shopify returned no ordersCount", details });
      continue;
    }
    const shopify = parsed.data.ordersCount;
    const row = await sharedDatabase(env)
      .prepare(
        `SELECT COUNT(*) AS n FROM shopify_orders
       WHERE shop = ?1 AND created_at >= ?2 AND created_at < ?3 AND deleted_at IS NULL`,
      )
      .bind(shop, iso(from), iso(to))
      .first<{ n: number }>();
    const stored = row?.n ?? 0;
    const diff = shopify.count - stored;
    const exact = shopify.precision === "EXACT";
    results.push({
      ...base,
      outcome: !exact ? "WARN" : diff === 0 ? "PASS" : "FAIL",
      value: diff,
      message: exact
        ? `Shopify has ${shopify.count} orders created in the window, D1 ${stored}`
        : `Shopify count is ${shopify.precision} ${shopify.count}, D1 ${stored}`,
      details: { ...details, shopify: shopify.count, d1: stored, precision: shopify.precision },
    });
  }
  return results;
};
