/**
 * The zod schemas of Shopify payload fields, and of orders: numbers arrive as their JSON source
 * text (src/shared/json.ts). Shared by the mappers (./shopify.ts) and the order reader
 * (./order-reader.ts), which accepts exactly what `orderSchema` accepts.
 */
import { z } from "zod";
import { toUtcIso } from "../shared/time";

// ---- field schemas ----------------------------------------------------------------------------

const GID = /^gid:\/\/shopify\/\w+\/(\d+)$/;
export const id = z.string().transform((s, ctx) => {
  const digits = /^\d{1,32}$/.test(s) ? s : GID.exec(s)?.[1];
  if (digits === undefined) {
    ctx.addIssue({ code: "custom", message: "expected a numeric Shopify id" });
    return z.NEVER;
  }
  return digits;
});
export const ts = z.string().transform((s, ctx) => {
  const iso = toUtcIso(s);
  if (iso === null) {
    ctx.addIssue({ code: "custom", message: "expected an ISO-8601 timestamp with a zone" });
    return z.NEVER;
  }
  return iso;
});
export const str = z.string().nullish();
export const bool = z.boolean().nullish();
export const decimal = z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, "expected a decimal amount");
export const int = z
  .string()
  .regex(/^-?\d+$/, "expected an integer")
  .transform(Number)
  .refine(Number.isSafeInteger, "integer out of range");
export const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/, "expected an ISO 4217 code")
  .transform((s) => s.toUpperCase());
export const moneySet = z
  .object({ shop_money: z.object({ amount: decimal, currency_code: currency.nullish() }) })
  .nullish();
export const address = z
  .object({ city: str, province: str, province_code: str, zip: str, country: str, country_code: str })
  .nullish();
/** REST sends "a, b"; GraphQL-shaped input sends an array. */
export const tags = z.union([z.string(), z.array(z.string())]).nullish();
export const discountCodes = z.array(z.object({ code: z.string() })).nullish();
export const quantities = z.array(z.object({ quantity: int })).nullish();

// ---- orders ---------------------------------------------------------------------------------

const orderLineSchema = z.object({
  id,
  product_id: id.nullish(),
  variant_id: id.nullish(),
  sku: str,
  title: str,
  variant_title: str,
  vendor: str,
  quantity: int,
  price: decimal.nullish(),
  total_discount: decimal.nullish(),
  discount_allocations: z.array(z.object({ amount: decimal })).nullish(),
  gift_card: bool,
  fulfillment_status: str,
});

export const orderSchema = z.object({
  id,
  name: str,
  order_number: int.nullish(),
  confirmation_number: str,
  email: str,
  contact_email: str,
  phone: str,
  customer: z
    .object({
      id: id.nullish(),
      orders_count: int.nullish(),
      total_spent: decimal.nullish(),
      currency: currency.nullish(),
    })
    .nullish(),
  created_at: ts.nullish(),
  updated_at: ts.nullish(),
  processed_at: ts.nullish(),
  closed_at: ts.nullish(),
  cancelled_at: ts.nullish(),
  cancel_reason: str,
  financial_status: str,
  fulfillment_status: str,
  test: bool,
  confirmed: bool,
  buyer_accepts_marketing: bool,
  currency,
  presentment_currency: currency.nullish(),
  total_price: decimal.nullish(),
  subtotal_price: decimal.nullish(),
  total_line_items_price: decimal.nullish(),
  total_discounts: decimal.nullish(),
  total_tax: decimal.nullish(),
  current_total_price: decimal.nullish(),
  total_shipping_price_set: moneySet,
  shipping_lines: z.array(z.object({ price: decimal })).nullish(),
  discount_codes: discountCodes,
  tags,
  note: str,
  payment_gateway_names: z.array(z.string()).nullish(),
  source_name: str,
  referring_site: str,
  landing_site: str,
  landing_site_ref: str,
  checkout_token: str,
  cart_token: str,
  shipping_address: address,
  billing_address: address,
  line_items: z.array(orderLineSchema),
});

/** An order payload as the order schema validates it: what `orderRows` reads. */
export type OrderDoc = z.output<typeof orderSchema>;

/** The order schema's own reading of a payload (tests hold ./order-reader.ts to it). */
export function parseOrderDoc(doc: unknown) {
  return orderSchema.safeParse(doc);
}
