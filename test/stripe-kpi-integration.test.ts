import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Envelope } from "../src/shared/envelope";
import charge from "./fixtures/stripe/charge.json";
import customer from "./fixtures/stripe/customer.json";
import invoice from "./fixtures/stripe/invoice.json";
import subscription from "./fixtures/stripe/subscription.json";
import { consumeOneByOne, stripeEnvelope } from "./helpers/stripe-envelope";

// The KPI views (migrations/0060_kpi_views.sql) for a basil-era Stripe account, fed through the
// consumer: invoices and charges that name each other only through invoice payments, and a
// subscription of several items with different intervals (flexible billing).
const V = "2026-01-28.clover";
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY = 86_400;
let seq = 0;
const uid = () => `${Date.now().toString(36)}k${++seq}`;

const stripe = (type: string, object: object, created: number): Envelope =>
  stripeEnvelope(type, object, { eventId: `evt_${uid()}`, created, apiVersion: V, livemode: true });

const consume = (envelopes: Envelope[]) => consumeOneByOne(envelopes, () => `m-${uid()}`);
const rows = async (sql: string, ...binds: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...binds)
      .all<Record<string, unknown>>()
  ).results;

const baseItem = subscription.items.data[0] as (typeof subscription.items.data)[number];
function item(id: string, unitAmount: number, quantity: number, interval: string, count = 1, usage = "licensed") {
  return {
    ...baseItem,
    id,
    quantity,
    price: {
      ...baseItem.price,
      id: `price_${id}`,
      unit_amount: unitAmount,
      recurring: { ...baseItem.price.recurring, interval, interval_count: count, usage_type: usage },
    },
  };
}

describe("KPI views on a basil-era Stripe account", () => {
  it("sum every item of a subscription into its MRR, each by its own interval and quantity", async () => {
    const s = uid();
    const sub = (items: object[], extra: object = {}) => ({
      ...subscription,
      id: `sub_${s}`,
      customer: `cus_${s}`,
      status: "active",
      currency: "eur",
      livemode: true,
      start_date: T0,
      created: T0,
      trial_end: null,
      trial_start: null,
      items: { object: "list", has_more: false, data: items },
      ...extra,
    });
    // 1000 x 2 monthly = 2000; 12000 yearly = 1000; 700 every 2 weeks = 700 x 52 / 12 / 2 = 1516.67;
    // a metered item bills usage (nothing known ahead). Summed exactly: 4516.67 -> 4517.
    const items = [
      item(`si_a${s}`, 1000, 2, "month"),
      item(`si_b${s}`, 12000, 1, "year"),
      item(`si_c${s}`, 700, 1, "week", 2),
      item(`si_d${s}`, 5, 1, "month", 1, "metered"),
    ];
    await consume([stripe("customer.subscription.created", sub(items), T0)]);
    expect(
      await rows("SELECT mrr_minor, item_count, unit_amount_minor FROM stripe_subscriptions WHERE id = ?", `sub_${s}`),
    ).toEqual([{ mrr_minor: 4517, item_count: 4, unit_amount_minor: 1000 }]);

    // The yearly item's quantity goes to 3 (+2000): a new state at the update.
    const later = [items[0], item(`si_b${s}`, 12000, 3, "year"), items[2], items[3]] as object[];
    await consume([stripe("customer.subscription.updated", sub(later), T0 + 10 * DAY)]);
    expect(
      await rows(
        "SELECT effective_at, mrr_minor, change_minor FROM analytics_subscription_mrr WHERE subscription_id = ? ORDER BY effective_at",
        `sub_${s}`,
      ),
    ).toEqual([
      { effective_at: "2026-01-01T00:00:00.000Z", mrr_minor: 4517, change_minor: 4517 },
      { effective_at: "2026-01-11T00:00:00.000Z", mrr_minor: 6517, change_minor: 2000 },
    ]);

    // A tiered item has no unit amount: the sum is not known, so the first item's price stands in.
    await consume([
      stripe(
        "customer.subscription.updated",
        sub([item(`si_t${s}`, 0, 1, "month"), { ...items[1], price: { ...baseItem.price, unit_amount: null } }]),
        T0 + 20 * DAY,
      ),
    ]);
    expect(await rows("SELECT mrr_minor FROM stripe_subscriptions WHERE id = ?", `sub_${s}`)).toEqual([
      { mrr_minor: null },
    ]);
  });

  it("mark basil charges as subscription charges with rebill numbers, through invoice payments", async () => {
    const s = uid();
    const email = `kpi-basil-${s}@example.com`;
    await consume([stripe("customer.created", { ...customer, id: `cus_${s}`, email, livemode: true }, T0)]);
    for (const n of [1, 2]) {
      const at = T0 + (n - 1) * 30 * DAY;
      await consume([
        // Each invoice, its charge (through a payment intent) and the invoice payment between them;
        // the charge arrives first, the link last.
        stripe(
          "charge.succeeded",
          {
            ...charge,
            id: `ch_${s}_${n}`,
            customer: `cus_${s}`,
            payment_intent: `pi_${s}_${n}`,
            status: "succeeded",
            amount: 2500,
            amount_captured: 2500,
            currency: "eur",
            livemode: true,
            created: at,
          },
          at,
        ),
        stripe(
          "invoice.paid",
          {
            ...invoice,
            id: `in_${s}_${n}`,
            customer: `cus_${s}`,
            customer_email: email,
            status: "paid",
            currency: "eur",
            livemode: true,
            created: at,
            parent: { type: "subscription_details", subscription_details: { metadata: {}, subscription: `sub_${s}` } },
            status_transitions: { ...invoice.status_transitions, paid_at: at },
          },
          at,
        ),
        stripe(
          "invoice_payment.paid",
          {
            id: `inpay_${s}_${n}`,
            object: "invoice_payment",
            amount_paid: 2500,
            amount_requested: 2500,
            created: at,
            currency: "eur",
            invoice: `in_${s}_${n}`,
            is_default: true,
            livemode: true,
            payment: { type: "payment_intent", payment_intent: `pi_${s}_${n}` },
            status: "paid",
            status_transitions: { canceled_at: null, paid_at: at },
          },
          at,
        ),
      ]);
    }
    const orders = await rows(
      "SELECT id, source, is_subscription, rebill_number, gross_minor, currency FROM analytics_customer_orders WHERE id IN (?, ?) ORDER BY id",
      `ch_${s}_1`,
      `ch_${s}_2`,
    );
    expect(orders).toEqual([
      { id: `ch_${s}_1`, source: "stripe", is_subscription: 1, rebill_number: 1, gross_minor: 2500, currency: "EUR" },
      { id: `ch_${s}_2`, source: "stripe", is_subscription: 1, rebill_number: 2, gross_minor: 2500, currency: "EUR" },
    ]);
  });
});
