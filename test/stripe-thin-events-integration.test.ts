import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import worker from "../src/index";
import type { Envelope } from "../src/shared/envelope";
import { STRIPE_API_VERSION } from "../src/shared/stripe-version";
import { routeFetch } from "./cron-helpers";
import { FakeStripeApi } from "./fakes/stripe-api";
import charge from "./fixtures/stripe/charge.json";
import { stripeRequest } from "./helpers/requests";

// Thin events (`object: "v2.core.event"`) go through the real ingress (signature, enqueue) and the
// consumer, which fetches the object they name from the Stripe fake and applies it.
const stripe = new FakeStripeApi("https://stripe-thin.test", "sk_test_thin");
const keyed = (): Env => ({ ...env, STRIPE_API_KEY: stripe.key, STRIPE_API_BASE: stripe.base });

let send: MockInstance<Queue["send"]>;
beforeEach(() => {
  send = vi.spyOn(env.EVENTS, "send").mockResolvedValue(undefined as never);
  routeFetch(() => [stripe]);
});
afterEach(() => {
  vi.restoreAllMocks();
  stripe.failWith = null;
});

let seq = 0;
const uid = () => `${Date.now().toString(36)}t${++seq}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);

function thinEvent(type: string, related: { id: string; type: string; url: string } | null) {
  const id = `evt_${uid()}`;
  const body = JSON.stringify({
    id,
    object: "v2.core.event",
    type,
    created: "2026-11-20T15:04:05.123Z",
    livemode: false,
    context: null,
    reason: { type: "request", request: { id: "req_1", idempotency_key: "k" } },
    related_object: related,
  });
  return { id, body };
}

/** Posts a signed body to ingress; returns the status and what it queued. */
async function post(body: string, o: { secret?: string } = {}) {
  send.mockClear();
  const res = await exports.default.fetch(await stripeRequest(body, o));
  return { status: res.status, queued: send.mock.calls.map((c) => c[0] as Envelope) };
}

/** Hands envelopes to the consumer as one batch; counts acks and retries. */
async function consume(envelopes: Envelope[], e: Env, attempts = 1) {
  const batch = createMessageBatch(
    "commerce-events",
    envelopes.map((body, i) => ({ id: `m-${body.eventId}-${attempts}-${i}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, e);
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks.length, retried: result.retryMessages.length };
}

type Row = Record<string, unknown>;
const chargeRow = (id: string) => env.DB.prepare("SELECT * FROM stripe_charges WHERE id = ?").bind(id).first<Row>();
const ledger = (eventId: string) =>
  env.DB.prepare("SELECT status, note, r2_key, topic FROM webhook_events WHERE source = 'stripe' AND event_id = ?")
    .bind(eventId)
    .first<Row>();
const fetchesOf = (path: string) => stripe.requested.filter((r) => r === path).length;

function addCharge(id: string, over: Record<string, unknown> = {}) {
  stripe.objects.charges ??= [];
  stripe.objects.charges.push({
    ...charge,
    id,
    amount: 4250,
    amount_captured: 4250,
    currency: "eur",
    status: "succeeded",
    created: nowSeconds() - 60,
    ...over,
  });
}

describe("Stripe thin events", () => {
  it("are accepted, archived verbatim, and the charge they name is fetched and applied", async () => {
    const ch = `ch_${uid()}`;
    addCharge(ch);
    const { id, body } = thinEvent("v1.charge.succeeded", { id: ch, type: "charge", url: `/v1/charges/${ch}` });

    const { status, queued } = await post(body);
    expect(status).toBe(200);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({
      source: "stripe",
      topic: "v1.charge.succeeded",
      eventId: id,
      eventAt: "2026-11-20T15:04:05.123Z",
      apiVersion: null,
    });

    expect(await consume(queued, keyed())).toEqual({ acked: 1, retried: 0 });
    const entry = await ledger(id);
    expect(entry).toMatchObject({ status: "applied", topic: "v1.charge.succeeded" });
    expect(String(entry?.note)).toContain(`charge ${ch} fetched from /v1/charges/${ch}`);
    // The thin event itself is archived verbatim, under the charges resource.
    const key = String(entry?.r2_key);
    expect(key).toBe(`raw/stripe/charges/events/dt=2026-11-20/hour=15/${id}.json`);
    const archived = JSON.parse(await ((await env.LAKE.get(key)) as R2ObjectBody).text()) as { payload: unknown };
    expect(archived.payload).toEqual(JSON.parse(body));

    // Fetched once, in the pinned version; the row holds the fetched values.
    expect(fetchesOf(`/v1/charges/${ch}`)).toBe(1);
    expect(stripe.versions.at(-1)).toBe(STRIPE_API_VERSION);
    const row = await chargeRow(ch);
    expect(row).toMatchObject({
      amount_minor: 4250,
      currency: "EUR",
      status: "succeeded",
      last_event_id: id,
      api_version: STRIPE_API_VERSION,
    });
    // Dated by when Stripe read it, so an older snapshot webhook of the charge changes nothing.
    expect(Number(row?.event_created)).toBeGreaterThan(nowSeconds() - 30);
    const older = JSON.stringify({
      id: `evt_${uid()}`,
      object: "event",
      api_version: STRIPE_API_VERSION,
      created: nowSeconds() - 3600,
      type: "charge.updated",
      livemode: false,
      data: { object: { ...charge, id: ch, amount: 100, currency: "eur", status: "pending" } },
    });
    const late = await post(older);
    expect(late.status).toBe(200);
    expect(await consume(late.queued, keyed())).toEqual({ acked: 1, retried: 0 });
    expect(await chargeRow(ch)).toMatchObject({ amount_minor: 4250, status: "succeeded", last_event_id: id });
  });

  it("with a bad signature are refused with 401 and nothing is stored", async () => {
    const ch = `ch_${uid()}`;
    addCharge(ch);
    const { id, body } = thinEvent("v1.charge.succeeded", { id: ch, type: "charge", url: `/v1/charges/${ch}` });
    const res = await post(body, { secret: "whsec_not_ours" });
    expect(res.status).toBe(401);
    expect(res.queued).toHaveLength(0);
    expect(await ledger(id)).toBeNull();
    expect(
      (await env.LAKE.list({ prefix: "raw/stripe/charges/events/dt=2026-11-20/" })).objects.map((o) => o.key),
    ).not.toContain(`raw/stripe/charges/events/dt=2026-11-20/hour=15/${id}.json`);
    expect((await env.LAKE.list({ prefix: "quarantine/stripe/" })).objects.some((o) => o.key.includes(id))).toBe(false);
    expect(fetchesOf(`/v1/charges/${ch}`)).toBe(0);
    expect(await chargeRow(ch)).toBeNull();
  });

  it("retry while the fetch fails, writing no row, and end applied once it succeeds", async () => {
    const ch = `ch_${uid()}`;
    addCharge(ch, { amount: 999, currency: "jpy" });
    const { id, body } = thinEvent("v1.charge.updated", { id: ch, type: "charge", url: `/v1/charges/${ch}` });
    const { status, queued } = await post(body);
    expect(status).toBe(200);

    stripe.failWith = 503;
    expect(await consume(queued, keyed())).toEqual({ acked: 0, retried: 1 });
    expect(await chargeRow(ch)).toBeNull();
    expect(await ledger(id)).toMatchObject({ status: "retrying" });

    stripe.failWith = null;
    expect(await consume(queued, keyed(), 2)).toEqual({ acked: 1, retried: 0 });
    expect(await ledger(id)).toMatchObject({ status: "applied" });
    expect(fetchesOf(`/v1/charges/${ch}`)).toBe(2);
    expect(await chargeRow(ch)).toMatchObject({ amount_minor: 999, currency: "JPY", last_event_id: id });
  });

  it("naming an object Stripe answers 404 for end archived with the reason", async () => {
    const ch = `ch_gone_${uid()}`;
    const { id, body } = thinEvent("v1.charge.refunded", { id: ch, type: "charge", url: `/v1/charges/${ch}` });
    const { status, queued } = await post(body);
    expect(status).toBe(200);
    expect(await consume(queued, keyed())).toEqual({ acked: 1, retried: 0 });
    expect(await ledger(id)).toMatchObject({
      status: "archived",
      note: `object not fetched: Stripe answered 404 for /v1/charges/${ch}: No such object: '${ch}'`,
      r2_key: `raw/stripe/charges/events/dt=2026-11-20/hour=15/${id}.json`,
    });
    expect(await chargeRow(ch)).toBeNull();
  });

  it("of a type without a table are archived under other, not quarantined, and nothing is fetched", async () => {
    const meter = `mtr_${uid()}`;
    const { id, body } = thinEvent("v1.billing.meter.error_report_triggered", {
      id: meter,
      type: "billing.meter",
      url: `/v1/billing/meters/${meter}`,
    });
    const before = stripe.requests;
    const { status, queued } = await post(body);
    expect(status).toBe(200);
    expect(queued[0]).toMatchObject({ topic: "v1.billing.meter.error_report_triggered", eventId: id });
    expect(await consume(queued, keyed())).toEqual({ acked: 1, retried: 0 });
    const entry = await ledger(id);
    expect(entry).toMatchObject({
      status: "archived",
      note: "no table for Stripe object billing.meter",
      r2_key: `raw/stripe/other/events/dt=2026-11-20/hour=15/${id}.json`,
    });
    expect(await env.LAKE.head(String(entry?.r2_key))).not.toBeNull();
    expect((await env.LAKE.list({ prefix: "quarantine/stripe/" })).objects.some((o) => o.key.includes(id))).toBe(false);
    expect(stripe.requests).toBe(before);
  });
});
