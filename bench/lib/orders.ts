/**
 * Synthetic queue batches of realistic Shopify orders for the benches: bench/consumer-worker.ts
 * (inside `wrangler dev`) and bench/cpu.mjs (in Node, bundled). Each order is an orders/create
 * body as Shopify writes it (~4 KB, 5 line items, 18-digit ids as digits, built as text), and
 * orders share customers as real ones do: about one new customer per three orders. A batch's
 * customers are its own unless `customers` names another batch's tag: then they are that batch's
 * (returning customers, as subscription renewals are).
 */
import type { Envelope } from "../../src/shared/envelope";
import { messageBatch } from "./batch";

export const SHOP = "bench-consumer.myshopify.com";
const LINES = 5;
const CUSTOMERS_PER_BATCH = 33;

export function makeBatch(
  tag: string,
  size: number,
  customers = tag,
): { batch: MessageBatch<unknown>; acked: () => number } {
  const bodies = Array.from({ length: size }, (_, i) => envelope(tag, i, customers));
  return messageBatch(bodies, (i) => `${tag}-${i}`);
}

function envelope(tag: string, i: number, customers: string): Envelope {
  const at = new Date(Date.UTC(2026, 10, 20, 12, 0, i)).toISOString();
  return {
    v: 1,
    source: "shopify",
    topic: "orders/create",
    eventId: `bench-${tag}-${i}`,
    shop: SHOP,
    receivedAt: at,
    eventAt: at,
    apiVersion: "2026-01",
    origin: "webhook",
    body: order(tag, i, at, customers),
  };
}

/** An orders/create body as Shopify writes it (~4 KB), ids as 18-digit numbers, built as text. */
function order(digits: string, i: number, at: string, customers: string): string {
  const id = (kind: number, n: number, of = digits) => `${kind}${of}${String(n).padStart(7, "0")}`;
  const customer = i % CUSTOMERS_PER_BATCH;
  const email = `buyer-${customers}-${customer}@example.com`;
  const address = `{"first_name":"Ada","last_name":"Buyer","address1":"1 Main St","city":"Ottawa","province":"Ontario","province_code":"ON","zip":"K2P 1L4","country":"Canada","country_code":"CA","phone":null}`;
  const lines = Array.from({ length: LINES }, (_, l) => {
    const price = `${19 + l}.99`;
    return `{"id":${id(6, i * LINES + l)},"admin_graphql_api_id":"gid://shopify/LineItem/${id(6, i * LINES + l)}","product_id":${id(7, l)},"variant_id":${id(8, l)},"sku":"SKU-${l}","title":"Product ${l}","variant_title":"Large","vendor":"Bench Vendor","quantity":${1 + (l % 2)},"price":"${price}","price_set":{"shop_money":{"amount":"${price}","currency_code":"USD"},"presentment_money":{"amount":"${price}","currency_code":"USD"}},"total_discount":"0.00","fulfillment_status":null,"gift_card":false,"requires_shipping":true,"taxable":true,"tax_lines":[{"title":"HST","price":"2.60","rate":0.13}],"properties":[],"discount_allocations":[]}`;
  }).join(",");
  return `{"id":${id(5, i)},"admin_graphql_api_id":"gid://shopify/Order/${id(5, i)}","name":"#${1000 + i}","order_number":${1000 + i},"email":"${email}","contact_email":"${email}","phone":null,"created_at":"${at}","updated_at":"${at}","processed_at":"${at}","closed_at":null,"cancelled_at":null,"cancel_reason":null,"financial_status":"paid","fulfillment_status":null,"test":false,"confirmed":true,"buyer_accepts_marketing":true,"currency":"USD","presentment_currency":"USD","total_price":"125.95","subtotal_price":"109.95","total_line_items_price":"114.95","total_discounts":"5.00","total_tax":"14.30","total_shipping_price_set":{"shop_money":{"amount":"9.99","currency_code":"USD"},"presentment_money":{"amount":"9.99","currency_code":"USD"}},"current_total_price":"125.95","discount_codes":[{"code":"WELCOME5","amount":"5.00","type":"fixed_amount"}],"tags":"vip, newsletter","note":"Leave at the door","note_attributes":[{"name":"gift","value":"no"}],"payment_gateway_names":["shopify_payments"],"source_name":"web","referring_site":"https://www.google.com/","landing_site":"/products/x?utm_source=google&utm_medium=cpc&utm_campaign=fall","landing_site_ref":null,"checkout_token":"ct${digits}${i}","cart_token":"cart${digits}${i}","customer":{"id":${id(4, customer, customers)},"email":"${email}","first_name":"Ada","last_name":"Buyer","orders_count":${1 + (i % 4)},"total_spent":"250.00","currency":"USD","state":"enabled","tags":""},"shipping_address":${address},"billing_address":${address},"line_items":[${lines}],"shipping_lines":[{"title":"Standard","price":"9.99","code":"STD"}],"tax_lines":[{"title":"HST","price":"14.30","rate":0.13}]}`;
}
