import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { rechargeTime } from "../src/mapping/recharge";
import type { Envelope } from "../src/shared/envelope";
import { RECHARGE_TABLES } from "../src/shared/schema/recharge";
import { STRIPE_TABLES } from "../src/shared/schema/stripe";
import rechargeCharge from "./fixtures/recharge/charge.json";
import rechargeCustomer from "./fixtures/recharge/customer.json";
import rechargeOrder from "./fixtures/recharge/order.json";
import rechargeSubscription from "./fixtures/recharge/subscription.json";
import charge from "./fixtures/stripe/charge.json";
import checkoutSession from "./fixtures/stripe/checkout.session.json";
import customer from "./fixtures/stripe/customer.json";
import dispute from "./fixtures/stripe/dispute.json";
import planEvent from "./fixtures/stripe/event.json";
import invoice from "./fixtures/stripe/invoice.json";
import paymentIntent from "./fixtures/stripe/payment_intent.json";
import refund from "./fixtures/stripe/refund.json";
import subscription from "./fixtures/stripe/subscription.json";
import { expectMatchesMigration } from "./helpers/schema-match";
import { stripeEnvelope } from "./helpers/stripe-envelope";

afterEach(() => vi.restoreAllMocks());

// Every test shares one local D1: object and event ids carry a per-test suffix.
let seq = 0;
const uid = () => `${Date.now().toString(36)}x${++seq}`;
const T0 = 1_763_640_000; // 2025-11-20T12:00:00Z

/** The Stripe fixtures are bare objects; a webhook body is an Event wrapping one (built here). */
const stripe = (type: string, object: object, created = T0, eventId = `evt_${uid()}`): Envelope =>
  stripeEnvelope(type, object, { eventId, created, apiVersion: null });

/** Recharge event ids are a hash of topic + body at ingress; any stable id will do here. */
function recharge(topic: string, body: object | string, eventId = `rc_${uid()}`): Envelope {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const updated = /"updated_at":\s*"([^"]+)"/.exec(text)?.[1];
  const at = (updated && rechargeTime(updated)) || "2026-11-20T12:00:00.000Z";
  return {
    v: 1,
    source: "recharge",
    topic,
    eventId,
    shop: null,
    receivedAt: at,
    eventAt: at,
    apiVersion: "2021-11",
    origin: "webhook",
    body: text,
  };
}

async function consume(envelopes: Envelope[], withEnv: Env = env) {
  const batch = createMessageBatch(
    "commerce-events",
    envelopes.map((body, i) => ({ id: `m-${uid()}-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, withEnv);
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks.length, retried: result.retryMessages.length };
}

/** The fixture subscription as `id`, its one item at `quantity`. */
function subscriptionWith(id: string, quantity: number) {
  const item = subscription.items.data[0];
  return { ...subscription, id, items: { ...subscription.items, data: [{ ...item, quantity }] } };
}

type Row = Record<string, unknown>;
async function row(table: string, id: string): Promise<Row | null> {
  return env.DB.prepare(`SELECT * FROM ${table} WHERE id = ?`).bind(id).first<Row>();
}
async function rows(table: string, where: string, ...binds: unknown[]): Promise<Row[]> {
  return (
    await env.DB.prepare(`SELECT * FROM ${table} WHERE ${where}`)
      .bind(...binds)
      .all<Row>()
  ).results;
}
async function ledger(source: string, eventId: string): Promise<Row | null> {
  return env.DB.prepare("SELECT status, note, r2_key FROM webhook_events WHERE source = ? AND event_id = ?")
    .bind(source, eventId)
    .first<Row>();
}

describe("drizzle schema", () => {
  it("matches the migrated tables column for column, and their indexes", async () => {
    for (const table of [...STRIPE_TABLES, ...RECHARGE_TABLES] as SQLiteTable[]) await expectMatchesMigration(table);
  });
});

describe("Stripe events applied by the consumer", () => {
  it("writes a row for every resource and marks each event applied in the ledger", async () => {
    const s = uid();
    const events = [
      stripe("charge.succeeded", { ...charge, id: `ch_${s}`, customer: `cus_${s}`, receipt_email: "Pay@Example.com" }),
      stripe("payment_intent.succeeded", {
        ...paymentIntent,
        id: `pi_${s}`,
        status: "succeeded",
        amount_received: 1099,
      }),
      stripe("invoice.payment_failed", { ...invoice, id: `in_${s}`, attempt_count: 2, status: "open" }),
      stripe("charge.dispute.created", { ...dispute, id: `dp_${s}`, charge: `ch_${s}` }),
      stripe("charge.refund.updated", { ...refund, id: `re_${s}`, charge: `ch_${s}` }),
      stripe("customer.subscription.created", { ...subscription, id: `sub_${s}`, customer: `cus_${s}` }),
      stripe("customer.created", { ...customer, id: `cus_${s}`, email: " Pay@Example.com " }),
      stripe("checkout.session.completed", { ...checkoutSession, id: `cs_${s}`, metadata: { user_id: "u1" } }),
    ];
    expect(await consume(events)).toEqual({ acked: 8, retried: 0 });

    expect(await row("stripe_charges", `ch_${s}`)).toMatchObject({
      customer_id: `cus_${s}`,
      email: "pay@example.com",
      amount_minor: 100,
      currency: "USD",
      status: "succeeded",
      paid: 1,
      captured: 0,
      created_at: "2009-02-13T23:31:30.000Z",
      event_created: T0,
      updated_at: "2025-11-20T12:00:00.000Z",
      deleted_at: null,
      last_event_id: events[0]?.eventId,
    });
    expect(await row("stripe_payment_intents", `pi_${s}`)).toMatchObject({
      amount_minor: 1099,
      amount_received_minor: 1099,
      status: "succeeded",
    });
    expect(await row("stripe_invoices", `in_${s}`)).toMatchObject({
      customer_id: "cus_QXg1o8vcGmoR32",
      amount_due_minor: 1000,
      attempt_count: 2,
      status: "open",
      next_payment_attempt_at: "2009-02-13T23:31:30.000Z",
    });
    expect(await row("stripe_disputes", `dp_${s}`)).toMatchObject({
      charge_id: `ch_${s}`,
      amount_minor: 1000,
      reason: "general",
      status: "warning_needs_response",
    });
    expect(await row("stripe_refunds", `re_${s}`)).toMatchObject({ charge_id: `ch_${s}`, amount_minor: 100 });
    expect(await row("stripe_subscriptions", `sub_${s}`)).toMatchObject({
      customer_id: `cus_${s}`,
      status: "active",
      unit_amount_minor: 2000,
      price_interval: "month",
    });
    expect(await row("stripe_customers", `cus_${s}`)).toMatchObject({ email: "pay@example.com", deleted_at: null });
    expect(await row("stripe_checkout_sessions", `cs_${s}`)).toMatchObject({
      email: "example@example.com",
      user_id: "u1",
      payment_intent_id: "pi_1PgafyB7WZ01zgkWSjxsAJo3",
      shipping_name: "name",
    });

    for (const e of events.slice(0, 7)) expect(await ledger("stripe", e.eventId)).toMatchObject({ status: "applied" });
    // No key configured in tests: the session is stored, its lines are not, and the ledger says why.
    expect(await ledger("stripe", events[7]?.eventId ?? "")).toMatchObject({
      status: "applied",
      note: "line items not fetched: STRIPE_API_KEY not set",
    });
    expect(await rows("stripe_checkout_session_line_items", "session_id = ?", `cs_${s}`)).toEqual([]);
  });

  it("stores a duplicate delivery once, with the same values", async () => {
    const id = `ch_${uid()}`;
    const e = stripe("charge.captured", { ...charge, id, captured: true, amount_captured: 100 });
    expect(await consume([e, e])).toEqual({ acked: 2, retried: 0 });
    expect(await consume([e])).toEqual({ acked: 1, retried: 0 });
    const stored = await rows("stripe_charges", "id = ?", id);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ captured: 1, amount_captured_minor: 100, last_event_id: e.eventId });
  });

  it("keeps the newest state when two updates arrive newest first", async () => {
    const id = `ch_${uid()}`;
    const newer = stripe("charge.refunded", { ...charge, id, refunded: true, amount_refunded: 100 }, T0 + 20);
    const older = stripe("charge.updated", { ...charge, id, description: "stale" }, T0 + 10);
    await consume([newer]);
    await consume([older]);
    expect(await row("stripe_charges", id)).toMatchObject({
      refunded: 1,
      amount_refunded_minor: 100,
      description: "My First Test Charge (created for API docs)",
      event_created: T0 + 20,
      last_event_id: newer.eventId,
    });

    // Same order inside one batch: statements run in message order, the rule still holds.
    const id2 = `ch_${uid()}`;
    const n2 = stripe("charge.refunded", { ...charge, id: id2, refunded: true }, T0 + 20);
    const o2 = stripe("charge.updated", { ...charge, id: id2, refunded: false }, T0 + 10);
    await consume([n2, o2]);
    expect(await row("stripe_charges", id2)).toMatchObject({ refunded: 1, last_event_id: n2.eventId });
  });

  it("soft-deletes a customer; a stale update afterwards neither revives nor overwrites it", async () => {
    const id = `cus_${uid()}`;
    await consume([stripe("customer.created", { ...customer, id, email: "a@example.com" }, T0)]);
    await consume([stripe("customer.deleted", { ...customer, id, email: "a@example.com" }, T0 + 60)]);
    await consume([stripe("customer.updated", { ...customer, id, email: "old@example.com" }, T0 + 30)]);
    expect(await row("stripe_customers", id)).toMatchObject({
      email: "a@example.com",
      deleted_at: "2025-11-20T12:01:00.000Z",
      event_created: T0 + 60,
    });

    const sub = `sub_${uid()}`;
    await consume([stripe("customer.subscription.deleted", { ...subscription, id: sub, status: "canceled" })]);
    expect(await row("stripe_subscriptions", sub)).toMatchObject({
      status: "canceled",
      deleted_at: "2025-11-20T12:00:00.000Z",
    });
  });

  it("records the MRR history of a subscription from the events that apply, not from late or repeated ones", async () => {
    const id = `sub_${uid()}`;
    const withQuantity = (quantity: number) => subscriptionWith(id, quantity);
    const update = stripe("customer.subscription.updated", withQuantity(3), T0 + 120);
    await consume([stripe("customer.subscription.created", withQuantity(1), T0)]);
    await consume([update]);
    await consume([update]); // a redelivery
    await consume([stripe("customer.subscription.updated", withQuantity(2), T0 + 60)]); // older, arriving late
    expect(await rows("subscription_mrr_history", "subscription_id = ? ORDER BY effective_at", id)).toEqual([
      // The fixture starts (and ends its trial) at 2009-02-13T23:31:30Z, 2000 a month.
      {
        source: "stripe",
        subscription_id: id,
        effective_at: "2009-02-13T23:31:30.000Z",
        paying: 1,
        amount_minor: 2000,
        interval_unit: "month",
        interval_count: 1,
      },
      {
        source: "stripe",
        subscription_id: id,
        effective_at: "2025-11-20T12:02:00.000Z",
        paying: 1,
        amount_minor: 6000,
        interval_unit: "month",
        interval_count: 1,
      },
    ]);
  });

  it("keeps the MRR history when a subscription is created and changed within one second (Stripe, Recharge)", async () => {
    // Both writes land on the same history key (the start and the change share an instant): the
    // change replaces the state recorded at that instant, and the subscription row takes the change.
    const id = `sub_${uid()}`;
    const withQuantity = (quantity: number) => subscriptionWith(id, quantity);
    const start = subscription.start_date; // the fixture starts (and ends its trial) at 2009-02-13T23:31:30Z
    const created = stripe("customer.subscription.created", withQuantity(1), start);
    const changed = stripe("customer.subscription.updated", withQuantity(3), start);
    expect(await consume([created])).toEqual({ acked: 1, retried: 0 });
    expect(await consume([changed])).toEqual({ acked: 1, retried: 0 });
    expect(await ledger("stripe", changed.eventId)).toMatchObject({ status: "applied" });
    expect(await row("stripe_subscriptions", id)).toMatchObject({ quantity: 3, last_event_id: changed.eventId });
    expect(await rows("subscription_mrr_history", "subscription_id = ?", id)).toEqual([
      {
        source: "stripe",
        subscription_id: id,
        effective_at: "2009-02-13T23:31:30.000Z",
        paying: 1,
        amount_minor: 6000,
        interval_unit: "month",
        interval_count: 1,
      },
    ]);
    // Both in one queue batch, and a redelivery of each: still one state, nothing retried.
    const id2 = `sub_${uid()}`;
    const two = (q: number) => subscriptionWith(id2, q);
    const batch = [
      stripe("customer.subscription.created", two(1), start),
      stripe("customer.subscription.updated", two(2), start),
    ];
    expect(await consume(batch)).toEqual({ acked: 2, retried: 0 });
    expect(await consume(batch)).toEqual({ acked: 2, retried: 0 });
    expect(await rows("subscription_mrr_history", "subscription_id = ?", id2)).toMatchObject([{ amount_minor: 4000 }]);

    const rc = `${Date.now() % 1_000_000_000}${seq}`;
    const sub = (price: string) => ({
      subscription: { ...rechargeSubscription.subscription, id: rc, price, currency: "USD" },
    });
    const rcCreated = recharge("subscription/created", sub("49.00"));
    const rcChanged = recharge("subscription/updated", sub("59.00"));
    expect(await consume([rcCreated])).toEqual({ acked: 1, retried: 0 });
    expect(await consume([rcChanged])).toEqual({ acked: 1, retried: 0 });
    expect(await ledger("recharge", rcChanged.eventId)).toMatchObject({ status: "applied" });
    expect(await row("recharge_subscriptions", rc)).toMatchObject({ price_minor: 5900 });
    expect(await rows("subscription_mrr_history", "subscription_id = ?", rc)).toEqual([
      {
        source: "recharge",
        subscription_id: rc,
        effective_at: "2022-03-10T12:13:28.000Z",
        paying: 1,
        amount_minor: 5900,
        interval_unit: expect.any(String),
        interval_count: expect.any(Number),
      },
    ]);
  });

  it("quarantines a payload that fails validation and writes no row", async () => {
    const id = `ch_${uid()}`;
    const e = stripe("charge.succeeded", { ...charge, id, amount: "one hundred" });
    expect(await consume([e])).toEqual({ acked: 1, retried: 0 });
    expect(await row("stripe_charges", id)).toBeNull();
    const entry = await ledger("stripe", e.eventId);
    expect(entry).toMatchObject({ status: "quarantined", note: "invalid_payload" });
    const stored = (await (await env.LAKE.get(String(entry?.r2_key)))?.json()) as { detail?: string } | undefined;
    expect(JSON.stringify(stored)).toContain("data.object.amount: expected an integer");
  });

  it("archives types without a table", async () => {
    const e = stripe(planEvent.type, planEvent.data.object);
    expect(await consume([e])).toEqual({ acked: 1, retried: 0 });
    expect(await ledger("stripe", e.eventId)).toMatchObject({
      status: "archived",
      note: "no table for Stripe object plan",
    });
  });
});

describe("Stripe checkout session line items", () => {
  const item = (n: number, sessionTag = "") => ({
    id: `li_${n}${sessionTag}`,
    object: "item",
    description: `Item ${n}`,
    quantity: 1,
    currency: "usd",
    amount_subtotal: 100 * n,
    amount_discount: 0,
    amount_tax: 0,
    amount_total: 100 * n,
    price: { id: `price_${n}`, object: "price", product: `prod_${n}`, unit_amount: 100 * n },
  });
  const list = (items: object[], hasMore = false) => ({ object: "list", data: items, has_more: hasMore, url: "/x" });
  const linesOf = (sessionId: string) =>
    rows("stripe_checkout_session_line_items", "session_id = ? ORDER BY position", sessionId);

  it("takes them from the event, in chunks under D1's parameter limit, replaced only by a newer event", async () => {
    const id = `cs_${uid()}`;
    const thirty = Array.from({ length: 30 }, (_, i) => item(i + 1));
    const first = stripe("checkout.session.completed", { ...checkoutSession, id, line_items: list(thirty) }, T0 + 10);
    await consume([first]);
    const stored = await linesOf(id);
    expect(stored).toHaveLength(30);
    expect(stored[29]).toMatchObject({
      position: 29,
      id: "li_30",
      product_id: "prod_30",
      unit_amount_minor: 3000,
      amount_total_minor: 3000,
      currency: "USD",
      last_event_id: first.eventId,
    });

    // An older event with other lines changes nothing; a newer one replaces the whole list.
    const stale = stripe("checkout.session.expired", { ...checkoutSession, id, line_items: list([item(99)]) }, T0);
    await consume([stale]);
    expect(await linesOf(id)).toHaveLength(30);
    const newer = stripe(
      "checkout.session.async_payment_succeeded",
      { ...checkoutSession, id, line_items: list([item(7), item(8)]) },
      T0 + 20,
    );
    await consume([newer]);
    expect((await linesOf(id)).map((l) => [l.id, l.last_event_id])).toEqual([
      ["li_7", newer.eventId],
      ["li_8", newer.eventId],
    ]);
  });

  it("fetches them from the Stripe API, following pagination, when the event has none", async () => {
    const id = `cs_${uid()}`;
    const calls: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      calls.push(`${url.pathname}?${url.searchParams}`);
      expect(new Headers(init?.headers).get("authorization")).toBe("Bearer sk_test_x");
      const after = url.searchParams.get("starting_after");
      const page = after === null ? list([item(1), item(2)], true) : list([item(3)], false);
      return new Response(JSON.stringify(page), { headers: { "content-type": "application/json" } });
    });
    const e = stripe("checkout.session.completed", { ...checkoutSession, id, amount_total: 600, currency: "usd" });
    const keyed = { ...env, STRIPE_API_KEY: "sk_test_x", STRIPE_API_BASE: "https://stripe.test/" };
    expect(await consume([e], keyed)).toEqual({ acked: 1, retried: 0 });

    expect(calls).toEqual([
      `/v1/checkout/sessions/${id}/line_items?limit=100`,
      `/v1/checkout/sessions/${id}/line_items?limit=100&starting_after=li_2`,
    ]);
    expect((await linesOf(id)).map((l) => [l.position, l.id, l.amount_total_minor])).toEqual([
      [0, "li_1", 100],
      [1, "li_2", 200],
      [2, "li_3", 300],
    ]);
    expect(await row("stripe_checkout_sessions", id)).toMatchObject({ amount_total_minor: 600, currency: "USD" });
    expect(await ledger("stripe", e.eventId)).toMatchObject({ status: "applied", note: null });
  });

  it("retries the message when the Stripe API fails, writing nothing; a 404 is noted instead", async () => {
    const id = `cs_${uid()}`;
    vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response('{"error":{}}', { status: 500 }));
    const keyed = { ...env, STRIPE_API_KEY: "sk_test_x", STRIPE_API_BASE: "https://stripe.test" };
    const e = stripe("checkout.session.completed", { ...checkoutSession, id });
    expect(await consume([e], keyed)).toEqual({ acked: 0, retried: 1 });
    expect(await row("stripe_checkout_sessions", id)).toBeNull();
    expect(await ledger("stripe", e.eventId)).toMatchObject({ status: "retrying" });

    vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response('{"error":{}}', { status: 404 }));
    const gone = stripe("checkout.session.expired", { ...checkoutSession, id: `cs_${uid()}` });
    expect(await consume([gone], keyed)).toEqual({ acked: 1, retried: 0 });
    expect(await ledger("stripe", gone.eventId)).toMatchObject({
      status: "applied",
      note: "line items not fetched: Stripe answered 404 for the session",
    });
  });
});

describe("Recharge events applied by the consumer", () => {
  const sub = rechargeSubscription.subscription;

  it("writes subscriptions, charges with their line items, and customers", async () => {
    const s = uid();
    const subscriptionEvent = recharge("subscription/created", {
      subscription: { ...sub, id: `sub${s}`, customer_id: `cust${s}` },
    });
    const chargeEvent = recharge("charge/paid", { charge: { ...rechargeCharge.charge, id: `ch${s}` } });
    const customerEvent = recharge("customer/created", {
      customer: { ...rechargeCustomer.customer, id: `cust${s}`, email: " Niels@Test.DK" },
    });
    expect(await consume([subscriptionEvent, chargeEvent, customerEvent])).toEqual({ acked: 3, retried: 0 });

    expect(await row("recharge_subscriptions", `sub${s}`)).toMatchObject({
      customer_id: `cust${s}`,
      status: "active",
      price_minor: null,
      price_decimal: "49.00",
      next_charge_scheduled_at: "2022-04-09T00:00:00.000Z",
      updated_at: "2022-03-10T12:13:28.000Z",
      last_event_id: subscriptionEvent.eventId,
    });
    expect(await row("recharge_charges", `ch${s}`)).toMatchObject({
      status: "success",
      currency: "USD",
      total_price_minor: 2920,
      total_shipping_minor: 490,
      shopify_customer_id: "5213433266347",
      shopify_order_id: "5006149877931",
      email: "kozakevich_k@example.com",
      created_at: "2022-05-13T04:07:39.000Z",
    });
    expect(await rows("recharge_charge_line_items", "charge_id = ?", `ch${s}`)).toEqual([
      expect.objectContaining({ position: 0, sku: "T3", unit_price_minor: 2430, last_event_id: chargeEvent.eventId }),
    ]);
    expect(await row("recharge_customers", `cust${s}`)).toMatchObject({
      email: "niels@test.dk",
      created_at: "2022-03-09T02:36:35.000Z",
    });
    for (const e of [subscriptionEvent, chargeEvent, customerEvent]) {
      expect(await ledger("recharge", e.eventId)).toMatchObject({ status: "applied" });
    }
  });

  it("stores zero- and three-decimal prices exactly and normalizes offset times to Z", async () => {
    const jpy = `sub${uid()}`;
    const kwd = `sub${uid()}`;
    await consume([
      recharge("subscription/updated", {
        subscription: {
          ...sub,
          id: jpy,
          presentment_currency: "JPY",
          price: "1500",
          updated_at: "2026-01-05T09:00:00+09:00",
        },
      }),
      recharge("subscription/updated", {
        subscription: {
          ...sub,
          id: kwd,
          presentment_currency: "KWD",
          price: "12.345",
          updated_at: "2026-01-05T09:00:00-03:30",
        },
      }),
    ]);
    expect(await row("recharge_subscriptions", jpy)).toMatchObject({
      currency: "JPY",
      price_minor: 1500,
      updated_at: "2026-01-05T00:00:00.000Z",
    });
    expect(await row("recharge_subscriptions", kwd)).toMatchObject({
      currency: "KWD",
      price_minor: 12345,
      updated_at: "2026-01-05T12:30:00.000Z",
    });

    const charge = `ch${uid()}`;
    const lines = Array.from({ length: 20 }, (_, i) => ({
      ...rechargeCharge.charge.line_items[0],
      sku: `SKU-${i}`,
      unit_price: "0.125",
    }));
    await consume([
      recharge("charge/created", {
        charge: { ...rechargeCharge.charge, id: charge, currency: "KWD", total_price: "2.500", line_items: lines },
      }),
    ]);
    expect(await row("recharge_charges", charge)).toMatchObject({ total_price_minor: 2500, line_item_count: 20 });
    const stored = await rows("recharge_charge_line_items", "charge_id = ? ORDER BY position", charge);
    expect(stored.map((l) => [l.sku, l.unit_price_minor])).toEqual(lines.map((l) => [l.sku, 125]));
  });

  it("ignores a duplicate and an older update; a delete sets deleted_at", async () => {
    const id = `sub${uid()}`;
    const newer = recharge("subscription/cancelled", {
      subscription: {
        ...sub,
        id,
        status: "cancelled",
        cancelled_at: "2026-02-01T10:00:00+00:00",
        cancellation_reason: "moved",
        updated_at: "2026-02-01T10:00:00+00:00",
      },
    });
    const older = recharge("subscription/updated", {
      subscription: { ...sub, id, status: "active", quantity: 3, updated_at: "2026-01-15T10:00:00+00:00" },
    });
    await consume([newer, newer]);
    await consume([older]);
    expect(await rows("recharge_subscriptions", "id = ?", id)).toEqual([
      expect.objectContaining({
        status: "cancelled",
        quantity: 1,
        cancellation_reason: "moved",
        cancelled_at: "2026-02-01T10:00:00.000Z",
        last_event_id: newer.eventId,
        deleted_at: null,
      }),
    ]);

    await consume([
      recharge("subscription/deleted", {
        subscription: { ...sub, id, status: "cancelled", updated_at: "2026-02-02T00:00:00Z" },
      }),
    ]);
    expect(await row("recharge_subscriptions", id)).toMatchObject({
      status: "cancelled",
      deleted_at: "2026-02-02T00:00:00.000Z",
    });
  });

  it("keeps a customer's deactivation when a later update carries no status", async () => {
    const id = `cust${uid()}`;
    const c = rechargeCustomer.customer;
    await consume([recharge("customer/deactivated", { customer: { ...c, id, updated_at: "2026-03-01T00:00:00" } })]);
    await consume([
      recharge("customer/updated", { customer: { ...c, id, first_name: "N.", updated_at: "2026-03-02T00:00:00" } }),
    ]);
    expect(await row("recharge_customers", id)).toMatchObject({ status: "inactive", first_name: "N." });
  });

  it("quarantines an invalid payload with no rows, and archives topics without a table", async () => {
    const id = `sub${uid()}`;
    const bad = recharge("subscription/updated", { subscription: { ...sub, id, price: "forty-nine" } });
    const order = recharge("order/created", rechargeOrder);
    expect(await consume([bad, order])).toEqual({ acked: 2, retried: 0 });
    expect(await row("recharge_subscriptions", id)).toBeNull();
    expect(await ledger("recharge", bad.eventId)).toMatchObject({ status: "quarantined", note: "invalid_payload" });
    expect(await ledger("recharge", order.eventId)).toMatchObject({
      status: "archived",
      note: "no table for Recharge topic order/created",
    });
  });
});
