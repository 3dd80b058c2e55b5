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
import latestInvoice from "./fixtures/stripe/invoice.json";
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
