import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runJob } from "../src/cron/jobs";
import {
  CaptureQueue,
  consumeCaptured,
  type FakeServer,
  iso,
  MINUTE,
  registerShopToken,
  routeFetch,
} from "./cron-helpers";
import { FakeShopifyAdmin } from "./fakes/shopify-admin";
import { type FakeNode, fakeLevel, makeInventoryData, makeShopData } from "./fakes/shopify-data";

type Obj = Record<string, unknown>;
const num = (gid: unknown) => String(gid).split("?")[0]?.split("/").pop() ?? "";
const ms = (at: unknown) => String(at).replace(/Z$/, ".000Z");

const fakes: FakeServer[] = [];
beforeEach(() => {
  routeFetch(() => fakes);
});
afterEach(() => vi.restoreAllMocks());

async function reconcile(e: Env, now: number, shop: string) {
  const run = await runJob(e, "reconcile", { now: new Date(now), options: { sources: ["shopify"], shops: [shop] } });
  if (run.job !== "reconcile") throw new Error("not a reconcile run");
  const scope = run.result.scopes.find((s) => s.source === "shopify");
  if (!scope) throw new Error("no shopify scope in the report");
  return scope;
}

async function rows(sql: string, ...binds: unknown[]): Promise<Obj[]> {
  return (
    await env.DB.prepare(sql)
      .bind(...binds)
      .all<Obj>()
  ).results;
}

describe("Shopify inventory reconciliation", () => {
  // Away from the other reconciliation tests' windows and shops.
  const NOW = Date.parse("2033-05-10T12:00:00Z");

  /** A shop whose 260 inventory items (one location) all changed in the window: two listing pages. */
  function changedItems(shop: string, firstId: bigint): FakeShopifyAdmin {
    const data = makeShopData(shop, {});
    const inventory = makeInventoryData({ items: 260, locations: 1, firstId, since: iso(NOW - 55 * MINUTE) });
    // Every item changed in the window (one minute apart would run past it).
    for (const item of inventory.inventoryItems) item.updatedAt = iso(NOW - 30 * MINUTE).replace(".000Z", "Z");
    data.inventoryItems = inventory.inventoryItems;
    data.locations = inventory.locations;
    return new FakeShopifyAdmin(shop, data);
  }

  it("repairs missed items with their levels and locations, refreshes what changed, and a quiet shop lists once more", async () => {
    const shop = "cron-reconcile-inventory.myshopify.com";
    const data = makeShopData(shop, { products: 1, variantsPerProduct: 2, since: iso(NOW - 50 * MINUTE) });
    const variants = data.products.flatMap((p) => p.variants as Obj[]);
    const inventory = makeInventoryData({
      items: 2,
      locations: 3,
      firstId: 9_007_199_254_950_001n,
      since: iso(NOW - 40 * MINUTE),
      variantIds: variants.map((v) => String(v.id)),
    });
    const items = inventory.inventoryItems;
    variants.forEach((v, i) => {
      v.inventoryItem = { id: items[i]?.id };
    });
    // Item 1 is also stocked at a location the shop no longer lists.
    const levelsOf = (i: number) => (items[i] as FakeNode).inventoryLevels as FakeNode[];
    levelsOf(1).push(
      fakeLevel(
        String(items[1]?.id),
        "gid://shopify/Location/123456789012345678901",
        9_007_199_254_959_001n,
        { available: 4, on_hand: 4 },
        iso(NOW - 30 * MINUTE).replace(".000Z", "Z"),
      ),
    );
    data.inventoryItems = items;
    data.locations = inventory.locations;
    const fake = new FakeShopifyAdmin(shop, data);
    fakes.push(fake);
    registerShopToken(shop, fake.token);
    const queue = new CaptureQueue();
    const e: Env = { ...env, EVENTS: queue };

    // First run: nothing of this shop in D1.
    const first = await reconcile(e, NOW, shop);
    expect(first.status).toBe("ok");
    expect(first.resources).toMatchObject({
      products: { lookedAt: 1, missing: 1, repaired: 1 },
      inventory_items: { lookedAt: 2, missing: 2, stale: 0, repaired: 2 },
      inventory_levels: { lookedAt: 7, missing: 7, stale: 0, repaired: 7 },
      // The deactivated fulfillment-service location is listed too.
      locations: { lookedAt: 3, missing: 3, stale: 0, repaired: 3 },
    });
    const topics = queue.envelopes().map((m) => m.topic);
    expect(topics.filter((t) => t === "inventory_levels/update")).toHaveLength(7);
    expect((await consumeCaptured(queue, e)).explicitAcks).toHaveLength(13);

    const item0 = items[0] as FakeNode;
    const updatedAt = ms(item0.updatedAt);
    expect(
      await rows("SELECT * FROM shopify_inventory_items WHERE shop = ?1 AND id = ?2", shop, num(item0.id)),
    ).toEqual([
      {
        shop,
        id: "9007199254950004",
        sku: "INV-0",
        tracked: 1,
        requires_shipping: 1,
        // No order names the shop's currency yet: the cost waits for it, as a webhook's does.
        currency: null,
        cost_minor: null,
        variant_id: num(variants[0]?.id),
        country_code_of_origin: "CA",
        harmonized_system_code: "610910",
        created_at: ms(item0.createdAt),
        updated_at: updatedAt,
        deleted_at: null,
        last_event_id: `reconcile:inventory_items:9007199254950004:${updatedAt}`,
        event_at: updatedAt,
        origin: "reconcile",
        api_version: "2026-01",
      },
    ]);
    const level = levelsOf(0)[1] as FakeNode;
    const levelAt = ms(level.updatedAt);
    expect(
      await rows(
        "SELECT * FROM shopify_inventory_levels WHERE shop = ?1 AND inventory_item_id = ?2 AND location_id = ?3",
        shop,
        "9007199254950004",
        "9007199254950002",
      ),
    ).toEqual([
      {
        shop,
        inventory_item_id: "9007199254950004",
        location_id: "9007199254950002",
        available: 0,
        on_hand: 3,
        updated_at: levelAt,
        deleted_at: null,
        last_event_id: `reconcile:inventory_levels:9007199254950004-9007199254950002:${levelAt}`,
        event_at: levelAt,
        origin: "reconcile",
        api_version: "2026-01",
      },
    ]);
    expect(
      await rows(
        "SELECT id, name, active, legacy, province_code, origin FROM shopify_locations WHERE shop = ?1 ORDER BY id",
        shop,
      ),
    ).toEqual([
      { id: "9007199254950001", name: "Warehouse 1", active: 1, legacy: 0, province_code: "ON", origin: "reconcile" },
      { id: "9007199254950002", name: "Warehouse 2", active: 1, legacy: 0, province_code: null, origin: "reconcile" },
      { id: "9007199254950003", name: "Warehouse 3", active: 0, legacy: 1, province_code: "ON", origin: "reconcile" },
    ]);
    // The views read the repaired rows: the level at the unlisted location has no name.
    expect(
      await rows(
        "SELECT location_id, location_name, available FROM shopify_inventory_on_hand WHERE shop = ?1 AND variant_id = ?2 ORDER BY location_id",
        shop,
        num(variants[1]?.id),
      ),
    ).toEqual([
      { location_id: "123456789012345678901", location_name: null, available: 4 },
      { location_id: "9007199254950001", location_name: "Warehouse 1", available: 9 },
      { location_id: "9007199254950002", location_name: "Warehouse 2", available: 10 },
      { location_id: "9007199254950003", location_name: "Warehouse 3", available: 11 },
    ]);

    // Then item 1 changes in Shopify (webhooks lost): its SKU, and its stock at the first location.
    queue.clear();
    const later = NOW + 15 * MINUTE;
    const changedAt = iso(later - 5 * MINUTE).replace(".000Z", "Z");
    const item1 = items[1] as FakeNode;
    item1.sku = "INV-1-B";
    item1.updatedAt = changedAt;
    levelsOf(1)[0] = fakeLevel(
      String(item1.id),
      inventory.locations[0]?.id ?? "",
      9_007_199_254_959_002n,
      { available: 2, on_hand: 5 },
      changedAt,
    );
    const second = await reconcile(e, later, shop);
    expect(second.resources).toMatchObject({
      inventory_items: { missing: 0, stale: 1, repaired: 1 },
      inventory_levels: { lookedAt: 4, missing: 0, stale: 1, repaired: 1 },
      locations: { lookedAt: 3, missing: 0, stale: 0, repaired: 0 },
    });
    await consumeCaptured(queue, e);
    expect(
      await rows(
        "SELECT i.sku, l.available, l.on_hand, l.origin FROM shopify_inventory_items i JOIN shopify_inventory_levels l ON l.shop = i.shop AND l.inventory_item_id = i.id WHERE i.shop = ?1 AND i.id = ?2 AND l.location_id = ?3",
        shop,
        num(item1.id),
        num(inventory.locations[0]?.id),
      ),
    ).toEqual([{ sku: "INV-1-B", available: 2, on_hand: 5, origin: "reconcile" }]);

    // Quiet: nothing changed; the other resources' listing and the inventory listing, nothing sent.
    queue.clear();
    const quiet = await reconcile(e, later + 15 * MINUTE, shop);
    expect(quiet.status).toBe("ok");
    expect(quiet.resources).toMatchObject({
      inventory_items: { missing: 0, stale: 0, repaired: 0 },
      inventory_levels: { repaired: 0 },
      locations: { missing: 0, stale: 0, repaired: 0 },
    });
    expect(quiet.apiCalls).toBe(2);
    expect(queue.sent).toEqual([]);
  });

  it("a run at its page limit keeps Shopify's cursor and its window, and the next run finishes the window", async () => {
    const shop = "cron-reconcile-inventory-pages.myshopify.com";
    const fake = changedItems(shop, 9_007_199_254_970_001n);
    fakes.push(fake);
    registerShopToken(shop, fake.token);
    const queue = new CaptureQueue();
    const e: Env = { ...env, EVENTS: queue, RECONCILE_MAX_PAGES: "1" };

    const first = await reconcile(e, NOW, shop);
    expect(first.status).toBe("partial");
    expect(first.note).toContain("inventory_items: page limit reached");
    expect(first.resources).toMatchObject({ inventory_items: { lookedAt: 250, missing: 250 } });
    const partial = await rows(
      "SELECT value FROM sync_cursors WHERE source = 'shopify' AND shop = ?1 AND resource = 'inventory_items' AND name = 'reconcile_partial'",
      shop,
    );
    expect(JSON.parse(String(partial[0]?.value))).toMatchObject({ after: expect.any(String) });
    await consumeCaptured(queue, e);
    queue.clear();

    const second = await reconcile(e, NOW + 15 * MINUTE, shop);
    expect(second.resources).toMatchObject({ inventory_items: { lookedAt: 10, missing: 10, repaired: 10 } });
    await consumeCaptured(queue, e);
    expect(await rows("SELECT count(*) AS n FROM shopify_inventory_items WHERE shop = ?1", shop)).toEqual([{ n: 260 }]);
    expect(await rows("SELECT count(*) AS n FROM shopify_inventory_levels WHERE shop = ?1", shop)).toEqual([
      { n: 260 },
    ]);
  });

  it("a run that fails part-way keeps the pages it committed; the next lists only the rest", async () => {
    const shop = "cron-reconcile-inventory-fails.myshopify.com";
    const fake = changedItems(shop, 9_007_199_254_980_001n);
    // Shopify answers the first inventory listing page, then fails the second (a 502 every try).
    let listings = 0;
    let failing = true;
    fakes.push({
      serves: (url) => fake.serves(url),
      handle: async (request) => {
        const body = await request.clone().text();
        if (body.includes("ReconcileInventory") && ++listings > 1 && failing)
          return new Response("bad gateway", { status: 502 });
        return fake.handle(request);
      },
    });
    registerShopToken(shop, fake.token);
    const queue = new CaptureQueue();
    const e: Env = { ...env, EVENTS: queue };

    const first = await reconcile(e, NOW, shop);
    expect(first.status).toBe("error");
    // The first page's 250 items were sent, and its cursor committed with them.
    const sentFirst = queue.envelopes().filter((m) => m.topic === "inventory_items/update").length;
    expect(sentFirst).toBe(250);
    const partial = await rows(
      "SELECT value FROM sync_cursors WHERE source = 'shopify' AND shop = ?1 AND resource = 'inventory_items' AND name = 'reconcile_partial'",
      shop,
    );
    expect(JSON.parse(String(partial[0]?.value))).toMatchObject({ after: expect.any(String) });
    const itemIds = () =>
      queue
        .envelopes()
        .filter((m) => m.topic === "inventory_items/update")
        .map((m) => String((JSON.parse(m.body ?? "null") as { id: unknown }).id));
    const firstIds = itemIds();
    queue.clear();

    // The next run lists from the committed page on: the 10 items left, none of the first 250 again.
    failing = false;
    const second = await reconcile(e, NOW + 15 * MINUTE, shop);
    expect(second.status).toBe("ok");
    expect(second.resources).toMatchObject({ inventory_items: { lookedAt: 10, missing: 10, repaired: 10 } });
    const secondIds = itemIds();
    expect(secondIds).toHaveLength(10);
    expect(new Set([...firstIds, ...secondIds]).size).toBe(260);
  });
});
