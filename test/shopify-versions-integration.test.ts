/// <reference types="vite/client" />
/**
 * Shopify payloads by API version, end to end: each version's published sample goes through ingress
 * (signed request, X-Shopify-API-Version) and the real consumer into D1. Fixtures: the docs samples
 * in test/fixtures/shopify/<version>/ (2026-07: the files beside them); see test/fixtures/README.md.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../src/ingress/app";
import { num, toJson } from "./helpers/json-text";
import { drain, SimulatedQueue } from "./helpers/pipeline-run";
import { shopifyRequest } from "./helpers/requests";

const samples = import.meta.glob<string>("./fixtures/shopify/**/*.json", {
  query: "?raw",
  import: "default",
  eager: true,
});

/** The published sample of `topic` in `version` (2026-07's are the files at the fixtures' top level). */
function sample(version: string, topic: string): string {
  const name = topic.replace("/", "__");
  const path = version === "2026-07" ? `./fixtures/shopify/${name}.json` : `./fixtures/shopify/${version}/${name}.json`;
  const text = samples[path];
  if (text === undefined) throw new Error(`no sample ${path}`);
  return text;
}

let seq = 0;
const run = `${Date.now()}`;
const newShop = () => `ver-${run}-${++seq}.myshopify.com`;

interface Delivery {
  topic: string;
  body: string;
  apiVersion: string | null;
  triggeredAt?: string;
}

/** Posts each delivery to ingress, then runs what it queued through the consumer. Returns the event ids. */
async function deliver(shop: string, deliveries: Delivery[]): Promise<string[]> {
  const queue = new SimulatedQueue();
  const bindings = { ...env, EVENTS: queue.binding } as Env;
  const ids: string[] = [];
  for (const d of deliveries) {
    const eventId = `ver-${run}-${++seq}`;
    const req = await shopifyRequest(d.body, {
      topic: d.topic,
      shop,
      eventId,
      apiVersion: d.apiVersion,
      triggeredAt: d.triggeredAt ?? `2026-11-20T12:00:${String(seq % 60).padStart(2, "0")}.000Z`,
    });
    const res = await app.fetch(req, bindings, createExecutionContext());
    expect(res.status, d.topic).toBe(200);
    ids.push(eventId);
  }
  const drained = await drain(queue, bindings);
  expect(drained.deadLettered).toEqual([]);
  return ids;
}

type Row = Record<string, unknown>;
async function row(table: string, shop: string, id: string): Promise<Row | null> {
  return env.DB.prepare(`SELECT * FROM ${table} WHERE shop = ? AND id = ?`).bind(shop, id).first<Row>();
}
async function ledger(eventId: string) {
  return env.DB.prepare("SELECT status, note FROM webhook_events WHERE source = 'shopify' AND event_id = ?")
    .bind(eventId)
    .first<{ status: string; note: string | null }>();
}
const tags = (r: Row | null) => JSON.parse(String(r?.tags ?? "null"));

const ORDER_ID = "820982911946154508";
const CUSTOMER_ID = "706405506930370084";
const CHECKOUT_ID = "981820079255243537";
const VERSIONS = ["2024-10", "2025-01", "2026-01", "2026-04", "2026-07"] as const;
/** The samples of the topics that replaced customer fields: none published for 2026-07 in the copies at hand. */
const NEW_TOPIC_VERSIONS: Record<string, readonly string[]> = {
  "customers/purchasing_summary": ["2025-01", "2026-01", "2026-04"],
  "customers_email_marketing_consent/update": ["2024-10", "2025-01", "2026-01", "2026-04"],
  "customers_marketing_consent/update": ["2024-10", "2025-01", "2026-01", "2026-04"],
  "customer.tags_added": ["2024-10", "2025-01", "2026-01", "2026-04"],
  "customer.tags_removed": ["2024-10", "2025-01", "2026-01", "2026-04"],
};

describe("published samples of every supported version, through ingress into D1", () => {
  for (const version of VERSIONS) {
    it(`${version}: orders, customers and checkouts`, async () => {
      const shop = newShop();
      const ids = await deliver(shop, [
        { topic: "orders/create", body: sample(version, "orders/create"), apiVersion: version },
        { topic: "customers/create", body: sample(version, "customers/create"), apiVersion: version },
        { topic: "checkouts/create", body: sample(version, "checkouts/create"), apiVersion: version },
      ]);
      for (const id of ids) expect((await ledger(id))?.status).toBe("applied");

      const order = await row("shopify_orders", shop, ORDER_ID);
      expect(order).toMatchObject({
        api_version: version,
        currency: "USD",
        checkout_token: null,
        // "2021-12-31T19:00:00-05:00" in every sample; the total grew with 2026-01's added line items.
        created_at: "2022-01-01T00:00:00.000Z",
        processed_at: "2022-01-01T00:00:00.000Z",
        total_price_minor: version < "2026-01" ? 35997 : 40495,
      });
      // Line item ids over 2^53 are stored exactly.
      expect(await row("shopify_order_line_items", shop, "487817672276298554")).toMatchObject({
        order_id: ORDER_ID,
        position: 1,
        api_version: version,
      });
      // No supported version's order.customer carries counts: nothing written, nothing erased.
      expect(order?.customer_orders_count).toBeNull();
      expect(order?.customer_total_spent_minor).toBeNull();

      const customer = await row("shopify_customers", shop, CUSTOMER_ID);
      expect(customer).toMatchObject({ api_version: version, first_name: "Bob", last_name: "Biller", city: "Ottawa" });
      if (version === "2024-10") {
        // The last version whose customers/* carry counts, last order, tags and consent.
        expect(customer).toMatchObject({
          orders_count: 1,
          total_spent_minor: 10000,
          last_order_id: ORDER_ID,
          email_marketing_state: "not_subscribed",
          tags_as_of: "2022-01-01T00:00:00.000Z",
          purchasing_as_of: "2022-01-01T00:00:00.000Z",
        });
        expect(tags(customer)).toEqual([]);
      } else {
        expect(customer).toMatchObject({
          orders_count: null,
          total_spent_minor: null,
          last_order_id: null,
          email_marketing_state: null,
          tags: null,
          tags_as_of: null,
          purchasing_as_of: null,
        });
      }

      // 2026-04 dropped the checkout's id: the "#<id>" name keys the same row older versions did.
      const checkout = await row("shopify_checkouts", shop, CHECKOUT_ID);
      expect(checkout).toMatchObject({ api_version: version, token: "123123123", total_price_minor: 42188 });
    });
  }

  for (const version of ["2024-10", "2025-01", "2026-01", "2026-04"]) {
    it(`${version}: checkouts/delete finds the checkout by the id create keyed it with`, async () => {
      const shop = newShop();
      await deliver(shop, [
        { topic: "checkouts/create", body: sample(version, "checkouts/create"), apiVersion: version },
        {
          topic: "checkouts/delete",
          body: sample(version, "checkouts/delete"),
          apiVersion: version,
          triggeredAt: "2026-11-21T00:00:00.000Z",
        },
      ]);
      const checkout = await row("shopify_checkouts", shop, CHECKOUT_ID);
      expect(checkout).toMatchObject({ token: "123123123", deleted_at: "2026-11-21T00:00:00.000Z" });
      const count = await env.DB.prepare("SELECT count(*) AS n FROM shopify_checkouts WHERE shop = ?")
        .bind(shop)
        .first<{ n: number }>();
      expect(count?.n).toBe(1);
    });
  }

  for (const [topic, versions] of Object.entries(NEW_TOPIC_VERSIONS)) {
    for (const version of versions) {
      it(`${version}: ${topic} lands in the customer row`, async () => {
        const shop = newShop();
        const deliveries: Delivery[] = [{ topic, body: sample(version, topic), apiVersion: version }];
        if (topic === "customer.tags_removed") {
          // Removing needs something to remove: the same customer's tags added first.
          deliveries.unshift({
            topic: "customer.tags_added",
            body: sample(version, "customer.tags_added").replace('"tag2"', '"tag2", "kept"'),
            apiVersion: version,
            triggeredAt: "2026-11-20T11:00:00.000Z",
          });
        }
        const ids = await deliver(shop, deliveries);
        for (const id of ids) expect((await ledger(id))?.status, topic).toBe("applied");
        switch (topic) {
          case "customers/purchasing_summary":
            expect(await row("shopify_customers", shop, "1")).toMatchObject({
              orders_count: 1,
              total_spent_minor: 10000,
              currency: "USD",
              last_order_id: "1",
              api_version: version,
            });
            break;
          case "customers_email_marketing_consent/update": {
            const c = await row("shopify_customers", shop, CUSTOMER_ID);
            // The 2024-10 and 2025-01 samples send a null state; the later ones name one.
            const state = JSON.parse(sample(version, topic)).email_marketing_consent.state;
            expect(state).toBe(version >= "2026-01" ? "not_subscribed" : null);
            expect(c).toMatchObject({ email_marketing_state: state, accepts_marketing: state ? 0 : null });
            expect(c?.email_consent_as_of).not.toBeNull();
            break;
          }
          case "customers_marketing_consent/update": {
            const c = await row("shopify_customers", shop, CUSTOMER_ID);
            expect(c).toMatchObject({ sms_marketing_state: null, api_version: version });
            expect(c?.sms_consent_as_of).not.toBeNull();
            break;
          }
          case "customer.tags_added":
            expect(tags(await row("shopify_customers", shop, "1"))).toEqual(["tag1", "tag2"]);
            break;
          case "customer.tags_removed":
            expect(tags(await row("shopify_customers", shop, "1"))).toEqual(["kept"]);
            break;
        }
      });
    }
  }
});

/** A customers/* payload as 2024-10 publishes it: every field. */
function fullCustomer(over: Record<string, unknown> = {}) {
  return toJson({
    id: "900000000000000001",
    email: "Pat@Example.com",
    created_at: "2026-01-01T10:00:00-05:00",
    updated_at: "2026-01-01T10:00:00-05:00",
    first_name: "Pat",
    last_name: "Lee",
    orders_count: 3,
    state: "enabled",
    total_spent: "250.00",
    last_order_id: num("820982911946154508"),
    last_order_name: "#1003",
    verified_email: true,
    tax_exempt: false,
    tags: "VIP, wholesale",
    currency: "USD",
    phone: "+15555550100",
    email_marketing_consent: {
      state: "subscribed",
      opt_in_level: "single_opt_in",
      consent_updated_at: "2025-12-01T00:00:00Z",
    },
    sms_marketing_consent: { state: "subscribed", opt_in_level: "single_opt_in", consent_updated_at: null },
    default_address: {
      city: "Ottawa",
      province: "Ontario",
      province_code: "ON",
      zip: "K2P 2L8",
      country: "Canada",
      country_code: "CA",
    },
    ...over,
  });
}

/** customers/update as 2025-01 and later publish it: no tags, consent, counts or last order. */
function sparseCustomer(over: Record<string, unknown> = {}) {
  // Its ids are text here, so JSON.parse loses no digit; last_order_id (a number) is dropped below.
  const full: Record<string, unknown> = { ...JSON.parse(fullCustomer()), ...over };
  for (const k of [
    "tags",
    "email_marketing_consent",
    "sms_marketing_consent",
    "orders_count",
    "total_spent",
    "last_order_id",
    "last_order_name",
  ])
    delete full[k];
  return JSON.stringify(full);
}

describe("absent is not null", () => {
  it("a customer created with every field keeps what a later sparser update omits", async () => {
    const shop = newShop();
    await deliver(shop, [{ topic: "customers/create", body: fullCustomer(), apiVersion: "2024-10" }]);
    const created = await row("shopify_customers", shop, "900000000000000001");
    expect(created).toMatchObject({
      orders_count: 3,
      total_spent_minor: 25000,
      last_order_id: "820982911946154508",
      accepts_marketing: 1,
      email_marketing_state: "subscribed",
      sms_marketing_state: "subscribed",
      api_version: "2024-10",
    });
    expect(tags(created)).toEqual(["VIP", "wholesale"]);

    await deliver(shop, [
      {
        topic: "customers/update",
        body: sparseCustomer({ first_name: "Patricia", updated_at: "2026-02-01T10:00:00-05:00" }),
        apiVersion: "2025-01",
      },
    ]);
    const updated = await row("shopify_customers", shop, "900000000000000001");
    // The update's own fields are applied...
    expect(updated).toMatchObject({
      first_name: "Patricia",
      updated_at: "2026-02-01T15:00:00.000Z",
      api_version: "2025-01",
    });
    // ...and what it does not carry is kept.
    expect(updated).toMatchObject({
      orders_count: 3,
      total_spent_minor: 25000,
      last_order_id: "820982911946154508",
      accepts_marketing: 1,
      email_marketing_state: "subscribed",
      email_marketing_opt_in_level: "single_opt_in",
      sms_marketing_state: "subscribed",
    });
    expect(tags(updated)).toEqual(["VIP", "wholesale"]);
  });

  it("a 2024-10 payload that has the fields clears them when it says so: null is not absent", async () => {
    const shop = newShop();
    await deliver(shop, [
      { topic: "customers/create", body: fullCustomer(), apiVersion: "2024-10" },
      {
        topic: "customers/update",
        body: fullCustomer({ tags: "", email_marketing_consent: null, updated_at: "2026-02-01T10:00:00-05:00" }),
        apiVersion: "2024-10",
      },
    ]);
    const c = await row("shopify_customers", shop, "900000000000000001");
    expect(tags(c)).toEqual([]);
    expect(c).toMatchObject({ email_marketing_state: null, orders_count: 3 });
  });

  it("the replacement topics fill the groups; an older reading of a group never replaces a newer one", async () => {
    const shop = newShop();
    const summary = (orders: number, amount: string, at: string) =>
      JSON.stringify({
        customerId: "gid://shopify/Customer/900000000000000001",
        numberOfOrders: orders,
        amountSpent: { amount, currencyCode: "USD" },
        lastOrderId: "gid://shopify/Order/820982911946154599",
        occurredAt: at,
      });
    await deliver(shop, [
      // The summary arrives before the customer: a row with only that group...
      {
        topic: "customers/purchasing_summary",
        body: summary(4, "300.00", "2026-03-01T00:00:00Z"),
        apiVersion: "2026-01",
      },
      // ...which the customer's first full version, older than the summary, still fills in.
      { topic: "customers/create", body: sparseCustomer(), apiVersion: "2026-01" },
      // A summary older than the stored one changes nothing.
      {
        topic: "customers/purchasing_summary",
        body: summary(2, "100.00", "2026-02-01T00:00:00Z"),
        apiVersion: "2026-01",
      },
      {
        topic: "customers_email_marketing_consent/update",
        body: toJson({
          customer_id: num("900000000000000001"),
          email_address: "pat@example.com",
          email_marketing_consent: {
            state: "unsubscribed",
            opt_in_level: "single_opt_in",
            consent_updated_at: "2026-03-02T00:00:00Z",
          },
        }),
        apiVersion: "2026-01",
      },
      {
        topic: "customer.tags_added",
        body: JSON.stringify({
          customerId: "gid://shopify/Customer/900000000000000001",
          tags: ["VIP", "Returning"],
          occurredAt: "2026-03-03T00:00:00Z",
        }),
        apiVersion: "2026-01",
      },
    ]);
    const c = await row("shopify_customers", shop, "900000000000000001");
    expect(c).toMatchObject({
      first_name: "Pat",
      created_at: "2026-01-01T15:00:00.000Z",
      orders_count: 4,
      total_spent_minor: 30000,
      last_order_id: "820982911946154599",
      purchasing_as_of: "2026-03-01T00:00:00.000Z",
      email_marketing_state: "unsubscribed",
      accepts_marketing: 0,
    });
    expect(tags(c)).toEqual(["VIP", "Returning"]);

    // A 2024-10 full version older than each group's reading changes the profile, not the groups.
    // (Its tags are left out: a full tag list is the whole list as of its time, and replaces one.)
    await deliver(shop, [
      {
        topic: "customers/update",
        body: fullCustomer({ first_name: "Pat L.", updated_at: "2026-02-15T00:00:00Z", tags: undefined }),
        apiVersion: "2024-10",
      },
    ]);
    const after = await row("shopify_customers", shop, "900000000000000001");
    expect(after).toMatchObject({ first_name: "Pat L.", orders_count: 4, email_marketing_state: "unsubscribed" });
    expect(tags(after)).toEqual(["VIP", "Returning"]);

    // A full list replaces the list; a tag change older than it is in it already and is skipped.
    await deliver(shop, [
      { topic: "customers/update", body: fullCustomer({ updated_at: "2026-04-01T00:00:00Z" }), apiVersion: "2024-10" },
      {
        topic: "customer.tags_removed",
        body: toJson({
          customerId: "gid://shopify/Customer/900000000000000001",
          tags: ["wholesale"],
          occurredAt: "2026-03-20T00:00:00Z",
        }),
        apiVersion: "2026-01",
      },
    ]);
    const listed = await row("shopify_customers", shop, "900000000000000001");
    expect(tags(listed)).toEqual(["VIP", "wholesale"]);
    expect(listed?.tags_as_of).toBe("2026-04-01T00:00:00.000Z");
  });

  it("an order's customer counts from reconciliation survive a later webhook order, which has none", async () => {
    const shop = newShop();
    const order = JSON.parse(sample("2026-01", "orders/create").replace(/"id": (\d{16,})/g, '"id": "$1"'));
    const reconciled = {
      ...order,
      updated_at: "2026-01-01T00:00:00Z",
      customer: { id: "115310627314723954", orders_count: 5, total_spent: "500.00", currency: "USD" },
    };
    await deliver(shop, [{ topic: "orders/updated", body: JSON.stringify(reconciled), apiVersion: null }]);
    expect(await row("shopify_orders", shop, ORDER_ID)).toMatchObject({
      customer_orders_count: 5,
      customer_total_spent_minor: 50000,
    });
    await deliver(shop, [
      {
        topic: "orders/updated",
        body: sample("2026-01", "orders/create").replace(
          '"updated_at": "2021-12-31T19:00:00-05:00"',
          '"updated_at": "2026-02-01T00:00:00Z"',
        ),
        apiVersion: "2026-01",
      },
    ]);
    expect(await row("shopify_orders", shop, ORDER_ID)).toMatchObject({
      customer_orders_count: 5,
      customer_total_spent_minor: 50000,
      updated_at: "2026-02-01T00:00:00.000Z",
      api_version: "2026-01",
    });
  });
});

describe("versions without rules", () => {
  it("quarantines a payload in an unsupported API version with a reason naming it, and writes no row", async () => {
    const shop = newShop();
    const [id] = await deliver(shop, [
      { topic: "customers/create", body: sample("2026-07", "customers/create"), apiVersion: "2023-07" },
    ]);
    const l = await ledger(id as string);
    expect(l?.status).toBe("quarantined");
    expect(l?.note).toContain("2023-07");
    expect(await row("shopify_customers", shop, CUSTOMER_ID)).toBeNull();
  });

  it("quarantines a topic in a version that has no published payload for it", async () => {
    const shop = newShop();
    const [id] = await deliver(shop, [
      {
        topic: "customers/purchasing_summary",
        body: sample("2025-01", "customers/purchasing_summary"),
        apiVersion: "2024-10",
      },
    ]);
    const l = await ledger(id as string);
    expect(l?.status).toBe("quarantined");
    expect(l?.note).toContain("2024-10");
    expect(await row("shopify_customers", shop, "1")).toBeNull();
  });
});
