/// <reference types="vite/client" />
/**
 * Shopify inventory end to end: the published sample of each inventory topic goes through ingress
 * (signed request) and the real consumer into shopify_inventory_items, shopify_inventory_levels and
 * shopify_locations; then the order of versions, deletes, ids past 2^53, and the three inventory
 * views on seeded rows. Fixtures: test/fixtures/shopify/inventory/ (see test/fixtures/README.md).
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../src/ingress/app";
import { drain, SimulatedQueue } from "./helpers/pipeline-run";
import { shopifyRequest } from "./helpers/requests";

const samples = import.meta.glob<string>("./fixtures/shopify/**/*.json", {
  query: "?raw",
  import: "default",
  eager: true,
});

function sample(topic: string): string {
  const text = samples[`./fixtures/shopify/inventory/${topic.replace("/", "__")}.json`];
  if (text === undefined) throw new Error(`no sample for ${topic}`);
  return text;
}
const ORDER_SAMPLE = samples["./fixtures/shopify/orders__create.json"] as string;

/** The published ids, all past 2^53 but the location of the level sample. */
const ITEM_ID = "271878346596884015";
const LOCATION_ID = "866550311766439020";
const LEVEL_LOCATION_ID = "24826418";

let seq = 0;
const run = `${Date.now()}`;
const newShop = () => `inv-${run}-${++seq}.myshopify.com`;

interface Delivery {
  topic: string;
  body: string;
  triggeredAt?: string;
  apiVersion?: string;
}

/** Posts each delivery to ingress, then runs what it queued through the consumer. Returns the event ids. */
async function deliver(shop: string, deliveries: Delivery[]): Promise<string[]> {
  const queue = new SimulatedQueue();
  const bindings = { ...env, EVENTS: queue.binding } as Env;
  const ids: string[] = [];
  for (const d of deliveries) {
    const eventId = `inv-${run}-${++seq}`;
    const req = await shopifyRequest(d.body, {
      topic: d.topic,
      shop,
      eventId,
      apiVersion: d.apiVersion ?? "2026-04",
      triggeredAt: d.triggeredAt ?? "2026-11-20T12:00:00.000Z",
    });
    const res = await app.fetch(req, bindings, createExecutionContext());
    expect(res.status, d.topic).toBe(200);
    ids.push(eventId);
  }
  const drained = await drain(queue, bindings);
  expect(drained.deadLettered).toEqual([]);
  return ids;
}

type Row = Record<string, unknown>;
async function ledger(eventId: string) {
  return env.DB.prepare("SELECT status, note FROM webhook_events WHERE source = 'shopify' AND event_id = ?")
    .bind(eventId)
    .first<{ status: string; note: string | null }>();
}
async function item(shop: string, id = ITEM_ID): Promise<Row | null> {
  return env.DB.prepare("SELECT * FROM shopify_inventory_items WHERE shop = ? AND id = ?").bind(shop, id).first<Row>();
}
async function level(shop: string, locationId = LEVEL_LOCATION_ID, itemId = ITEM_ID): Promise<Row | null> {
  return env.DB.prepare(
    "SELECT * FROM shopify_inventory_levels WHERE shop = ? AND inventory_item_id = ? AND location_id = ?",
  )
    .bind(shop, itemId, locationId)
    .first<Row>();
}
async function location(shop: string): Promise<Row | null> {
  return env.DB.prepare("SELECT * FROM shopify_locations WHERE shop = ? AND id = ?")
    .bind(shop, LOCATION_ID)
    .first<Row>();
}

/** The level sample with another quantity and time (the published one has `available: null`). */
function levelBody(available: number | null, updatedAt: string, locationId = LEVEL_LOCATION_ID): string {
  return sample("inventory_levels/update")
    .replace(/"available": null/, `"available": ${available}`)
    .replace(/"updated_at": "[^"]*"/, `"updated_at": "${updatedAt}"`)
    .replace(/"location_id": \d+/, `"location_id": ${locationId}`);
}

describe("inventory webhooks through ingress into D1", () => {
  it("each topic's published sample is applied, ids exact past 2^53", async () => {
    const shop = newShop();
    const ids = await deliver(shop, [
      { topic: "inventory_items/create", body: sample("inventory_items/create") },
      { topic: "inventory_items/update", body: sample("inventory_items/update") },
      { topic: "inventory_levels/update", body: sample("inventory_levels/update") },
      { topic: "locations/create", body: sample("locations/create") },
      { topic: "locations/update", body: sample("locations/update") },
    ]);
    for (const id of ids) expect((await ledger(id))?.status).toBe("applied");

    expect(BigInt(ITEM_ID)).toBeGreaterThan(2n ** 53n);
    expect(BigInt(LOCATION_ID)).toBeGreaterThan(2n ** 53n);
    expect(await item(shop)).toMatchObject({
      id: ITEM_ID,
      sku: "example-sku",
      tracked: 1,
      requires_shipping: 1,
      cost_minor: null,
      variant_id: null,
      created_at: "2022-01-01T00:00:00.000Z",
      updated_at: "2022-01-01T00:00:00.000Z",
      deleted_at: null,
      last_event_id: ids[1],
      origin: "webhook",
      api_version: "2026-04",
    });
    expect(await level(shop)).toMatchObject({
      inventory_item_id: ITEM_ID,
      location_id: LEVEL_LOCATION_ID,
      available: null,
      on_hand: null,
      updated_at: "2022-01-01T00:00:00.000Z",
      deleted_at: null,
      last_event_id: ids[2],
    });
    expect(await location(shop)).toMatchObject({
      id: LOCATION_ID,
      name: "Example Shop",
      active: 1,
      legacy: 0,
      province_code: "ON",
      country_code: "CA",
      last_event_id: ids[4],
    });
    // The rows mark their day for the lake.
    const marks = await env.DB.prepare(
      "SELECT table_name FROM lake_changes WHERE dt = '2022-01-01' AND table_name LIKE 'shopify_%' ORDER BY table_name",
    ).all<{ table_name: string }>();
    expect(marks.results.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(["shopify_inventory_items", "shopify_inventory_levels", "shopify_locations"]),
    );
  });

  it("the item's cost is in the shop's currency, and an update without a key keeps the column", async () => {
    const shop = newShop();
    const withCost = sample("inventory_items/update")
      .replace(/"cost": null/, `"cost": "12.50"`)
      .replace(/"updated_at": "[^"]*"/, `"updated_at": "2026-11-01T10:00:00Z"`);
    // No `sku` and no `cost` key: both stay as stored.
    const sparse = sample("inventory_items/update")
      .replace(/\s*"sku": "example-sku",/, "")
      .replace(/\s*"cost": null,/, "")
      .replace(/"tracked": true/, `"tracked": false`)
      .replace(/"updated_at": "[^"]*"/, `"updated_at": "2026-11-02T10:00:00Z"`);
    // The shop's currency is known from its stored orders.
    await deliver(shop, [{ topic: "orders/create", body: ORDER_SAMPLE }]);
    await deliver(shop, [
      { topic: "inventory_items/update", body: withCost },
      { topic: "inventory_items/update", body: sparse },
    ]);
    expect(await item(shop)).toMatchObject({
      sku: "example-sku",
      currency: "USD",
      cost_minor: 1250,
      tracked: 0,
      updated_at: "2026-11-02T10:00:00.000Z",
    });
  });

  it("an older level update does not overwrite a newer one; a tie applies", async () => {
    const shop = newShop();
    const [newer, older, tie] = await deliver(shop, [
      { topic: "inventory_levels/update", body: levelBody(7, "2026-11-10T09:00:00Z") },
      { topic: "inventory_levels/update", body: levelBody(99, "2026-11-09T09:00:00Z") },
      { topic: "inventory_levels/update", body: levelBody(5, "2026-11-10T09:00:00Z", "24826419") },
    ]);
    expect(await level(shop)).toMatchObject({
      available: 7,
      updated_at: "2026-11-10T09:00:00.000Z",
      last_event_id: newer,
    });
    expect((await ledger(older as string))?.status).toBe("applied");
    expect(await level(shop, "24826419")).toMatchObject({ available: 5, last_event_id: tie });
    // A newer one applies.
    await deliver(shop, [{ topic: "inventory_levels/update", body: levelBody(3, "2026-11-11T09:00:00Z") }]);
    expect(await level(shop)).toMatchObject({ available: 3, updated_at: "2026-11-11T09:00:00.000Z" });
  });

  it("inventory_items/delete soft-deletes the item and its levels; a late older level changes nothing", async () => {
    const shop = newShop();
    await deliver(shop, [
      { topic: "inventory_items/create", body: sample("inventory_items/create") },
      { topic: "inventory_levels/update", body: levelBody(4, "2026-11-10T09:00:00Z") },
    ]);
    const [del] = await deliver(shop, [
      {
        topic: "inventory_items/delete",
        body: sample("inventory_items/delete"),
        triggeredAt: "2026-11-12T00:00:00.000Z",
      },
    ]);
    expect(await item(shop)).toMatchObject({
      sku: "example-sku",
      tracked: 1,
      deleted_at: "2026-11-12T00:00:00.000Z",
      updated_at: "2026-11-12T00:00:00.000Z",
      last_event_id: del,
    });
    expect(await level(shop)).toMatchObject({
      available: 4,
      deleted_at: "2026-11-12T00:00:00.000Z",
      updated_at: "2026-11-12T00:00:00.000Z",
    });
    await deliver(shop, [
      { topic: "inventory_levels/update", body: levelBody(50, "2026-11-11T09:00:00Z") },
      { topic: "inventory_items/update", body: sample("inventory_items/update") },
    ]);
    expect(await level(shop)).toMatchObject({ available: 4, deleted_at: "2026-11-12T00:00:00.000Z" });
    expect(await item(shop)).toMatchObject({ deleted_at: "2026-11-12T00:00:00.000Z", last_event_id: del });
  });

  it("locations/delete soft-deletes the location; a delete never seen leaves a tombstone", async () => {
    const shop = newShop();
    await deliver(shop, [{ topic: "locations/create", body: sample("locations/create") }]);
    await deliver(shop, [
      { topic: "locations/delete", body: sample("locations/delete"), triggeredAt: "2026-11-13T00:00:00.000Z" },
    ]);
    expect(await location(shop)).toMatchObject({ name: "Example Shop", deleted_at: "2026-11-13T00:00:00.000Z" });

    const other = newShop();
    await deliver(other, [
      { topic: "locations/delete", body: sample("locations/delete"), triggeredAt: "2026-11-13T00:00:00.000Z" },
      { topic: "locations/create", body: sample("locations/create") },
    ]);
    expect(await location(other)).toMatchObject({ name: null, deleted_at: "2026-11-13T00:00:00.000Z" });
  });
});

// ---- views ------------------------------------------------------------------------------------

const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString();

/**
 * One shop: three variants (A, B, C) and a fourth (D) without levels.
 * - A: item IA, 10 at L1 and 5 at L2 (stock 15). Sold 3 + 3 units 5 and 20 days ago, 4 units 60
 *   days ago (outside 30, inside 90), 100 units in a test order, 50 in a cancelled one, 70 in one
 *   deleted, 80 units 200 days ago: units_sold_30d 6, days_of_cover 15 / (6 / 30) = 75.0.
 * - B: item IB (cost 2.50), 8 at L1, a deleted level of 100 at L2. Last sold 120 days ago: dead
 *   stock of 8 units worth 2000 minor units; units_sold_30d 0, days_of_cover NULL.
 * - C: item IC, -2 at L1 (oversold). Sold 4 units 10 days ago: days_of_cover 0.0, not dead stock.
 * - E: item IE, 0 at L1, never sold: not dead stock (no stock).
 */
async function seedViews(shop: string): Promise<void> {
  const v = `'${daysAgo(1)}', NULL, 'seed', '${daysAgo(1)}', 'webhook'`;
  const stmts: string[] = [
    `INSERT INTO shopify_locations (shop, id, name, active, updated_at, deleted_at, last_event_id, event_at, origin)
     VALUES ('${shop}', 'L1', 'Warehouse', 1, ${v}), ('${shop}', 'L2', 'Store', 1, ${v})`,
    `INSERT INTO shopify_product_variants (shop, id, product_id, sku, inventory_item_id, updated_at, deleted_at, last_event_id, event_at, origin)
     VALUES ('${shop}', 'A', 'P1', 'SKU-A', 'IA', ${v}), ('${shop}', 'B', 'P1', 'SKU-B', 'IB', ${v}),
            ('${shop}', 'C', 'P2', 'SKU-C', 'IC', ${v}), ('${shop}', 'D', 'P2', 'SKU-D', 'ID', ${v}),
            ('${shop}', 'E', 'P3', 'SKU-E', 'IE', ${v})`,
    `INSERT INTO shopify_inventory_items (shop, id, sku, tracked, currency, cost_minor, updated_at, deleted_at, last_event_id, event_at, origin)
     VALUES ('${shop}', 'IA', 'SKU-A', 1, 'USD', 1000, ${v}), ('${shop}', 'IB', 'SKU-B', 1, 'USD', 250, ${v}),
            ('${shop}', 'IC', 'SKU-C', 1, 'USD', NULL, ${v}), ('${shop}', 'IE', 'SKU-E', 1, 'USD', 100, ${v})`,
    `INSERT INTO shopify_inventory_levels (shop, inventory_item_id, location_id, available, updated_at, deleted_at, last_event_id, event_at, origin)
     VALUES ('${shop}', 'IA', 'L1', 10, ${v}), ('${shop}', 'IA', 'L2', 5, ${v}), ('${shop}', 'IB', 'L1', 8, ${v}),
            ('${shop}', 'IC', 'L1', -2, ${v}), ('${shop}', 'IE', 'L1', 0, ${v})`,
    `INSERT INTO shopify_inventory_levels (shop, inventory_item_id, location_id, available, updated_at, deleted_at, last_event_id, event_at, origin)
     VALUES ('${shop}', 'IB', 'L2', 100, '${daysAgo(1)}', '${daysAgo(1)}', 'seed', '${daysAgo(1)}', 'webhook')`,
  ];
  const orders: Array<[string, number, { test?: 1; cancelled?: true; deleted?: true }, Array<[string, number]>]> = [
    ["O1", 5, {}, [["A", 3]]],
    ["O2", 20, {}, [["A", 3]]],
    ["O3", 60, {}, [["A", 4]]],
    ["O4", 3, { test: 1 }, [["A", 100]]],
    ["O5", 3, { cancelled: true }, [["A", 50]]],
    ["O6", 3, { deleted: true }, [["A", 70]]],
    ["O7", 200, {}, [["A", 80]]],
    ["O8", 120, {}, [["B", 9]]],
    ["O9", 10, {}, [["C", 4]]],
  ];
  for (const [id, ago, flags, lines] of orders) {
    const at = daysAgo(ago);
    const cancelled = flags.cancelled ? `'${at}'` : "NULL";
    const deleted = flags.deleted ? `'${at}'` : "NULL";
    stmts.push(
      `INSERT INTO shopify_orders (shop, id, created_at, test, cancelled_at, currency, updated_at, deleted_at, last_event_id, event_at, origin)
       VALUES ('${shop}', '${id}', '${at}', ${flags.test ?? 0}, ${cancelled}, 'USD', '${at}', ${deleted}, 'seed', '${at}', 'webhook')`,
    );
    lines.forEach(([variant, quantity], i) => {
      stmts.push(
        `INSERT INTO shopify_order_line_items (shop, id, order_id, position, variant_id, quantity, updated_at, last_event_id, event_at, origin)
         VALUES ('${shop}', '${id}-${i}', '${id}', ${i + 1}, '${variant}', ${quantity}, '${at}', 'seed', '${at}', 'webhook')`,
      );
    });
  }
  await env.DB.batch(stmts.map((s) => env.DB.prepare(s)));
}

describe("inventory views", () => {
  it("stock on hand by variant and location", async () => {
    const shop = newShop();
    await seedViews(shop);
    const { results } = await env.DB.prepare(
      "SELECT variant_id, sku, location_id, location_name, available FROM shopify_inventory_on_hand WHERE shop = ? ORDER BY variant_id, location_id",
    )
      .bind(shop)
      .all();
    expect(results).toEqual([
      { variant_id: "A", sku: "SKU-A", location_id: "L1", location_name: "Warehouse", available: 10 },
      { variant_id: "A", sku: "SKU-A", location_id: "L2", location_name: "Store", available: 5 },
      { variant_id: "B", sku: "SKU-B", location_id: "L1", location_name: "Warehouse", available: 8 },
      { variant_id: "C", sku: "SKU-C", location_id: "L1", location_name: "Warehouse", available: -2 },
      { variant_id: "E", sku: "SKU-E", location_id: "L1", location_name: "Warehouse", available: 0 },
    ]);
  });

  it("days of cover from 30-day sales", async () => {
    const shop = newShop();
    await seedViews(shop);
    const { results } = await env.DB.prepare(
      "SELECT variant_id, locations, available, units_sold_30d, days_of_cover FROM shopify_inventory_days_of_cover WHERE shop = ? ORDER BY variant_id",
    )
      .bind(shop)
      .all();
    expect(results).toEqual([
      { variant_id: "A", locations: 2, available: 15, units_sold_30d: 6, days_of_cover: 75 },
      { variant_id: "B", locations: 1, available: 8, units_sold_30d: 0, days_of_cover: null },
      { variant_id: "C", locations: 1, available: -2, units_sold_30d: 4, days_of_cover: 0 },
      { variant_id: "E", locations: 1, available: 0, units_sold_30d: 0, days_of_cover: null },
    ]);
  });

  it("dead stock: stock and no sale in 90 days", async () => {
    const shop = newShop();
    await seedViews(shop);
    const { results } = await env.DB.prepare("SELECT * FROM shopify_inventory_dead_stock WHERE shop = ?")
      .bind(shop)
      .all();
    expect(results).toEqual([
      { shop, variant_id: "B", product_id: "P1", sku: "SKU-B", available: 8, currency: "USD", stock_cost_minor: 2000 },
    ]);
  });
});
