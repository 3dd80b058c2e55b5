/// <reference types="vite/client" />
/**
 * Recharge payloads of each API version the mapper reads (2021-01 and 2021-11), end to end: each
 * published sample is signed, posted to ingress with its `X-Recharge-Version` and run through the
 * consumer into D1. Fixtures: test/fixtures/recharge/2021-01/ and the 2021-11 files beside it; see
 * test/fixtures/README.md for where each comes from.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { app } from "../src/ingress/app";
import type { Envelope } from "../src/shared/envelope";
import { drain, SimulatedQueue } from "./helpers/pipeline-run";
import { rechargeRequest } from "./helpers/requests";

// Read as text: the bodies are posted byte for byte as published.
const samples = import.meta.glob<string>("./fixtures/recharge/**/*.json", {
  query: "?raw",
  import: "default",
  eager: true,
});
function sample(path: string): string {
  const text = samples[`./fixtures/recharge/${path}`];
  if (text === undefined) throw new Error(`no sample ${path}`);
  return text;
}

afterEach(async () => {
  await env.DB.prepare("DELETE FROM recharge_store").run();
});

/** Posts each body signed to ingress with the version header, then runs what it queued through the consumer. */
async function deliver(deliveries: { topic: string; body: string; version: string }[]): Promise<string[]> {
  const queue = new SimulatedQueue();
  const bindings = { ...env, EVENTS: queue.binding } as Env;
  for (const d of deliveries) {
    const signed = await rechargeRequest(d.body, { topic: d.topic, scheme: "timestamped" });
    const headers = new Headers(signed.headers);
    headers.set("X-Recharge-Version", d.version);
    const res = await app.fetch(new Request(signed, { headers }), bindings, createExecutionContext());
    expect(res.status, d.topic).toBe(200);
  }
  const ids = queue.pending.map((p) => (p.body as Envelope).eventId);
  expect(ids).toHaveLength(deliveries.length);
  const drained = await drain(queue, bindings);
  expect(drained.deadLettered).toEqual([]);
  return ids;
}

type Row = Record<string, unknown>;
const row = (table: string, id: string) => env.DB.prepare(`SELECT * FROM ${table} WHERE id = ?`).bind(id).first<Row>();
const ledger = (eventId: string) =>
  env.DB.prepare("SELECT status, api_version, topic FROM webhook_events WHERE source = 'recharge' AND event_id = ?")
    .bind(eventId)
    .first<Row>();
const mrr = async (id: string) =>
  (
    await env.DB.prepare(
      "SELECT currency, effective_at, mrr_minor FROM analytics_subscription_mrr WHERE source = 'recharge' AND subscription_id = ? ORDER BY effective_at",
    )
      .bind(id)
      .all<Row>()
  ).results;

describe("Recharge payloads of each supported API version, through ingress into D1", () => {
  it("2021-01: Shopify ids as shopify_*_id, upper-case statuses, a price as a number, the old customer counts", async () => {
    // A 2021-01 subscription names no currency: its price takes the store's.
    await env.DB.prepare("INSERT INTO recharge_store (id, currency, fetched_at, updated_at) VALUES (1, 'USD', ?1, ?1)")
      .bind(new Date().toISOString())
      .run();
    // The customer sample is the bare object; webhooks wrap it as the GET response does.
    const ids = await deliver([
      { topic: "subscription/created", body: sample("2021-01/subscription.json"), version: "2021-01" },
      { topic: "customer/created", body: `{"customer": ${sample("2021-01/customer.json")}}`, version: "2021-01" },
    ]);
    for (const [i, topic] of ["subscription/created", "customer/created"].entries()) {
      expect(await ledger(ids[i] as string)).toEqual({ status: "applied", api_version: "2021-01", topic });
    }

    expect(await row("recharge_subscriptions", "47529660")).toMatchObject({
      customer_id: "31224521",
      address_id: "35079676",
      shopify_customer_id: null,
      status: "active",
      shopify_product_id: "2663712522325",
      shopify_variant_id: "22958073806933",
      currency: "USD",
      // `"price": 5000` as published: 5000.00 dollars.
      price_minor: 500000,
      price_decimal: "5000",
      quantity: 1,
      order_interval_unit: "month",
      order_interval_frequency: 12,
      charge_interval_frequency: 12,
      expire_after_specific_number_of_charges: 1,
      next_charge_scheduled_at: null,
      max_retries_reached: 0,
      is_skippable: null,
      // Zone-less times are UTC.
      created_at: "2019-07-30T14:43:52.000Z",
      updated_at: "2019-07-31T08:04:00.000Z",
      deleted_at: null,
    });
    // 500000 every 12 months: 41667 a month.
    expect(await mrr("47529660")).toEqual([
      { currency: "USD", effective_at: "2019-07-30T14:43:52.000Z", mrr_minor: 41667 },
    ]);

    expect(await row("recharge_customers", "18819267")).toMatchObject({
      email: "example_mail@gmail.com",
      first_name: "Jacob",
      last_name: "Bronowski",
      shopify_customer_id: null,
      status: "inactive",
      // 2021-01's number_active_subscriptions, number_subscriptions and has_card_error_in_dunning.
      subscriptions_active_count: 0,
      subscriptions_total_count: 0,
      has_payment_method_in_dunning: 0,
      has_valid_payment_method: 0,
      first_charge_processed_at: "2018-11-14T08:40:38.000Z",
      created_at: "2018-11-14T08:40:38.000Z",
      updated_at: "2018-11-14T08:40:38.000Z",
    });
  });

  it("2021-11: external_*_id objects, a subscription without presentment currency, a charge with line items", async () => {
    await env.DB.prepare("INSERT INTO recharge_store (id, currency, fetched_at, updated_at) VALUES (1, 'USD', ?1, ?1)")
      .bind(new Date().toISOString())
      .run();
    const ids = await deliver([
      { topic: "subscription/created", body: sample("subscription.json"), version: "2021-11" },
      { topic: "customer/created", body: sample("customer.json"), version: "2021-11" },
      { topic: "charge/paid", body: sample("charge.json"), version: "2021-11" },
    ]);
    for (const id of ids) expect(await ledger(id)).toMatchObject({ status: "applied", api_version: "2021-11" });

    expect(await row("recharge_subscriptions", "1111111")).toMatchObject({
      customer_id: "33333333",
      address_id: "2222222",
      status: "active",
      shopify_product_id: "123123",
      shopify_variant_id: "23123123123",
      // presentment_currency is null: the store's currency.
      currency: "USD",
      price_minor: 4900,
      price_decimal: "49.00",
      order_interval_unit: "day",
      charge_interval_frequency: 30,
      next_charge_scheduled_at: "2022-04-09T00:00:00.000Z",
      created_at: "2022-03-10T12:13:28.000Z",
      updated_at: "2022-03-10T12:13:28.000Z",
    });
    // 4900 every 30 days: 4900 × (365 / 12) / 30 = 4968.06.
    expect(await mrr("1111111")).toEqual([
      { currency: "USD", effective_at: "2022-03-10T12:13:28.000Z", mrr_minor: 4968 },
    ]);

    expect(await row("recharge_customers", "82940007")).toMatchObject({
      email: "testtesttest5@test.dk",
      shopify_customer_id: null,
      subscriptions_active_count: 0,
      has_payment_method_in_dunning: 0,
      created_at: "2022-03-09T02:36:35.000Z",
    });

    expect(await row("recharge_charges", "580825303")).toMatchObject({
      customer_id: "64962974",
      shopify_customer_id: "5213433266347",
      shopify_order_id: "5006149877931",
      status: "success",
      currency: "USD",
      total_price_minor: 2920,
      subtotal_minor: 2430,
      total_shipping_minor: 490,
      processed_at: "2023-05-13T04:07:33.000Z",
      updated_at: "2023-05-13T04:16:51.000Z",
    });
    const items = await env.DB.prepare(
      "SELECT purchase_item_id, shopify_variant_id, unit_price_minor, currency FROM recharge_charge_line_items WHERE charge_id = ?",
    )
      .bind("580825303")
      .all<Row>();
    expect(items.results).toEqual([
      { purchase_item_id: "153601366", shopify_variant_id: "39684723835051", unit_price_minor: 2430, currency: "USD" },
    ]);
  });
});
