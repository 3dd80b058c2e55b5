/**
 * The webhook path's order reader: a REST order payload (as the lossless reader returns it) → the
 * validated order document (`OrderDoc`), field by field, without zod (its pass was the largest
 * share of the consumer's CPU per order). It accepts exactly what the order schema (./shopify-schema.ts)
 * accepts and gives the same document; anything it does not accept returns null, and `mapOrder`
 * asks the schema, which refuses it with its own message. A property test holds the two equal.
 */
import type { OrderDoc } from "./shopify-schema";
import {
  bool,
  currency,
  currencyOrNull,
  decimal,
  id,
  idOrNull,
  intText,
  type Obj,
  obj,
  orNull,
  reject,
  str,
  strings,
  tags,
  ts,
} from "./strict-fields";

/** The order document of a REST order payload, or null when the schema must decide. */
export function restOrderDoc(doc: unknown): OrderDoc | null {
  return orNull(() => read(object(doc) ?? reject()));
}

/** `z.object(...).nullish()`: null and undefined pass, a plain object is read, anything else rejects. */
function object(v: unknown): Obj | null | undefined {
  if (v === null || v === undefined) return v;
  return obj(v) ?? reject();
}

function intOrNull(v: unknown): number | null | undefined {
  return v === null || v === undefined ? v : intText(v);
}

/** `z.array(item).nullish()`. */
function list<T>(v: unknown, item: (o: Obj) => T): T[] | null | undefined {
  if (v === null || v === undefined) return v;
  if (!Array.isArray(v)) reject();
  return v.map((entry) => item(obj(entry) ?? reject()));
}

type Address = NonNullable<OrderDoc["shipping_address"]>;

function address(v: unknown): Address | null | undefined {
  const a = object(v);
  if (!a) return a;
  return {
    city: str(a.city),
    province: str(a.province),
    province_code: str(a.province_code),
    zip: str(a.zip),
    country: str(a.country),
    country_code: str(a.country_code),
  };
}

type Line = OrderDoc["line_items"][number];

function line(l: Obj): Line {
  return {
    id: id(l.id),
    product_id: idOrNull(l.product_id),
    variant_id: idOrNull(l.variant_id),
    sku: str(l.sku),
    title: str(l.title),
    variant_title: str(l.variant_title),
    vendor: str(l.vendor),
    quantity: intText(l.quantity),
    price: decimal(l.price),
    total_discount: decimal(l.total_discount),
    discount_allocations: list(l.discount_allocations, (d) => ({ amount: decimal(d.amount) ?? reject() })),
    gift_card: bool(l.gift_card),
    fulfillment_status: str(l.fulfillment_status),
  };
}

function read(o: Obj): OrderDoc {
  const customer = object(o.customer);
  const shipping = object(o.total_shipping_price_set);
  const shopMoney = shipping ? (obj(shipping.shop_money) ?? reject()) : null;
  if (!Array.isArray(o.line_items)) reject();
  return {
    id: id(o.id),
    name: str(o.name),
    order_number: intOrNull(o.order_number),
    confirmation_number: str(o.confirmation_number),
    email: str(o.email),
    contact_email: str(o.contact_email),
    phone: str(o.phone),
    customer: customer
      ? {
          id: idOrNull(customer.id),
          orders_count: intOrNull(customer.orders_count),
          total_spent: decimal(customer.total_spent),
          currency: currencyOrNull(customer.currency),
        }
      : customer,
    created_at: ts(o.created_at),
    updated_at: ts(o.updated_at),
    processed_at: ts(o.processed_at),
    closed_at: ts(o.closed_at),
    cancelled_at: ts(o.cancelled_at),
    cancel_reason: str(o.cancel_reason),
    financial_status: str(o.financial_status),
    fulfillment_status: str(o.fulfillment_status),
    test: bool(o.test),
    confirmed: bool(o.confirmed),
    buyer_accepts_marketing: bool(o.buyer_accepts_marketing),
    currency: currency(o.currency),
    presentment_currency: currencyOrNull(o.presentment_currency),
    total_price: decimal(o.total_price),
    subtotal_price: decimal(o.subtotal_price),
    total_line_items_price: decimal(o.total_line_items_price),
    total_discounts: decimal(o.total_discounts),
    total_tax: decimal(o.total_tax),
    current_total_price: decimal(o.current_total_price),
    total_shipping_price_set:
      shipping && shopMoney
        ? {
            shop_money: {
              amount: decimal(shopMoney.amount) ?? reject(),
              currency_code: currencyOrNull(shopMoney.currency_code),
            },
          }
        : (shipping as null | undefined),
    shipping_lines: list(o.shipping_lines, (s) => ({ price: decimal(s.price) ?? reject() })),
    discount_codes: list(o.discount_codes, (d) => ({ code: typeof d.code === "string" ? d.code : reject() })),
    tags: tags(o.tags),
    note: str(o.note),
    payment_gateway_names: strings(o.payment_gateway_names),
    source_name: str(o.source_name),
    referring_site: str(o.referring_site),
    landing_site: str(o.landing_site),
    landing_site_ref: str(o.landing_site_ref),
    checkout_token: str(o.checkout_token),
    cart_token: str(o.cart_token),
    shipping_address: address(o.shipping_address),
    billing_address: address(o.billing_address),
    line_items: (o.line_items as unknown[]).map((l) => line(obj(l) ?? reject())),
  };
}
