/**
 * Drizzle definitions of the `recharge_*` tables; they must match
 * migrations/0003_stripe_recharge.sql exactly (a test compares them with
 * `PRAGMA table_info`). The SQL file stays the source of truth for the database,
 * these give typed rows and statements.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

const bool = (name: string) => integer(name, { mode: "boolean" });

/** Columns every Recharge entity row ends with: `updated_at` (the object's own) is the ordering key. */
const tail = () => ({
  createdAt: text("created_at"),
  updatedAt: text("updated_at").notNull(),
  deletedAt: text("deleted_at"),
  lastEventId: text("last_event_id").notNull(),
});

export const rechargeCustomers = sqliteTable(
  "recharge_customers",
  {
    id: text("id").primaryKey().notNull(),
    shopifyCustomerId: text("shopify_customer_id"),
    email: text("email"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    phone: text("phone"),
    status: text("status"),
    subscriptionsActiveCount: integer("subscriptions_active_count"),
    subscriptionsTotalCount: integer("subscriptions_total_count"),
    hasValidPaymentMethod: bool("has_valid_payment_method"),
    hasPaymentMethodInDunning: bool("has_payment_method_in_dunning"),
    firstChargeProcessedAt: text("first_charge_processed_at"),
    ...tail(),
  },
  (t) => [
    index("recharge_customers_by_email").on(t.email),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("recharge_customers_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const rechargeSubscriptions = sqliteTable(
  "recharge_subscriptions",
  {
    id: text("id").primaryKey().notNull(),
    customerId: text("customer_id"),
    shopifyCustomerId: text("shopify_customer_id"),
    email: text("email"),
    addressId: text("address_id"),
    status: text("status"),
    productTitle: text("product_title"),
    variantTitle: text("variant_title"),
    shopifyProductId: text("shopify_product_id"),
    shopifyVariantId: text("shopify_variant_id"),
    sku: text("sku"),
    currency: text("currency"),
    priceMinor: integer("price_minor"),
    priceDecimal: text("price_decimal"),
    quantity: integer("quantity"),
    orderIntervalUnit: text("order_interval_unit"),
    orderIntervalFrequency: integer("order_interval_frequency"),
    chargeIntervalFrequency: integer("charge_interval_frequency"),
    orderDayOfMonth: integer("order_day_of_month"),
    orderDayOfWeek: integer("order_day_of_week"),
    expireAfterSpecificNumberOfCharges: integer("expire_after_specific_number_of_charges"),
    nextChargeScheduledAt: text("next_charge_scheduled_at"),
    isPrepaid: bool("is_prepaid"),
    isSkippable: bool("is_skippable"),
    isSwappable: bool("is_swappable"),
    maxRetriesReached: bool("max_retries_reached"),
    cancelledAt: text("cancelled_at"),
    cancellationReason: text("cancellation_reason"),
    cancellationReasonComments: text("cancellation_reason_comments"),
    ...tail(),
  },
  (t) => [
    index("recharge_subscriptions_by_customer").on(t.customerId),
    index("recharge_subscriptions_by_email").on(t.email),
    index("recharge_subscriptions_by_status").on(t.status, t.createdAt),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("recharge_subscriptions_by_lake_day").on(t.updatedAt, t.id),
    // migrations/0162: the subscriptions the store currency fill gives a currency (partial).
    index("recharge_subscriptions_without_currency")
      .on(t.id)
      .where(sql`currency IS NULL AND price_decimal IS NOT NULL`),
  ],
);

export const rechargeCharges = sqliteTable(
  "recharge_charges",
  {
    id: text("id").primaryKey().notNull(),
    customerId: text("customer_id"),
    shopifyCustomerId: text("shopify_customer_id"),
    email: text("email"),
    addressId: text("address_id"),
    status: text("status"),
    type: text("type"),
    currency: text("currency"),
    subtotalMinor: integer("subtotal_minor"),
    totalPriceMinor: integer("total_price_minor"),
    totalTaxMinor: integer("total_tax_minor"),
    totalDiscountsMinor: integer("total_discounts_minor"),
    totalRefundsMinor: integer("total_refunds_minor"),
    totalLineItemsPriceMinor: integer("total_line_items_price_minor"),
    totalDutiesMinor: integer("total_duties_minor"),
    totalShippingMinor: integer("total_shipping_minor"),
    lineItemCount: integer("line_item_count"),
    scheduledAt: text("scheduled_at"),
    processedAt: text("processed_at"),
    retryDate: text("retry_date"),
    chargeAttempts: integer("charge_attempts"),
    error: text("error"),
    errorType: text("error_type"),
    shopifyOrderId: text("shopify_order_id"),
    paymentProcessor: text("payment_processor"),
    externalTransactionId: text("external_transaction_id"),
    tags: text("tags"),
    ...tail(),
  },
  (t) => [
    index("recharge_charges_by_customer").on(t.customerId),
    index("recharge_charges_by_email").on(t.email),
    index("recharge_charges_by_shopify_order").on(t.shopifyOrderId),
    index("recharge_charges_by_status").on(t.status, t.createdAt),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("recharge_charges_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const rechargeChargeLineItems = sqliteTable(
  "recharge_charge_line_items",
  {
    chargeId: text("charge_id").notNull(),
    position: integer("position").notNull(),
    purchaseItemId: text("purchase_item_id"),
    purchaseItemType: text("purchase_item_type"),
    shopifyProductId: text("shopify_product_id"),
    shopifyVariantId: text("shopify_variant_id"),
    sku: text("sku"),
    title: text("title"),
    variantTitle: text("variant_title"),
    quantity: integer("quantity"),
    currency: text("currency"),
    unitPriceMinor: integer("unit_price_minor"),
    totalPriceMinor: integer("total_price_minor"),
    taxDueMinor: integer("tax_due_minor"),
    updatedAt: text("updated_at").notNull(),
    lastEventId: text("last_event_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.chargeId, t.position] }),
    index("recharge_charge_line_items_by_purchase_item").on(t.purchaseItemId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("recharge_charge_line_items_by_lake_day").on(t.updatedAt, t.chargeId, t.position),
  ],
);

/** Complete rows (every column named, nulls explicit), so a mapper cannot silently skip a column. */
export type RechargeCustomerRow = typeof rechargeCustomers.$inferSelect;
export type RechargeSubscriptionRow = typeof rechargeSubscriptions.$inferSelect;
export type RechargeChargeRow = typeof rechargeCharges.$inferSelect;
export type RechargeChargeLineItemRow = typeof rechargeChargeLineItems.$inferSelect;

/** Every Recharge table, for the schema-vs-migration test. */
export const RECHARGE_TABLES = [
  rechargeCustomers,
  rechargeSubscriptions,
  rechargeCharges,
  rechargeChargeLineItems,
] as const;

/** migrations/0154: the store's own currency, one row (id 1), fetched from `GET /store`. */
export const rechargeStore = sqliteTable("recharge_store", {
  id: integer("id").primaryKey().notNull(),
  currency: text("currency").notNull(),
  fetchedAt: text("fetched_at").notNull(),
  updatedAt: text("updated_at").notNull(),
});
