/**
 * Shopify inventory reconciliation for one shop, called by ./shopify.ts with its metered Admin API
 * call (so it shares the shop's rate budget and the scope's API counts): list inventory items
 * updated in the window and every location, `id updatedAt` only, both in one query per page;
 * compare with D1; fetch only missing and stale records in full and send them as REST-shaped
 * `inventory_items/update` and `locations/update` bodies, and a repaired item's levels whose
 * stored version is missing or older as `inventory_levels/update`, with origin `reconcile`.
 *
 * Apart from the other resources' query because neither list sorts by UPDATED_AT
 * (`inventoryItems` has no sort key; `locations` sorts by ID and has no updated_at filter, so
 * every run lists them all: a shop has few), so a run stopped at its page limit keeps Shopify's
 * cursor (`after`) with its window and resumes there; and two more 250-node lists would take the
 * other query past Shopify's 1,000-point single-query limit.
 * Trade-off: a level is compared only when its item is listed, that is when Shopify moved the
 * item's `updatedAt`; a level change alone is repaired by the level's webhook, not here.
 */
import { z } from "zod";
import type { JsonValue } from "../../durable/admin-graphql";
import { INVENTORY_ITEM, INVENTORY_LEVEL, LOCATION } from "../../durable/bulk/queries";
import { inventoryItemDoc, inventoryLevelDoc, locationDoc } from "../../mapping/shopify-inventory";
import { toUtcIso } from "../../shared/time";
import { sharedDatabase, shopDatabase } from "../../tables/database";
import { type RawJson, RawNumber, stringifyRaw } from "../raw-json";
import type { ScopeCursors } from "./cursors";
import { type RepairEvent, reconcileEventId, sendRepairs } from "./emit";
import { numericId } from "./shopify-queries";
import { drift, storedLevelVersions, storedVersions } from "./stored-versions";
import { ascendingWindow, emptyTally, type ReconcileContext, type Tally, type Window } from "./types";
import { ThrottledError } from "./upstream";

export const INVENTORY_RESOURCES = ["inventory_items", "locations"] as const;
type InventoryResource = (typeof INVENTORY_RESOURCES)[number];

/** The metered Admin API call of ./shopify.ts. */
export type AdminCall = (
  query: string,
  variables: Record<string, JsonValue>,
  estimatedCost: number,
) => Promise<unknown>;

export interface InventoryReport {
  resources: Record<string, Tally>;
  notes: string[];
}

const PAGE_SIZE = 250;
const LIST_COST = 2 + PAGE_SIZE;
/** Items fetched per query with their first 50 levels: about 155 points each by Shopify's formula. */
const ITEMS_PER_FETCH = 6;
const LEVELS_WITH_ITEM = 50;
const ITEM_COST = 5 + LEVELS_WITH_ITEM * 3;
const LOCATIONS_PER_FETCH = 50;
const LOCATION_COST = 2;
const MORE_LEVELS_COST = 2 + 100 * 3;
const MAX_LEVEL_PAGES = 50;

/** A window stopped at its page limit: the next run lists the same window from Shopify's cursor. */
const cursorPartial = z.object({
  windowFrom: z.iso.datetime(),
  windowTo: z.iso.datetime(),
  /** Null: the window from its start (a scope's first window, kept before any work). */
  after: z.string().min(1).max(2000).nullable(),
});
type CursorPartial = z.infer<typeof cursorPartial>;

const searchTime = (iso: string) => `${iso.slice(0, 19)}Z`;

const LIST_FIELD: Record<InventoryResource, string> = {
  inventory_items: `inventoryItems(first: ${PAGE_SIZE}, after: $inventory_itemsAfter, query: $inventory_itemsQuery) { nodes { id updatedAt } pageInfo { hasNextPage endCursor } }`,
  locations: `locations(first: ${PAGE_SIZE}, after: $locationsAfter, includeInactive: true, includeLegacy: true, sortKey: ID) { nodes { id updatedAt } pageInfo { hasNextPage endCursor } }`,
};
const LIST_VARS: Record<InventoryResource, string> = {
  inventory_items: "$inventory_itemsQuery: String!, $inventory_itemsAfter: String",
  locations: "$locationsAfter: String",
};
const ROOT: Record<InventoryResource, "inventoryItems" | "locations"> = {
  inventory_items: "inventoryItems",
  locations: "locations",
};

const pageInfo = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullish() });
const listConnection = z.object({
  nodes: z.array(z.object({ id: z.string().max(256), updatedAt: z.string().max(40) })),
  pageInfo,
});
const listResponse = z.object({ inventoryItems: listConnection.optional(), locations: listConnection.optional() });
const levelPage = z.object({ nodes: z.array(z.record(z.string(), z.unknown())), pageInfo });
const itemNode = z.looseObject({ id: z.string(), updatedAt: z.string(), inventoryLevels: levelPage });
const locationNode = z.looseObject({ id: z.string(), updatedAt: z.string() });
const moreLevels = z.object({ inventoryItem: z.object({ inventoryLevels: levelPage }).nullable() });

const MORE_LEVELS = `query ReconcileLevels($id: ID!, $after: String) {
  inventoryItem(id: $id) { inventoryLevels(first: 100, after: $after) { nodes { ${INVENTORY_LEVEL} } pageInfo { hasNextPage endCursor } } }
}`;

interface Run {
  resource: InventoryResource;
  window: Window;
  after: string | null;
  done: boolean;
  tally: Tally;
}

export async function reconcileShopifyInventory(
  ctx: ReconcileContext,
  shop: string,
  cursors: ScopeCursors,
  call: AdminCall,
  apiVersion: string,
): Promise<InventoryReport> {
  const { env, settings, now } = ctx;
  const runs: Run[] = [];
  for (const resource of INVENTORY_RESOURCES) {
    const stored = cursors.get<CursorPartial>(resource, cursorPartial);
    const window = stored.partial
      ? { from: stored.partial.windowFrom, to: stored.partial.windowTo }
      : ascendingWindow(stored.cursor, null, now, settings.lookbackMs);
    runs.push({
      resource,
      window,
      after: stored.partial?.after ?? null,
      done: false,
      tally: emptyTally(),
    });
  }
  await cursors.firstWindows<CursorPartial>(
    sharedDatabase(env),
    runs.map((r) => ({
      resource: r.resource,
      partial: { windowFrom: r.window.from, windowTo: r.window.to, after: null },
    })),
    now.toISOString(),
  );
  const levels = emptyTally();
  const commit = (rs: Run[]) =>
    cursors.write<CursorPartial>(
      sharedDatabase(env),
      rs.map((r) => ({
        resource: r.resource,
        window: r.window,
        partial: r.done ? null : { windowFrom: r.window.from, windowTo: r.window.to, after: r.after },
      })),
      now.toISOString(),
    );

  // Pages while the run can afford one more at the most a page of this scope has cost (./budget.ts);
  // the scope's own page budget may be closed already by the other resources' listing.
  let stopped: string | null = null;
  for (let page = 0; page < settings.maxPages; page++) {
    const active = runs.filter((r) => !r.done);
    if (active.length === 0) break;
    const short = ctx.budget.run.shortOf(ctx.budget.largestPage);
    if (short !== null) {
      stopped = `stopped by ${short}`;
      break;
    }
    const variables: Record<string, JsonValue> = {};
    for (const r of active) {
      variables[`${r.resource}After`] = r.after;
      if (r.resource === "inventory_items")
        variables.inventory_itemsQuery = `updated_at:>='${searchTime(r.window.from)}' AND updated_at:<='${searchTime(r.window.to)}'`;
    }
    const query = `query ReconcileInventory(${active.map((r) => LIST_VARS[r.resource]).join(", ")}) {\n  ${active
      .map((r) => LIST_FIELD[r.resource])
      .join("\n  ")}\n}`;
    let answer: unknown;
    try {
      answer = await call(query, variables, LIST_COST * active.length);
    } catch (err) {
      if (!(err instanceof ThrottledError)) throw err;
      stopped = `throttled by Shopify (${err.message})`;
      break;
    }
    const data = listResponse.parse(answer);
    for (const r of active) {
      const conn = data[ROOT[r.resource]];
      if (conn === undefined) throw new Error(`Shopify listing answered without ${ROOT[r.resource]}`);
      const listed: Array<{ gid: string; id: string; updatedAt: string }> = [];
      for (const node of conn.nodes) {
        const id = numericId(node.id);
        const updatedAt = toUtcIso(node.updatedAt);
        if (id !== null && updatedAt !== null) listed.push({ gid: node.id, id, updatedAt });
      }
      r.tally.lookedAt += listed.length;
      const versions = await storedVersions(
        shopDatabase(env, shop),
        `shopify:${r.resource}`,
        listed.map((l) => l.id),
        shop,
      );
      const wanted: string[] = [];
      for (const l of listed) {
        const d = drift(versions.get(l.id), l.updatedAt);
        if (d === "in_sync") continue;
        r.tally[d]++;
        wanted.push(l.gid);
      }
      const repairs =
        r.resource === "inventory_items"
          ? await itemRepairs(env, call, wanted, shop, apiVersion, levels)
          : { records: await locationRepairs(call, wanted, shop, apiVersion), levels: [] };
      r.tally.repaired += await sendRepairs(env, repairs.records, now.toISOString());
      levels.repaired += await sendRepairs(env, repairs.levels, now.toISOString());
      r.after = conn.pageInfo.endCursor ?? null;
      if (!conn.pageInfo.hasNextPage || r.after === null) r.done = true;
    }
    // Each page commits where its resources stand: a run cut short resumes after its last page.
    await sharedDatabase(env).batch(commit(active));
  }

  const notes: string[] = [];
  for (const r of runs) {
    if (!r.done) notes.push(`${r.resource}: ${stopped ?? "page limit reached"}, resuming after Shopify's cursor`);
  }
  const resources: Record<string, Tally> = Object.fromEntries(runs.map((r) => [r.resource, r.tally]));
  resources.inventory_levels = levels;
  return { resources, notes };
}

/** Aliased single-record fields `r0`, `r1`, … with the ids as variables `$id0`, `$id1`, …. */
function fetchQuery(field: string, selection: string, count: number): string {
  const vars = Array.from({ length: count }, (_, i) => `$id${i}: ID!`).join(", ");
  const fields = Array.from({ length: count }, (_, i) => `r${i}: ${field}(id: $id${i}) { ${selection} }`).join("\n  ");
  return `query ReconcileFetch(${vars}) {\n  ${fields}\n}`;
}

async function fetchRecords(call: AdminCall, field: string, selection: string, gids: readonly string[], cost: number) {
  const variables: Record<string, JsonValue> = {};
  gids.forEach((gid, n) => {
    variables[`id${n}`] = gid;
  });
  const data = await call(fetchQuery(field, selection, gids.length), variables, cost * gids.length);
  return gids.map((_, n) =>
    typeof data === "object" && data !== null ? (data as Record<string, unknown>)[`r${n}`] : undefined,
  );
}

async function itemRepairs(
  env: Env,
  call: AdminCall,
  gids: readonly string[],
  shop: string,
  apiVersion: string,
  levels: Tally,
): Promise<{ records: RepairEvent[]; levels: RepairEvent[] }> {
  const out: RepairEvent[] = [];
  const levelEvents: RepairEvent[] = [];
  const selection = `${INVENTORY_ITEM} inventoryLevels(first: ${LEVELS_WITH_ITEM}) { nodes { ${INVENTORY_LEVEL} } pageInfo { hasNextPage endCursor } }`;
  for (let i = 0; i < gids.length; i += ITEMS_PER_FETCH) {
    const items: Array<{ node: z.infer<typeof itemNode>; levels: Record<string, unknown>[] }> = [];
    for (const value of await fetchRecords(
      call,
      "inventoryItem",
      selection,
      gids.slice(i, i + ITEMS_PER_FETCH),
      ITEM_COST,
    )) {
      // Deleted since the listing: nothing to repair.
      if (value === null || value === undefined) continue;
      const node = itemNode.parse(value);
      items.push({ node, levels: await allLevels(call, node) });
    }
    const stored = await storedLevelVersions(
      shopDatabase(env, shop),
      shop,
      items.flatMap((it) => (numericId(it.node.id) === null ? [] : [numericId(it.node.id) as string])),
    );
    for (const { node, levels: nodes } of items) {
      const item = restBody(inventoryItemDoc(node), ["id", "variant_id"]);
      const event = repair("inventory_items", "inventory_items/update", item, shop, apiVersion);
      if (event) out.push(event);
      for (const level of nodes) {
        const doc = inventoryLevelDoc(level, node.id);
        const itemId = numericId(node.id);
        const locationId = typeof doc.location_id === "string" ? numericId(doc.location_id) : null;
        const updatedAt = typeof doc.updated_at === "string" ? toUtcIso(doc.updated_at) : null;
        if (itemId === null || locationId === null || updatedAt === null) continue;
        levels.lookedAt++;
        const d = drift(stored.get(`${itemId}/${locationId}`), updatedAt);
        if (d === "in_sync") continue;
        levels[d]++;
        const eventId = reconcileEventId("inventory_levels", `${itemId}-${locationId}`, updatedAt);
        if (eventId === null) continue;
        levelEvents.push({
          source: "shopify",
          topic: "inventory_levels/update",
          eventId,
          shop,
          eventAt: updatedAt,
          apiVersion,
          body: restBody(doc, ["inventory_item_id", "location_id", "available", "on_hand"]).body,
        });
      }
    }
  }
  return { records: out, levels: levelEvents };
}

async function locationRepairs(
  call: AdminCall,
  gids: readonly string[],
  shop: string,
  apiVersion: string,
): Promise<RepairEvent[]> {
  const out: RepairEvent[] = [];
  for (let i = 0; i < gids.length; i += LOCATIONS_PER_FETCH) {
    for (const value of await fetchRecords(
      call,
      "location",
      LOCATION,
      gids.slice(i, i + LOCATIONS_PER_FETCH),
      LOCATION_COST,
    )) {
      if (value === null || value === undefined) continue;
      const node = locationNode.parse(value);
      const event = repair("locations", "locations/update", restBody(locationDoc(node), ["id"]), shop, apiVersion);
      if (event) out.push(event);
    }
  }
  return out;
}

/** Every level of an item: the first page came with it, the rest is paged (the mappers need each one). */
async function allLevels(call: AdminCall, node: z.infer<typeof itemNode>): Promise<Record<string, unknown>[]> {
  const nodes = [...node.inventoryLevels.nodes];
  let info = node.inventoryLevels.pageInfo;
  for (let i = 0; info.hasNextPage && i < MAX_LEVEL_PAGES; i++) {
    if (!info.endCursor) break;
    const page = moreLevels.parse(await call(MORE_LEVELS, { id: node.id, after: info.endCursor }, MORE_LEVELS_COST));
    if (page.inventoryItem === null) throw new Error("inventory item disappeared while its levels were paged");
    nodes.push(...page.inventoryItem.inventoryLevels.nodes);
    info = page.inventoryItem.inventoryLevels.pageInfo;
  }
  if (info.hasNextPage) throw new Error(`more than ${MAX_LEVEL_PAGES} pages of inventory levels`);
  return nodes;
}

/**
 * A payload of src/mapping/shopify-inventory.ts's GraphQL renaming as the webhook's JSON: the
 * `numeric` keys (gids, integer text) become bare JSON numbers of their digits, never a double.
 */
function restBody(
  doc: Record<string, unknown>,
  numeric: readonly string[],
): { body: string; id: string | null; updatedAt: string | null } {
  const out: Record<string, RawJson> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (value === undefined) continue;
    if (numeric.includes(key) && typeof value === "string") {
      const digits = /^-?\d+$/.test(value) ? value : numericId(value);
      out[key] = digits === null ? value : new RawNumber(digits);
    } else out[key] = value as RawJson;
  }
  const id = typeof doc.id === "string" ? numericId(doc.id) : null;
  const updatedAt = typeof doc.updated_at === "string" ? toUtcIso(doc.updated_at) : null;
  if (typeof doc.id === "string") out.admin_graphql_api_id = doc.id;
  return { body: stringifyRaw(out), id, updatedAt };
}

function repair(
  resource: InventoryResource,
  topic: string,
  built: ReturnType<typeof restBody>,
  shop: string,
  apiVersion: string,
): RepairEvent | null {
  if (built.id === null || built.updatedAt === null) return null;
  const eventId = reconcileEventId(resource, built.id, built.updatedAt);
  if (eventId === null) return null;
  return { source: "shopify", topic, eventId, shop, eventAt: built.updatedAt, apiVersion, body: built.body };
}
