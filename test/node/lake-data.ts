/**
 * A deterministic commerce data set as signed webhook requests: Shopify orders (some updated
 * later with a line removed, some test or cancelled), customers, products and refunds in two
 * shops and three currencies (JPY has no decimals), Recharge subscriptions and charges, Stripe
 * charges and invoices. Ids are 18-digit Shopify ids, written as bare JSON numbers as Shopify
 * sends them. Bodies are JSON text built by hand so no id passes through a JS number.
 */
import { rechargeLegacySignature, shopifySignature, stripeSignature } from "../helpers/sign";

export const SECRETS = {
  SHOPIFY_WEBHOOK_SECRET: "shpss_lake_test",
  STRIPE_WEBHOOK_SECRET: "whsec_lake_test",
  RECHARGE_WEBHOOK_SECRET: "rc_lake_test",
  ADMIN_TOKEN: "lake-admin-token",
  SHOPIFY_ACCESS_TOKENS: "{}",
  STRIPE_API_KEY: "",
  RECHARGE_API_TOKEN: "",
  ALERT_WEBHOOK_URL: "",
  PRIVACY_HASH_KEY: "lake-test-privacy-key",
  LAKE_CATALOG_TOKEN: "",
};

export interface Delivery {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A small linear congruential generator: the same data set on every run. */
function random(seed: number) {
  let s = seed;
  return {
    next(): number {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    },
    int(n: number): number {
      return Math.floor(this.next() * n);
    },
    pick<T>(xs: readonly T[]): T {
      const x = xs[this.int(xs.length)];
      if (x === undefined) throw new Error("empty list");
      return x;
    },
  };
}

const EXPONENT: Record<string, number> = { USD: 2, EUR: 2, JPY: 0 };
/** Minor units as the decimal text the sources send ("12.30", "1500"). */
function decimal(minor: number, currency: string): string {
  const e = EXPONENT[currency] ?? 2;
  if (e === 0) return String(minor);
  const s = String(minor).padStart(e + 1, "0");
  return `${s.slice(0, -e)}.${s.slice(-e)}`;
}
const iso = (ms: number) => new Date(ms).toISOString();
const q = (v: string | null) => (v === null ? "null" : JSON.stringify(v));

const SHOPS = ["lake-a.myshopify.com", "lake-b.myshopify.com"] as const;
const CURRENCY: Record<string, string[]> = {
  "lake-a.myshopify.com": ["USD", "EUR"],
  "lake-b.myshopify.com": ["JPY", "USD"],
};
const LANDINGS = [
  "/?utm_source=google&utm_medium=cpc&utm_campaign=fall",
  "/products/tee?utm_source=newsletter&utm_medium=email",
  "/collections/all?utm_source=instagram&utm_medium=social&utm_campaign=reels",
  "/",
  null,
];
const START = Date.parse("2026-09-01T00:00:00.000Z");
const DAY = 86_400_000;

export function dataSet(): Delivery[] {
  const r = random(20261202);
  const out: Delivery[] = [];
  let eventSeq = 0;
  const shopify = (shop: string, topic: string, body: string, triggeredAt: string) =>
    out.push({
      path: "/webhooks/shopify",
      headers: {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Event-Id": `lake-${++eventSeq}`,
        "X-Shopify-Triggered-At": triggeredAt,
        "X-Shopify-API-Version": "2026-01",
      },
      body,
    });

  // Customers: 18-digit ids, 30 per shop.
  const customers = SHOPS.flatMap((shop, s) =>
    Array.from({ length: 30 }, (_, i) => ({
      shop,
      id: `73900000000000${s}${String(i).padStart(3, "0")}`,
      email: `buyer${i}@shop${s}.example`,
    })),
  );
  for (const c of customers) {
    const at = iso(START + r.int(10) * DAY);
    shopify(
      c.shop,
      "customers/create",
      `{"id":${c.id},"email":${q(c.email)},"first_name":"Lake","last_name":"Buyer","state":"enabled","verified_email":true,"tax_exempt":false,"tags":"","currency":"USD","orders_count":0,"total_spent":"0.00","created_at":"${at}","updated_at":"${at}"}`,
      at,
    );
  }

  // Products with one variant each.
  for (let i = 0; i < 20; i++) {
    const shop = SHOPS[i % 2] ?? SHOPS[0];
    const at = iso(START + r.int(5) * DAY + i * 60_000);
    shopify(
      shop,
      "products/create",
      `{"id":8200000000000000${String(i).padStart(2, "0")},"title":"Product ${i}","handle":"product-${i}","vendor":"Lake","product_type":"Tee","status":"active","tags":"","created_at":"${at}","updated_at":"${at}","published_at":"${at}","variants":[{"id":8300000000000000${String(i).padStart(2, "0")},"product_id":8200000000000000${String(i).padStart(2, "0")},"title":"Default","price":"19.00","sku":"SKU-${i}","position":1,"inventory_quantity":5,"created_at":"${at}","updated_at":"${at}"}]}`,
      at,
    );
  }

  // Orders: 240, over a month and a half; line ids derive from the order id (its number and the line's position).
  interface Order {
    shop: string;
    id: string;
    currency: string;
    lines: { id: string; price: number; qty: number }[];
    createdMs: number;
  }
  const orders: Order[] = [];
  const orderBody = (o: Order, updatedAt: string, extra: { test: boolean; cancelledAt: string | null }, n: number) => {
    const customer = customers.filter((c) => c.shop === o.shop)[n % 30];
    const subtotal = o.lines.reduce((t, l) => t + l.price * l.qty, 0);
    const discount = n % 7 === 0 ? Math.floor(subtotal / 10) : 0;
    const shipping = o.currency === "JPY" ? 500 : 490;
    const total = subtotal - discount + shipping;
    const landing = LANDINGS[n % LANDINGS.length] ?? null;
    const codes =
      discount > 0 ? `[{"code":"TENOFF","amount":"${decimal(discount, o.currency)}","type":"fixed_amount"}]` : "[]";
    const lines = o.lines
      .map(
        (l, i) =>
          `{"id":${l.id},"product_id":82000000000000000${i},"variant_id":83000000000000000${i},"sku":"SKU-${i}","title":"Line ${i}","quantity":${l.qty},"price":"${decimal(l.price, o.currency)}","total_discount":"0.00","gift_card":false}`,
      )
      .join(",");
    const country = ["US", "DE", "JP", "FR"][n % 4];
    return (
      `{"id":${o.id},"name":"#${1000 + n}","order_number":${1000 + n},"email":${q(customer?.email ?? null)},` +
      `"customer":{"id":${customer?.id},"orders_count":1,"total_spent":"0.00","currency":"${o.currency}"},` +
      `"created_at":"${iso(o.createdMs)}","updated_at":"${updatedAt}","processed_at":"${iso(o.createdMs)}",` +
      `"cancelled_at":${q(extra.cancelledAt)},"financial_status":"paid","test":${extra.test},"confirmed":true,` +
      `"currency":"${o.currency}","total_price":"${decimal(total, o.currency)}","subtotal_price":"${decimal(subtotal - discount, o.currency)}",` +
      `"total_line_items_price":"${decimal(subtotal, o.currency)}","total_discounts":"${decimal(discount, o.currency)}","total_tax":"0.00",` +
      `"total_shipping_price_set":{"shop_money":{"amount":"${decimal(shipping, o.currency)}","currency_code":"${o.currency}"}},` +
      `"discount_codes":${codes},"tags":"${n % 11 === 0 ? "Subscription" : ""}","source_name":"${n % 5 === 0 ? "pos" : "web"}",` +
      `"landing_site":${q(landing)},"referring_site":${q(n % 3 === 0 ? "https://www.google.com/" : null)},` +
      `"shipping_address":{"city":"City","province_code":${q(country === "US" ? "CA" : null)},"country_code":"${country}"},` +
      `"line_items":[${lines}]}`
    );
  };
  for (let n = 0; n < 240; n++) {
    const shop = SHOPS[n % 2] ?? SHOPS[0];
    const currency = r.pick(CURRENCY[shop] ?? ["USD"]);
    const createdMs = START + r.int(45) * DAY + r.int(DAY);
    const id = `5${String(shop === SHOPS[0] ? 1 : 2)}${String(n).padStart(16, "0")}`;
    const lineCount = 1 + r.int(3);
    // 18 digits, unique per order and position: Shopify never moves a line item to another order.
    const lines = Array.from({ length: lineCount }, (_, i) => ({
      id: `6${id.slice(2)}${i}`,
      price: currency === "JPY" ? 1000 + r.int(5000) : 500 + r.int(9000),
      qty: 1 + r.int(3),
    }));
    const o = { shop, id, currency, lines, createdMs };
    orders.push(o);
    const test = n % 41 === 0;
    shopify(shop, "orders/create", orderBody(o, iso(createdMs), { test, cancelledAt: null }, n), iso(createdMs));
    // Some orders change a day later: a line removed, or the order cancelled.
    if (n % 9 === 0 && lines.length > 1) {
      const later = iso(createdMs + DAY);
      const updated = { ...o, lines: lines.slice(0, -1) };
      shopify(shop, "orders/updated", orderBody(updated, later, { test, cancelledAt: null }, n), later);
    } else if (n % 23 === 0) {
      const later = iso(createdMs + 2 * DAY);
      shopify(shop, "orders/cancelled", orderBody(o, later, { test, cancelledAt: later }, n), later);
    }
  }

  // Refunds of every 8th order: part of the first line.
  orders.forEach((o, n) => {
    if (n % 8 !== 3) return;
    const line = o.lines[0];
    if (!line) return;
    const at = iso(o.createdMs + 3 * DAY);
    const amount = decimal(line.price, o.currency);
    shopify(
      o.shop,
      "refunds/create",
      `{"id":9${o.id.slice(1)},"order_id":${o.id},"created_at":"${at}","processed_at":"${at}","restock":true,"note":null,` +
        `"refund_line_items":[{"id":97${o.id.slice(2)},"line_item_id":${line.id},"quantity":1,"restock_type":"return","subtotal":"${amount}","total_tax":"0.00","subtotal_set":{"shop_money":{"amount":"${amount}","currency_code":"${o.currency}"}}}],` +
        `"transactions":[{"kind":"refund","status":"success","amount":"${amount}","currency":"${o.currency}"}]}`,
      at,
    );
  });

  // Recharge: 50 subscriptions from 40 customers, some cancelled; charges reference them.
  const recharge = (topic: string, body: string) =>
    out.push({ path: "/webhooks/recharge", headers: { "X-Recharge-Topic": topic }, body });
  const subs: { id: number; customer: number; price: number; createdMs: number; cancelled: boolean }[] = [];
  for (let i = 0; i < 50; i++) {
    const customer = 44000000 + (i % 40);
    const createdMs = START + r.int(60) * DAY;
    const cancelled = i % 4 === 1;
    const cancelledAt = cancelled ? iso(createdMs + (20 + r.int(40)) * DAY) : null;
    const updatedAt = cancelledAt ?? iso(createdMs);
    const unit = i % 5 === 0 ? "week" : "month";
    const price = 1500 + r.int(3000);
    subs.push({ id: 7100000 + i, customer, price, createdMs, cancelled });
    recharge(
      cancelled ? "subscription/cancelled" : "subscription/created",
      `{"subscription":{"id":${7100000 + i},"customer_id":${customer},"address_id":${55000000 + i},"email":"sub${i % 40}@example.com",` +
        `"status":"${cancelled ? "cancelled" : "active"}","product_title":"Coffee","price":"${decimal(price, "USD")}","quantity":${1 + (i % 2)},` +
        `"currency":"USD","order_interval_unit":"${unit}","order_interval_frequency":${unit === "week" ? 2 : 1},"charge_interval_frequency":${unit === "week" ? 2 : 1},` +
        `"next_charge_scheduled_at":"2026-12-15","cancelled_at":${q(cancelledAt)},"cancellation_reason":${q(cancelled ? "too much coffee" : null)},` +
        `"created_at":"${iso(createdMs)}","updated_at":"${updatedAt}"}}`,
    );
  }
  let chargeId = 8800000;
  for (const s of subs) {
    const count = 1 + (s.id % 3);
    for (let k = 0; k < count; k++) {
      const at = iso(s.createdMs + k * 30 * DAY + DAY);
      const status = (s.id + k) % 7 === 0 ? "error" : "success";
      const price = decimal(s.price, "USD");
      recharge(
        status === "success" ? "charge/paid" : "charge/failed",
        `{"charge":{"id":${++chargeId},"customer_id":${s.customer},"address_id":55000000,"email":"sub@example.com","status":"${status}","type":"recurring",` +
          `"currency":"USD","subtotal_price":"${price}","total_price":"${price}","total_tax":"0.00","total_discounts":"0.00","total_refunds":"0.00",` +
          `"line_items":[{"purchase_item_id":${s.id},"purchase_item_type":"subscription","sku":"COFFEE","title":"Coffee","quantity":1,"unit_price":"${price}","total_price":"${price}"}],` +
          `"scheduled_at":"${at.slice(0, 10)}","processed_at":"${at}","created_at":"${at}","updated_at":"${at}"}}`,
      );
    }
  }

  // Stripe: charges (a few failed) and invoices, in three currencies.
  const stripe = (type: string, created: number, object: string) =>
    out.push({
      path: "/webhooks/stripe",
      headers: {},
      body: `{"id":"evt_lake_${++eventSeq}","object":"event","type":"${type}","created":${created},"livemode":false,"data":{"object":${object}}}`,
    });
  for (let i = 0; i < 60; i++) {
    const currency = ["usd", "eur", "jpy"][i % 3] ?? "usd";
    const created = Math.floor((START + r.int(30) * DAY) / 1000);
    const failed = i % 10 === 4;
    const amount = currency === "jpy" ? 2000 + r.int(8000) : 1000 + r.int(20000);
    stripe(
      failed ? "charge.failed" : "charge.succeeded",
      created,
      `{"id":"ch_lake_${i}","object":"charge","amount":${amount},"amount_captured":${failed ? 0 : amount},"amount_refunded":0,"currency":"${currency}",` +
        `"status":"${failed ? "failed" : "succeeded"}","paid":${!failed},"captured":${!failed},"refunded":false,"disputed":false,` +
        `"customer":"cus_lake_${i % 12}","billing_details":{"email":"payer${i % 12}@example.com"},"livemode":false,"created":${created},"metadata":{}}`,
    );
  }
  for (let i = 0; i < 30; i++) {
    const created = Math.floor((START + r.int(30) * DAY) / 1000);
    const total = 2900 + 100 * (i % 5);
    const paid = i % 6 !== 5;
    stripe(
      paid ? "invoice.paid" : "invoice.payment_failed",
      created,
      `{"id":"in_lake_${i}","object":"invoice","number":"LAKE-${i}","customer":"cus_lake_${i % 12}","customer_email":"payer${i % 12}@example.com",` +
        `"status":"${paid ? "paid" : "open"}","billing_reason":"subscription_cycle","collection_method":"charge_automatically","currency":"usd",` +
        `"amount_due":${total},"amount_paid":${paid ? total : 0},"amount_remaining":${paid ? 0 : total},"subtotal":${total},"total":${total},` +
        `"attempt_count":1,"attempted":true,"period_start":${created - 2592000},"period_end":${created},"livemode":false,"created":${created},"metadata":{}}`,
    );
  }
  return out;
}

/** The request for a delivery, signed with the test secrets. */
export async function signed(
  d: Delivery,
): Promise<{ path: string; init: { method: string; headers: Record<string, string>; body: string } }> {
  const headers: Record<string, string> = { "Content-Type": "application/json", ...d.headers };
  if (d.path === "/webhooks/shopify") {
    headers["X-Shopify-Hmac-Sha256"] = await shopifySignature(d.body, SECRETS.SHOPIFY_WEBHOOK_SECRET);
  } else if (d.path === "/webhooks/recharge") {
    headers["X-Recharge-Hmac-Sha256"] = await rechargeLegacySignature(d.body, SECRETS.RECHARGE_WEBHOOK_SECRET);
  } else {
    headers["Stripe-Signature"] = await stripeSignature(d.body, SECRETS.STRIPE_WEBHOOK_SECRET);
  }
  return { path: d.path, init: { method: "POST", headers, body: d.body } };
}
