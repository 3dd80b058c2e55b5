import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { eventAlerts, formatMinor } from "../src/consumers/alert-rules";
import { deliverAlerts, MAX_ATTEMPTS } from "../src/cron/alerts/delivery";
import { runJob } from "../src/cron/jobs";
import { type AlertDraft, raiseAlert } from "../src/shared/alerts";
import type { Envelope } from "../src/shared/envelope";
import { consumeBodies, HOUR, iso, MINUTE, routeFetch } from "./cron-helpers";
import rechargeChargeFixture from "./fixtures/recharge/charge.json";
import rechargeSubscriptionFixture from "./fixtures/recharge/subscription.json";
import stripeCharge from "./fixtures/stripe/charge.json";
import stripeDispute from "./fixtures/stripe/dispute.json";
import { ledgerRow } from "./helpers/storage";

afterEach(() => vi.restoreAllMocks());

let seq = 0;
const uid = () => `${Date.now().toString(36)}${++seq}${Math.random().toString(36).slice(2, 6)}`;
const numericUid = () => 600_000_000 + Math.floor(Math.random() * 300_000_000);

function envelope(source: Envelope["source"], topic: string, body: unknown, eventId = `alert-${uid()}`): Envelope {
  return {
    v: 1,
    source,
    topic,
    eventId,
    shop: null,
    receivedAt: new Date().toISOString(),
    eventAt: "2026-11-20T10:00:00.000Z",
    apiVersion: null,
    origin: "webhook",
    body: JSON.stringify(body),
  };
}

function stripeEvent(type: string, object: Record<string, unknown>): Envelope {
  const id = `evt_alert_${uid()}`;
  return envelope("stripe", type, { id, object: "event", type, created: 1_795_000_000, data: { object } }, id);
}

interface AlertRow {
  id: string;
  rule: string;
  alert_key: string;
  severity: string;
  title: string;
  fields: string;
  occurrences: number;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  event_id: string | null;
}

async function alertsFor(key: string): Promise<AlertRow[]> {
  const { results } = await env.DB.prepare("SELECT * FROM alerts WHERE alert_key = ?1 ORDER BY created_at")
    .bind(key)
    .all<AlertRow>();
  return results;
}

describe("event alert rules, raised in the consumer's batch", () => {
  it("a cancelled Recharge subscription alerts once, with its reason; a redelivery does not alert again", async () => {
    const id = numericUid();
    const cancelled = envelope("recharge", "subscription/cancelled", {
      subscription: {
        ...rechargeSubscriptionFixture.subscription,
        id,
        status: "cancelled",
        cancelled_at: "2026-11-20T09:59:00+00:00",
        cancellation_reason: "Too expensive",
        cancellation_reason_comments: "Found a cheaper box",
        updated_at: "2026-11-20T10:00:00+00:00",
      },
    });
    const first = await consumeBodies([cancelled]);
    expect(first.explicitAcks).toHaveLength(1);
    expect(await ledgerRow("recharge", cancelled.eventId)).toMatchObject({ status: "applied" });
    const [alert, ...more] = await alertsFor(`recharge_subscription_cancelled:${id}`);
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      rule: "recharge_subscription_cancelled",
      severity: "info",
      title: `Recharge subscription ${id} cancelled: Too expensive`,
      occurrences: 1,
      status: "pending",
      event_id: cancelled.eventId,
    });
    expect(JSON.parse(alert?.fields ?? "[]")).toContainEqual({ name: "Comments", value: "Found a cheaper box" });

    // The same event delivered again: stored once, alerted once, not even counted.
    await consumeBodies([cancelled]);
    expect(await alertsFor(`recharge_subscription_cancelled:${id}`)).toMatchObject([{ occurrences: 1 }]);

    // Twice in one queue batch (a redelivery that caught up with the first): alerted and counted once.
    const twice = { ...cancelled, eventId: `${cancelled.eventId}-b` };
    await consumeBodies([twice, { ...twice }]);
    expect(await alertsFor(`recharge_subscription_cancelled:${id}`)).toMatchObject([{ occurrences: 2 }]);
    expect(await ledgerRow("recharge", twice.eventId)).toMatchObject({ status: "applied", deliveries: 2 });

    // The same cancellation seen again through another event (e.g. reconciliation): counted, not re-sent.
    await consumeBodies([{ ...cancelled, eventId: `reconcile:subscriptions:${id}:x`, origin: "reconcile" }]);
    expect(await alertsFor(`recharge_subscription_cancelled:${id}`)).toMatchObject([{ occurrences: 3 }]);
  });

  it("a failed Recharge charge alerts from the second billing attempt on", async () => {
    const id = numericUid();
    const failed = (attempts: number) =>
      envelope("recharge", "charge/failed", {
        charge: {
          ...rechargeChargeFixture.charge,
          id,
          status: "error",
          charge_attempts: attempts,
          error_type: "CLOSED_MAX_RETRIES_REACHED",
          error: "card_declined",
          updated_at: `2026-11-20T1${attempts}:00:00+00:00`,
        },
      });
    await consumeBodies([failed(1)]);
    expect(await alertsFor(`recharge_charge_failed:${id}:1`)).toEqual([]);
    await consumeBodies([failed(2)]);
    const [alert] = await alertsFor(`recharge_charge_failed:${id}:2`);
    expect(alert).toMatchObject({ rule: "recharge_charge_failed", severity: "warning", occurrences: 1 });
    expect(JSON.parse(alert?.fields ?? "[]")).toEqual(
      expect.arrayContaining([
        { name: "Attempts", value: "2" },
        { name: "Error", value: "card_declined" },
      ]),
    );
    await consumeBodies([failed(2)]);
    expect(await alertsFor(`recharge_charge_failed:${id}:2`)).toHaveLength(1);
  });

  it("a failed Stripe charge alerts at or above the high-value threshold only", async () => {
    const small = `ch_alert_${uid()}`;
    const big = `ch_alert_${uid()}`;
    const failed = (id: string, amount: number) =>
      stripeEvent("charge.failed", {
        ...stripeCharge,
        id,
        amount,
        status: "failed",
        paid: false,
        failure_code: "card_declined",
        failure_message: "Your card was declined.",
      });
    const bigEvent = failed(big, 10_000);
    await consumeBodies([failed(small, 9_999), bigEvent]);
    expect(await alertsFor(`stripe_charge_failed:${small}`)).toEqual([]);
    expect(await alertsFor(`stripe_charge_failed:${big}`)).toMatchObject([
      { rule: "stripe_charge_failed", title: `Stripe charge ${big} of 100.00 USD failed`, occurrences: 1 },
    ]);
    await consumeBodies([bigEvent]);
    expect(await alertsFor(`stripe_charge_failed:${big}`)).toMatchObject([{ occurrences: 1 }]);
  });

  it("every Stripe dispute opened or closed alerts, each once", async () => {
    const id = `dp_alert_${uid()}`;
    const created = stripeEvent("charge.dispute.created", { ...stripeDispute, id, status: "needs_response" });
    const closed = stripeEvent("charge.dispute.closed", { ...stripeDispute, id, status: "lost" });
    await consumeBodies([created, closed, created]);
    expect(await alertsFor(`stripe_dispute_created:${id}`)).toMatchObject([
      {
        rule: "stripe_dispute_created",
        severity: "critical",
        title: `Stripe dispute ${id} opened for 10.00 USD (general)`,
      },
    ]);
    expect(await alertsFor(`stripe_dispute_closed:${id}`)).toMatchObject([
      { rule: "stripe_dispute_closed", severity: "warning", title: `Stripe dispute ${id} closed: lost (10.00 USD)` },
    ]);
  });

  it("rules read amounts exactly in every currency exponent", () => {
    expect(formatMinor(10_000, "usd")).toBe("100.00 USD");
    expect(formatMinor(10_000, "JPY")).toBe("10000 JPY");
    expect(formatMinor(1_250, "KWD")).toBe("1.250 KWD");
    expect(formatMinor(5, "eur")).toBe("0.05 EUR");
    const t = { stripeFailedChargeMinor: 10_000, rechargeFailedAttempts: 2 };
    expect(eventAlerts("stripe", "charge.failed", "e", "not json", t)).toEqual([]);
    expect(eventAlerts("stripe", "charge.succeeded", "e", "{}", t)).toEqual([]);
  });
});

describe("dedupe window", () => {
  const draft = (key: string): AlertDraft => ({
    rule: "dq_fail",
    key,
    severity: "warning",
    title: "test alert",
    fields: [],
    source: null,
    eventId: null,
  });

  it("one alert per key within the window; a new one after it", async () => {
    const key = `dq_fail:window:${uid()}`;
    const t = Date.parse("2033-01-10T10:00:00Z");
    const window = 180 * MINUTE;
    for (const at of [t, t + HOUR, t + 2 * HOUR]) await env.DB.batch(raiseAlert(env.DB, draft(key), iso(at), window));
    expect(await alertsFor(key)).toMatchObject([{ occurrences: 3 }]);
    await env.DB.batch(raiseAlert(env.DB, draft(key), iso(t + 3 * HOUR + MINUTE), window));
    expect(await alertsFor(key)).toMatchObject([{ occurrences: 3 }, { occurrences: 1 }]);
  });
});

describe("delivery", () => {
  const HOOK = "https://hooks.slack.test/services/T000/B000/secret";
  const alertEnv = (): Env => ({ ...env, ALERT_WEBHOOK_URL: HOOK });

  function hook(statuses: number[]) {
    const posts: Array<{ text: string; attachments: Array<{ fields: Array<{ title: string; value: string }> }> }> = [];
    let i = 0;
    routeFetch(() => [
      {
        serves: (url: URL) => url.href === HOOK,
        async handle(request: Request) {
          posts.push(await request.json());
          const status = statuses[Math.min(i++, statuses.length - 1)] ?? 200;
          return new Response(status === 200 ? "ok" : "error", { status });
        },
      },
    ]);
    return posts;
  }

  async function raise(key: string, at: Date): Promise<string> {
    const d: AlertDraft = {
      rule: "stripe_dispute_created",
      key,
      severity: "critical",
      title: "Stripe dispute dp_x opened for 10.00 USD (general)",
      fields: [
        { name: "Dispute", value: "dp_x" },
        { name: "Amount", value: "10.00 USD" },
      ],
      source: "stripe",
      eventId: null,
    };
    await env.DB.batch(raiseAlert(env.DB, d, at.toISOString(), 180 * MINUTE));
    const [row] = await alertsFor(key);
    if (!row) throw new Error("alert not raised");
    return row.id;
  }

  it("posts Slack-compatible text with structured fields and marks the alert sent", async () => {
    const now = new Date();
    const id = await raise(`delivery:${uid()}`, now);
    const posts = hook([200]);
    expect(await deliverAlerts(alertEnv(), { now, ids: [id] })).toMatchObject({ configured: true, sent: 1 });
    expect(posts).toEqual([
      {
        text: "[CRITICAL] Stripe dispute dp_x opened for 10.00 USD (general)",
        attachments: [
          expect.objectContaining({
            color: "#d1242f",
            fields: [
              { title: "Dispute", value: "dp_x", short: true },
              { title: "Amount", value: "10.00 USD", short: true },
            ],
          }),
        ],
      },
    ]);
    const row = await env.DB.prepare("SELECT status, attempts, sent_at FROM alerts WHERE id = ?1").bind(id).first();
    expect(row).toEqual({ status: "sent", attempts: 1, sent_at: now.toISOString() });
    // Sent is final: a second pass posts nothing.
    expect(await deliverAlerts(alertEnv(), { now, ids: [id] })).toMatchObject({ sent: 0 });
    expect(posts).toHaveLength(1);
  });

  it("an endpoint answering 500 breaks nothing: the alert waits and is retried later", async () => {
    const now = new Date();
    const id = await raise(`delivery:${uid()}`, now);
    const posts = hook([500, 200]);
    const run = await deliverAlerts(alertEnv(), { now, ids: [id] });
    expect(run).toMatchObject({ sent: 0, retrying: 1 });
    const after = await env.DB.prepare("SELECT status, attempts, next_attempt_at, last_error FROM alerts WHERE id = ?1")
      .bind(id)
      .first();
    expect(after).toEqual({
      status: "pending",
      attempts: 1,
      next_attempt_at: iso(now.getTime() + MINUTE),
      last_error: "HTTP 500",
    });
    // Not due yet: nothing is posted.
    expect(await deliverAlerts(alertEnv(), { now, ids: [id] })).toMatchObject({ sent: 0, retrying: 0 });
    expect(posts).toHaveLength(1);
    // Due: retried and delivered.
    expect(await deliverAlerts(alertEnv(), { now: new Date(now.getTime() + 2 * MINUTE), ids: [id] })).toMatchObject({
      sent: 1,
    });
    expect(posts).toHaveLength(2);
  });

  it("stops posting at the invocation's deadline and leaves the rest pending for the next run at once", async () => {
    const now = new Date();
    const ids = [await raise(`delivery:${uid()}`, now), await raise(`delivery:${uid()}`, now)];
    const posts = hook([200, 200]);
    // 12 s left, and each post takes 5 s on this clock: the first (up to 10 s) fits, the second would not.
    const start = now.getTime();
    const clock = vi.spyOn(Date, "now").mockImplementation(() => start + posts.length * 5_000);
    const sent = deliverAlerts(alertEnv(), { now, ids, deadline: start + 12_000 }).finally(() => clock.mockRestore());
    expect(await sent).toMatchObject({ sent: 1, deferred: 1 });
    expect(posts).toHaveLength(1);
    const rows = await env.DB.prepare("SELECT status, claimed_until FROM alerts WHERE id IN (?1, ?2) ORDER BY status")
      .bind(...ids)
      .all();
    expect(rows.results).toEqual([
      { status: "pending", claimed_until: null },
      { status: "sent", claimed_until: null },
    ]);
    // The next run posts it at once, without waiting for a claim to lapse.
    expect(await deliverAlerts(alertEnv(), { now, ids })).toMatchObject({ sent: 1, deferred: 0 });
  });

  it("events keep flowing while the endpoint fails: the consumer never calls it", async () => {
    const failing = routeFetch(() => [
      { serves: () => true, handle: async () => new Response("down", { status: 500 }) },
    ]);
    const id = `dp_alert_${uid()}`;
    const result = await consumeBodies([stripeEvent("charge.dispute.created", { ...stripeDispute, id })], alertEnv());
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(failing).not.toHaveBeenCalled();
    expect(await alertsFor(`stripe_dispute_created:${id}`)).toMatchObject([{ status: "pending" }]);
    // A job run with the endpoint down still completes; the alert stays pending for the next run.
    const run = await runJob(alertEnv(), "alerts", { now: new Date() });
    expect(run.alerts?.configured).toBe(true);
    const [row] = await alertsFor(`stripe_dispute_created:${id}`);
    expect(row).toMatchObject({ status: "pending", attempts: 1, last_error: "HTTP 500" });
  });

  it("gives up after the last attempt, and expires alerts older than a day", async () => {
    const start = new Date();
    const id = await raise(`delivery:${uid()}`, start);
    hook([503]);
    let at = start.getTime();
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      await deliverAlerts(alertEnv(), { now: new Date(at), ids: [id] });
      at += 61 * MINUTE;
    }
    const row = await env.DB.prepare("SELECT status, attempts FROM alerts WHERE id = ?1").bind(id).first();
    expect(row).toEqual({ status: "failed", attempts: MAX_ATTEMPTS });

    const old = await raise(`delivery:${uid()}`, start);
    expect(await deliverAlerts(alertEnv(), { now: new Date(start.getTime() + 25 * HOUR), ids: [old] })).toMatchObject({
      expired: 1,
      sent: 0,
    });
  });

  it("without ALERT_WEBHOOK_URL nothing is posted and alerts stay pending", async () => {
    const now = new Date();
    const id = await raise(`delivery:${uid()}`, now);
    const posts = hook([200]);
    expect(await deliverAlerts({ ...env, ALERT_WEBHOOK_URL: "" }, { now, ids: [id] })).toMatchObject({
      configured: false,
    });
    expect(posts).toEqual([]);
    expect(await env.DB.prepare("SELECT status FROM alerts WHERE id = ?1").bind(id).first()).toEqual({
      status: "pending",
    });
  });
});
