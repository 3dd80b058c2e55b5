/**
 * The GraphQL sent for bulk exports: one query per resource (its nested connection
 * becomes `__parentId` child lines) and the mutations that run and read operations.
 * The selections name exactly what `./map.ts` reads; an incremental run adds
 * Shopify's search filter `updated_at:>'…'`.
 *
 * Fulfillments and refunds have no top-level connection: they are lists on Order, so their
 * exports walk `orders` and Shopify writes each order's list inline in the order's line.
 * Shopify refuses a connection inside a list ("Queries that contain a connection field within
 * a list field are not currently supported"), so `fulfillmentLineItems`, `refundLineItems` and
 * refund `transactions` cannot be selected: see ./map.ts for what that leaves out. The order's
 * `email` and `customer { id }` are selected so the snapshot line names its data subject.
 */
import type { BulkResource } from "../../shared/schema/operations";

const MONEY = "shopMoney { amount currencyCode }";
const ADDRESS = "city province provinceCode zip country countryCodeV2";

/**
 * Inventory selections, shared with reconciliation (src/cron/reconcile/shopify-queries.ts).
 * `variant` is deprecated for `variants`, a connection (more child lines), but still answers.
 */
export const INVENTORY_ITEM = `id sku tracked requiresShipping unitCost { amount currencyCode }
    countryCodeOfOrigin harmonizedSystemCode createdAt updatedAt variant { id }`;
export const INVENTORY_LEVEL = `id location { id } quantities(names: ["available", "on_hand"]) { name quantity } updatedAt`;
export const LOCATION =
  "id name isActive isFulfillmentService address { provinceCode countryCode } createdAt updatedAt";

const NODES: Record<BulkResource, string> = {
  orders: `id name confirmationNumber email phone createdAt updatedAt processedAt closedAt cancelledAt cancelReason
    displayFinancialStatus displayFulfillmentStatus test confirmed customerAcceptsMarketing
    currencyCode presentmentCurrencyCode
    totalPriceSet { ${MONEY} } subtotalPriceSet { ${MONEY} } totalDiscountsSet { ${MONEY} }
    totalTaxSet { ${MONEY} } totalShippingPriceSet { ${MONEY} } currentTotalPriceSet { ${MONEY} }
    discountCodes tags note paymentGatewayNames sourceName
    customerJourneySummary { firstVisit { landingPage referrerUrl } }
    shippingAddress { ${ADDRESS} } billingAddress { ${ADDRESS} }
    customer { id numberOfOrders amountSpent { amount currencyCode } }
    lineItems { edges { node {
      id sku title variantTitle vendor quantity isGiftCard product { id } variant { id }
      originalUnitPriceSet { ${MONEY} } totalDiscountSet { ${MONEY} }
    } } }`,
  customers: `id firstName lastName state verifiedEmail taxExempt tags createdAt updatedAt numberOfOrders
    amountSpent { amount currencyCode }
    defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
    defaultPhoneNumber { phoneNumber marketingState }
    defaultAddress { ${ADDRESS} }`,
  products: `id title handle productType vendor status tags createdAt updatedAt publishedAt
    variants { edges { node {
      id title sku barcode price compareAtPrice position inventoryQuantity createdAt updatedAt inventoryItem { id }
    } } }`,
  fulfillments: `id email customer { id }
    fulfillments { id name status displayStatus totalQuantity createdAt updatedAt
      location { id } service { handle } trackingInfo { company number url } }`,
  refunds: `id email customer { id }
    refunds { id note createdAt updatedAt totalRefundedSet { ${MONEY} } }`,
  inventory: `${INVENTORY_ITEM}
    inventoryLevels { edges { node { ${INVENTORY_LEVEL} } } }`,
  locations: LOCATION,
};

/** The top-level connection each resource's export walks. */
const ROOTS: Record<BulkResource, string> = {
  orders: "orders",
  customers: "customers",
  products: "products",
  fulfillments: "orders",
  refunds: "orders",
  inventory: "inventoryItems",
  // Deactivated locations and fulfillment services' locations are listed too: their levels name them.
  locations: "locations(includeInactive: true, includeLegacy: true)",
};

/** The bulk query for a resource; `since` (UTC ISO) limits it to records updated after that time. */
export function bulkQuery(resource: BulkResource, since: string | null): string {
  // Shopify's `locations` has no updated_at filter: they are few, so every export reads them all.
  const filter = since && resource !== "locations" ? `(query: ${JSON.stringify(`updated_at:>'${since}'`)})` : "";
  return `{ ${ROOTS[resource]}${filter} { edges { node { ${NODES[resource].replace(/\s+/g, " ")} } } } }`;
}

/** `groupObjects` exists from 2025-10; false lets Shopify write children as they come (faster). */
export function runQueryMutation(apiVersion: string): string {
  const grouping = apiVersion === "unstable" || apiVersion >= "2025-10" ? ", groupObjects: false" : "";
  return `mutation RunBulkExport($query: String!) {
  bulkOperationRunQuery(query: $query${grouping}) {
    bulkOperation { id status createdAt }
    userErrors { field message code }
  }
}`;
}

const BULK_OPERATION_FIELDS =
  "id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl";

/**
 * The status read of one bulk operation, and the root field that answers it: `bulkOperation(id:)`
 * exists from API 2026-01; before, the operation is read as a `node` (`currentBulkOperation` names
 * only the latest one, and from 2026-01 five can run at once).
 */
export function bulkOperationQuery(apiVersion: string): { query: string; root: "bulkOperation" | "node" } {
  if (apiVersion === "unstable" || apiVersion >= "2026-01") {
    return {
      query: `query BulkOperationStatus($id: ID!) {
  bulkOperation(id: $id) { ${BULK_OPERATION_FIELDS} }
}`,
      root: "bulkOperation",
    };
  }
  return {
    query: `query BulkOperationStatus($id: ID!) {
  node(id: $id) { ... on BulkOperation { ${BULK_OPERATION_FIELDS} } }
}`,
    root: "node",
  };
}

export const SHOP_CURRENCY_QUERY = "query ShopCurrency { shop { currencyCode } }";

/** Costs by Shopify's formula (mutation 10; bulkOperation object 1), so no first-call over-reservation. */
export const COSTS = { run: 10, status: 1, shop: 1 } as const;
