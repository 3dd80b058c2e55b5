import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Envelope } from "../src/shared/envelope";
import charge from "./fixtures/stripe/charge.json";
import invoice from "./fixtures/stripe/invoice.json";
import paymentIntent from "./fixtures/stripe/payment_intent.json";
import { consumeOneByOne, stripeEnvelope } from "./helpers/stripe-envelope";

// Every test shares one local D1: ids carry a per-test suffix.
let seq = 0;
const uid = () => `${Date.now().toString(36)}ip${++seq}`;
const T0 = 1_763_640_000; // 2025-11-20T12:00:00Z
const BASIL = "2025-03-31.basil";

const stripe = (type: string, object: object, created = T0, apiVersion: string | null = BASIL): Envelope =>
  stripeEnvelope(type, object, { eventId: `evt_${uid()}`, created, apiVersion });

const consume = (envelopes: Envelope[]) => consumeOneByOne(envelopes, () => `m-${uid()}`);

type Row = Record<string, unknown>;
const row = (table: string, id: string) => env.DB.prepare(`SELECT * FROM ${table} WHERE id = ?`).bind(id).first<Row>();

/**
 * Basil-era objects of one paid subscription invoice: the fixtures (stripe/openapi fixtures3.json,
 * whose invoice, charge and payment intent carry none of the removed links), re-keyed, and an
 * invoice payment shaped as in Stripe's API reference for "The Invoice Payment object".
 */
function basilSet(s: string) {
  const ids = { inv: `in_${s}`, pi: `pi_${s}`, ch: `ch_${s}`, ip: `inpay_${s}`, sub: `sub_${s}`, cus: `cus_${s}` };
  return {
    ids,
    invoice: {
      ...invoice,
      id: ids.inv,
      customer: ids.cus,
      status: "paid",
      amount_paid: 2000,
      parent: { type: "subscription_details", subscription_details: { metadata: {}, subscription: ids.sub } },
      status_transitions: { ...invoice.status_transitions, paid_at: T0 },
    },
    paymentIntent: { ...paymentIntent, id: ids.pi, customer: ids.cus, status: "succeeded", latest_charge: ids.ch },
    charge: { ...charge, id: ids.ch, customer: ids.cus, payment_intent: ids.pi, status: "succeeded" },
    invoicePayment: {
      id: ids.ip,
      object: "invoice_payment",
      amount_paid: 2000,
      amount_requested: 2000,
      created: T0,
      currency: "usd",
      invoice: ids.inv,
      is_default: true,
      livemode: false,
      payment: { type: "payment_intent", payment_intent: ids.pi },
      status: "paid",
      status_transitions: { canceled_at: null, paid_at: T0 },
    },
  };
}

async function expectLinked(ids: ReturnType<typeof basilSet>["ids"]) {
  expect(await row("stripe_invoices", ids.inv)).toMatchObject({
    subscription_id: ids.sub,
    payment_intent_id: ids.pi,
    charge_id: ids.ch,
  });
  expect(await row("stripe_charges", ids.ch)).toMatchObject({ invoice_id: ids.inv, payment_intent_id: ids.pi });
  expect(await row("stripe_payment_intents", ids.pi)).toMatchObject({ invoice_id: ids.inv });
}

describe("invoice payments (API 2025-03-31+) link invoices, payment intents and charges", () => {
  it("stores the invoice payment and links the rows that came before it", async () => {
    const s = uid();
    const set = basilSet(s);
    await consume([
      stripe("invoice.paid", set.invoice),
      stripe("payment_intent.succeeded", set.paymentIntent),
      stripe("charge.succeeded", set.charge),
    ]);
    // Basil objects carry no link: nothing is linked yet.
    expect(await row("stripe_invoices", set.ids.inv)).toMatchObject({ charge_id: null, payment_intent_id: null });
    expect(await row("stripe_charges", set.ids.ch)).toMatchObject({ invoice_id: null });

    const paid = stripe("invoice_payment.paid", set.invoicePayment, T0 + 1);
    await consume([paid]);
    expect(await row("stripe_invoice_payments", set.ids.ip)).toMatchObject({
      invoice_id: set.ids.inv,
      payment_type: "payment_intent",
      payment_intent_id: set.ids.pi,
      charge_id: null,
      status: "paid",
      is_default: 1,
      amount_paid_minor: 2000,
      amount_requested_minor: 2000,
      currency: "USD",
      paid_at: "2025-11-20T12:00:00.000Z",
    });
    await expectLinked(set.ids);
    const ledger = await env.DB.prepare(
      "SELECT status, r2_key FROM webhook_events WHERE source = 'stripe' AND event_id = ?",
    )
      .bind(paid.eventId)
      .first();
    expect(ledger).toMatchObject({
      status: "applied",
      r2_key: expect.stringMatching(/^raw\/stripe\/invoice_payments\/events\//),
    });
  });

  it("links rows that arrive after the invoice payment, in any order", async () => {
    const s = uid();
    const set = basilSet(s);
    await consume([
      stripe("invoice_payment.paid", set.invoicePayment),
      stripe("charge.succeeded", set.charge),
      stripe("invoice.paid", set.invoice),
      stripe("payment_intent.succeeded", set.paymentIntent),
    ]);
    await expectLinked(set.ids);

    // Later basil updates of the objects (no link fields) keep the links.
    await consume([
      stripe("invoice.updated", { ...set.invoice, metadata: { note: "later" } }, T0 + 60),
      stripe("charge.updated", { ...set.charge, description: "later" }, T0 + 60),
      stripe("payment_intent.updated", { ...set.paymentIntent, description: "later" }, T0 + 60),
    ]);
    await expectLinked(set.ids);
  });

  it("takes the invoice's charge from the payment intent's latest charge when no charge row is stored", async () => {
    const s = uid();
    const set = basilSet(s);
    await consume([
      stripe("invoice_payment.paid", set.invoicePayment),
      stripe("payment_intent.succeeded", set.paymentIntent),
    ]);
    await consume([stripe("invoice.paid", set.invoice)]);
    expect(await row("stripe_invoices", set.ids.inv)).toMatchObject({
      payment_intent_id: set.ids.pi,
      charge_id: set.ids.ch,
    });
  });

  it("links a charge paid without a payment intent through the invoice payment's charge", async () => {
    const s = uid();
    const set = basilSet(s);
    await consume([
      stripe("invoice.paid", set.invoice),
      stripe("invoice_payment.paid", { ...set.invoicePayment, payment: { type: "charge", charge: set.ids.ch } }),
      stripe("charge.succeeded", { ...set.charge, payment_intent: null }),
    ]);
    expect(await row("stripe_invoices", set.ids.inv)).toMatchObject({ charge_id: set.ids.ch, payment_intent_id: null });
    expect(await row("stripe_charges", set.ids.ch)).toMatchObject({ invoice_id: set.ids.inv });
  });

  it("an open invoice payment links nothing until it is paid", async () => {
    const s = uid();
    const set = basilSet(s);
    const open = {
      ...set.invoicePayment,
      status: "open",
      amount_paid: null,
      status_transitions: { canceled_at: null, paid_at: null },
    };
    await consume([
      stripe("invoice.finalized", { ...set.invoice, status: "open" }),
      stripe("invoice_payment.paid", open),
    ]);
    expect(await row("stripe_invoices", set.ids.inv)).toMatchObject({ charge_id: null, payment_intent_id: null });
    await consume([stripe("invoice_payment.paid", set.invoicePayment, T0 + 5), stripe("charge.succeeded", set.charge)]);
    expect(await row("stripe_invoices", set.ids.inv)).toMatchObject({
      charge_id: set.ids.ch,
      payment_intent_id: set.ids.pi,
    });
  });

  it("a pre-basil copy and a basil copy of one invoice agree: the later basil copy keeps the links", async () => {
    const s = uid();
    const set = basilSet(s);
    const legacy = {
      ...set.invoice,
      parent: undefined,
      subscription: set.ids.sub,
      charge: set.ids.ch,
      payment_intent: set.ids.pi,
    };
    await consume([stripe("invoice.paid", legacy, T0, "2024-06-20")]);
    await consume([stripe("invoice.updated", set.invoice, T0 + 10)]);
    expect(await row("stripe_invoices", set.ids.inv)).toMatchObject({
      subscription_id: set.ids.sub,
      charge_id: set.ids.ch,
      payment_intent_id: set.ids.pi,
    });
  });
});
