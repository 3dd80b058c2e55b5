/**
 * The Admin GraphQL documents Shopify reconciliation sends, and zod schemas for what
 * comes back. Listing asks for `id updatedAt` only, for all three resources in one
 * query (a quiet shop costs one call); full records are fetched afterwards, only for
 * what D1 lacks, by aliased `order(id:)` / `customer(id:)` / `product(id:)` fields in
 * batches sized to stay under the 1,000-point single-query limit. Child lists are
 * fetched 10 (line items) or 20 (variants) at a time with the record; a longer list is
 * paged to the end, because the mappers replace a record's children as a whole.
 */
import { z } from "zod";

export const SHOPIFY_RESOURCES = ["orders", "customers", "products"] as const;
export type ShopifyResource = (typeof SHOPIFY_RESOURCES)[number];

export const LIST_PAGE_SIZE = 250;

const SINGULAR: Record<ShopifyResource, "order" | "customer" | "product"> = {
  orders: "order",
  customers: "customer",
  products: "product",
};

/** One listing page for the given resources; variables `${r}Query` and `${r}After` per resource. */
export function listQuery(resources: readonly ShopifyResource[]): string {
  const vars = resources.map((r) => `$${r}Query: String!, $${r}After: String`).join(", ");
  const fields = resources
    .map(
      (r) =>
        `${r}(first: ${LIST_PAGE_SIZE}, after: $${r}After, query: $${r}Query, sortKey: UPDATED_AT) { nodes { id updatedAt } pageInfo { hasNextPage endCursor } }`,
    )
    .join("\n  ");
  return `query ReconcileList(${vars}) {\n  ${fields}\n}`;
}

const pageInfo = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullish() });
export const listConnection = z.object({
  nodes: z.array(z.object({ id: z.string().max(128), updatedAt: z.string().max(40) })),
  pageInfo,
});
export const listResponse = z.object({
  orders: listConnection.optional(),
  customers: listConnection.optional(),
  products: listConnection.optional(),
});

const LINE_FIELDS = `id title name sku vendor variantTitle quantity isGiftCard
  product { id } variant { id }
  originalUnitPriceSet { shopMoney { amount } }
  totalDiscountSet { shopMoney { amount } }`;
const VARIANT_FIELDS =
  "id title sku barcode price compareAtPrice position inventoryQuantity createdAt updatedAt inventoryItem { id }";
const ADDRESS = "city province provinceCode zip country countryCodeV2";

export const LINE_ITEMS_WITH_ORDER = 10;
export const VARIANTS_WITH_PRODUCT = 20;

const FIELDS: Record<ShopifyResource, string> = {
  orders: `id name email phone createdAt updatedAt processedAt closedAt cancelledAt cancelReason
    displayFinancialStatus displayFulfillmentStatus test confirmed customerAcceptsMarketing
    currencyCode presentmentCurrencyCode discountCodes tags note paymentGatewayNames sourceName
    totalPriceSet { shopMoney { amount } }
    subtotalPriceSet { shopMoney { amount } }
    totalLineItemsPriceSet { shopMoney { amount } }
    totalDiscountsSet { shopMoney { amount } }
    totalTaxSet { shopMoney { amount } }
    totalShippingPriceSet { shopMoney { amount currencyCode } }
    currentTotalPriceSet { shopMoney { amount } }
    customerJourneySummary { firstVisit { landingPage referrerUrl } }
    shippingAddress { ${ADDRESS} }
    billingAddress { ${ADDRESS} }
    customer { id numberOfOrders amountSpent { amount currencyCode } }
    lineItems(first: ${LINE_ITEMS_WITH_ORDER}) { nodes { ${LINE_FIELDS} } pageInfo { hasNextPage endCursor } }`,
  customers: `id firstName lastName state tags verifiedEmail taxExempt numberOfOrders createdAt updatedAt
    amountSpent { amount currencyCode }
    defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
    defaultPhoneNumber { phoneNumber }
    defaultAddress { ${ADDRESS} }`,
  products: `id title handle productType vendor status tags publishedAt createdAt updatedAt
    variants(first: ${VARIANTS_WITH_PRODUCT}) { nodes { ${VARIANT_FIELDS} } pageInfo { hasNextPage endCursor } }`,
};

/** Records fetched per query: requested cost (≈93 per order, 5 per customer, 43 per product) stays under 1,000. */
export const FETCH_BATCH: Record<ShopifyResource, number> = { orders: 10, customers: 50, products: 20 };

/** Aliased single-record fields `r0`, `r1`, … with the ids as variables `$id0`, `$id1`, …. */
export function fetchQuery(resource: ShopifyResource, count: number): string {
  const vars = Array.from({ length: count }, (_, i) => `$id${i}: ID!`).join(", ");
  const fields = Array.from(
    { length: count },
    (_, i) => `r${i}: ${SINGULAR[resource]}(id: $id${i}) { ${FIELDS[resource]} }`,
  ).join("\n  ");
  return `query ReconcileFetch(${vars}) {\n  ${fields}\n}`;
}

export const MORE_LINE_ITEMS = `query ReconcileLineItems($id: ID!, $after: String) {
  order(id: $id) { lineItems(first: 100, after: $after) { nodes { ${LINE_FIELDS} } pageInfo { hasNextPage endCursor } } }
}`;
export const MORE_VARIANTS = `query ReconcileVariants($id: ID!, $after: String) {
  product(id: $id) { variants(first: 100, after: $after) { nodes { ${VARIANT_FIELDS} } pageInfo { hasNextPage endCursor } } }
}`;

// ---- response schemas (only the shape is checked; values are converted in shopify-rest.ts) ----

const str = z.string().nullish();
const bool = z.boolean().nullish();
const moneyV2 = z.object({ amount: z.string(), currencyCode: str }).nullish();
const amount = z.object({ shopMoney: z.object({ amount: z.string(), currencyCode: str }) }).nullish();
const ref = z.object({ id: z.string() }).nullish();
const address = z
  .object({ city: str, province: str, provinceCode: str, zip: str, country: str, countryCodeV2: str })
  .nullish();
const count = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).nullish();

export const lineItemNode = z.object({
  id: z.string(),
  title: str,
  name: str,
  sku: str,
  vendor: str,
  variantTitle: str,
  quantity: z.number().int(),
  isGiftCard: bool,
  product: ref,
  variant: ref,
  originalUnitPriceSet: amount,
  totalDiscountSet: amount,
});
export type LineItemNode = z.infer<typeof lineItemNode>;
export const lineItemPage = z.object({ nodes: z.array(lineItemNode), pageInfo });

export const orderNode = z.object({
  id: z.string(),
  name: str,
  email: str,
  phone: str,
  createdAt: str,
  updatedAt: z.string(),
  processedAt: str,
  closedAt: str,
  cancelledAt: str,
  cancelReason: str,
  displayFinancialStatus: str,
  displayFulfillmentStatus: str,
  test: bool,
  confirmed: bool,
  customerAcceptsMarketing: bool,
  currencyCode: z.string(),
  presentmentCurrencyCode: str,
  discountCodes: z.array(z.string()).nullish(),
  tags: z.array(z.string()).nullish(),
  note: str,
  paymentGatewayNames: z.array(z.string()).nullish(),
  sourceName: str,
  totalPriceSet: amount,
  subtotalPriceSet: amount,
  totalLineItemsPriceSet: amount,
  totalDiscountsSet: amount,
  totalTaxSet: amount,
  totalShippingPriceSet: amount,
  currentTotalPriceSet: amount,
  customerJourneySummary: z
    .object({ firstVisit: z.object({ landingPage: str, referrerUrl: str }).nullish() })
    .nullish(),
  shippingAddress: address,
  billingAddress: address,
  customer: z.object({ id: z.string(), numberOfOrders: count, amountSpent: moneyV2 }).nullish(),
  lineItems: lineItemPage,
});
export type OrderNode = z.infer<typeof orderNode>;

export const customerNode = z.object({
  id: z.string(),
  firstName: str,
  lastName: str,
  state: str,
  tags: z.array(z.string()).nullish(),
  verifiedEmail: bool,
  taxExempt: bool,
  numberOfOrders: count,
  createdAt: str,
  updatedAt: z.string(),
  amountSpent: moneyV2,
  defaultEmailAddress: z
    .object({ emailAddress: str, marketingState: str, marketingOptInLevel: str, marketingUpdatedAt: str })
    .nullish(),
  defaultPhoneNumber: z.object({ phoneNumber: str }).nullish(),
  defaultAddress: address,
});
export type CustomerNode = z.infer<typeof customerNode>;

export const variantNode = z.object({
  id: z.string(),
  title: str,
  sku: str,
  barcode: str,
  price: str,
  compareAtPrice: str,
  position: z.number().int().nullish(),
  inventoryQuantity: z.number().int().nullish(),
  createdAt: str,
  updatedAt: str,
  inventoryItem: ref,
});
export type VariantNode = z.infer<typeof variantNode>;
export const variantPage = z.object({ nodes: z.array(variantNode), pageInfo });

export const productNode = z.object({
  id: z.string(),
  title: str,
  handle: str,
  productType: str,
  vendor: str,
  status: str,
  tags: z.array(z.string()).nullish(),
  publishedAt: str,
  createdAt: str,
  updatedAt: z.string(),
  variants: variantPage,
});
export type ProductNode = z.infer<typeof productNode>;

export const moreLineItems = z.object({ order: z.object({ lineItems: lineItemPage }).nullable() });
export const moreVariants = z.object({ product: z.object({ variants: variantPage }).nullable() });

/** Numeric id of a `gid://shopify/Type/123` (or a bare numeric id). */
export function numericId(gid: string): string | null {
  const m = /^(?:gid:\/\/shopify\/\w+\/)?(\d{1,32})$/.exec(gid);
  return m?.[1] ?? null;
}
