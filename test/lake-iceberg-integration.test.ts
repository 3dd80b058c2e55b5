import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { runCompact } from "../src/cron/compact/compact";
import { shopifyOrderLineItems, shopifyOrders } from "../src/shared/schema/shopify";
import { readLakeTable } from "./helpers/iceberg-read";

const db = drizzle(env.DB);
const SHOP = "iceberg-a.myshopify.com";
const version = (updatedAt: string, eventId: string) => ({
  updatedAt,
  lastEventId: eventId,
  eventAt: updatedAt,
  origin: "webhook" as const,
});
const run = (name: string) => ({ runId: `${name}-${crypto.randomUUID()}`, now: new Date() });

describe("lake as Iceberg tables", () => {
  it("appends changed rows, hides their old versions and deleted rows, and keeps ids and money exact", async () => {
    await db.insert(shopifyOrders).values([
      {
        shop: SHOP,
        id: "9007199254740993",
        currency: "USD",
        totalPriceMinor: 1999,
        ...version("2032-01-04T10:00:00.000Z", "e1"),
      },
      { shop: SHOP, id: "2", currency: "JPY", totalPriceMinor: 500, ...version("2032-01-04T11:00:00.000Z", "e2") },
    ]);
    await db
      .insert(shopifyOrderLineItems)
      .values([
        {
          shop: SHOP,
          id: "li-1",
          orderId: "9007199254740993",
          position: 0,
          quantity: 1,
          currency: "USD",
          priceMinor: 1999,
          ...version("2032-01-04T10:00:00.000Z", "e1"),
        },
      ]);
    const first = await runCompact(env, run("ice-1"), { tables: ["shopify_orders", "shopify_order_line_items"] });
    expect(first.skipped).toBe(false);
    let orders = (await readLakeTable("shopify", "shopify_orders")).filter((r) => r.shop === SHOP);
    expect(orders.map((r) => [r.id, r.total_price_minor]).sort()).toEqual([
      ["2", 500n],
      ["9007199254740993", 1999n],
    ]);

    await env.DB.prepare(
      "UPDATE shopify_orders SET total_price_minor = 2500, updated_at = ?3 WHERE shop = ?1 AND id = ?2",
    )
      .bind(SHOP, "9007199254740993", "2032-01-05T09:00:00.000Z")
      .run();
    await env.DB.prepare("DELETE FROM shopify_orders WHERE shop = ?1 AND id = ?2").bind(SHOP, "2").run();
    const second = await runCompact(env, run("ice-2"), { tables: ["shopify_orders"] });
    expect(second.skipped).toBe(false);
    orders = (await readLakeTable("shopify", "shopify_orders")).filter((r) => r.shop === SHOP);
    expect(orders.map((r) => [r.id, r.total_price_minor])).toEqual([["9007199254740993", 2500n]]);
    const lines = (await readLakeTable("shopify", "shopify_order_line_items")).filter((r) => r.shop === SHOP);
    expect(lines.map((r) => r.id)).toEqual(["li-1"]);
  });
});
