import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runJob } from "../src/cron/jobs";
import worker from "../src/index";
import { backfills } from "../src/shared/schema/backfills";
import { STRIPE_API_VERSION } from "../src/shared/stripe-version";
import { emailHash } from "../src/tables/subjects";
import { CaptureQueue, consumeCaptured, routeFetch } from "./cron-helpers";
import { FakeRechargeApi, rechargeTime } from "./fakes/recharge-api";
import { FakeStripeApi } from "./fakes/stripe-api";
import rechargeSubscription from "./fixtures/recharge/subscription.json";
import stripeSession from "./fixtures/stripe/checkout.session.json";
import stripeCustomer from "./fixtures/stripe/customer.json";
import stripeSubscription from "./fixtures/stripe/subscription.json";
import { adminRequest, rechargeRequest, stripeEvent, stripeRequest } from "./helpers/requests";
import { expectMatchesMigration } from "./helpers/schema-match";
import { indexEntries } from "./helpers/subject-index";

// Backfill tests use ids prefixed `bkf` and each test clears the backfills it could collide with.
const stripe = new FakeStripeApi("https://stripe-backfill.test", "sk_test_backfill");
const recharge = new FakeRechargeApi("https://recharge-backfill.test", "rc_test_backfill");
beforeEach(() => {
  routeFetch(() => [stripe, recharge]);
});
afterEach(() => vi.restoreAllMocks());

function backfillEnv(queue: CaptureQueue, over: Partial<Env> = {}): Env {
  return {
    ...env,
    EVENTS: queue,
    STRIPE_API_KEY: stripe.key,
    STRIPE_API_BASE: stripe.base,
    RECHARGE_API_TOKEN: recharge.token,
    RECHARGE_API_BASE: recharge.base,
    // Faster than the fakes allow, so their rate limits answer 429 and the job has to back off.
    BACKFILL_STRIPE_REQUESTS_PER_SECOND: "1000",
    BACKFILL_RECHARGE_REQUESTS_PER_SECOND: "1000",
    ...over,
  };
}

async function post(e: Env, body: unknown) {
  const res = await worker.fetch(
    adminRequest("/admin/backfill", undefined, { method: "POST", body: JSON.stringify(body) }),
    e,
    createExecutionContext(),
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
async function progress(e: Env, id: string) {
  const res = await worker.fetch(adminRequest(`/admin/backfill/${id}`), e, createExecutionContext());
  expect(res.status).toBe(200);
  return ((await res.json()) as { backfill: { status: string; resources: Array<Record<string, unknown>> } }).backfill;
}
async function gunzipLines(key: string): Promise<string[]> {
  const obj = await env.LAKE.get(key);
  if (!obj) throw new Error(`no ${key}`);
  const text = await new Response(obj.body.pipeThrough(new DecompressionStream("gzip"))).text();
  return text.trimEnd().split("\n");
}
const clear = () => env.DB.prepare("DELETE FROM backfills").run();
const T0 = Math.floor(Date.parse("2020-06-01T00:00:00Z") / 1000);

describe("backfills table", () => {
  it("matches its drizzle definition", async () => {
    await expectMatchesMigration(backfills);
  });
});

describe("Stripe history backfill", () => {
  it("lists every page (429s waited out), resumes from its checkpoint, archives snapshots and applies as origin bulk", async () => {
    await clear();
    const queue = new CaptureQueue();
    const e = backfillEnv(queue);
    stripe.objects.customers = Array.from({ length: 230 }, (_, i) => ({
      ...stripeCustomer,
      id: `cus_bkf${String(i).padStart(4, "0")}`,
      email: `bkf${i}@example.com`,
      created: T0 + i,
    }));
    stripe.objects.subscriptions = [
      { ...stripeSubscription, id: "sub_bkf_active", customer: "cus_bkf0001", created: T0 },
      { ...stripeSubscription, id: "sub_bkf_canceled", customer: "cus_bkf0002", status: "canceled", created: T0 + 1 },
    ];
    stripe.objects["checkout/sessions"] = [
      {
        ...stripeSession,
        id: "cs_bkf_1",
        created: T0,
        line_items: {
          object: "list",
          has_more: false,
          data: [
            {
              id: "li_bkf_1",
              object: "item",
              description: "Coffee",
              quantity: 2,
              currency: "usd",
              amount_subtotal: 2000,
              amount_total: 2000,
              price: { id: "price_bkf", product: "prod_bkf", unit_amount: 1000 },
            },
          ],
        },
      },
    ];
    stripe.rateLimit = { requests: 1, windowMs: 250 };

    const started = await post(e, {
      source: "stripe",
      resources: ["customers", "subscriptions", "checkout_sessions"],
      since: "2020-01-01T00:00:00Z",
    });
    expect(started.status).toBe(202);
    const id = String(started.body.backfillId);
    // One running backfill per source and resource: a second for customers is refused, nothing recorded.
    const again = await post(e, { source: "stripe", resources: ["charges", "customers"] });
    expect(again.status).toBe(409);
    expect(again.body.running).toEqual([{ resource: "customers", backfillId: id }]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM backfills").first<{ n: number }>())?.n).toBe(3);

    // First run: one page each. Customers stop after 100 with their cursor saved.
    const first = await runJob(e, "backfill", { now: new Date(), options: { maxPages: 1 } });
    expect(first.job).toBe("backfill");
    let state = await progress(e, id);
    expect(state.status).toBe("running");
    const customers = () => state.resources.find((r) => r.resource === "customers");
    expect(customers()).toMatchObject({ status: "running", pages: 1, listed: 100, sent: 100, cursor: "cus_bkf0130" });
    expect(state.resources.find((r) => r.resource === "subscriptions")).toMatchObject({
      status: "completed",
      listed: 2,
    });

    // Second run continues from the checkpoint to the end (230 = 100 + 100 + 30).
    await runJob(e, "backfill", { now: new Date() });
    state = await progress(e, id);
    expect(state.status).toBe("completed");
    expect(customers()).toMatchObject({ status: "completed", pages: 3, listed: 230, sent: 230 });
    expect(stripe.throttled).toBeGreaterThan(0);
    const throttledTotal = state.resources.reduce((n, r) => n + Number(r.throttled), 0);
    expect(throttledTotal).toBe(stripe.throttled);

    // Every object was queued exactly once, with origin bulk and ids derived from the backfill.
    const envelopes = queue.envelopes();
    expect(envelopes).toHaveLength(233);
    expect(new Set(envelopes.map((x) => x.eventId)).size).toBe(233);
    expect(envelopes.every((x) => x.origin === "bulk")).toBe(true);
    // Listed in the pinned Stripe version, which each event records for the mapper.
    expect(new Set(stripe.versions)).toEqual(new Set([STRIPE_API_VERSION]));
    expect(envelopes.every((x) => x.apiVersion === STRIPE_API_VERSION)).toBe(true);
    const customerEvent = envelopes.find((x) => x.topic === "customer.backfill");
    expect(customerEvent?.eventId).toMatch(/^backfill:customers:cus_bkf\d{4}:[0-9a-f]{12}$/);

    // Snapshots: one gzipped JSON-lines file per page, the objects as listed.
    const day = new Date().toISOString().slice(0, 10);
    const listed = await env.LAKE.list({ prefix: `raw/stripe/customers/snapshots/dt=${day}/${id}-` });
    expect(listed.objects.map((o) => o.key)).toEqual(
      [1, 2, 3].map((n) => `raw/stripe/customers/snapshots/dt=${day}/${id}-0000${n}.jsonl.gz`),
    );
    const lines = await gunzipLines(listed.objects[2]?.key ?? "");
    expect(lines).toHaveLength(30);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ id: "cus_bkf0029", email: "bkf29@example.com" });
    // Each snapshot is in the privacy index under the people it names, so an erasure finds it.
    const hash = await emailHash(env, "bkf29@example.com");
    const indexed = await indexEntries({ kind: "email", keyPrefix: "raw/stripe/customers/snapshots/" });
    expect(indexed.filter((e) => e.id === hash).map((e) => e.key)).toEqual([listed.objects[2]?.key]);

    // A customer already stored from a newer webhook keeps it: the listing is older than that event.
    await env.DB.prepare(
      `INSERT INTO stripe_customers (id, email, event_created, updated_at, last_event_id)
       VALUES ('cus_bkf0007', 'newer@example.com', ?1, '2100-01-01T00:00:00.000Z', 'evt_newer')
       ON CONFLICT (id) DO UPDATE SET email = excluded.email, event_created = excluded.event_created`,
    )
      .bind(Math.floor(Date.parse("2100-01-01T00:00:00Z") / 1000))
      .run();
    const consumed = await consumeCaptured(queue);
    expect(consumed.explicitAcks).toHaveLength(233);
    const row = (table: string, rowId: string) =>
      env.DB.prepare(`SELECT * FROM ${table} WHERE id = ?1`).bind(rowId).first<Record<string, unknown>>();
    expect(await row("stripe_customers", "cus_bkf0100")).toMatchObject({ email: "bkf100@example.com" });
    expect(await row("stripe_customers", "cus_bkf0007")).toMatchObject({ email: "newer@example.com" });
    // status=all: the canceled subscription is there too.
    expect(await row("stripe_subscriptions", "sub_bkf_canceled")).toMatchObject({ status: "canceled" });
    // Line items came expanded with the session: stored without a call to the line-items API.
    const items = await env.DB.prepare(
      "SELECT id, quantity FROM stripe_checkout_session_line_items WHERE session_id = 'cs_bkf_1'",
    ).all();
    expect(items.results).toEqual([{ id: "li_bkf_1", quantity: 2 }]);
    const ledger = await env.DB.prepare(
      "SELECT origin, topic, status FROM webhook_events WHERE source = 'stripe' AND event_id = ?1",
    )
      .bind(customerEvent?.eventId)
      .first();
    expect(ledger).toMatchObject({ origin: "bulk", topic: "customer.backfill", status: "applied" });
    // A redelivered page (a run that died before its checkpoint) changes nothing.
    const again2 = await consumeCaptured(queue);
    expect(again2.explicitAcks).toHaveLength(233);
    expect(await row("stripe_customers", "cus_bkf0007")).toMatchObject({ email: "newer@example.com" });
    stripe.rateLimit = null;
  }, 30_000);

  it("waits (retry_at) while Stripe keeps throttling, fails on a refused key, and needs the key to start", async () => {
    await clear();
    const queue = new CaptureQueue();
    const e = backfillEnv(queue);
    stripe.objects.refunds = [];
    stripe.objects.disputes = [];
    const started = await post(e, { source: "stripe", resources: ["refunds"] });
    expect(started.status).toBe(202);
    stripe.rateLimit = { requests: 0, windowMs: 60_000 };
    const run = await runJob(e, "backfill", { now: new Date() });
    expect(run.job === "backfill" && run.result.items[0]).toMatchObject({ status: "deferred", pages: 0 });
    const deferred = await env.DB.prepare("SELECT status, failures, retry_at, error FROM backfills").first<
      Record<string, string | number>
    >();
    expect(deferred).toMatchObject({ status: "running", failures: 1 });
    expect(Date.parse(String(deferred?.retry_at))).toBeGreaterThan(Date.now() + 50_000);
    expect(String(deferred?.error)).toContain("HTTP 429");
    // Not due again before retry_at: the next run leaves it alone.
    const next = await runJob(e, "backfill", { now: new Date() });
    expect(next.job === "backfill" && next.result.items).toEqual([]);
    stripe.rateLimit = null;

    const disputes = await post(e, { source: "stripe", resources: ["disputes"] });
    const wrongKey = backfillEnv(queue, { STRIPE_API_KEY: "sk_test_wrong" });
    await runJob(wrongKey, "backfill", { now: new Date() });
    const failed = await progress(e, String(disputes.body.backfillId));
    expect(failed.status).toBe("failed");
    expect(failed.resources[0]).toMatchObject({ status: "failed" });
    expect(String(failed.resources[0]?.error)).toContain("HTTP 401");
    // Failed is not running: the resource can be backfilled again.
    expect((await post(e, { source: "stripe", resources: ["disputes"] })).status).toBe(202);

    expect(
      (await post(backfillEnv(queue, { STRIPE_API_KEY: "" }), { source: "stripe", resources: ["charges"] })).status,
    ).toBe(503);
    expect((await post(e, { source: "stripe", resources: ["orders"] })).status).toBe(400);
    expect((await post(e, { source: "recharge", resources: ["customers", "customers"] })).status).toBe(400);
    expect((await post(e, { source: "stripe", resources: ["charges"], since: "yesterday" })).status).toBe(400);
    expect(queue.sent).toHaveLength(0);
  }, 15_000);
});

describe("Recharge history backfill", () => {
  it("pages with next_cursor through the leaky bucket and applies subscriptions as origin bulk", async () => {
    await clear();
    const queue = new CaptureQueue();
    const e = backfillEnv(queue);
    recharge.bucket = 1;
    // One call a second: the second page comes sooner (its first page takes well under a second to queue), so it meets a 429.
    recharge.leakPerSecond = 1;
    const base = Date.parse("2021-03-01T00:00:00Z");
    recharge.subscriptions.length = 0;
    for (let i = 0; i < 260; i++) {
      recharge.subscriptions.push({
        ...rechargeSubscription.subscription,
        id: 880_000_000 + i,
        customer_id: 770_000_000 + i,
        updated_at: rechargeTime(base + i * 1000),
      });
    }
    const started = await post(e, { source: "recharge", resources: ["subscriptions"], since: "2021-01-01T00:00:00Z" });
    expect(started.status).toBe(202);
    await runJob(e, "backfill", { now: new Date() });
    const state = await progress(e, String(started.body.backfillId));
    expect(state).toMatchObject({ status: "completed" });
    expect(state.resources[0]).toMatchObject({ pages: 2, listed: 260, sent: 260 });
    // The first request carries the filters; the second only the cursor, as Recharge requires.
    const requested = recharge.requested.filter((r) => r.startsWith("/subscriptions"));
    expect(requested[0]).toContain("updated_at_min=2021-01-01T00%3A00%3A00");
    expect(requested.at(-1)).toMatch(/^\/subscriptions\?limit=250&cursor=[^&]+$/);
    expect(recharge.throttled).toBeGreaterThan(0);
    expect(state.resources[0]?.throttled).toBe(recharge.throttled);

    const envelopes = queue.envelopes();
    expect(envelopes).toHaveLength(260);
    expect(envelopes[0]).toMatchObject({ source: "recharge", topic: "subscription/backfill", origin: "bulk" });
    await consumeCaptured(queue);
    const stored = await env.DB.prepare(
      "SELECT count(*) AS n FROM recharge_subscriptions WHERE id BETWEEN '880000000' AND '880000259'",
    ).first<{ n: number }>();
    expect(stored?.n).toBe(260);
    recharge.bucket = 40;
    recharge.leakPerSecond = 2;
  }, 15_000);
});

describe("a listed object against webhooks still in flight", () => {
  // Sends one webhook through ingress and the real consumer.
  async function deliver(e: Env, request: Request) {
    const hook = new CaptureQueue();
    const res = await worker.fetch(request, { ...e, EVENTS: hook }, createExecutionContext());
    expect(res.status).toBe(200);
    await consumeCaptured(hook);
  }
  const email = async (table: string, id: string) =>
    (await env.DB.prepare(`SELECT email FROM ${table} WHERE id = ?1`).bind(id).first<{ email: string }>())?.email;

  it("dates a Stripe listing by Stripe's clock: an older webhook loses to it, a newer one wins", async () => {
    await clear();
    const queue = new CaptureQueue();
    const e = backfillEnv(queue);
    // Stripe's clock ten minutes behind ours: a change Stripe makes right after the listing is
    // dated ten minutes before our "now", and must still beat the listing.
    stripe.clockOffsetMs = -600_000;
    const stripeNow = () => Math.floor((Date.now() + stripe.clockOffsetMs) / 1000);
    stripe.objects.customers = [1, 2].map((n) => ({
      ...stripeCustomer,
      id: `cus_bkfclock${n}`,
      email: `listed${n}@example.com`,
      created: T0 + n,
    }));
    const started = await post(e, { source: "stripe", resources: ["customers"] });
    expect(started.status).toBe(202);
    const before = stripeNow();
    await runJob(e, "backfill", { now: new Date() });
    const after = stripeNow();
    const listed = queue.envelopes();
    expect(listed).toHaveLength(2);
    // Dated just before Stripe read the page, on Stripe's clock (not ours, ten minutes ahead).
    const created = (JSON.parse(listed[0]?.body ?? "{}") as { created: number }).created;
    expect(created).toBeLessThan(after);
    expect(created).toBeGreaterThanOrEqual(before - 3);
    expect(listed[0]?.eventAt).toBe(new Date(created * 1000).toISOString());

    // A change made after the listing reaches us first: the listing, applied later, does not undo it.
    const customer = (n: number, mail: string) => ({ ...stripeCustomer, id: `cus_bkfclock${n}`, email: mail });
    await deliver(
      e,
      await stripeRequest(stripeEvent(customer(2, "newer2@example.com"), "customer.updated", undefined, after)),
    );
    await consumeCaptured(queue);
    expect(await email("stripe_customers", "cus_bkfclock1")).toBe("listed1@example.com");
    expect(await email("stripe_customers", "cus_bkfclock2")).toBe("newer2@example.com");
    // An older webhook still in flight (its change was before the listing) leaves the listed state.
    await deliver(
      e,
      await stripeRequest(stripeEvent(customer(1, "older1@example.com"), "customer.updated", undefined, before - 30)),
    );
    expect(await email("stripe_customers", "cus_bkfclock1")).toBe("listed1@example.com");
    // A newer one, made after the listing, overwrites it.
    await deliver(
      e,
      await stripeRequest(stripeEvent(customer(1, "newer1@example.com"), "customer.updated", undefined, after)),
    );
    expect(await email("stripe_customers", "cus_bkfclock1")).toBe("newer1@example.com");
    stripe.clockOffsetMs = 0;
  });

  it("orders a Recharge listing by the object's own updated_at", async () => {
    await clear();
    const queue = new CaptureQueue();
    const e = backfillEnv(queue);
    const updated = Date.parse("2024-05-01T10:00:00Z");
    const subscription = (mail: string, at: number) => ({
      ...rechargeSubscription.subscription,
      id: 880_100_001,
      customer_id: 770_100_001,
      email: mail,
      updated_at: rechargeTime(at),
    });
    recharge.subscriptions.length = 0;
    recharge.subscriptions.push(subscription("listed@example.com", updated));
    expect((await post(e, { source: "recharge", resources: ["subscriptions"] })).status).toBe(202);
    await runJob(e, "backfill", { now: new Date() });
    expect(queue.envelopes()[0]?.eventAt).toBe("2024-05-01T10:00:00.000Z");
    await consumeCaptured(queue);
    expect(await email("recharge_subscriptions", "880100001")).toBe("listed@example.com");
    const hook = (mail: string, at: number) =>
      rechargeRequest(JSON.stringify({ subscription: subscription(mail, at) }), { topic: "subscription/updated" });
    await deliver(e, await hook("older@example.com", updated - 60_000));
    expect(await email("recharge_subscriptions", "880100001")).toBe("listed@example.com");
    await deliver(e, await hook("newer@example.com", updated + 60_000));
    expect(await email("recharge_subscriptions", "880100001")).toBe("newer@example.com");
  });
});

describe("Stripe reconciliation older than the Events API's 30 days", () => {
  it("hands the gap to a backfill of every Stripe list and reconciles events from where the API reaches", async () => {
    await clear();
    const saved = await env.DB.prepare("SELECT * FROM sync_cursors WHERE source = 'stripe'").all();
    await env.DB.prepare("DELETE FROM sync_cursors WHERE source = 'stripe'").run();
    const now = new Date("2045-03-01T00:00:00.000Z");
    const cursor = "2045-01-10T00:00:00.000Z"; // 50 days back
    await env.DB.prepare(
      `INSERT INTO sync_cursors (source, shop, resource, name, value, updated_at)
       VALUES ('stripe', '', 'events', 'reconcile', ?1, ?1)`,
    )
      .bind(cursor)
      .run();
    try {
      const queue = new CaptureQueue();
      const run = await runJob(backfillEnv(queue), "reconcile", { now, options: { sources: ["stripe"] } });
      const report = run.job === "reconcile" ? run.result.scopes.find((s) => s.source === "stripe") : undefined;
      // Window start: cursor minus the 5-minute overlap, which is before the API's reach
      // (now - 30 days + 1 hour = 2045-01-30T01:00Z): that part goes to the backfill.
      expect(report?.windowFrom).toBe("2045-01-30T01:00:00.000Z");
      expect(report?.note).toMatch(
        /^cursor older than the Events API's 30 days: 2045-01-09T23:55:00.000Z to 2045-01-30T01:00:00.000Z is listed by backfill bf_/,
      );
      const rows = await env.DB.prepare(
        "SELECT source, resource, since, until, status, requested_by FROM backfills ORDER BY resource",
      ).all();
      expect(rows.results.map((r) => r.resource)).toEqual([
        "charges",
        "checkout_sessions",
        "customers",
        "disputes",
        "invoice_payments",
        "invoices",
        "payment_intents",
        "refunds",
        "subscriptions",
      ]);
      expect(rows.results[0]).toEqual({
        source: "stripe",
        resource: "charges",
        since: "2045-01-09T23:55:00.000Z",
        until: "2045-01-30T01:00:00.000Z",
        status: "running",
        requested_by: "reconcile",
      });
      // The backfill lists only objects created in the gap.
      stripe.objects.charges = [];
      await runJob(backfillEnv(queue), "backfill", { now: new Date(), options: { maxPages: 1 } });
      const listed = stripe.requested.find((u) => u.startsWith("/v1/charges"));
      expect(listed).toContain(`created%5Bgte%5D=${Date.parse("2045-01-09T23:55:00Z") / 1000}`);
      expect(listed).toContain(`created%5Blte%5D=${Date.parse("2045-01-30T01:00:00Z") / 1000}`);
    } finally {
      await env.DB.prepare("DELETE FROM sync_cursors WHERE source = 'stripe'").run();
      for (const r of saved.results) {
        await env.DB.prepare(
          "INSERT INTO sync_cursors (source, shop, resource, name, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
          .bind(r.source, r.shop, r.resource, r.name, r.value, r.updated_at)
          .run();
      }
      await clear();
    }
  }, 15_000);
});
