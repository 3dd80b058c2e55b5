import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import worker from "../src/index";
import type { Envelope } from "../src/shared/envelope";
import { STRIPE_API_VERSION } from "../src/shared/stripe-version";
import legacyCharge from "./fixtures/stripe/2024-06-20/charge.json";
import legacyInvoice from "./fixtures/stripe/2024-06-20/invoice.json";
import legacyPaymentIntent from "./fixtures/stripe/2024-06-20/payment_intent.json";
import legacySubscription from "./fixtures/stripe/2024-06-20/subscription.json";
import basilCharge from "./fixtures/stripe/2025-03-31.basil/charge.json";
import basilInvoice from "./fixtures/stripe/2025-03-31.basil/invoice.json";
import basilInvoicePayment from "./fixtures/stripe/2025-03-31.basil/invoice_payment.json";
import basilPaymentIntent from "./fixtures/stripe/2025-03-31.basil/payment_intent.json";
import basilSubscription from "./fixtures/stripe/2025-03-31.basil/subscription.json";
import latestCharge from "./fixtures/stripe/charge.json";
import latestCustomer from "./fixtures/stripe/customer.json";
import latestDispute from "./fixtures/stripe/dispute.json";
import latestInvoice from "./fixtures/stripe/invoice.json";
import latestPaymentIntent from "./fixtures/stripe/payment_intent.json";
import latestRefund from "./fixtures/stripe/refund.json";
import latestSubscription from "./fixtures/stripe/subscription.json";
import { stripeRequest } from "./helpers/requests";

// Each supported API version's published payloads (stripe/openapi fixtures3.json at the commits
// test/fixtures/README.md names) go through ingress and the consumer into D1. The fixtures hold the
// generator's placeholders, so ids, statuses, currencies and the links a test follows are overlaid.
let send: MockInstance<Queue["send"]>;
beforeEach(() => {
  send = vi.spyOn(env.EVENTS, "send").mockResolvedValue(undefined as never);
});
afterEach(() => vi.restoreAllMocks());

let seq = 0;
const uid = () => `${Date.now().toString(36)}v${++seq}`;
const T0 = 1_763_640_000; // 2025-11-20T12:00:00Z

/** Posts a signed event to ingress, then hands what it queued to the consumer. */
async function deliver(type: string, object: object, apiVersion: string | null, created = T0) {
  const eventId = `evt_${uid()}`;
  const version = apiVersion === null ? {} : { api_version: apiVersion };
  const body = JSON.stringify({
    id: eventId,
    object: "event",
    ...version,
    created,
    type,
    livemode: false,
    data: { object },
  });
  send.mockClear();
  const res = await exports.default.fetch(await stripeRequest(body));
  expect(res.status).toBe(200);
  const queued = send.mock.calls.map((c) => c[0] as Envelope);
  expect(queued).toHaveLength(1);
  expect(queued[0]?.apiVersion).toBe(apiVersion);
  const batch = createMessageBatch(
    "commerce-events",
    queued.map((b, i) => ({ id: `m-${eventId}-${i}`, timestamp: new Date(), attempts: 1, body: b })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(1);
  return eventId;
}

type Row = Record<string, unknown>;
const row = (table: string, id: string) => env.DB.prepare(`SELECT * FROM ${table} WHERE id = ?`).bind(id).first<Row>();
const ledger = (eventId: string) =>
  env.DB.prepare("SELECT status, note, r2_key FROM webhook_events WHERE source = 'stripe' AND event_id = ?")
    .bind(eventId)
    .first<Row>();

describe("Stripe payloads of each supported API version, through ingress into D1", () => {
  it("2024-06-20: links on the objects, the current period on the subscription", async () => {
    const s = uid();
    const ids = { inv: `in_${s}`, ch: `ch_${s}`, pi: `pi_${s}`, sub: `sub_${s}` };
    const v = "2024-06-20";
    await deliver(
      "customer.subscription.updated",
      { ...legacySubscription, id: ids.sub, currency: "usd", status: "active", current_period_start: T0 - 86_400 },
      v,
    );
    await deliver(
      "invoice.paid",
      {
        ...legacyInvoice,
        id: ids.inv,
        currency: "usd",
        status: "paid",
        subscription: ids.sub,
        charge: ids.ch,
        payment_intent: ids.pi,
      },
      v,
    );
    await deliver("charge.succeeded", { ...legacyCharge, id: ids.ch, invoice: ids.inv, payment_intent: ids.pi }, v);
    await deliver(
      "payment_intent.succeeded",
      { ...legacyPaymentIntent, id: ids.pi, currency: "usd", invoice: ids.inv },
      v,
    );

    expect(await row("stripe_invoices", ids.inv)).toMatchObject({
      api_version: v,
      subscription_id: ids.sub,
      charge_id: ids.ch,
      payment_intent_id: ids.pi,
      currency: "USD",
    });
    expect(await row("stripe_charges", ids.ch)).toMatchObject({
      api_version: v,
      invoice_id: ids.inv,
      amount_minor: 100,
    });
    expect(await row("stripe_payment_intents", ids.pi)).toMatchObject({ api_version: v, invoice_id: ids.inv });
    expect(await row("stripe_subscriptions", ids.sub)).toMatchObject({
      api_version: v,
      current_period_start: "2025-11-19T12:00:00.000Z",
      current_period_end: "2009-02-13T23:31:30.000Z",
    });
  });

  it("2025-03-31.basil: links from the invoice payment, the current period per item", async () => {
    const s = uid();
    const ids = { inv: `in_${s}`, ch: `ch_${s}`, pi: `pi_${s}`, sub: `sub_${s}`, ip: `inpay_${s}` };
    const v = "2025-03-31.basil";
    await deliver(
      "customer.subscription.updated",
      { ...basilSubscription, id: ids.sub, currency: "usd", status: "active" },
      v,
    );
    await deliver(
      "invoice.paid",
      {
        ...basilInvoice,
        id: ids.inv,
        currency: "usd",
        status: "paid",
        parent: { type: "subscription_details", subscription_details: { metadata: null, subscription: ids.sub } },
      },
      v,
    );
    await deliver("charge.succeeded", { ...basilCharge, id: ids.ch, payment_intent: ids.pi, status: "succeeded" }, v);
    await deliver(
      "payment_intent.succeeded",
      { ...basilPaymentIntent, id: ids.pi, currency: "usd", status: "succeeded", latest_charge: ids.ch },
      v,
    );
    await deliver(
      "invoice_payment.paid",
      {
        ...basilInvoicePayment,
        id: ids.ip,
        invoice: ids.inv,
        currency: "usd",
        status: "paid",
        amount_paid: 1000,
        payment: { type: "payment_intent", payment_intent: ids.pi },
      },
      v,
    );

    expect(await row("stripe_invoices", ids.inv)).toMatchObject({
      api_version: v,
      subscription_id: ids.sub,
      charge_id: ids.ch,
      payment_intent_id: ids.pi,
    });
    expect(await row("stripe_charges", ids.ch)).toMatchObject({ api_version: v, invoice_id: ids.inv });
    expect(await row("stripe_invoice_payments", ids.ip)).toMatchObject({
      api_version: v,
      amount_requested_minor: 1112626247,
      amount_paid_minor: 1000,
    });
    // The period comes from the item (the fixture's item period), not the subscription (it has none).
    expect(await row("stripe_subscriptions", ids.sub)).toMatchObject({
      api_version: v,
      current_period_start: "2030-02-06T01:08:38.000Z",
    });
  });

  it("the latest (the pinned version and a clover one): the current fixtures", async () => {
    for (const v of [STRIPE_API_VERSION, "2026-01-28.clover"]) {
      const s = uid();
      await deliver("charge.succeeded", { ...latestCharge, id: `ch_${s}` }, v);
      await deliver("invoice.updated", { ...latestInvoice, id: `in_${s}` }, v);
      await deliver("customer.subscription.created", { ...latestSubscription, id: `sub_${s}` }, v);
      expect(await row("stripe_charges", `ch_${s}`)).toMatchObject({
        api_version: v,
        amount_minor: 100,
        invoice_id: null,
      });
      expect(await row("stripe_invoices", `in_${s}`)).toMatchObject({ api_version: v, amount_due_minor: 1000 });
      expect(await row("stripe_subscriptions", `sub_${s}`)).toMatchObject({ api_version: v, unit_amount_minor: 2000 });
    }
  });

  it("2026-07-29.dahlia, the newest published: each fixture as published, exact ids", async () => {
    const v = "2026-07-29.dahlia";
    await deliver("customer.created", latestCustomer, v);
    await deliver("customer.subscription.created", latestSubscription, v);
    await deliver("invoice.created", latestInvoice, v);
    await deliver("payment_intent.created", latestPaymentIntent, v);
    await deliver("charge.succeeded", latestCharge, v);
    await deliver("charge.refunded", latestRefund, v);
    await deliver("charge.dispute.created", latestDispute, v);
    const at = "2009-02-13T23:31:30.000Z"; // every fixture's `created`, 1234567890
    expect(await row("stripe_customers", "cus_QXg1o8vcGmoR32")).toMatchObject({
      api_version: v,
      currency: "USD",
      balance_minor: 0,
      created_at: at,
    });
    expect(await row("stripe_subscriptions", "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw")).toMatchObject({
      api_version: v,
      customer_id: "cus_QXg1o8vcGmoR32",
      status: "active",
      currency: "USD",
      price_id: "price_1PgafmB7WZ01zgkW6dKueIc5",
      unit_amount_minor: 2000,
      price_interval: "month",
      item_count: 1,
      mrr_minor: 2000,
      start_date: at,
      // The period is the item's (1896570518 .. 976287773 as the generator wrote them).
      current_period_start: "2030-02-06T01:08:38.000Z",
      current_period_end: "2000-12-08T15:02:53.000Z",
    });
    // Its parent is a quote (type quote_details), so no subscription is read from subscription_details.
    expect(await row("stripe_invoices", "in_1Pgc6tB7WZ01zgkWu9fdqL6I")).toMatchObject({
      api_version: v,
      customer_id: "cus_QXg1o8vcGmoR32",
      subscription_id: null,
      charge_id: null,
      status: "draft",
      currency: "USD",
      amount_due_minor: 1000,
      total_minor: 1000,
      created_at: at,
    });
    expect(await row("stripe_payment_intents", "pi_1PgafyB7WZ01zgkWSjxsAJo3")).toMatchObject({
      api_version: v,
      amount_minor: 1099,
      currency: "USD",
      status: "requires_payment_method",
      invoice_id: null,
    });
    expect(await row("stripe_charges", "ch_1PgafuB7WZ01zgkWXYmPNZs8")).toMatchObject({
      api_version: v,
      amount_minor: 100,
      amount_captured_minor: 0,
      currency: "USD",
      status: "succeeded",
      invoice_id: null,
      payment_method_id: "card_1PgaftB7WZ01zgkWm3waTcFp",
      created_at: at,
    });
    expect(await row("stripe_refunds", "re_1Pgc72B7WZ01zgkWqPvrRrPE")).toMatchObject({
      api_version: v,
      charge_id: "ch_1PgafuB7WZ01zgkWXYmPNZs8",
      amount_minor: 100,
      currency: "USD",
    });
    expect(await row("stripe_disputes", "dp_1Pgc71B7WZ01zgkWMevJiAUx")).toMatchObject({
      api_version: v,
      charge_id: "ch_1PgafuB7WZ01zgkWXYmPNZs8",
      amount_minor: 1000,
      currency: "USD",
      evidence_due_by: "2024-08-14T23:59:59.000Z",
    });
  });

  it("an event without api_version is read as either shape and recorded without one", async () => {
    const s = uid();
    await deliver(
      "invoice.created",
      { ...legacyInvoice, id: `in_${s}`, currency: "usd", subscription: `sub_${s}` },
      null,
    );
    expect(await row("stripe_invoices", `in_${s}`)).toMatchObject({ api_version: null, subscription_id: `sub_${s}` });
  });

  it.each([
    ["2020-08-27", "before the versions the mappers read"],
    ["2025-11-17.preview", "a preview version"],
    ["2025-03-01.dashboard", "a dashboard version"],
    ["2027-01-27.fig", "an unknown release"],
  ])("quarantines %s (%s) with a reason naming it, and writes no row", async (v) => {
    const s = uid();
    const eventId = await deliver("charge.succeeded", { ...latestCharge, id: `ch_${s}` }, v);
    expect(await row("stripe_charges", `ch_${s}`)).toBeNull();
    const entry = await ledger(eventId);
    expect(entry).toMatchObject({ status: "quarantined", r2_key: expect.stringMatching(/^quarantine\/stripe\//) });
    const held = (await (await env.LAKE.get(entry?.r2_key as string))?.json()) as Row;
    expect(held).toMatchObject({ reason: "unsupported_version", detail: expect.stringContaining(`"${v}"`) });
  });

  it("archives an object without a table whatever its version", async () => {
    const eventId = await deliver("plan.created", { id: `plan_${uid()}`, object: "plan" }, "2019-12-03");
    expect(await ledger(eventId)).toMatchObject({ status: "archived" });
  });
});

describe("KPI views for a basil-era account, fed through ingress", () => {
  it("2025-03-31.basil: MRR sums both items of a subscription; its charges are subscription charges with rebill numbers", async () => {
    const s = uid();
    const v = "2025-03-31.basil";
    const email = `kpi-basil-${s}@example.com`;
    const ids = { cus: `cus_${s}`, sub: `sub_${s}` };
    const DAY = 86_400;
    // The basil fixtures with the values these views read overlaid (the generator's are placeholders);
    // livemode, as the views leave test mode out. No basil customer fixture exists: the customer
    // object did not change at basil, so the newest one stands in.
    const baseItem = basilSubscription.items.data[0] as (typeof basilSubscription.items.data)[number];
    const item = (id: string, unitAmount: number, quantity: number, interval: string) => ({
      ...baseItem,
      id,
      quantity,
      subscription: ids.sub,
      price: {
        ...baseItem.price,
        id: `price_${id}`,
        currency: "nzd",
        unit_amount: unitAmount,
        unit_amount_decimal: String(unitAmount),
        recurring: { ...baseItem.price.recurring, interval, interval_count: 1 },
      },
    });
    await deliver("customer.created", { ...latestCustomer, id: ids.cus, email, livemode: true }, v);
    // 1500 x 2 a month = 3000, and 24000 a year = 2000: 5000 a month.
    await deliver(
      "customer.subscription.created",
      {
        ...basilSubscription,
        id: ids.sub,
        customer: ids.cus,
        status: "active",
        currency: "nzd",
        livemode: true,
        start_date: T0,
        created: T0,
        trial_start: null,
        trial_end: null,
        items: {
          ...basilSubscription.items,
          data: [item(`si_m${s}`, 1500, 2, "month"), item(`si_y${s}`, 24000, 1, "year")],
        },
      },
      v,
    );
    for (const n of [1, 2]) {
      const at = T0 + (n - 1) * 30 * DAY;
      // Basil: the charge and the invoice name each other only through the invoice payment.
      await deliver(
        "charge.succeeded",
        {
          ...basilCharge,
          id: `ch_${s}_${n}`,
          customer: ids.cus,
          payment_intent: `pi_${s}_${n}`,
          status: "succeeded",
          amount: 5000,
          amount_captured: 5000,
          currency: "nzd",
          livemode: true,
          created: at,
        },
        v,
        at,
      );
      await deliver(
        "invoice.paid",
        {
          ...basilInvoice,
          id: `in_${s}_${n}`,
          customer: ids.cus,
          customer_email: email,
          status: "paid",
          currency: "nzd",
          livemode: true,
          created: at,
          parent: { type: "subscription_details", subscription_details: { metadata: {}, subscription: ids.sub } },
          status_transitions: { ...basilInvoice.status_transitions, paid_at: at },
        },
        v,
        at,
      );
      await deliver(
        "invoice_payment.paid",
        {
          ...basilInvoicePayment,
          id: `inpay_${s}_${n}`,
          invoice: `in_${s}_${n}`,
          currency: "nzd",
          status: "paid",
          amount_paid: 5000,
          livemode: true,
          created: at,
          payment: { type: "payment_intent", payment_intent: `pi_${s}_${n}` },
          status_transitions: { canceled_at: null, paid_at: at },
        },
        v,
        at,
      );
    }

    const all = async (sql: string, ...binds: unknown[]) =>
      (
        await env.DB.prepare(sql)
          .bind(...binds)
          .all<Row>()
      ).results;
    expect(
      await all(
        "SELECT currency, effective_at, mrr_minor, change_minor FROM analytics_subscription_mrr WHERE subscription_id = ?",
        ids.sub,
      ),
    ).toEqual([{ currency: "NZD", effective_at: "2025-11-20T12:00:00.000Z", mrr_minor: 5000, change_minor: 5000 }]);
    expect(
      await all(
        "SELECT mrr_minor, paying_subscriptions FROM analytics_mrr_by_day WHERE currency = 'NZD' AND day IN ('2025-11-20', '2025-11-21') ORDER BY day",
      ),
    ).toEqual([
      { mrr_minor: 5000, paying_subscriptions: 1 },
      { mrr_minor: 5000, paying_subscriptions: 1 },
    ]);
    expect(
      await all(
        "SELECT id, is_subscription, rebill_number, gross_minor, currency FROM analytics_customer_orders WHERE id IN (?, ?) ORDER BY id",
        `ch_${s}_1`,
        `ch_${s}_2`,
      ),
    ).toEqual([
      { id: `ch_${s}_1`, is_subscription: 1, rebill_number: 1, gross_minor: 5000, currency: "NZD" },
      { id: `ch_${s}_2`, is_subscription: 1, rebill_number: 2, gross_minor: 5000, currency: "NZD" },
    ]);
    expect(
      await all(
        "SELECT currency, orders, subscription_orders, ltv_minor FROM analytics_customer_ltv WHERE email = ?",
        email,
      ),
    ).toEqual([{ currency: "NZD", orders: 2, subscription_orders: 2, ltv_minor: 10000 }]);
  });
});
