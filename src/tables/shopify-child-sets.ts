/**
 * The Shopify child sets (order lines, product variants, refund lines): each child table, its parent
 * and the columns it copies from the parent row. Written by src/tables/children.ts.
 */
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import {
  shopifyOrderLineItems,
  shopifyOrders,
  shopifyProducts,
  shopifyProductVariants,
  shopifyRefundLineItems,
  shopifyRefunds,
} from "../shared/schema/shopify";
import type { ChildSet } from "./child-sql";

/** A child set, with the child's shop column (deletes cascade to children by it). */
export interface ShopifyChildSet extends ChildSet {
  childShop: SQLiteColumn;
}

const versionOf = (p: typeof shopifyOrders | typeof shopifyProducts | typeof shopifyRefunds) =>
  new Map<string, SQLiteColumn>([
    ["shop", p.shop],
    ["deleted_at", p.deletedAt],
    ["last_event_id", p.lastEventId],
    ["event_at", p.eventAt],
    ["origin", p.origin],
    ["api_version", p.apiVersion],
  ]);

export const ORDER_LINES: ShopifyChildSet = {
  child: shopifyOrderLineItems,
  parent: shopifyOrders,
  childShop: shopifyOrderLineItems.shop,
  childParentId: shopifyOrderLineItems.orderId,
  inherit: new Map([
    ...versionOf(shopifyOrders),
    ["order_id", shopifyOrders.id],
    ["updated_at", shopifyOrders.updatedAt],
  ]),
};

export const PRODUCT_VARIANTS: ShopifyChildSet = {
  child: shopifyProductVariants,
  parent: shopifyProducts,
  childShop: shopifyProductVariants.shop,
  childParentId: shopifyProductVariants.productId,
  // Variants keep their own updated_at.
  inherit: new Map([...versionOf(shopifyProducts), ["product_id", shopifyProducts.id]]),
};

export const REFUND_LINES: ShopifyChildSet = {
  child: shopifyRefundLineItems,
  parent: shopifyRefunds,
  childShop: shopifyRefundLineItems.shop,
  childParentId: shopifyRefundLineItems.refundId,
  inherit: new Map([
    ...versionOf(shopifyRefunds),
    ["refund_id", shopifyRefunds.id],
    ["order_id", shopifyRefunds.orderId],
    ["updated_at", shopifyRefunds.updatedAt],
  ]),
};

/** Every Shopify child set, for the plans of their statements (test/node/indexes.test.ts). */
export const SHOPIFY_CHILD_SETS: readonly ChildSet[] = [ORDER_LINES, PRODUCT_VARIANTS, REFUND_LINES];
