import { describe, expect, it } from "vitest";
import { mapStripeEvent, parseLineItemsPage, type StripeMapping } from "../src/mapping/stripe";
import charge from "./fixtures/stripe/charge.json";
import checkoutSession from "./fixtures/stripe/checkout.session.json";
import customer from "./fixtures/stripe/customer.json";
import dispute from "./fixtures/stripe/dispute.json";
import planEvent from "./fixtures/stripe/event.json";
import invoice from "./fixtures/stripe/invoice.json";
import paymentIntent from "./fixtures/stripe/payment_intent.json";
import refund from "./fixtures/stripe/refund.json";
import subscription from "./fixtures/stripe/subscription.json";

// The fixtures are bare API objects (stripe/openapi fixtures3.json); a webhook body wraps
// one in an Event envelope, as Stripe does, so the tests build that envelope here.
const CREATED = 1_763_640_000; // 2025-11-20T12:00:00Z
function body(type: string, object: object, created = CREATED, apiVersion = "2025-10-29.clover"): string {
  return JSON.stringify({
    id: "evt_unit",
    object: "event",
    api_version: apiVersion,
    created,
    type,
    data: { object },
  });
}
function rowsOf(type: string, object: object, created = CREATED, apiVersion?: string) {
  const result = mapStripeEvent(body(type, object, created, apiVersion), "evt_unit");
  if (!result.ok) throw new Error(result.detail);
  if (result.value.kind !== "rows") throw new Error(`skipped: ${result.value.note}`);
  return result.value.rows;
}
const skipped = (m: ReturnType<typeof mapStripeEvent>): StripeMapping | string =>
  m.ok ? m.value : `invalid: ${m.detail}`;

const EVENT_AT = "2025-11-20T12:00:00.000Z";
const tail = {
  eventCreated: CREATED,
  updatedAt: EVENT_AT,
  deletedAt: null,
  lastEventId: "evt_unit",
  apiVersion: "2025-10-29.clover",
};

describe("Stripe mapper", () => {
  it("maps a charge with its amounts, flags, payment method and event ordering key", () => {
    const rows = rowsOf("charge.succeeded", charge);
    expect(rows).toEqual({
      table: "charges",
      row: {
        id: "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        customerId: null,
        paymentIntentId: null,
        invoiceId: null,
        email: null,
        amountMinor: 100,
        amountCapturedMinor: 0,
        amountRefundedMinor: 0,
        currency: "USD",
        status: "succeeded",
        paid: true,
        captured: false,
        refunded: false,
        disputed: false,
        failureCode: null,
        failureMessage: null,
        outcomeType: "type",
        paymentMethodId: "card_1PgaftB7WZ01zgkWm3waTcFp",
        paymentMethodType: "card",
        cardBrand: "visa",
        description: "My First Test Charge (created for API docs)",
        metadataOrderId: null,
        metadataCustomerId: null,
        metadata: "{}",
        livemode: false,
        createdAt: "2009-02-13T23:31:30.000Z",
        ...tail,
      },
    });
  });

  it("normalizes emails, reads merchant ids from metadata and unwraps expanded references", () => {
    const rows = rowsOf("charge.updated", {
      ...charge,
      billing_details: { ...charge.billing_details, email: "  Jenny.Rosen@Example.COM " },
      customer: { id: "cus_expanded", object: "customer" },
      payment_intent: "pi_123",
      metadata: { order_id: "#1001", shopify_customer_id: "706405506930370084" },
    });
    expect(rows.row).toMatchObject({
      email: "jenny.rosen@example.com",
      customerId: "cus_expanded",
      paymentIntentId: "pi_123",
      metadataOrderId: "#1001",
      metadataCustomerId: "706405506930370084",
      metadata: '{"order_id":"#1001","shopify_customer_id":"706405506930370084"}',
    });
  });

  it("maps a payment intent", () => {
    expect(rowsOf("payment_intent.payment_failed", { ...paymentIntent, receipt_email: "A@B.co" })).toMatchObject({
      table: "payment_intents",
      row: {
        id: "pi_1PgafyB7WZ01zgkWSjxsAJo3",
        email: "a@b.co",
        amountMinor: 1099,
        amountReceivedMinor: 0,
        currency: "USD",
        status: "requires_payment_method",
        captureMethod: "automatic",
        canceledAt: "2009-02-13T23:31:30.000Z",
        lastErrorCode: null,
        ...tail,
      },
    });
  });

  it("maps an invoice, finding the subscription on the invoice or (API 2025-03-31+) under parent", () => {
    const rows = rowsOf("invoice.payment_failed", invoice);
    expect(rows.row).toMatchObject({
      id: "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
      customerId: "cus_QXg1o8vcGmoR32",
      subscriptionId: null, // the fixture's parent is a quote
      status: "draft",
      currency: "USD",
      amountDueMinor: 1000,
      amountPaidMinor: 0,
      amountRemainingMinor: 1000,
      subtotalMinor: 1000,
      totalMinor: 1000,
      taxMinor: null,
      attemptCount: 0,
      attempted: false,
      nextPaymentAttemptAt: "2009-02-13T23:31:30.000Z",
      paidAt: null,
    });
    const viaParent = rowsOf("invoice.paid", {
      ...invoice,
      parent: { type: "subscription_details", subscription_details: { subscription: "sub_parent" } },
      total_taxes: [{ amount: 120 }, { amount: 30 }],
      status_transitions: { paid_at: 1_763_640_001 },
    });
    expect(viaParent.row).toMatchObject({
      subscriptionId: "sub_parent",
      taxMinor: 150,
      paidAt: "2025-11-20T12:00:01.000Z",
    });
    // Before API 2025-03-31 the subscription is on the invoice; basil payloads are read under parent only.
    expect(
      rowsOf("invoice.created", { ...invoice, subscription: "sub_legacy" }, CREATED, "2024-06-20").row,
    ).toMatchObject({
      subscriptionId: "sub_legacy",
    });
    expect(rowsOf("invoice.created", { ...invoice, subscription: "sub_legacy" }).row).toMatchObject({
      subscriptionId: null,
    });
  });

  it("maps a dispute and a refund", () => {
    expect(rowsOf("charge.dispute.created", dispute)).toMatchObject({
      table: "disputes",
      row: {
        id: "dp_1Pgc71B7WZ01zgkWMevJiAUx",
        chargeId: "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        amountMinor: 1000,
        currency: "USD",
        reason: "general",
        status: "warning_needs_response",
        isChargeRefundable: true,
        evidenceDueBy: "2024-08-14T23:59:59.000Z",
        networkReasonCode: "10.4",
      },
    });
    for (const type of ["charge.refund.updated", "refund.created"]) {
      expect(rowsOf(type, refund)).toMatchObject({
        table: "refunds",
        row: { id: "re_1Pgc72B7WZ01zgkWqPvrRrPE", chargeId: "ch_1PgafuB7WZ01zgkWXYmPNZs8", amountMinor: 100 },
      });
    }
  });

  it("maps a subscription, taking the period from the first item when the subscription has none", () => {
    const rows = rowsOf("customer.subscription.updated", subscription);
    expect(rows.row).toMatchObject({
      id: "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
      customerId: "cus_QXg1o8vcGmoR32",
      status: "active",
      currency: "USD",
      cancelAtPeriodEnd: true,
      itemCount: 1,
      priceId: "price_1PgafmB7WZ01zgkW6dKueIc5",
      productId: "prod_QXg1hqf4jFNsqG",
      quantity: 1,
      unitAmountMinor: 2000,
      priceInterval: "month",
      priceIntervalCount: 1,
      currentPeriodStart: "2030-02-06T01:08:38.000Z",
      currentPeriodEnd: "2000-12-08T15:02:53.000Z",
      deletedAt: null,
    });
    expect(rowsOf("customer.subscription.deleted", subscription).row.deletedAt).toBe(EVENT_AT);
  });

  it("maps a checkout session as an order snapshot; line items only when the event has the full list", () => {
    const rows = rowsOf("checkout.session.completed", {
      ...checkoutSession,
      metadata: { user_id: "u_42" },
      currency: "eur",
      amount_total: 5000,
    });
    expect(rows).toMatchObject({
      table: "checkout_sessions",
      lineItems: null,
      row: {
        id: checkoutSession.id,
        mode: "payment",
        status: "open",
        paymentStatus: "unpaid",
        email: "example@example.com",
        userId: "u_42",
        currency: "EUR",
        amountTotalMinor: 5000,
        amountDiscountMinor: 406046392,
        amountTaxMinor: 1424534716,
        amountShippingMinor: 1117121693, // total_details has none; shipping_cost does
        paymentIntentId: "pi_1PgafyB7WZ01zgkWSjxsAJo3",
        shippingName: "name",
        shippingCountry: null,
        expiresAt: "2009-02-13T23:31:30.000Z",
      },
    });

    const item = {
      id: "li_1",
      object: "item",
      description: "T-shirt",
      quantity: 2,
      currency: "eur",
      amount_subtotal: 4000,
      amount_discount: 0,
      amount_tax: 0,
      amount_total: 4000,
      price: { id: "price_1", object: "price", product: "prod_1", unit_amount: 2000 },
    };
    const withItems = rowsOf("checkout.session.completed", {
      ...checkoutSession,
      line_items: { object: "list", data: [item], has_more: false, url: "/v1/checkout/sessions/x/line_items" },
    });
    expect(withItems.table === "checkout_sessions" && withItems.lineItems).toEqual([
      {
        sessionId: checkoutSession.id,
        position: 0,
        id: "li_1",
        priceId: "price_1",
        productId: "prod_1",
        description: "T-shirt",
        quantity: 2,
        currency: "EUR",
        unitAmountMinor: 2000,
        amountSubtotalMinor: 4000,
        amountDiscountMinor: 0,
        amountTaxMinor: 0,
        amountTotalMinor: 4000,
        updatedAt: EVENT_AT,
        lastEventId: "evt_unit",
      },
    ]);
    const partial = rowsOf("checkout.session.completed", {
      ...checkoutSession,
      line_items: { object: "list", data: [item], has_more: true },
    });
    expect(partial).toMatchObject({ lineItems: null });
  });

  it("maps customers; a delete sets deleted_at, even from a stub object", () => {
    expect(rowsOf("customer.updated", { ...customer, email: " Big@Example.com" })).toMatchObject({
      table: "customers",
      row: { id: "cus_QXg1o8vcGmoR32", email: "big@example.com", balanceMinor: 0, currency: "USD", deletedAt: null },
    });
    expect(rowsOf("customer.deleted", customer).row.deletedAt).toBe(EVENT_AT);
    expect(rowsOf("customer.deleted", { id: "cus_stub", object: "customer", deleted: true }).row).toMatchObject({
      id: "cus_stub",
      email: null,
      deletedAt: EVENT_AT,
    });
  });

  it("skips objects without a table and previews", () => {
    expect(skipped(mapStripeEvent(JSON.stringify(planEvent), "evt_plan"))).toEqual({
      kind: "skip",
      note: "no table for Stripe object plan",
    });
    const discount = { id: "di_1", object: "discount" };
    expect(skipped(mapStripeEvent(body("customer.discount.created", discount), "e"))).toMatchObject({ kind: "skip" });
    expect(skipped(mapStripeEvent(body("invoice.upcoming", { ...invoice, id: null }), "e"))).toMatchObject({
      kind: "skip",
      note: "invoice.upcoming is a preview",
    });
  });

  it("refuses payloads that fail validation, naming the field", () => {
    // A JSON number like 12.5 is not an amount in minor units.
    const text = body("charge.succeeded", charge).replace('"amount":100', '"amount":12.5');
    expect(skipped(mapStripeEvent(text, "e"))).toBe("invalid: data.object.amount: expected an integer");
    expect(skipped(mapStripeEvent(body("charge.succeeded", { ...charge, currency: undefined }), "e"))).toMatch(
      /^invalid: data\.object\.currency/,
    );
    expect(skipped(mapStripeEvent('{"id":"evt","type":"charge.succeeded","data":{"object":{}}}', "e"))).toMatch(
      /^invalid: created/,
    );
    expect(skipped(mapStripeEvent("not json", "e"))).toBe("invalid: body is not JSON");
  });
});

describe("Stripe line items page", () => {
  it("validates a list page", () => {
    const page = parseLineItemsPage('{"object":"list","data":[{"id":"li_9","quantity":3}],"has_more":true}');
    expect(page).toEqual({
      ok: true,
      value: { items: [expect.objectContaining({ id: "li_9", quantity: 3 })], hasMore: true },
    });
    expect(parseLineItemsPage('{"object":"list","data":[{"quantity":"x"}]}')).toMatchObject({ ok: false });
    expect(parseLineItemsPage("<html>")).toMatchObject({ ok: false, detail: "line items response is not JSON" });
  });
});
