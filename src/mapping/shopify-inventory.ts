/**
 * Shopify inventory payloads → `shopify_inventory_items`, `shopify_inventory_levels` and
 * `shopify_locations` rows (migrations/0155_inventory.sql). Pure, like ./shopify.ts, whose
 * conventions it follows: the body is read losslessly (ids keep every digit), only stored fields
 * are validated, and timestamps are UTC ISO with milliseconds.
 *
 * Absent is not null: these topics' payloads are the same in every supported API version
 * (./shopify-versions.ts), so a column is written exactly when the payload has its key. A field the
 * payload leaves out (`variant_id`, which only a body built from GraphQL carries; `on_hand`, which no
 * webhook carries) stays out of the row, and the upsert keeps the stored value.
 * `cost` names no currency: it is the shop's, as for variants (NULL cost and currency while the shop
 * currency is unknown).
 */
import { z } from "zod";
import type { ShopifyInventoryItemRow, ShopifyInventoryLevelRow, ShopifyLocationRow } from "../shared/schema/shopify";
import { toMinor } from "./money";
import { bool, decimal, id, int, str, ts } from "./shopify-schema";

/** The event a row comes from (./shopify.ts `EventMeta`, the fields these rows need). */
export interface InventoryMeta {
  shop: string;
  eventId: string;
  eventAt: string;
  origin: ShopifyInventoryItemRow["origin"];
  apiVersion?: string | null;
}

export type InventoryRows =
  | { kind: "inventoryItem"; item: ShopifyInventoryItemRow }
  | { kind: "inventoryLevel"; level: ShopifyInventoryLevelRow }
  | { kind: "location"; location: ShopifyLocationRow };

export type InventoryResult = { ok: true; rows: InventoryRows } | { ok: false; detail: string };

const itemSchema = z.object({
  id,
  sku: str,
  tracked: bool,
  requires_shipping: bool,
  cost: decimal.nullish(),
  variant_id: id.nullish(),
  country_code_of_origin: str,
  harmonized_system_code: str,
  created_at: ts.nullish(),
  updated_at: ts.nullish(),
});

/** inventory_items/create|update. */
export function mapInventoryItem(doc: unknown, meta: InventoryMeta, shopCurrency: string | null): InventoryResult {
  const parsed = itemSchema.safeParse(doc);
  if (!parsed.success) return invalid("inventory item", parsed.error);
  const i = parsed.data;
  const has = keysOf(doc);
  const item: ShopifyInventoryItemRow = {
    shop: meta.shop,
    id: i.id,
    ...(has("sku") ? { sku: i.sku ?? null } : {}),
    ...(has("tracked") ? { tracked: i.tracked ?? null } : {}),
    ...(has("requires_shipping") ? { requiresShipping: i.requires_shipping ?? null } : {}),
    // The cost and its currency are written together.
    ...(has("cost")
      ? {
          currency: shopCurrency,
          costMinor: shopCurrency === null || i.cost == null ? null : toMinor(i.cost, shopCurrency),
        }
      : {}),
    ...(has("variant_id") ? { variantId: i.variant_id ?? null } : {}),
    ...(has("country_code_of_origin") ? { countryCodeOfOrigin: i.country_code_of_origin ?? null } : {}),
    ...(has("harmonized_system_code") ? { harmonizedSystemCode: i.harmonized_system_code ?? null } : {}),
    ...(has("created_at") ? { createdAt: i.created_at ?? null } : {}),
    ...version(meta, i.updated_at),
  };
  return { ok: true, rows: { kind: "inventoryItem", item } };
}

const levelSchema = z.object({
  inventory_item_id: id,
  location_id: id,
  available: int.nullish(),
  on_hand: int.nullish(),
  updated_at: ts.nullish(),
});

/** inventory_levels/update. */
export function mapInventoryLevel(doc: unknown, meta: InventoryMeta): InventoryResult {
  const parsed = levelSchema.safeParse(doc);
  if (!parsed.success) return invalid("inventory level", parsed.error);
  const l = parsed.data;
  const has = keysOf(doc);
  const level: ShopifyInventoryLevelRow = {
    shop: meta.shop,
    inventoryItemId: l.inventory_item_id,
    locationId: l.location_id,
    ...(has("available") ? { available: l.available ?? null } : {}),
    ...(has("on_hand") ? { onHand: l.on_hand ?? null } : {}),
    ...version(meta, l.updated_at),
  };
  return { ok: true, rows: { kind: "inventoryLevel", level } };
}

const locationSchema = z.object({
  id,
  name: str,
  active: bool,
  legacy: bool,
  province_code: str,
  country_code: str,
  created_at: ts.nullish(),
  updated_at: ts.nullish(),
});

/** locations/create|update. */
export function mapLocation(doc: unknown, meta: InventoryMeta): InventoryResult {
  const parsed = locationSchema.safeParse(doc);
  if (!parsed.success) return invalid("location", parsed.error);
  const l = parsed.data;
  const has = keysOf(doc);
  const location: ShopifyLocationRow = {
    shop: meta.shop,
    id: l.id,
    ...(has("name") ? { name: l.name ?? null } : {}),
    ...(has("active") ? { active: l.active ?? null } : {}),
    ...(has("legacy") ? { legacy: l.legacy ?? null } : {}),
    ...(has("province_code") ? { provinceCode: l.province_code ?? null } : {}),
    ...(has("country_code") ? { countryCode: l.country_code ?? null } : {}),
    ...(has("created_at") ? { createdAt: l.created_at ?? null } : {}),
    ...version(meta, l.updated_at),
  };
  return { ok: true, rows: { kind: "location", location } };
}

function keysOf(doc: unknown): (key: string) => boolean {
  const o = typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>) : {};
  return (key) => o[key] !== undefined;
}

function version(meta: InventoryMeta, updatedAt: string | null | undefined) {
  return {
    updatedAt: updatedAt ?? meta.eventAt,
    deletedAt: null,
    lastEventId: meta.eventId,
    eventAt: meta.eventAt,
    origin: meta.origin,
    apiVersion: meta.apiVersion ?? null,
  };
}

function invalid(what: string, error: z.ZodError): InventoryResult {
  return { ok: false, detail: `${what}: ${z.prettifyError(error)}`.slice(0, 1000) };
}

// ---- Admin GraphQL nodes in the webhook payloads' shape ------------------------------------------
// Bulk exports and reconciliation read inventory through GraphQL; these rename a node into the
// payload the mappers above read, so every path shares one validation and one set of columns. A
// field the query did not select stays absent (its column is kept); values pass through unconverted.

type Node = Record<string, unknown>;

function asNode(v: unknown): Node | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Node) : null;
}

/** A selected object field's sub-field: absent when the field was not selected, null when it is null. */
function inner(node: Node, field: string, key: string): unknown {
  const v = node[field];
  if (v === undefined) return undefined;
  return asNode(v)?.[key] ?? null;
}

/** GraphQL Ints arrive as JSON numbers; the mappers read integers as their source text. */
function intText(v: unknown): unknown {
  return typeof v === "number" && Number.isInteger(v) ? String(v) : v;
}

/** An `InventoryItem` node as an inventory_items/update payload. */
export function inventoryItemDoc(node: Node): Node {
  return {
    id: node.id,
    sku: node.sku,
    tracked: node.tracked,
    requires_shipping: node.requiresShipping,
    cost: inner(node, "unitCost", "amount"),
    variant_id: inner(node, "variant", "id"),
    country_code_of_origin: node.countryCodeOfOrigin,
    harmonized_system_code: node.harmonizedSystemCode,
    created_at: node.createdAt,
    updated_at: node.updatedAt,
  };
}

/** An `InventoryLevel` node of the item `inventoryItemId` as an inventory_levels/update payload. */
export function inventoryLevelDoc(node: Node, inventoryItemId: unknown): Node {
  const quantities = Array.isArray(node.quantities) ? node.quantities.map(asNode) : null;
  const quantity = (name: string): unknown => {
    if (node.quantities === undefined) return undefined;
    if (quantities === null) return null;
    // A name the answer does not list was not asked for: absent, not null.
    const q = quantities.find((x) => x?.name === name);
    return q === undefined ? undefined : intText(q?.quantity ?? null);
  };
  return {
    inventory_item_id: inventoryItemId,
    location_id: inner(node, "location", "id"),
    available: quantity("available"),
    on_hand: quantity("on_hand"),
    updated_at: node.updatedAt,
  };
}

/** A `Location` node as a locations/update payload (REST's `legacy` is GraphQL's `isFulfillmentService`). */
export function locationDoc(node: Node): Node {
  return {
    id: node.id,
    name: node.name,
    active: node.isActive,
    legacy: node.isFulfillmentService,
    province_code: inner(node, "address", "provinceCode"),
    country_code: inner(node, "address", "countryCode"),
    created_at: node.createdAt,
    updated_at: node.updatedAt,
  };
}
