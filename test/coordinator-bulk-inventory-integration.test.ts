import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mapBulkRows } from "../src/durable/bulk/map";
import { bulkQuery } from "../src/durable/bulk/queries";
import { type EventMeta, type MapContext, mapShopifyEvent } from "../src/mapping/shopify";
import {
  adminRequest,
  allFinished,
  count,
  drive,
  fakeShop,
  operation,
  useFakeShopify,
} from "./fakes/coordinator-harness";
import { type FakeNode, fakeLevel, makeInventoryData } from "./fakes/shopify-data";

useFakeShopify();

type Obj = Record<string, unknown>;
const num = (gid: unknown) => String(gid).split("?")[0]?.split("/").pop() ?? "";
/** Fake timestamps are whole seconds ending in Z; rows hold them with milliseconds. */
const ms = (iso: unknown) => String(iso).replace(/Z$/, ".000Z");
/** Webhook bodies as Shopify writes them: REST ids as bare JSON integers (past 2^53 here). */
const restJson = (body: Obj) => JSON.stringify(body).replace(/"#int:(\d+)"/g, "$1");

async function rows(sql: string, ...binds: unknown[]): Promise<Obj[]> {
  return (
    await env.DB.prepare(sql)
      .bind(...binds)
      .all<Obj>()
  ).results;
}

/** The line Shopify's bulk export writes for an item, and its levels' child lines. */
function bulkItemLines(item: FakeNode): { parent: string; children: string[] } {
  const pick = (o: Obj, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k] ?? null]));
  const parent = JSON.stringify(
    pick(item, [
      "id",
      "sku",
      "tracked",
      "requiresShipping",
      "unitCost",
      "countryCodeOfOrigin",
      "harmonizedSystemCode",
      "createdAt",
      "updatedAt",
      "variant",
    ]),
  );
  const children = (item.inventoryLevels as Obj[]).map((l) => {
    const q = l.quantityByName as Record<string, number>;
    return JSON.stringify({
      id: l.id,
      location: l.location,
      quantities: [
        { name: "available", quantity: q.available },
        { name: "on_hand", quantity: q.on_hand },
      ],
      updatedAt: l.updatedAt,
      __parentId: item.id,
    });
  });
  return { parent, children };
}

describe("bulk exports of inventory", { timeout: 30_000 }, () => {
  const meta: EventMeta = {
    shop: "x.myshopify.com",
    eventId: "bulk-1",
    eventAt: "2026-02-01T00:00:00.000Z",
    origin: "bulk",
  };
  const ctx: MapContext = { subscriptions: { tags: [], skus: [] }, shopCurrency: "USD" };

  it("map an item's line and its levels' lines to the webhook mapper's rows, with what only GraphQL reads", () => {
    const { inventoryItems } = makeInventoryData({
      items: 1,
      locations: 2,
      since: "2026-02-01T00:00:00Z",
      variantIds: ["gid://shopify/ProductVariant/9007199254999999"],
    });
    const item = inventoryItems[0] as FakeNode;
    const { parent, children } = bulkItemLines(item);
    const fromBulk = mapBulkRows("inventory", parent, children, meta, ctx);
    if (!fromBulk.ok) throw new Error(fromBulk.detail);

    // The same records as inventory_items/update and inventory_levels/update deliver them.
    const itemHook = mapShopifyEvent(
      "inventoryItem",
      restJson({
        id: `#int:${num(item.id)}`,
        sku: item.sku,
        created_at: item.createdAt,
        updated_at: item.updatedAt,
        requires_shipping: true,
        cost: "3.25",
        country_code_of_origin: "CA",
        province_code_of_origin: null,
        harmonized_system_code: "610910",
        tracked: true,
        country_harmonized_system_codes: [],
        admin_graphql_api_id: item.id,
      }),
      meta,
      ctx,
    );
    if (!itemHook.ok || itemHook.rows.kind !== "inventoryItem") throw new Error("item webhook did not map");
    const levelHooks = (item.inventoryLevels as Obj[]).map((l) => {
      const hook = mapShopifyEvent(
        "inventoryLevel",
        restJson({
          inventory_item_id: `#int:${num(item.id)}`,
          location_id: `#int:${num((l.location as Obj).id)}`,
          available: (l.quantityByName as Obj).available,
          updated_at: l.updatedAt,
          admin_graphql_api_id: l.id,
        }),
        meta,
        ctx,
      );
      if (!hook.ok || hook.rows.kind !== "inventoryLevel") throw new Error("level webhook did not map");
      return hook.rows.level;
    });
    // One mapping: the bulk rows are the webhook rows plus the columns no webhook carries.
    expect(fromBulk.rows).toEqual([
      { kind: "inventoryItem", item: { ...itemHook.rows.item, variantId: "9007199254999999" } },
      ...levelHooks.map((level, l) => ({
        kind: "inventoryLevel",
        level: { ...level, onHand: ((item.inventoryLevels as Obj[])[l]?.quantityByName as Obj | undefined)?.on_hand },
      })),
    ]);
    expect(fromBulk.rows[1]).toMatchObject({ kind: "inventoryLevel", level: { available: -1, onHand: 2 } });
  });

  it("refuse the whole line for a level without a location, or a line that is not an object", () => {
    const { inventoryItems } = makeInventoryData({ items: 1, locations: 2 });
    const item = inventoryItems[0] as FakeNode;
    const { parent, children } = bulkItemLines(item);
    const broken = children.map((c, i) => (i === 1 ? c.replace(/"location":\{[^}]*\}/, '"location":null') : c));
    const bad = mapBulkRows("inventory", parent, broken, meta, ctx);
    expect(bad.ok).toBe(false);
    expect(bad.ok ? "" : bad.detail).toMatch(/^inventory level: .*location_id/s);
    expect(mapBulkRows("inventory", "[1]", [], meta, ctx)).toEqual({ ok: false, detail: "line is not a JSON object" });
    expect(mapBulkRows("locations", '{"id":"gid://shopify/Location/1","isActive":"yes"}', [], meta, ctx).ok).toBe(
      false,
    );
  });

  it("the queries: items with their levels' two quantities; all locations, with no updated_at filter", () => {
    expect(bulkQuery("inventory", "2026-01-01T00:00:00Z")).toMatch(
      /^\{ inventoryItems\(query: "updated_at:>'2026-01-01T00:00:00Z'"\) \{ edges \{ node \{ id sku tracked .* inventoryLevels \{ edges \{ node \{ id location \{ id \} quantities\(names: \["available", "on_hand"\]\) \{ name quantity \} updatedAt \} \} \} \} \} \} \}$/,
    );
    expect(bulkQuery("locations", "2026-01-01T00:00:00Z")).toBe(
      "{ locations(includeInactive: true, includeLegacy: true) { edges { node { id name isActive isFulfillmentService address { provinceCode countryCode } createdAt updatedAt } } } }",
    );
  });

  it("backfill locations and items with their levels into the webhook tables, ids exact, and the views answer from them", async () => {
    const { shop, fake, stub } = fakeShop("bulk-inventory", { products: 2, variantsPerProduct: 2 });
    const variants = fake.data.products.flatMap((p) => p.variants as Obj[]);
    const inventory = makeInventoryData({
      items: 5,
      locations: 3,
      firstId: 9_007_199_254_900_001n,
      since: "2026-02-01T00:00:00Z",
      variantIds: variants.map((v) => String(v.id)),
    });
    const items = inventory.inventoryItems;
    variants.forEach((v, i) => {
      v.inventoryItem = { id: items[i]?.id };
    });
    // Item 1 is stocked at a location the shop's list does not have; item 3's second level names none.
    const unknownLocation = "gid://shopify/Location/123456789012345678901";
    const levelsOf = (i: number) => (items[i] as FakeNode).inventoryLevels as FakeNode[];
    levelsOf(1)[2] = fakeLevel(
      String(items[1]?.id),
      unknownLocation,
      9_007_199_254_999_001n,
      { available: 11, on_hand: 12 },
      "2026-02-01T00:02:00Z",
    );
    (levelsOf(3)[1] as Obj).location = null;
    fake.data.inventoryItems = items;
    fake.data.locations = inventory.locations;

    const res = await adminRequest("POST", "/admin/backfill", {
      shop,
      resources: ["products", "locations", "inventory"],
    });
    expect(res.status).toBe(202);
    await drive(stub, () => allFinished(shop, 3));

    expect(await operation(shop, "locations")).toMatchObject({
      status: "completed",
      parents: 3,
      children: 0,
      invalid: 0,
      entitiesApplied: 3,
    });
    const op = await operation(shop, "inventory");
    expect(op).toMatchObject({
      status: "completed",
      parents: 5,
      children: 15,
      invalid: 1,
      entitiesApplied: 16,
      rowsApplied: 16,
    });
    expect(op?.r2Key).toMatch(/^raw\/shopify\/inventory\/snapshots\/dt=/);
    expect(await count("shopify_inventory_items", shop)).toBe(4);
    expect(await count("shopify_inventory_levels", shop)).toBe(12);
    expect(await count("shopify_locations", shop)).toBe(3);

    const provenance = (o: typeof op) => ({
      last_event_id: `bulk-${num(o?.shopifyId)}`,
      event_at: new Date(String(o?.shopifyCreatedAt)).toISOString(),
      origin: "bulk",
      api_version: "2026-01",
    });
    const item0 = items[0] as FakeNode;
    expect(
      await rows("SELECT * FROM shopify_inventory_items WHERE shop = ?1 AND id = ?2", shop, num(item0.id)),
    ).toEqual([
      {
        shop,
        id: "9007199254900004",
        sku: "INV-0",
        tracked: 1,
        requires_shipping: 1,
        currency: "USD",
        cost_minor: 325,
        variant_id: num(variants[0]?.id),
        country_code_of_origin: "CA",
        harmonized_system_code: "610910",
        created_at: ms(item0.createdAt),
        updated_at: ms(item0.updatedAt),
        deleted_at: null,
        ...provenance(op),
      },
    ]);
    // No cost: the column is NULL beside the shop's currency, as the webhook writes it.
    expect(
      await rows(
        "SELECT sku, tracked, currency, cost_minor, variant_id FROM shopify_inventory_items WHERE shop = ?1 AND id = ?2",
        shop,
        num(items[4]?.id),
      ),
    ).toEqual([{ sku: "INV-4", tracked: 1, currency: "USD", cost_minor: null, variant_id: null }]);
    expect(
      await rows(
        "SELECT * FROM shopify_inventory_levels WHERE shop = ?1 AND inventory_item_id = ?2 ORDER BY location_id",
        shop,
        num(item0.id),
      ),
    ).toEqual(
      ["9007199254900001", "9007199254900002", "9007199254900003"].map((locationId, l) => ({
        shop,
        inventory_item_id: "9007199254900004",
        location_id: locationId,
        available: l - 1,
        on_hand: l + 2,
        updated_at: ms(levelsOf(0)[l]?.updatedAt),
        deleted_at: null,
        ...provenance(op),
      })),
    );
    expect(
      await rows(
        "SELECT available, on_hand FROM shopify_inventory_levels WHERE shop = ?1 AND location_id = ?2",
        shop,
        num(unknownLocation),
      ),
    ).toEqual([{ available: 11, on_hand: 12 }]);
    // The invalid line wrote nothing: neither the item nor its good level.
    expect(
      await rows(
        "SELECT count(*) AS n FROM shopify_inventory_levels WHERE shop = ?1 AND inventory_item_id = ?2",
        shop,
        num(items[3]?.id),
      ),
    ).toEqual([{ n: 0 }]);
    const locationsOp = await operation(shop, "locations");
    expect(await rows("SELECT * FROM shopify_locations WHERE shop = ?1 ORDER BY id", shop)).toEqual(
      inventory.locations.map((l, i) => ({
        shop,
        id: `900719925490000${i + 1}`,
        name: `Warehouse ${i + 1}`,
        active: i === 2 ? 0 : 1,
        legacy: i === 2 ? 1 : 0,
        province_code: i === 1 ? null : "ON",
        country_code: "CA",
        created_at: ms(l.createdAt),
        updated_at: ms(l.updatedAt),
        deleted_at: null,
        ...provenance(locationsOp),
      })),
    );

    // The views, from these rows and one sale of variant 1 (item 1) yesterday.
    const variant = (i: number) => num(variants[i]?.id);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString();
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO shopify_orders (shop, id, created_at, updated_at, last_event_id, event_at, origin) VALUES (?1, '5550001', ?2, ?2, 'seed', ?2, 'webhook')",
      ).bind(shop, yesterday),
      env.DB.prepare(
        "INSERT INTO shopify_order_line_items (shop, id, order_id, position, variant_id, quantity, updated_at, last_event_id, event_at, origin) VALUES (?1, '5550002', '5550001', 1, ?2, 6, ?3, 'seed', ?3, 'webhook')",
      ).bind(shop, variant(1), yesterday),
    ]);
    expect(
      await rows(
        "SELECT variant_id, inventory_item_id, location_id, location_name, available, on_hand FROM shopify_inventory_on_hand WHERE shop = ?1 AND variant_id = ?2 ORDER BY location_id",
        shop,
        variant(1),
      ),
    ).toEqual([
      {
        variant_id: variant(1),
        inventory_item_id: num(items[1]?.id),
        location_id: "123456789012345678901",
        location_name: null,
        available: 11,
        on_hand: 12,
      },
      {
        variant_id: variant(1),
        inventory_item_id: num(items[1]?.id),
        location_id: "9007199254900001",
        location_name: "Warehouse 1",
        available: 9,
        on_hand: 12,
      },
      {
        variant_id: variant(1),
        inventory_item_id: num(items[1]?.id),
        location_id: "9007199254900002",
        location_name: "Warehouse 2",
        available: 10,
        on_hand: 13,
      },
    ]);
    expect(
      await rows(
        "SELECT variant_id, locations, available, units_sold_30d, days_of_cover FROM shopify_inventory_days_of_cover WHERE shop = ?1 ORDER BY variant_id",
        shop,
      ),
    ).toEqual(
      [
        { variant_id: variant(0), locations: 3, available: 0, units_sold_30d: 0, days_of_cover: null },
        { variant_id: variant(1), locations: 3, available: 30, units_sold_30d: 6, days_of_cover: 150 },
        { variant_id: variant(2), locations: 3, available: 60, units_sold_30d: 0, days_of_cover: null },
      ].sort((a, b) => (a.variant_id < b.variant_id ? -1 : 1)),
    );
    expect(
      await rows(
        "SELECT variant_id, available, currency, stock_cost_minor FROM shopify_inventory_dead_stock WHERE shop = ?1",
        shop,
      ),
    ).toEqual([{ variant_id: variant(2), available: 60, currency: "USD", stock_cost_minor: 60 * 525 }]);
  });
});
