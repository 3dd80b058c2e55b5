/**
 * Applies Shopify events to the `shopify_*` tables: map the payload (pure, src/mapping/shopify.ts),
 * then build plain D1 statements with drizzle that the consumer batches with the ledger row.
 *
 * Order of versions: a parent row (order, customer, product, ...) takes an event only if
 * its `updated_at` is not older than the stored one (ties apply, so a redelivery rewrites
 * the same values). Children (line items, variants, refund lines) are deleted and
 * re-inserted in the same batch, joined to the parent row *holding this event*
 * (`last_event_id`), so a stale event changes neither parent nor children and a reader
 * never sees half a set. Deletes never erase: they set `deleted_at` (first deletion wins)
 * and count as a version at the delete's event time, so an older snapshot delivered late
 * cannot overwrite or resurrect the row. A delete for an id never seen inserts a tombstone
 * for the same reason. Snapshots never clear `deleted_at`; children mirror the parent's.
 */
import { and, desc, eq, exists, getTableColumns, getTableName, isNotNull, type SQL, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import type { SQLiteColumn, SQLiteInsertValue, SQLiteTable, SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import {
  type DeletableEntity,
  type EventMeta,
  type MapContext,
  mapShopifyEvent,
  parseSubscriptionRules,
  type ShopifyFamily,
  type ShopifyRows,
  shopifyFamily,
} from "../mapping/shopify";
import {
  type ShopifyCheckoutRow,
  type ShopifyCustomerRow,
  type ShopifyFulfillmentRow,
  type ShopifyOrderLineItemRow,
  type ShopifyOrderRow,
  type ShopifyProductRow,
  type ShopifyProductVariantRow,
  type ShopifyRefundLineItemRow,
  type ShopifyRefundRow,
  shopifyCheckouts,
  shopifyCustomers,
  shopifyFulfillments,
  shopifyOrderLineItems,
  shopifyOrders,
  shopifyProducts,
  shopifyProductVariants,
  shopifyRefundLineItems,
  shopifyRefunds,
} from "../shared/schema/shopify";
import { toUtcIso } from "../shared/time";
import { cachedStatement, driverValue, MAX_BOUND_PARAMETERS, toD1 } from "./d1";
import type { Planner } from "./plan";

export const planShopify: Planner = async (env, event) => {
  const e = event.envelope;
  const family = shopifyFamily(e.topic);
  if (family === null) return { kind: "archive-only", note: `no shopify table for ${e.topic}` };
  if (e.shop === null) return { kind: "quarantine", reason: "invalid_payload", detail: "no shop domain" };
  // Normalized to milliseconds so it compares as text with the stored updated_at values.
  const meta: EventMeta = {
    shop: e.shop,
    eventId: e.eventId,
    eventAt: toUtcIso(e.eventAt) ?? e.eventAt,
    origin: e.origin,
  };
  const ctx: MapContext = {
    subscriptions: subscriptionRules(env.SUBSCRIPTION_TAGS, env.SUBSCRIPTION_SKU_PATTERNS),
    shopCurrency: NEEDS_SHOP_CURRENCY.has(family) ? await shopCurrency(env.DB, e.shop) : null,
  };
  const mapped = mapShopifyEvent(family, event.payload, meta, ctx);
  if (!mapped.ok) return { kind: "quarantine", reason: "invalid_payload", detail: mapped.detail };
  return { kind: "apply", statements: shopifyStatements(env.DB, mapped.rows) };
};

/** The statements that apply one mapped event. Exported for other ingesters (bulk exports). */
export function shopifyStatements(db: D1Database, rows: ShopifyRows): D1PreparedStatement[] {
  switch (rows.kind) {
    case "order":
      return orderStatements(db, rows.order, rows.lineItems);
    case "customer":
      return customerStatements(db, rows.customer);
    case "product":
      return productStatements(db, rows.product, rows.variants);
    case "fulfillment":
      return fulfillmentStatements(db, rows.fulfillment);
    case "refund":
      return refundStatements(db, rows.refund, rows.lineItems);
    case "checkout":
      return checkoutStatements(db, rows.checkout);
    case "delete":
      return deleteStatements(db, rows.entity, rows.id, rows.meta);
  }
}

export function orderStatements(
  db: D1Database,
  order: ShopifyOrderRow,
  lineItems: readonly ShopifyOrderLineItemRow[],
): D1PreparedStatement[] {
  const d = drizzle(db);
  return [upsertStatement(db, shopifyOrders, order), ...replaceChildren(db, d, ORDER_LINES, order, lineItems)];
}

export function customerStatements(db: D1Database, customer: ShopifyCustomerRow): D1PreparedStatement[] {
  return [upsertStatement(db, shopifyCustomers, customer)];
}

export function productStatements(
  db: D1Database,
  product: ShopifyProductRow,
  variants: readonly ShopifyProductVariantRow[],
): D1PreparedStatement[] {
  const d = drizzle(db);
  return [
    upsertStatement(db, shopifyProducts, product),
    ...replaceChildren(db, d, PRODUCT_VARIANTS, product, variants),
  ];
}

export function fulfillmentStatements(db: D1Database, fulfillment: ShopifyFulfillmentRow): D1PreparedStatement[] {
  return [upsertStatement(db, shopifyFulfillments, fulfillment)];
}

export function refundStatements(
  db: D1Database,
  refund: ShopifyRefundRow,
  lineItems: readonly ShopifyRefundLineItemRow[],
): D1PreparedStatement[] {
  const d = drizzle(db);
  return [upsertStatement(db, shopifyRefunds, refund), ...replaceChildren(db, d, REFUND_LINES, refund, lineItems)];
}

export function checkoutStatements(db: D1Database, checkout: ShopifyCheckoutRow): D1PreparedStatement[] {
  return [upsertStatement(db, shopifyCheckouts, checkout)];
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
  return out;
}

// ---- building blocks ------------------------------------------------------------------------

type D = DrizzleD1Database;

/** Columns every `shopify_*` entity table has (see versionColumns in the schema). */
type VersionedTable = SQLiteTable & {
  shop: SQLiteColumn;
  id: SQLiteColumn;
  updatedAt: SQLiteColumn;
  deletedAt: SQLiteColumn;
  lastEventId: SQLiteColumn;
};

const DELETABLE = {
  orders: shopifyOrders,
  customers: shopifyCustomers,
  products: shopifyProducts,
  checkouts: shopifyCheckouts,
} as const;

const NEEDS_SHOP_CURRENCY: ReadonlySet<ShopifyFamily> = new Set<ShopifyFamily>(["product", "refund"]);

/**
 * Order columns that never change once set, and that GraphQL (bulk exports, reconciliation)
 * cannot supply: a null from those paths must not erase what a webhook stored.
 */
const IMMUTABLE_ONCE_SET = new Set(["order_number", "checkout_token", "cart_token", "landing_site_ref"]);

/** `upsertFresh` as a D1 statement, its SQL text reused for rows of the same shape. */
function upsertStatement<T extends VersionedTable>(
  db: D1Database,
  table: T,
  row: T["$inferInsert"],
): D1PreparedStatement {
  const values = row as Record<string, unknown>;
  const columns = Object.entries(getTableColumns(table)).filter(([key]) => values[key] !== undefined);
  return cachedStatement(
    db,
    `upsert:${getTableName(table)}:${columns.map(([key]) => key).join(",")}`,
    () => columns.map(([key, col]) => driverValue(col, values[key])),
    () => upsertFresh(drizzle(db), table, row),
  );
}

/** Insert, or overwrite every column but the key and deleted_at when the row is not older. */
function upsertFresh<T extends VersionedTable>(d: D, table: T, row: T["$inferInsert"]) {
  // Snapshots never clear a soft delete: deleted_at is only written by deletes.
  const set = excludedColumns(table, "deleted_at");
  if ((table as SQLiteTable) === shopifyOrders) {
    for (const [key, col] of Object.entries(getTableColumns(shopifyOrders))) {
      if (IMMUTABLE_ONCE_SET.has(col.name)) set[key] = sql`coalesce(excluded.${sql.identifier(col.name)}, ${col})`;
    }
  }
  return d
    .insert(table)
    .values(row as SQLiteInsertValue<T>)
    .onConflictDoUpdate({
      target: [table.shop, table.id],
      set: set as SQLiteUpdateSetSource<T>,
      setWhere: sql`excluded.updated_at >= ${table.updatedAt}`,
    });
}

/** `SET col = excluded.col` for every column but the key (and any named). */
function excludedColumns(table: SQLiteTable, ...except: string[]): Record<string, SQL> {
  const set: Record<string, SQL> = {};
  for (const [key, col] of Object.entries(getTableColumns(table))) {
    if (col.name !== "shop" && col.name !== "id" && !except.includes(col.name)) {
      set[key] = sql`excluded.${sql.identifier(col.name)}`;
    }
  }
  return set;
}

interface ChildSet {
  child: SQLiteTable;
  parent: VersionedTable;
  childShop: SQLiteColumn;
  childId: SQLiteColumn;
  childParentId: SQLiteColumn;
  /** Child columns taken from the parent row at insert time (child column name → parent column). */
  inherit: ReadonlyMap<string, SQLiteColumn>;
}

const versionOf = (p: typeof shopifyOrders | typeof shopifyProducts | typeof shopifyRefunds) =>
  new Map<string, SQLiteColumn>([
    ["shop", p.shop],
    ["deleted_at", p.deletedAt],
    ["last_event_id", p.lastEventId],
    ["event_at", p.eventAt],
    ["origin", p.origin],
  ]);

const ORDER_LINES: ChildSet = {
  child: shopifyOrderLineItems,
  parent: shopifyOrders,
  childShop: shopifyOrderLineItems.shop,
  childId: shopifyOrderLineItems.id,
  childParentId: shopifyOrderLineItems.orderId,
  inherit: new Map([
    ...versionOf(shopifyOrders),
    ["order_id", shopifyOrders.id],
    ["updated_at", shopifyOrders.updatedAt],
  ]),
};

const PRODUCT_VARIANTS: ChildSet = {
  child: shopifyProductVariants,
  parent: shopifyProducts,
  childShop: shopifyProductVariants.shop,
  childId: shopifyProductVariants.id,
  childParentId: shopifyProductVariants.productId,
  // Variants keep their own updated_at.
  inherit: new Map([...versionOf(shopifyProducts), ["product_id", shopifyProducts.id]]),
};

const REFUND_LINES: ChildSet = {
  child: shopifyRefundLineItems,
  parent: shopifyRefunds,
  childShop: shopifyRefundLineItems.shop,
  childId: shopifyRefundLineItems.id,
  childParentId: shopifyRefundLineItems.refundId,
  inherit: new Map([
    ...versionOf(shopifyRefunds),
    ["refund_id", shopifyRefunds.id],
    ["order_id", shopifyRefunds.orderId],
    ["updated_at", shopifyRefunds.updatedAt],
  ]),
};

/**
 * Delete the parent's children, then insert the new set in chunks that stay under D1's
 * bound-parameter limit. Every statement only acts when the parent row now holds the
 * parent's event; version columns come from that parent row. A child id already stored
 * under another parent (Shopify ids are global, so only bad data does this) moves to this
 * one instead of failing the whole batch on the primary key.
 */
function replaceChildren(
  db: D1Database,
  d: D,
  set: ChildSet,
  parentRow: { shop: string; id: string; lastEventId: string },
  rows: ReadonlyArray<Record<string, unknown>>,
): D1PreparedStatement[] {
  const { child, parent } = set;
  const holdsEvent = and(
    eq(parent.shop, parentRow.shop),
    eq(parent.id, parentRow.id),
    eq(parent.lastEventId, parentRow.lastEventId),
  );
  const guard = d.select({ one: sql`1` }).from(parent).where(holdsEvent);
  const out = [
    toD1(
      db,
      d.delete(child).where(and(eq(set.childShop, parentRow.shop), eq(set.childParentId, parentRow.id), exists(guard))),
    ),
  ];

  // drizzle inserts into every column in table order; the select list follows that order.
  const columns = Object.entries(getTableColumns(child));
  const own = columns.filter(([, col]) => !set.inherit.has(col.name));
  let position = 0;
  const selectList = columns.map(([, col]) => set.inherit.get(col.name) ?? sql.raw(`v.column${++position}`));
  const guardParams = 3;
  const perChunk = Math.max(1, Math.floor((MAX_BOUND_PARAMETERS - guardParams) / own.length));
  for (let i = 0; i < rows.length; i += perChunk) {
    const chunk = rows.slice(i, i + perChunk);
    const build = () => {
      const tuples = chunk.map(
        (row) =>
          sql`(${sql.join(
            own.map(([key, col]) => sql.param(row[key] ?? null, col)),
            sql`, `,
          )})`,
      );
      // `where`, not `join ... on`: SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT.
      const select = sql`select ${sql.join(selectList, sql`, `)} from (values ${sql.join(tuples, sql`, `)}) as v, ${parent} where ${holdsEvent}`;
      return d
        .insert(child)
        .select(select)
        .onConflictDoUpdate({ target: [set.childShop, set.childId], set: excludedColumns(child) });
    };
    const params = () => [
      ...chunk.flatMap((row) => own.map(([key, col]) => driverValue(col, row[key]))),
      parentRow.shop,
      parentRow.id,
      parentRow.lastEventId,
    ];
    out.push(cachedStatement(db, `children:${getTableName(child)}:${chunk.length}`, params, build));
  }
  return out;
}

/** The shop's currency as its stored orders show it (product and some refund payloads name none). */
async function shopCurrency(db: D1Database, shop: string): Promise<string | null> {
  const row = await drizzle(db)
    .select({ currency: shopifyOrders.currency })
    .from(shopifyOrders)
    .where(and(eq(shopifyOrders.shop, shop), isNotNull(shopifyOrders.currency)))
    .orderBy(desc(shopifyOrders.createdAt))
    .limit(1)
    .get();
  return row?.currency ?? null;
}

let cachedRules: { key: string; rules: MapContext["subscriptions"] } | null = null;

/** Parsed once per isolate and var values, not per event. */
function subscriptionRules(tags: string | undefined, skus: string | undefined): MapContext["subscriptions"] {
  const key = `${tags ?? ""}\u0000${skus ?? ""}`;
  if (cachedRules?.key !== key) cachedRules = { key, rules: parseSubscriptionRules(tags, skus) };
  return cachedRules.rules;
}
