/**
 * A bulk backfill with failing bindings: the shop's coordinator runs its export with 20 % of its
 * D1 and R2 calls failing (thrown, or done with the answer lost), and is evicted mid-way. It must
 * still finish every export with exact counts: every order once, with all its line items.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  adminRequest,
  allFinished,
  count,
  drive,
  fakeShop,
  injectFaults,
  operations,
  useFakeShopify,
} from "./fakes/coordinator-harness";
import { FaultInjector } from "./fakes/faulty-env";

useFakeShopify();
const SEED = 77;

describe("bulk backfill under faults", { timeout: 90_000 }, () => {
  it("finishes every export with exact counts while 20 % of the coordinator's D1 and R2 calls fail", async () => {
    const { shop, stub } = fakeShop(
      "bf-faults",
      { orders: 600, lineItemsPerOrder: 3, customers: 120 },
      { bulkAutoAdvance: true, childPlacement: "anywhere" },
    );
    const injector = new FaultInjector({ seed: SEED, rate: 0.2, targets: ["DB", "LAKE"] });
    await injectFaults(stub, injector);
    const res = await adminRequest("POST", "/admin/backfill", { shop, resources: ["orders", "customers"] });
    expect(res.status).toBe(202);

    let evicted = false;
    await drive(
      stub,
      async () => {
        const ops = await operations(shop);
        if (!evicted && ops.some((o) => o.status === "applying" || o.status === "staging")) {
          evicted = true;
          await evictDurableObject(stub);
          await injectFaults(stub, injector);
        }
        return allFinished(shop, 2);
      },
      60_000,
    );
    const ops = await operations(shop);
    expect(
      ops.map((o) => [o.resource, o.status, o.error]),
      `seed ${SEED}, ${injector.faults.length} faults`,
    ).toEqual([
      ["customers", "completed", null],
      ["orders", "completed", null],
    ]);
    expect(injector.faults.length).toBeGreaterThan(5);
    expect(await count("shopify_orders", shop)).toBe(600);
    expect(await count("shopify_order_line_items", shop)).toBe(1800);
    expect(await count("shopify_customers", shop)).toBe(120);
    const uneven = await env.DB.prepare(
      "SELECT count(*) AS n FROM (SELECT order_id FROM shopify_order_line_items WHERE shop = ?1 GROUP BY order_id HAVING count(*) <> 3)",
    )
      .bind(shop)
      .first<{ n: number }>();
    expect(uneven?.n).toBe(0);
    console.log(`bulk under faults: ${injector.faults.length} faults injected, evicted mid-export: ${evicted}`);
  });
});
