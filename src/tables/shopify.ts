/**
 * Applies Shopify events to the `shopify_*` tables: map the payload (pure, src/mapping/shopify.ts),
 * then build plain D1 statements with drizzle that the consumer batches with the ledger row.
 *
 * Order of versions: a parent row (order, customer, product, ...) takes an event only if
 * its `updated_at` is not older than the stored one (ties apply, so a redelivery rewrites
 * the same values). Children (line items, variants, refund lines) are deleted and
 * re-inserted in the same batch, joined to the parent row *holding this event*
 * (`last_event_id`), so a stale event changes neither parent nor children and a reader
 * never sees half a set. Child sets are returned as data (`ShopifyWrites.children`), so the
 * consumer and the bulk path write all of a D1 batch's sets in one DELETE and one INSERT per child
 * table (./children.ts). Deletes never erase: they set `deleted_at` (first deletion wins)
 * and count as a version at the delete's event time, so an older snapshot delivered late
 * cannot overwrite or resurrect the row. A delete for an id never seen inserts a tombstone
 * for the same reason. Snapshots never clear `deleted_at`; children mirror the parent's.
 */
import { and, desc, eq, getTableColumns, getTableName, isNotNull, type SQL, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import type { SQLiteColumn, SQLiteInsertValue, SQLiteTable, SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import {
  type CustomerPatch,
  type DeletableEntity,
  type EventMeta,
  type MapContext,
  mapShopifyEvent,
  parseSubscriptionRules,
  type ShopifyFamily,
  type ShopifyRows,
  shopifyFamily,
} from "../mapping/shopify";
import { payloadRules } from "../mapping/shopify-versions";
import {
  type ShopifyOrderLineItemRow,
  type ShopifyOrderRow,
  type ShopifyProductRow,
  type ShopifyProductVariantRow,
  shopifyCheckouts,
  shopifyCustomers,
  shopifyFulfillments,
  shopifyInventoryItems,
  shopifyInventoryLevels,
  shopifyLocations,
  shopifyOrders,
  shopifyProducts,
  shopifyRefunds,
} from "../shared/schema/shopify";
import { shops } from "../shared/schema/shops";
import { toUtcIso } from "../shared/time";
import { type ChildSet, type ChildWrite, childStatements } from "./children";
import { cachedStatement, rowShape, toD1 } from "./d1";
import { sharedDatabase, shopDatabase } from "./database";
import type { Planner } from "./plan";
import { ORDER_LINES, PRODUCT_VARIANTS, REFUND_LINES } from "./shopify-child-sets";

export const planShopify: Planner = async (env, event) => {
  const e = event.envelope;
  const family = shopifyFamily(e.topic);
  if (family === null) return { kind: "archive-only", note: `no shopify table for ${e.topic}` };
  if (e.shop === null) return { kind: "quarantine", reason: "invalid_payload", detail: "no shop domain" };
  // A version without mapping rules is never read by another version's rules.
  const rules = payloadRules(e.topic, e.origin, e.apiVersion);
  if (!rules.ok) return { kind: "quarantine", reason: "unsupported_version", detail: rules.detail };
  // Normalized to milliseconds so it compares as text with the stored updated_at values.
  const meta: EventMeta = {
    shop: e.shop,
    eventId: e.eventId,
    eventAt: toUtcIso(e.eventAt) ?? e.eventAt,
    origin: e.origin,
    apiVersion: e.apiVersion,
    rules: rules.rules,
  };
  const ctx: MapContext = {
    subscriptions: subscriptionRules(env.SUBSCRIPTION_TAGS, env.SUBSCRIPTION_SKU_PATTERNS),
    shopCurrency: NEEDS_SHOP_CURRENCY.has(family) ? await shopCurrency(env, e.shop) : null,
  };
  const mapped = mapShopifyEvent(family, event.payload, meta, ctx);
  if (!mapped.ok) return { kind: "quarantine", reason: "invalid_payload", detail: mapped.detail };
  const writes = shopifyWrites(shopDatabase(env, e.shop), mapped.rows);
  return { kind: "apply", statements: writes.statements, children: writes.children };
};

/** What applying one mapped event writes: parent statements, and child sets run after the batch's parents. */
export interface ShopifyWrites {
  statements: D1PreparedStatement[];
  children: ChildWrite[];
}

/** The writes of one mapped event, child sets as data (see ./children.ts). Exported for bulk exports. */
export function shopifyWrites(db: D1Database, rows: ShopifyRows): ShopifyWrites {
  switch (rows.kind) {
    case "order":
      return withChildren(upsertStatement(db, shopifyOrders, rows.order), ORDER_LINES, rows.order, rows.lineItems);
    case "customer":
      return { statements: [upsertStatement(db, shopifyCustomers, rows.customer)], children: [] };
    case "product":
      return withChildren(
        upsertStatement(db, shopifyProducts, rows.product),
        PRODUCT_VARIANTS,
        rows.product,
        rows.variants,
      );
    case "fulfillment":
      return { statements: [upsertStatement(db, shopifyFulfillments, rows.fulfillment)], children: [] };
    case "refund":
      // A partial refund (a bulk header) leaves the stored lines alone: an empty set would erase them.
      if (rows.partial) return { statements: [upsertStatement(db, shopifyRefunds, rows.refund)], children: [] };
      return withChildren(upsertStatement(db, shopifyRefunds, rows.refund), REFUND_LINES, rows.refund, rows.lineItems);
    case "checkout":
      return { statements: [upsertStatement(db, shopifyCheckouts, rows.checkout)], children: [] };
    case "customerPatch":
      return { statements: [customerPatchStatement(db, rows.patch)], children: [] };
    case "inventoryItem":
      return { statements: [upsertStatement(db, shopifyInventoryItems, rows.item)], children: [] };
    case "inventoryLevel":
      return { statements: [upsertStatement(db, shopifyInventoryLevels, rows.level)], children: [] };
    case "location":
      return { statements: [upsertStatement(db, shopifyLocations, rows.location)], children: [] };
    case "delete":
      return { statements: deleteStatements(db, rows.entity, rows.id, rows.meta), children: [] };
  }
}

/** The statements that apply one mapped event on their own (children included). */
export function shopifyStatements(db: D1Database, rows: ShopifyRows): D1PreparedStatement[] {
  const w = shopifyWrites(db, rows);
  return [...w.statements, ...childStatements(db, w.children)];
}

export function orderStatements(
  db: D1Database,
  order: ShopifyOrderRow,
  lineItems: readonly ShopifyOrderLineItemRow[],
): D1PreparedStatement[] {
  return shopifyStatements(db, { kind: "order", order, lineItems: [...lineItems] });
}

export function productStatements(
  db: D1Database,
  product: ShopifyProductRow,
  variants: readonly ShopifyProductVariantRow[],
): D1PreparedStatement[] {
  return shopifyStatements(db, { kind: "product", product, variants: [...variants] });
}

/** Soft delete (or tombstone) of an entity, and of its children when it has any. */
export function deleteStatements(
  db: D1Database,
  entity: DeletableEntity,
  id: string,
  meta: EventMeta,
): D1PreparedStatement[] {
  const d = drizzle(db);
  const table = DELETABLE[entity];
  const tombstone = {
    shop: meta.shop,
    id,
    updatedAt: meta.eventAt,
    deletedAt: meta.eventAt,
    lastEventId: meta.eventId,
    eventAt: meta.eventAt,
    origin: meta.origin,
  };
  const upsert = d
    .insert(table)
    .values(tombstone)
    .onConflictDoUpdate({
      target: [table.shop, table.id],
      set: {
        deletedAt: sql`coalesce(${table.deletedAt}, excluded.deleted_at)`,
        updatedAt: sql`max(${table.updatedAt}, excluded.updated_at)`,
        lastEventId: sql`excluded.last_event_id`,
        eventAt: sql`excluded.event_at`,
        origin: sql`excluded.origin`,
      },
    });
  const out = [toD1(db, upsert)];
  const children = entity === "orders" ? ORDER_LINES : entity === "products" ? PRODUCT_VARIANTS : null;
  if (children) {
    const parentDeletedAt = d
      .select({ deletedAt: table.deletedAt })
      .from(table)
      .where(and(eq(table.shop, meta.shop), eq(table.id, id)));
    const update = d
      .update(children.child)
      .set({ deletedAt: sql`(${parentDeletedAt})` })
      .where(and(eq(children.childShop, meta.shop), eq(children.childParentId, id)));
    out.push(toD1(db, update));
  }
  if (entity === "inventory_items") out.push(itemLevelsDeleted(db, id, meta));
  return out;
}

/**
 * An item's deletion deletes its levels: each takes the delete as its version (updated_at no older
 * than the delete), so a level update older than the delete, delivered late, changes nothing.
 */
function itemLevelsDeleted(db: D1Database, itemId: string, meta: EventMeta): D1PreparedStatement {
  const l = shopifyInventoryLevels;
  const update = drizzle(db)
    .update(l)
    .set({
      deletedAt: sql`coalesce(${l.deletedAt}, ${meta.eventAt})`,
      updatedAt: sql`max(${l.updatedAt}, ${meta.eventAt})`,
      lastEventId: meta.eventId,
      eventAt: meta.eventAt,
      origin: meta.origin,
    })
    .where(and(eq(l.shop, meta.shop), eq(l.inventoryItemId, itemId)));
  return toD1(db, update);
}

// ---- building blocks ------------------------------------------------------------------------

type D = DrizzleD1Database;

/** Columns every `shopify_*` entity table has (see versionColumns in the schema); levels have no `id`. */
type VersionedTable = SQLiteTable & {
  shop: SQLiteColumn;
  updatedAt: SQLiteColumn;
  deletedAt: SQLiteColumn;
  lastEventId: SQLiteColumn;
};

const DELETABLE = {
  orders: shopifyOrders,
  customers: shopifyCustomers,
  products: shopifyProducts,
  checkouts: shopifyCheckouts,
  inventory_items: shopifyInventoryItems,
  locations: shopifyLocations,
} as const;

const NEEDS_SHOP_CURRENCY: ReadonlySet<ShopifyFamily> = new Set<ShopifyFamily>(["product", "refund", "inventoryItem"]);

/**
 * Columns that never change once set, and that GraphQL (bulk exports, reconciliation) cannot
 * supply: a null from those paths must not erase what a webhook stored. A fulfillment's line
 * items are fixed when it is created; a refund never changes.
 */
const IMMUTABLE_ONCE_SET = new Map<SQLiteTable, ReadonlySet<string>>([
  [shopifyOrders, new Set(["order_number", "checkout_token", "cart_token", "landing_site_ref"])],
  [shopifyFulfillments, new Set(["line_item_count", "total_quantity"])],
  [shopifyRefunds, new Set(["restock", "line_subtotal_minor", "line_tax_minor", "line_count", "processed_at"])],
]);

/** `upsertFresh` as a D1 statement, its SQL text reused for rows of the same shape. */
function upsertStatement<T extends VersionedTable>(
  db: D1Database,
  table: T,
  row: T["$inferInsert"],
): D1PreparedStatement {
  const given = row as Record<string, unknown>;
  // Columns the row leaves out are inserted as NULL but not written on conflict: the key says which
  // (the SET list differs), while every column is bound, so rows of one key share a statement text
  // whose VALUES tuple is all parameters (what the multi-row path of ./d1.ts needs).
  const present = rowShape(table, given).key;
  const values = withNulls(table, given);
  const shape = rowShape(table, values);
  return cachedStatement(
    db,
    `upsert:${getTableName(table)}:${present}`,
    () => shape.params,
    () => upsertFresh(drizzle(db), table, values as T["$inferInsert"], given),
  );
}

/** The row with null for every column it leaves out. */
function withNulls(table: SQLiteTable, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...row };
  for (const key of Object.keys(getTableColumns(table))) if (out[key] === undefined) out[key] = null;
  return out;
}

/**
 * Insert, or overwrite the columns `given` has (but the key and deleted_at) when the row is not
 * older. A column `given` leaves out (undefined: a field its payload does not carry, see
 * src/mapping/shopify-versions.ts) keeps its stored value; one the row sets to null is cleared.
 */
function upsertFresh<T extends VersionedTable>(d: D, table: T, row: T["$inferInsert"], given: Record<string, unknown>) {
  // Snapshots never clear a soft delete: deleted_at is only written by deletes.
  const set = excludedColumns(table, given, "deleted_at");
  const keep = IMMUTABLE_ONCE_SET.get(table);
  if (keep) {
    for (const [key, col] of Object.entries(getTableColumns(table))) {
      if (keep.has(col.name) && key in set) set[key] = sql`coalesce(excluded.${sql.identifier(col.name)}, ${col})`;
    }
  }
  let setWhere = sql`excluded.updated_at >= ${table.updatedAt}`;
  if ((table as SQLiteTable) === shopifyCustomers) {
    guardCustomerGroups(set, given);
    // A row only a one-group topic wrote (no created_at yet) takes the customer's first full version.
    setWhere = sql`(${setWhere} or (${shopifyCustomers.createdAt} is null and ${shopifyCustomers.deletedAt} is null))`;
  }
  return d
    .insert(table)
    .values(row as SQLiteInsertValue<T>)
    .onConflictDoUpdate({
      target: keyOf(table),
      set: set as SQLiteUpdateSetSource<T>,
      setWhere,
    });
}

/** The primary key: (shop, id), or a level's (shop, inventory_item_id, location_id). */
function keyOf(table: VersionedTable): SQLiteColumn[] {
  if ((table as SQLiteTable) === shopifyInventoryLevels) {
    return [shopifyInventoryLevels.shop, shopifyInventoryLevels.inventoryItemId, shopifyInventoryLevels.locationId];
  }
  return [table.shop, (table as VersionedTable & { id: SQLiteColumn }).id];
}

/** `SET col = excluded.col` for every column the row has but the primary key (and any named). */
function excludedColumns(table: SQLiteTable, row: Record<string, unknown>, ...except: string[]): Record<string, SQL> {
  const keys = new Set(
    table === shopifyInventoryLevels ? ["shop", "inventory_item_id", "location_id"] : ["shop", "id"],
  );
  const set: Record<string, SQL> = {};
  for (const [key, col] of Object.entries(getTableColumns(table))) {
    if (row[key] === undefined) continue;
    if (!keys.has(col.name) && !except.includes(col.name)) {
      set[key] = sql`excluded.${sql.identifier(col.name)}`;
    }
  }
  return set;
}

/**
 * The customer's column groups that topics of their own also write (API 2025-01 on), each with the
 * time its values are as of: a group in a row replaces the stored one only when it is not older.
 */
const CUSTOMER_GROUPS: ReadonlyArray<{ asOf: SQLiteColumn; columns: readonly SQLiteColumn[] }> = [
  {
    asOf: shopifyCustomers.purchasingAsOf,
    columns: [shopifyCustomers.ordersCount, shopifyCustomers.totalSpentMinor, shopifyCustomers.lastOrderId],
  },
  {
    asOf: shopifyCustomers.emailConsentAsOf,
    columns: [
      shopifyCustomers.acceptsMarketing,
      shopifyCustomers.emailMarketingState,
      shopifyCustomers.emailMarketingOptInLevel,
      shopifyCustomers.emailMarketingUpdatedAt,
    ],
  },
  { asOf: shopifyCustomers.smsConsentAsOf, columns: [shopifyCustomers.smsMarketingState] },
  { asOf: shopifyCustomers.tagsAsOf, columns: [shopifyCustomers.tags] },
];

const customerKeys = new Map<SQLiteColumn, string>(
  Object.entries(getTableColumns(shopifyCustomers)).map(([key, col]) => [col as SQLiteColumn, key]),
);

/** Rewrites the SET of a customer row's groups: each column (and its as-of) only from a newer group. */
function guardCustomerGroups(set: Record<string, SQL>, row: Record<string, unknown>): void {
  for (const group of CUSTOMER_GROUPS) {
    const asOfKey = customerKeys.get(group.asOf) as string;
    if (row[asOfKey] === undefined) continue;
    const newer = sql`excluded.${sql.identifier(group.asOf.name)} >= coalesce(${group.asOf}, '')`;
    for (const col of [...group.columns, group.asOf]) {
      const key = customerKeys.get(col) as string;
      if (key in set) set[key] = sql`case when ${newer} then excluded.${sql.identifier(col.name)} else ${col} end`;
    }
  }
}

/**
 * A one-group customer topic (purchase summary, a consent, tag changes): insert the customer with
 * that group, or update only the group when it is not older than the stored one. The row's other
 * columns and its `updated_at` (the customer's own version) are left alone.
 */
function customerPatchStatement(db: D1Database, patch: CustomerPatch): D1PreparedStatement {
  const t = shopifyCustomers;
  const row = patch.row;
  const set: Record<string, SQL> = {
    lastEventId: sql`excluded.last_event_id`,
    eventAt: sql`excluded.event_at`,
    origin: sql`excluded.origin`,
    apiVersion: sql`excluded.api_version`,
  };
  let setWhere: SQL;
  if (patch.group === "tags") {
    // Changes older than the last full list are in it already.
    setWhere = sql`${patch.occurredAt} >= coalesce(${t.tagsAsOf}, '')`;
    set.tags = tagsChanged(JSON.stringify(patch.added), JSON.stringify(patch.removed));
  } else {
    const group = CUSTOMER_GROUPS.find((g) => customerKeys.get(g.asOf) === GROUP_AS_OF[patch.group]);
    if (group === undefined) throw new Error(`no customer group ${patch.group}`);
    setWhere = sql`excluded.${sql.identifier(group.asOf.name)} >= coalesce(${group.asOf}, '')`;
    for (const [key, value] of Object.entries(row)) {
      const col = (t as unknown as Record<string, SQLiteColumn>)[key];
      if (value === undefined || col === undefined || key in set) continue;
      if (["shop", "id", "updated_at", "deleted_at"].includes(col.name)) continue;
      set[key] = sql`excluded.${sql.identifier(col.name)}`;
    }
  }
  return toD1(
    db,
    drizzle(db)
      .insert(t)
      .values(row)
      .onConflictDoUpdate({ target: [t.shop, t.id], set: set as SQLiteUpdateSetSource<typeof t>, setWhere }),
  );
}

const GROUP_AS_OF: Record<Exclude<CustomerPatch["group"], "tags">, string> = {
  purchasing: "purchasingAsOf",
  emailConsent: "emailConsentAsOf",
  smsConsent: "smsConsentAsOf",
};

/**
 * The stored tag list with `removed` taken out and `added` appended (compared case-insensitively,
 * as Shopify does; the stored order kept). A customer with no stored list starts from none.
 */
function tagsChanged(added: string, removed: string): SQL {
  const stored = sql`coalesce(${shopifyCustomers.tags}, '[]')`;
  return sql`(select json_group_array(v) from (
    select value as v, 0 as g, key as k from json_each(${stored})
      where lower(value) not in (select lower(value) from json_each(${removed}))
    union all
    select value, 1, key from json_each(${added})
      where lower(value) not in (select lower(value) from json_each(${stored}))
        and lower(value) not in (select lower(value) from json_each(${removed}))
    order by g, k))`;
}

/** The parent's upsert, and its whole child set to replace when the parent takes this event. */
function withChildren(
  parentWrite: D1PreparedStatement,
  set: ChildSet,
  parentRow: { shop: string; id: string; lastEventId: string },
  rows: ReadonlyArray<Record<string, unknown>>,
): ShopifyWrites {
  return {
    statements: [parentWrite],
    children: [{ set, shop: parentRow.shop, parentId: parentRow.id, lastEventId: parentRow.lastEventId, rows }],
  };
}

/**
 * The shop's currency (product and some refund payloads name none): as its newest stored order
 * shows it, else as Shopify answered when the shop was added (`shops.currency`).
 */
async function shopCurrency(env: Env, shop: string): Promise<string | null> {
  const row = await drizzle(shopDatabase(env, shop))
    .select({ currency: shopifyOrders.currency })
    .from(shopifyOrders)
    .where(and(eq(shopifyOrders.shop, shop), isNotNull(shopifyOrders.currency)))
    .orderBy(desc(shopifyOrders.createdAt))
    .limit(1)
    .get();
  if (row?.currency) return row.currency;
  const added = await drizzle(sharedDatabase(env))
    .select({ currency: shops.currency })
    .from(shops)
    .where(eq(shops.shop, shop))
    .get();
  return added?.currency ?? null;
}

let cachedRules: { key: string; rules: MapContext["subscriptions"] } | null = null;

/** Parsed once per isolate and var values, not per event. */
function subscriptionRules(tags: string | undefined, skus: string | undefined): MapContext["subscriptions"] {
  const key = `${tags ?? ""}\u0000${skus ?? ""}`;
  if (cachedRules?.key !== key) cachedRules = { key, rules: parseSubscriptionRules(tags, skus) };
  return cachedRules.rules;
}
