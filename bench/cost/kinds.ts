/**
 * The kinds of event the cost bench sends, each built from the fixture of that API object
 * (test/fixtures: real payloads as the sources document them) with its ids made unique per
 * event, and the rows the event itself must leave in D1 (the floor's rows, besides the ledger row).
 */

import rechargeCharge from "../../test/fixtures/recharge/charge.json?raw";
import rechargeSubscription from "../../test/fixtures/recharge/subscription.json?raw";
import shopifyCustomer from "../../test/fixtures/shopify/customers__create.json?raw";
import shopifyOrder from "../../test/fixtures/shopify/orders__create.json?raw";
import shopifyProduct from "../../test/fixtures/shopify/products__create.json?raw";
import stripeCharge from "../../test/fixtures/stripe/charge.json?raw";
import stripeInvoice from "../../test/fixtures/stripe/invoice.json?raw";
import type { Delivery } from "../../test/helpers/commerce-events";

export const SHOP = "cost-bench.myshopify.com";

export interface KindEvent {
  delivery: Delivery;
  /** Entity rows the event's own object leaves: its row and the child rows its payload lists. */
  ownRows: number;
}

export interface Kind {
  name: string;
  build(i: number, run: number): KindEvent;
}

/** Every numeric id of a Shopify payload (keys `id` and `*_id`, and admin GraphQL ids) shifted by `shift`, exactly. */
function shiftShopifyIds(raw: string, shift: (id: string) => bigint): string {
  const moved = (id: string) => String(BigInt(id) + shift(id));
  return raw
    .replace(/("(?:[a-z_]+_)?id"\s*:\s*)(\d{6,})/g, (_m, key: string, id: string) => `${key}${moved(id)}`)
    .replace(/(gid:\/\/shopify\/\w+\/)(\d{6,})/g, (_m, prefix: string, id: string) => `${prefix}${moved(id)}`);
}

/** Shopify writes local time with an offset; the bench's events happen now, a second apart per event. */
function shopifyTimes(raw: string, at: Date): string {
  const text = at.toISOString().replace(/\.\d{3}Z$/, "+00:00");
  return raw.replace(/("(?:updated_at|processed_at)"\s*:\s*)"[^"]*"/g, `$1"${text}"`);
}

const count = (raw: string, key: string) => (JSON.parse(raw) as Record<string, unknown[]>)[key]?.length ?? 0;

function shopify(topic: string, body: string, eventId: string, at: Date, table: string, id: string): Delivery {
  return {
    source: "shopify",
    topic,
    body,
    eventId,
    shop: SHOP,
    triggeredAt: at.toISOString(),
    object: { table, shop: SHOP, id, version: at.toISOString() },
    expect: "applied",
    large: false,
    redelivery: false,
  };
}

const ORDER_ID = /^\s*\{\s*"id"\s*:\s*(\d+)/;
/** The customer id of the order fixture: the first id after its `"customer"` key. */
const CUSTOMER_IN_ORDER = /"id"\s*:\s*(\d+)/.exec(shopifyOrder.slice(shopifyOrder.indexOf('"customer": {')))?.[1] ?? "";

/**
 * Order `i` of run `run`: ids unique per order; three orders per customer (the customer's id and
 * email shared by orders 3k..3k+2), so a third of orders come from a new customer. Version `v`
 * (0 = create) moves updated_at forward.
 */
function order(i: number, run: number, v: number): KindEvent {
  const base = BigInt(run) * 1_000_000n;
  const customer = Math.floor(i / 3);
  let raw = shiftShopifyIds(shopifyOrder, (id) =>
    id === CUSTOMER_IN_ORDER ? base + BigInt(customer) * 7n : base + BigInt(i) * 7n,
  );
  raw = raw.replace(/("(?:contact_)?email"\s*:\s*)"[^"]*"/g, `$1"buyer${run}-${customer}@cost-bench.example.com"`);
  const at = new Date(Date.now() - 60_000 + v * 1000);
  raw = shopifyTimes(raw, at);
  const id = ORDER_ID.exec(raw)?.[1] ?? "";
  const topic = v === 0 ? "orders/create" : "orders/updated";
  return {
    delivery: shopify(topic, raw, `cost-${run}-order-${i}-v${v}`, at, "shopify_orders", id),
    ownRows: 1 + count(shopifyOrder, "line_items"),
  };
}

function stripeEvent(object: Record<string, unknown>, type: string, id: string, created: number): Delivery {
  const eventId = `evt_${id}`;
  const body = JSON.stringify({
    id: eventId,
    object: "event",
    api_version: "2026-01-28.clover",
    created,
    type,
    data: { object },
    livemode: false,
  });
  const table = object.object === "charge" ? "stripe_charges" : "stripe_invoices";
  return {
    source: "stripe",
    topic: type,
    body,
    eventId,
    shop: null,
    triggeredAt: null,
    object: { table, shop: null, id, version: String(created) },
    expect: "applied",
    large: false,
    redelivery: false,
  };
}

function recharge(topic: string, body: string, table: string, id: string, at: Date): Delivery {
  return {
    source: "recharge",
    topic,
    body,
    eventId: null,
    shop: null,
    triggeredAt: null,
    object: { table, shop: null, id, version: at.toISOString() },
    expect: "applied",
    large: false,
    redelivery: false,
  };
}

const now = () => Math.floor(Date.now() / 1000);
const rechargeTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "+00:00");

export const KINDS: Kind[] = [
  { name: "shopify order create", build: (i, run) => order(i, run, 0) },
  { name: "shopify order update", build: (i, run) => order(i, run, 1) },
  {
    name: "shopify customer",
    build: (i, run) => {
      const at = new Date(Date.now() - 60_000);
      let raw = shiftShopifyIds(shopifyCustomer, () => BigInt(run) * 1_000_000n + 500_000n + BigInt(i) * 7n);
      raw = raw.replace(/("email"\s*:\s*)"[^"]*"/g, `$1"customer${run}-${i}@cost-bench.example.com"`);
      raw = shopifyTimes(raw, at);
      const id = ORDER_ID.exec(raw)?.[1] ?? "";
      return {
        delivery: shopify("customers/create", raw, `cost-${run}-customer-${i}`, at, "shopify_customers", id),
        ownRows: 1,
      };
    },
  },
  {
    name: "shopify product",
    build: (i, run) => {
      const at = new Date(Date.now() - 60_000);
      const raw = shopifyTimes(
        shiftShopifyIds(shopifyProduct, () => BigInt(run) * 1_000_000n + 700_000n + BigInt(i) * 7n),
        at,
      );
      const id = ORDER_ID.exec(raw)?.[1] ?? "";
      return {
        delivery: shopify("products/create", raw, `cost-${run}-product-${i}`, at, "shopify_products", id),
        ownRows: 1 + count(shopifyProduct, "variants"),
      };
    },
  },
  {
    name: "stripe charge",
    build: (i, run) => {
      const id = `ch_cost${run}x${i}`;
      const created = now() - 60;
      const object = { ...JSON.parse(stripeCharge), id, created, customer: `cus_cost${run}x${Math.floor(i / 3)}` };
      return { delivery: stripeEvent(object, "charge.succeeded", id, created), ownRows: 1 };
    },
  },
  {
    name: "stripe invoice",
    build: (i, run) => {
      const id = `in_cost${run}x${i}`;
      const created = now() - 60;
      const object = { ...JSON.parse(stripeInvoice), id, created, customer: `cus_cost${run}x${Math.floor(i / 3)}` };
      return { delivery: stripeEvent(object, "invoice.paid", id, created), ownRows: 1 };
    },
  },
  {
    name: "recharge subscription",
    build: (i, run) => {
      const at = new Date(Date.now() - 60_000);
      const { subscription } = JSON.parse(rechargeSubscription) as { subscription: Record<string, unknown> };
      const id = run * 1_000_000 + i;
      const body = JSON.stringify({
        subscription: {
          ...subscription,
          id,
          customer_id: run * 1_000_000 + Math.floor(i / 3),
          email: `sub${run}-${Math.floor(i / 3)}@cost-bench.example.com`,
          updated_at: rechargeTime(at),
        },
      });
      return {
        delivery: recharge("subscription/created", body, "recharge_subscriptions", String(id), at),
        ownRows: 1,
      };
    },
  },
  {
    name: "recharge charge",
    build: (i, run) => {
      const at = new Date(Date.now() - 60_000);
      const { charge } = JSON.parse(rechargeCharge) as { charge: Record<string, unknown> & { customer: object } };
      const id = run * 1_000_000 + 500_000 + i;
      const customer = run * 1_000_000 + Math.floor(i / 3);
      const body = JSON.stringify({
        charge: {
          ...charge,
          id,
          // Each customer its own Shopify customer: one shared by every charge would make each identity
          // lookup read all the others (the fixture's one id), which no shop has.
          customer: {
            ...charge.customer,
            id: customer,
            email: `sub${run}-${Math.floor(i / 3)}@cost-bench.example.com`,
            external_customer_id: { ecommerce: String(7_000_000_000_000 + customer) },
          },
          external_order_id: { ecommerce: String(5_006_149_877_931 + run * 1_000_000 + i) },
          updated_at: rechargeTime(at),
        },
      });
      return {
        delivery: recharge("charge/paid", body, "recharge_charges", String(id), at),
        ownRows: 1 + (charge.line_items as unknown[]).length,
      };
    },
  },
];
