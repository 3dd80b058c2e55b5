/**
 * Shopify reconciliation for one shop, through the shop's coordinator (so it shares the
 * shop's rate budget with bulk exports): list orders, customers and products updated in
 * each resource's window, `id updatedAt` only, all three in one query per page; compare
 * with D1; fetch only the missing and stale records in full and send them as REST-shaped
 * `orders/updated`, `customers/update`, `products/update` bodies with origin `reconcile`.
 * Lists are sorted by UPDATED_AT, so a run stopped by its budget or by Shopify's throttle
 * resumes after the last page it committed. Trade-off: records deleted in Shopify never show
 * up in a listing, so a missed delete webhook is not repaired here (the count-parity check
 * notices the difference).
 */
import type { JsonValue } from "../../durable/admin-graphql";
import { toUtcIso } from "../../shared/time";
import { sharedDatabase, shopDatabase } from "../../tables/database";
import type { ShopifyGraphql } from "../shopify-port";
import { ScopeCursors } from "./cursors";
import { type RepairEvent, reconcileEventId, sendRepairs } from "./emit";
import { reconcileShopifyInventory } from "./shopify-inventory";
import {
  customerNode,
  FETCH_BATCH,
  fetchQuery,
  LIST_PAGE_SIZE,
  type LineItemNode,
  listQuery,
  listResponse,
  MORE_LINE_ITEMS,
  MORE_VARIANTS,
  moreLineItems,
  moreVariants,
  numericId,
  orderNode,
  productNode,
  SHOPIFY_RESOURCES,
  type ShopifyResource,
  type VariantNode,
} from "./shopify-queries";
import { customerBody, orderBody, productBody } from "./shopify-rest";
import { drift, storedVersions } from "./stored-versions";
import {
  type AscendingPartial,
  ascendingPartial,
  ascendingWindow,
  emptyTally,
  type ReconcileContext,
  type ScopeReport,
  type Tally,
  type Window,
} from "./types";
import { ThrottledError } from "./upstream";

const TOPIC: Record<ShopifyResource, string> = {
  orders: "orders/updated",
  customers: "customers/update",
  products: "products/update",
};

/** Requested-cost estimates per query shape, so the coordinator reserves about the right amount. */
const LIST_COST_PER_RESOURCE = 2 + LIST_PAGE_SIZE;
const RECORD_COST: Record<ShopifyResource, number> = { orders: 93, customers: 5, products: 43 };
const MORE_LINES_COST = 702;
const MORE_VARIANTS_COST = 202;
const MAX_CHILD_PAGES = 50;

/** Calls the Admin API through the coordinator and counts requests and points actually charged. */
class Metered {
  calls = 0;
  cost = 0;
  constructor(private readonly graphql: ShopifyGraphql) {}

  async call(query: string, variables: Record<string, JsonValue>, estimatedCost: number): Promise<unknown> {
    const r = await this.graphql(query, variables, { estimatedCost });
    this.calls += Math.max(1, r.attempts);
    if (!r.ok) throw new Error(`Shopify Admin API ${r.error.kind}: ${r.error.message}`.slice(0, 500));
    this.cost += r.cost?.actualQueryCost ?? 0;
    return r.data;
  }
}

/** Shopify search syntax takes whole seconds. */
const searchTime = (iso: string) => `${iso.slice(0, 19)}Z`;
const searchQuery = (w: Window) => `updated_at:>='${searchTime(w.from)}' AND updated_at:<='${searchTime(w.to)}'`;

interface ResourceRun {
  resource: ShopifyResource;
  window: Window;
  after: string | null;
  done: boolean;
  lastSeen: string | null;
  tally: Tally;
}

export async function reconcileShopifyShop(
  ctx: ReconcileContext,
  shop: string,
  graphql: ShopifyGraphql,
  apiVersion: string,
): Promise<ScopeReport> {
  const { env, settings, now } = ctx;
  const api = new Metered(graphql);
  const runs: ResourceRun[] = [];
  // Every resource's cursors, the inventory's too, in one read once the scope holds its lease.
  const cursors = await ScopeCursors.read(sharedDatabase(env), "shopify", shop);
  for (const resource of SHOPIFY_RESOURCES) {
    const stored = cursors.get(resource, ascendingPartial);
    const window = ascendingWindow(stored.cursor, stored.partial, now, settings.lookbackMs);
    runs.push({
      resource,
      window,
      after: null,
      done: false,
      lastSeen: null,
      tally: emptyTally(),
    });
  }
  await cursors.firstWindows(
    sharedDatabase(env),
    runs.map((r) => ({ resource: r.resource, partial: { windowTo: r.window.to, resumeFrom: r.window.from } })),
    now.toISOString(),
  );

  // Pages while a resource is behind and the run's budget allows; each page's cursors are committed
  // with it, so a run stopped by its budget or by Shopify's throttle resumes after its last page.
  let throttled: string | null = null;
  while (runs.some((r) => !r.done) && ctx.budget.nextPage()) {
    const active = runs.filter((r) => !r.done);
    try {
      await listPage(active);
    } catch (err) {
      if (!(err instanceof ThrottledError)) throw err;
      // What this page did is not committed: the next run lists it again (repairs are idempotent).
      ctx.budget.throttled();
      throttled = err.message;
      break;
    }
    await sharedDatabase(env).batch(cursorStatements(active));
  }
  if (runs.every((r) => r.done)) ctx.budget.finished();

  async function listPage(active: ResourceRun[]): Promise<void> {
    const variables: Record<string, JsonValue> = {};
    for (const r of active) {
      variables[`${r.resource}Query`] = searchQuery(r.window);
      variables[`${r.resource}After`] = r.after;
    }
    const data = listResponse.parse(
      await api.call(listQuery(active.map((r) => r.resource)), variables, LIST_COST_PER_RESOURCE * active.length),
    );
    for (const r of active) {
      const conn = data[r.resource];
      if (conn === undefined) throw new Error(`Shopify listing answered without ${r.resource}`);
      const listed: Array<{ gid: string; id: string; updatedAt: string }> = [];
      for (const node of conn.nodes) {
        const id = numericId(node.id);
        const updatedAt = toUtcIso(node.updatedAt);
        if (id === null || updatedAt === null) continue;
        listed.push({ gid: node.id, id, updatedAt });
        if (r.lastSeen === null || updatedAt > r.lastSeen) r.lastSeen = updatedAt;
      }
      r.tally.lookedAt += listed.length;
      const versions = await storedVersions(
        shopDatabase(env, shop),
        `shopify:${r.resource}`,
        listed.map((l) => l.id),
        shop,
      );
      const wanted: Array<{ gid: string; updatedAt: string }> = [];
      for (const l of listed) {
        const d = drift(versions.get(l.id), l.updatedAt);
        if (d === "in_sync") continue;
        r.tally[d]++;
        wanted.push(l);
      }
      // Repairs go out batch by batch: a page whose fetches Shopify's throttle cuts short keeps what
      // it sent, and the resource resumes at the first record not fetched (else a page costing more
      // than a run's points would be started over every run and never finish).
      const size = FETCH_BATCH[r.resource];
      for (let i = 0; i < wanted.length; i += size) {
        const batch = wanted.slice(i, i + size);
        let repairs: RepairEvent[];
        try {
          repairs = await fetchRepairs(
            api,
            r.resource,
            batch.map((w) => w.gid),
            shop,
            apiVersion,
          );
        } catch (err) {
          // Everything listed before this batch's first record is in sync or repaired: commit up to it.
          if (err instanceof ThrottledError) {
            r.lastSeen = (batch[0] as { updatedAt: string }).updatedAt;
            const done = active.slice(0, active.indexOf(r) + 1);
            await sharedDatabase(env).batch(cursorStatements(done));
          }
          throw err;
        }
        r.tally.repaired += await sendRepairs(env, repairs, now.toISOString());
      }
      r.after = conn.pageInfo.endCursor ?? null;
      if (!conn.pageInfo.hasNextPage || r.after === null) r.done = true;
    }
  }

  function cursorStatements(rs: ResourceRun[]): D1PreparedStatement[] {
    return cursors.write<AscendingPartial>(
      sharedDatabase(env),
      rs.map((r) => ({
        resource: r.resource,
        window: r.window,
        partial: r.done ? null : { windowTo: r.window.to, resumeFrom: r.lastSeen ?? r.window.from },
      })),
      now.toISOString(),
    );
  }

  const notes: string[] = [];
  for (const r of runs) {
    if (r.done) continue;
    const why = throttled !== null ? `throttled by Shopify (${throttled})` : `stopped by ${ctx.budget.stoppedBy}`;
    notes.push(`${r.resource}: ${why}, resuming at ${r.lastSeen ?? r.window.from}`);
  }

  // Inventory items and locations are listed apart (./shopify-inventory.ts), on the same metered calls.
  const inventory = await reconcileShopifyInventory(ctx, shop, cursors, (q, v, c) => api.call(q, v, c), apiVersion);
  notes.push(...inventory.notes);

  return {
    source: "shopify",
    scope: shop,
    status: notes.length > 0 ? "partial" : "ok",
    windowFrom: runs.map((r) => r.window.from).sort()[0] ?? null,
    windowTo:
      runs
        .map((r) => r.window.to)
        .sort()
        .at(-1) ?? null,
    apiCalls: api.calls,
    apiCost: api.cost,
    resources: { ...Object.fromEntries(runs.map((r) => [r.resource, r.tally])), ...inventory.resources },
    error: null,
    note: notes.length > 0 ? notes.join("; ") : null,
    pages: ctx.budget.pages,
    stoppedBy: ctx.budget.stoppedBy,
    lagSeconds: null,
  };
}

/** Full records for `gids` as repair events; a record deleted since the listing is skipped. */
async function fetchRepairs(
  api: Metered,
  resource: ShopifyResource,
  gids: readonly string[],
  shop: string,
  apiVersion: string,
): Promise<RepairEvent[]> {
  const out: RepairEvent[] = [];
  const size = FETCH_BATCH[resource];
  for (let i = 0; i < gids.length; i += size) {
    const batch = gids.slice(i, i + size);
    const variables: Record<string, JsonValue> = {};
    batch.forEach((gid, n) => {
      variables[`id${n}`] = gid;
    });
    const data = await api.call(fetchQuery(resource, batch.length), variables, RECORD_COST[resource] * batch.length);
    const record = (n: number): unknown =>
      typeof data === "object" && data !== null ? (data as Record<string, unknown>)[`r${n}`] : undefined;
    for (let n = 0; n < batch.length; n++) {
      const value = record(n);
      if (value === null || value === undefined) continue;
      const built = await buildBody(api, resource, value);
      const id = numericId(built.gid);
      const updatedAt = toUtcIso(built.updatedAt);
      if (id === null || updatedAt === null) continue;
      const eventId = reconcileEventId(resource, id, updatedAt);
      if (eventId === null) continue;
      out.push({
        source: "shopify",
        topic: TOPIC[resource],
        eventId,
        shop,
        eventAt: updatedAt,
        apiVersion,
        body: built.body,
      });
    }
  }
  return out;
}

async function buildBody(
  api: Metered,
  resource: ShopifyResource,
  value: unknown,
): Promise<{ gid: string; updatedAt: string; body: string }> {
  switch (resource) {
    case "orders": {
      const o = orderNode.parse(value);
      const lines = await allPages<LineItemNode>(o.lineItems, async (after) => {
        const page = moreLineItems.parse(await api.call(MORE_LINE_ITEMS, { id: o.id, after }, MORE_LINES_COST));
        return page.order?.lineItems ?? null;
      });
      return { gid: o.id, updatedAt: o.updatedAt, body: orderBody(o, lines) };
    }
    case "customers": {
      const c = customerNode.parse(value);
      return { gid: c.id, updatedAt: c.updatedAt, body: customerBody(c) };
    }
    case "products": {
      const p = productNode.parse(value);
      const variants = await allPages<VariantNode>(p.variants, async (after) => {
        const page = moreVariants.parse(await api.call(MORE_VARIANTS, { id: p.id, after }, MORE_VARIANTS_COST));
        return page.product?.variants ?? null;
      });
      return { gid: p.id, updatedAt: p.updatedAt, body: productBody(p, variants) };
    }
  }
}

interface Page<T> {
  nodes: T[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null | undefined };
}

/** Every node of a child connection: the first page came with the record, the rest is paged. */
async function allPages<T>(first: Page<T>, more: (after: string) => Promise<Page<T> | null>): Promise<T[]> {
  const nodes = [...first.nodes];
  let info = first.pageInfo;
  for (let i = 0; info.hasNextPage && i < MAX_CHILD_PAGES; i++) {
    if (!info.endCursor) break;
    const next = await more(info.endCursor);
    if (next === null) throw new Error("record disappeared while its children were paged");
    nodes.push(...next.nodes);
    info = next.pageInfo;
  }
  if (info.hasNextPage) throw new Error(`more than ${MAX_CHILD_PAGES} pages of child records`);
  return nodes;
}
