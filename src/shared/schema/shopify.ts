/**
 * drizzle-orm definitions of the `shopify_*` tables, column for column the same as
 * `migrations/0002_shopify.sql` and the columns later migrations add (0150: `api_version` and the
 * customer's as-of columns; 0155: the inventory tables), in the same order (a test compares them with `PRAGMA table_info`).
 * The SQL file is the source of truth, because wrangler applies it; these give the
 * mappers and statement builders typed rows. Booleans are 0/1 INTEGER and list
 * columns JSON TEXT, converted by drizzle when a row is bound.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { ORIGINS } from "../envelope";

/** The version a row holds: the source's updated_at, the soft delete and the event that wrote it. */
const versionColumns = () => ({
  updatedAt: text("updated_at").notNull(),
  deletedAt: text("deleted_at"),
  lastEventId: text("last_event_id").notNull(),
  eventAt: text("event_at").notNull(),
  origin: text("origin", { enum: ORIGINS }).notNull(),
});
const flag = (name: string) => integer(name, { mode: "boolean" });
const list = (name: string) => text(name, { mode: "json" }).$type<string[]>();

export const shopifyOrders = sqliteTable(
  "shopify_orders",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    name: text("name"),
    orderNumber: integer("order_number"),
    confirmationNumber: text("confirmation_number"),
    email: text("email"),
    phone: text("phone"),
    customerId: text("customer_id"),
    customerOrdersCount: integer("customer_orders_count"),
    customerTotalSpentMinor: integer("customer_total_spent_minor"),
    createdAt: text("created_at"),
    processedAt: text("processed_at"),
    closedAt: text("closed_at"),
    cancelledAt: text("cancelled_at"),
    cancelReason: text("cancel_reason"),
    financialStatus: text("financial_status"),
    fulfillmentStatus: text("fulfillment_status"),
    test: flag("test"),
    confirmed: flag("confirmed"),
    buyerAcceptsMarketing: flag("buyer_accepts_marketing"),
    currency: text("currency"),
    presentmentCurrency: text("presentment_currency"),
    totalPriceMinor: integer("total_price_minor"),
    subtotalPriceMinor: integer("subtotal_price_minor"),
    totalLineItemsPriceMinor: integer("total_line_items_price_minor"),
    totalDiscountsMinor: integer("total_discounts_minor"),
    totalTaxMinor: integer("total_tax_minor"),
    totalShippingMinor: integer("total_shipping_minor"),
    currentTotalPriceMinor: integer("current_total_price_minor"),
    discountCodes: list("discount_codes"),
    tags: list("tags"),
    note: text("note"),
    paymentGatewayNames: list("payment_gateway_names"),
    sourceName: text("source_name"),
    referringSite: text("referring_site"),
    landingSite: text("landing_site"),
    landingSiteRef: text("landing_site_ref"),
    utmSource: text("utm_source"),
    utmMedium: text("utm_medium"),
    utmCampaign: text("utm_campaign"),
    utmContent: text("utm_content"),
    utmTerm: text("utm_term"),
    checkoutToken: text("checkout_token"),
    cartToken: text("cart_token"),
    shippingCity: text("shipping_city"),
    shippingProvince: text("shipping_province"),
    shippingProvinceCode: text("shipping_province_code"),
    shippingZip: text("shipping_zip"),
    shippingCountry: text("shipping_country"),
    shippingCountryCode: text("shipping_country_code"),
    billingCity: text("billing_city"),
    billingProvince: text("billing_province"),
    billingProvinceCode: text("billing_province_code"),
    billingZip: text("billing_zip"),
    billingCountry: text("billing_country"),
    billingCountryCode: text("billing_country_code"),
    lineItemCount: integer("line_item_count"),
    totalQuantity: integer("total_quantity"),
    isSubscription: flag("is_subscription"),
    subscriptionType: text("subscription_type"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    index("shopify_orders_by_email").on(t.email),
    index("shopify_orders_by_customer").on(t.shop, t.customerId),
    index("shopify_orders_by_created").on(t.shop, t.createdAt),
    // migrations/0060: Recharge and Stripe charges name a Shopify order by id alone.
    index("shopify_orders_by_id").on(t.id),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_orders_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

export const shopifyOrderLineItems = sqliteTable(
  "shopify_order_line_items",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    orderId: text("order_id").notNull(),
    position: integer("position").notNull(),
    productId: text("product_id"),
    variantId: text("variant_id"),
    sku: text("sku"),
    title: text("title"),
    variantTitle: text("variant_title"),
    vendor: text("vendor"),
    quantity: integer("quantity").notNull(),
    currency: text("currency"),
    priceMinor: integer("price_minor"),
    discountMinor: integer("discount_minor"),
    giftCard: flag("gift_card"),
    fulfillmentStatus: text("fulfillment_status"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    index("shopify_order_line_items_by_order").on(t.shop, t.orderId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_order_line_items_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

export const shopifyCustomers = sqliteTable(
  "shopify_customers",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    email: text("email"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    phone: text("phone"),
    state: text("state"),
    verifiedEmail: flag("verified_email"),
    taxExempt: flag("tax_exempt"),
    tags: list("tags"),
    currency: text("currency"),
    ordersCount: integer("orders_count"),
    totalSpentMinor: integer("total_spent_minor"),
    acceptsMarketing: flag("accepts_marketing"),
    emailMarketingState: text("email_marketing_state"),
    emailMarketingOptInLevel: text("email_marketing_opt_in_level"),
    emailMarketingUpdatedAt: text("email_marketing_updated_at"),
    smsMarketingState: text("sms_marketing_state"),
    city: text("city"),
    province: text("province"),
    provinceCode: text("province_code"),
    zip: text("zip"),
    country: text("country"),
    countryCode: text("country_code"),
    createdAt: text("created_at"),
    ...versionColumns(),
    apiVersion: text("api_version"),
    lastOrderId: text("last_order_id"),
    purchasingAsOf: text("purchasing_as_of"),
    emailConsentAsOf: text("email_consent_as_of"),
    smsConsentAsOf: text("sms_consent_as_of"),
    tagsAsOf: text("tags_as_of"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    index("shopify_customers_by_email").on(t.email),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_customers_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

export const shopifyProducts = sqliteTable(
  "shopify_products",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    title: text("title"),
    handle: text("handle"),
    productType: text("product_type"),
    vendor: text("vendor"),
    status: text("status"),
    tags: list("tags"),
    publishedAt: text("published_at"),
    createdAt: text("created_at"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_products_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

export const shopifyProductVariants = sqliteTable(
  "shopify_product_variants",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    productId: text("product_id").notNull(),
    position: integer("position"),
    title: text("title"),
    sku: text("sku"),
    barcode: text("barcode"),
    currency: text("currency"),
    priceMinor: integer("price_minor"),
    compareAtPriceMinor: integer("compare_at_price_minor"),
    inventoryItemId: text("inventory_item_id"),
    inventoryQuantity: integer("inventory_quantity"),
    createdAt: text("created_at"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    index("shopify_product_variants_by_product").on(t.shop, t.productId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_product_variants_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

export const shopifyFulfillments = sqliteTable(
  "shopify_fulfillments",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    orderId: text("order_id").notNull(),
    name: text("name"),
    status: text("status"),
    shipmentStatus: text("shipment_status"),
    service: text("service"),
    locationId: text("location_id"),
    trackingCompany: text("tracking_company"),
    trackingNumber: text("tracking_number"),
    trackingUrl: text("tracking_url"),
    trackingNumbers: list("tracking_numbers"),
    lineItemCount: integer("line_item_count"),
    totalQuantity: integer("total_quantity"),
    createdAt: text("created_at"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_fulfillments_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

export const shopifyRefunds = sqliteTable(
  "shopify_refunds",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    orderId: text("order_id").notNull(),
    note: text("note"),
    restock: flag("restock"),
    currency: text("currency"),
    refundedAmountMinor: integer("refunded_amount_minor"),
    lineSubtotalMinor: integer("line_subtotal_minor"),
    lineTaxMinor: integer("line_tax_minor"),
    lineCount: integer("line_count"),
    createdAt: text("created_at"),
    processedAt: text("processed_at"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    index("shopify_refunds_by_order").on(t.shop, t.orderId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_refunds_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

export const shopifyRefundLineItems = sqliteTable(
  "shopify_refund_line_items",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    refundId: text("refund_id").notNull(),
    orderId: text("order_id").notNull(),
    lineItemId: text("line_item_id"),
    quantity: integer("quantity").notNull(),
    restockType: text("restock_type"),
    locationId: text("location_id"),
    currency: text("currency"),
    subtotalMinor: integer("subtotal_minor"),
    totalTaxMinor: integer("total_tax_minor"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    index("shopify_refund_line_items_by_refund").on(t.shop, t.refundId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_refund_line_items_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

export const shopifyCheckouts = sqliteTable(
  "shopify_checkouts",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    token: text("token"),
    cartToken: text("cart_token"),
    name: text("name"),
    email: text("email"),
    phone: text("phone"),
    customerId: text("customer_id"),
    abandonedCheckoutUrl: text("abandoned_checkout_url"),
    sourceName: text("source_name"),
    referringSite: text("referring_site"),
    landingSite: text("landing_site"),
    utmSource: text("utm_source"),
    utmMedium: text("utm_medium"),
    utmCampaign: text("utm_campaign"),
    utmContent: text("utm_content"),
    utmTerm: text("utm_term"),
    buyerAcceptsMarketing: flag("buyer_accepts_marketing"),
    currency: text("currency"),
    presentmentCurrency: text("presentment_currency"),
    totalPriceMinor: integer("total_price_minor"),
    subtotalPriceMinor: integer("subtotal_price_minor"),
    totalLineItemsPriceMinor: integer("total_line_items_price_minor"),
    totalDiscountsMinor: integer("total_discounts_minor"),
    totalTaxMinor: integer("total_tax_minor"),
    discountCodes: list("discount_codes"),
    lineItemCount: integer("line_item_count"),
    totalQuantity: integer("total_quantity"),
    shippingCountryCode: text("shipping_country_code"),
    shippingProvinceCode: text("shipping_province_code"),
    createdAt: text("created_at"),
    completedAt: text("completed_at"),
    closedAt: text("closed_at"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    index("shopify_checkouts_by_email").on(t.email),
    index("shopify_checkouts_by_customer").on(t.shop, t.customerId),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("shopify_checkouts_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

/** migrations/0155_inventory.sql: an inventory item (one per variant); `cost_minor` in the shop's currency. */
export const shopifyInventoryItems = sqliteTable(
  "shopify_inventory_items",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    sku: text("sku"),
    tracked: flag("tracked"),
    requiresShipping: flag("requires_shipping"),
    currency: text("currency"),
    costMinor: integer("cost_minor"),
    variantId: text("variant_id"),
    countryCodeOfOrigin: text("country_code_of_origin"),
    harmonizedSystemCode: text("harmonized_system_code"),
    createdAt: text("created_at"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    // The lake reads a changed day as an index range, in key order.
    index("shopify_inventory_items_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

/** migrations/0155_inventory.sql: an item's quantities at a location, keyed (shop, inventory_item_id, location_id). */
export const shopifyInventoryLevels = sqliteTable(
  "shopify_inventory_levels",
  {
    shop: text("shop").notNull(),
    inventoryItemId: text("inventory_item_id").notNull(),
    locationId: text("location_id").notNull(),
    available: integer("available"),
    onHand: integer("on_hand"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.inventoryItemId, t.locationId] }),
    // The lake reads a changed day as an index range, in key order.
    index("shopify_inventory_levels_by_lake_day").on(t.updatedAt, t.shop, t.inventoryItemId, t.locationId),
  ],
);

/** migrations/0155_inventory.sql: a shop's location, by name and region. */
export const shopifyLocations = sqliteTable(
  "shopify_locations",
  {
    shop: text("shop").notNull(),
    id: text("id").notNull(),
    name: text("name"),
    active: flag("active"),
    legacy: flag("legacy"),
    provinceCode: text("province_code"),
    countryCode: text("country_code"),
    createdAt: text("created_at"),
    ...versionColumns(),
    apiVersion: text("api_version"),
  },
  (t) => [
    primaryKey({ columns: [t.shop, t.id] }),
    // The lake reads a changed day as an index range, in key order.
    index("shopify_locations_by_lake_day").on(t.updatedAt, t.shop, t.id),
  ],
);

/** Every table of this file, for schema checks. */
export const SHOPIFY_TABLES = [
  shopifyOrders,
  shopifyOrderLineItems,
  shopifyCustomers,
  shopifyProducts,
  shopifyProductVariants,
  shopifyFulfillments,
  shopifyRefunds,
  shopifyRefundLineItems,
  shopifyCheckouts,
  shopifyInventoryItems,
  shopifyInventoryLevels,
  shopifyLocations,
] as const;

export type ShopifyOrderRow = typeof shopifyOrders.$inferInsert;
export type ShopifyOrderLineItemRow = typeof shopifyOrderLineItems.$inferInsert;
export type ShopifyCustomerRow = typeof shopifyCustomers.$inferInsert;
export type ShopifyProductRow = typeof shopifyProducts.$inferInsert;
export type ShopifyProductVariantRow = typeof shopifyProductVariants.$inferInsert;
export type ShopifyFulfillmentRow = typeof shopifyFulfillments.$inferInsert;
export type ShopifyRefundRow = typeof shopifyRefunds.$inferInsert;
export type ShopifyRefundLineItemRow = typeof shopifyRefundLineItems.$inferInsert;
export type ShopifyCheckoutRow = typeof shopifyCheckouts.$inferInsert;
export type ShopifyInventoryItemRow = typeof shopifyInventoryItems.$inferInsert;
export type ShopifyInventoryLevelRow = typeof shopifyInventoryLevels.$inferInsert;
export type ShopifyLocationRow = typeof shopifyLocations.$inferInsert;
