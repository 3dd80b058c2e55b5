/**
 * Admin GraphQL records → the REST webhook JSON the Shopify mapper reads (`orders/updated`,
 * `customers/update`, `products/update` bodies), so a repaired record goes through the
 * same mapper as a webhook. Pure. Ids are written as JSON numbers from their digits
 * (never through a double), money stays decimal text, enums become REST's lower-case
 * values. What GraphQL cannot give is left out rather than guessed: `checkout_token`,
 * `cart_token`, `landing_site_ref`, `contact_email`, and `order_number` when the order
 * name is not the default `#1234` form; those columns are null on a repaired row.
 */
import { type RawJson, RawNumber, stringifyRaw } from "../raw-json";
import {
  type CustomerNode,
  type LineItemNode,
  numericId,
  type OrderNode,
  type ProductNode,
  type VariantNode,
} from "./shopify-queries";

type Obj = { [key: string]: RawJson };

const idOf = (gid: string | null | undefined): RawJson => {
  const digits = gid ? numericId(gid) : null;
  return digits === null ? null : new RawNumber(digits);
};
const int = (n: number | string | null | undefined): RawJson =>
  n === null || n === undefined ? null : new RawNumber(String(n));
const lower = (v: string | null | undefined): string | null => (v ? v.toLowerCase() : null);
const money = (m: { shopMoney: { amount: string } } | null | undefined): string | null => m?.shopMoney.amount ?? null;

function address(a: OrderNode["shippingAddress"]): RawJson {
  if (!a) return null;
  return {
    city: a.city ?? null,
    province: a.province ?? null,
    province_code: a.provinceCode ?? null,
    zip: a.zip ?? null,
    country: a.country ?? null,
    country_code: a.countryCodeV2 ?? null,
  };
}

/** GraphQL's display status → REST `fulfillment_status` (null while unfulfilled, "partial" for partly). */
function fulfillmentStatus(v: string | null | undefined): string | null {
  if (!v || v === "UNFULFILLED") return null;
  if (v === "PARTIALLY_FULFILLED") return "partial";
  return v.toLowerCase();
}

function lineItem(l: LineItemNode): Obj {
  return {
    id: idOf(l.id),
    admin_graphql_api_id: l.id,
    product_id: idOf(l.product?.id),
    variant_id: idOf(l.variant?.id),
    sku: l.sku ?? null,
    title: l.title ?? null,
    name: l.name ?? null,
    variant_title: l.variantTitle ?? null,
    vendor: l.vendor ?? null,
    quantity: int(l.quantity),
    gift_card: l.isGiftCard ?? null,
    price: money(l.originalUnitPriceSet),
    // GraphQL's totalDiscountSet is the sum of the line's discount allocations.
    total_discount: money(l.totalDiscountSet),
  };
}

export function orderBody(o: OrderNode, lines: readonly LineItemNode[]): string {
  const number = /^#?(\d{1,18})$/.exec(o.name ?? "")?.[1];
  const visit = o.customerJourneySummary?.firstVisit;
  const shipping = o.totalShippingPriceSet;
  const body: Obj = {
    id: idOf(o.id),
    admin_graphql_api_id: o.id,
    name: o.name ?? null,
    ...(number === undefined ? {} : { order_number: new RawNumber(number) }),
    email: o.email ?? null,
    phone: o.phone ?? null,
    created_at: o.createdAt ?? null,
    updated_at: o.updatedAt,
    processed_at: o.processedAt ?? null,
    closed_at: o.closedAt ?? null,
    cancelled_at: o.cancelledAt ?? null,
    cancel_reason: lower(o.cancelReason),
    financial_status: lower(o.displayFinancialStatus),
    fulfillment_status: fulfillmentStatus(o.displayFulfillmentStatus),
    test: o.test ?? null,
    confirmed: o.confirmed ?? null,
    buyer_accepts_marketing: o.customerAcceptsMarketing ?? null,
    currency: o.currencyCode,
    presentment_currency: o.presentmentCurrencyCode ?? null,
    total_price: money(o.totalPriceSet),
    subtotal_price: money(o.subtotalPriceSet),
    total_line_items_price: money(o.totalLineItemsPriceSet),
    total_discounts: money(o.totalDiscountsSet),
    total_tax: money(o.totalTaxSet),
    current_total_price: money(o.currentTotalPriceSet),
    total_shipping_price_set: shipping
      ? {
          shop_money: {
            amount: shipping.shopMoney.amount,
            currency_code: shipping.shopMoney.currencyCode ?? o.currencyCode,
          },
        }
      : null,
    discount_codes: (o.discountCodes ?? []).map((code) => ({ code })),
    tags: (o.tags ?? []).join(", "),
    note: o.note ?? null,
    payment_gateway_names: o.paymentGatewayNames ?? [],
    source_name: o.sourceName ?? null,
    landing_site: visit?.landingPage ?? null,
    referring_site: visit?.referrerUrl ?? null,
    shipping_address: address(o.shippingAddress),
    billing_address: address(o.billingAddress),
    customer: o.customer
      ? {
          id: idOf(o.customer.id),
          orders_count: int(o.customer.numberOfOrders),
          total_spent: o.customer.amountSpent?.amount ?? null,
          currency: o.customer.amountSpent?.currencyCode ?? null,
        }
      : null,
    line_items: lines.map(lineItem),
  };
  return stringifyRaw(body);
}

export function customerBody(c: CustomerNode): string {
  const mail = c.defaultEmailAddress;
  const body: Obj = {
    id: idOf(c.id),
    admin_graphql_api_id: c.id,
    email: mail?.emailAddress ?? null,
    first_name: c.firstName ?? null,
    last_name: c.lastName ?? null,
    phone: c.defaultPhoneNumber?.phoneNumber ?? null,
    state: lower(c.state),
    verified_email: c.verifiedEmail ?? null,
    tax_exempt: c.taxExempt ?? null,
    tags: (c.tags ?? []).join(", "),
    currency: c.amountSpent?.currencyCode ?? null,
    orders_count: int(c.numberOfOrders),
    total_spent: c.amountSpent?.amount ?? null,
    email_marketing_consent: mail
      ? {
          state: lower(mail.marketingState),
          opt_in_level: lower(mail.marketingOptInLevel),
          consent_updated_at: mail.marketingUpdatedAt ?? null,
        }
      : null,
    default_address: address(c.defaultAddress),
    created_at: c.createdAt ?? null,
    updated_at: c.updatedAt,
  };
  return stringifyRaw(body);
}

function variant(v: VariantNode): Obj {
  return {
    id: idOf(v.id),
    admin_graphql_api_id: v.id,
    position: int(v.position),
    title: v.title ?? null,
    sku: v.sku ?? null,
    barcode: v.barcode ?? null,
    price: v.price ?? null,
    compare_at_price: v.compareAtPrice ?? null,
    inventory_item_id: idOf(v.inventoryItem?.id),
    inventory_quantity: int(v.inventoryQuantity),
    created_at: v.createdAt ?? null,
    updated_at: v.updatedAt ?? null,
  };
}

export function productBody(p: ProductNode, variants: readonly VariantNode[]): string {
  const body: Obj = {
    id: idOf(p.id),
    admin_graphql_api_id: p.id,
    title: p.title ?? null,
    handle: p.handle ?? null,
    product_type: p.productType ?? null,
    vendor: p.vendor ?? null,
    status: lower(p.status),
    tags: (p.tags ?? []).join(", "),
    published_at: p.publishedAt ?? null,
    created_at: p.createdAt ?? null,
    updated_at: p.updatedAt,
    variants: variants.map(variant),
  };
  return stringifyRaw(body);
}
