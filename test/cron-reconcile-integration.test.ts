import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runJob } from "../src/cron/jobs";
import type { ReconcileResult } from "../src/cron/reconcile/reconcile";
import worker from "../src/index";
import { STRIPE_API_VERSION } from "../src/shared/stripe-version";
import {
  CaptureQueue,
  consumeCaptured,
  HOUR,
  iso,
  MINUTE,
  registerShopToken,
  routeFetch,
  seedLedger,
} from "./cron-helpers";
import { FakeRechargeApi, type RechargeObject, rechargeTime } from "./fakes/recharge-api";
import { FakeShopifyAdmin } from "./fakes/shopify-admin";
import { makeShopData } from "./fakes/shopify-data";
import { FakeStripeApi } from "./fakes/stripe-api";
import rechargeChargeFixture from "./fixtures/recharge/charge.json";
import rechargeSubscriptionFixture from "./fixtures/recharge/subscription.json";
import stripeCharge from "./fixtures/stripe/charge.json";
import { ledgerRow } from "./helpers/storage";

// Reconciliation tests live in 2032, away from every other test's rows.
const stripe = new FakeStripeApi("https://stripe.test", "sk_test_cron");
const recharge = new FakeRechargeApi("https://recharge.test", "rc_test_cron");
const shopifyFakes: FakeShopifyAdmin[] = [];

beforeEach(() => {
  routeFetch(() => [stripe, recharge, ...shopifyFakes]);
});
afterEach(() => vi.restoreAllMocks());

function cronEnv(queue: CaptureQueue, over: Partial<Env> = {}): Env {
  return {
    ...env,
    EVENTS: queue,
    STRIPE_API_KEY: stripe.key,
    STRIPE_API_BASE: stripe.base,
    RECHARGE_API_TOKEN: recharge.token,
    RECHARGE_API_BASE: recharge.base,
    ...over,
  };
}

function scope(result: ReconcileResult, source: string) {
  const s = result.scopes.find((x) => x.source === source);
  if (!s) throw new Error(`no ${source} scope in the report`);
  const t = Object.values(s.resources).reduce(
    (a, r) => ({
      lookedAt: a.lookedAt + r.lookedAt,
      missing: a.missing + r.missing,
      stale: a.stale + r.stale,
      repaired: a.repaired + r.repaired,
    }),
    { lookedAt: 0, missing: 0, stale: 0, repaired: 0 },
  );
  return { ...s, ...t };
}

async function reconcile(e: Env, now: number, sources: Array<"stripe" | "recharge" | "shopify">, shops?: string[]) {
  const run = await runJob(e, "reconcile", { now: new Date(now), options: { sources, ...(shops ? { shops } : {}) } });
  if (run.job !== "reconcile") throw new Error("not a reconcile run");
  return run.result;
}

async function rawObject(key: string): Promise<Record<string, unknown> | null> {
  const obj = await env.LAKE.get(key);
  return obj ? ((await obj.json()) as Record<string, unknown>) : null;
}

describe("Stripe reconciliation", () => {
  const NOW = Date.parse("2032-01-10T12:00:00Z");

  it("repairs an event whose webhook never arrived: archived and applied with origin reconcile", async () => {
    const created = Math.floor((NOW - 30 * MINUTE) / 1000);
    const delivered = stripe.add(
      "charge.succeeded",
      { ...stripeCharge, id: "ch_cron_delivered" },
      created,
      "evt_cron_delivered",
    );
    stripe.add("charge.succeeded", { ...stripeCharge, id: "ch_cron_missed" }, created + 60, "evt_cron_missed");
    await seedLedger([
      {
        source: "stripe",
        eventId: delivered.id,
        topic: "charge.succeeded",
        resource: "charges",
        receivedAt: iso(NOW - 29 * MINUTE),
      },
    ]);
    const queue = new CaptureQueue();
    const requestsBefore = stripe.requests;

    const result = await reconcile(cronEnv(queue), NOW, ["stripe"]);
    const s = scope(result, "stripe");
    expect(s).toMatchObject({ status: "ok", lookedAt: 2, missing: 1, stale: 0, repaired: 1, apiCalls: 1 });
    expect(stripe.requests - requestsBefore).toBe(1);
    expect(stripe.versions.at(-1)).toBe(STRIPE_API_VERSION);
    expect(queue.envelopes()).toEqual([
      expect.objectContaining({
        source: "stripe",
        topic: "charge.succeeded",
        eventId: "evt_cron_missed",
        origin: "reconcile",
        eventAt: iso((created + 60) * 1000),
        shop: null,
      }),
    ]);

    const consumed = await consumeCaptured(queue);
    expect(consumed.explicitAcks).toHaveLength(1);
    const ledger = await ledgerRow("stripe", "evt_cron_missed");
    expect(ledger).toMatchObject({ origin: "reconcile", status: "applied", resource: "charges" });
    const raw = await rawObject(ledger?.r2_key ?? "");
    expect(ledger?.r2_key).toBe("raw/stripe/charges/events/dt=2032-01-10/hour=11/evt_cron_missed.json");
    expect(raw).toMatchObject({ event_id: "evt_cron_missed", origin: "reconcile", payload: { id: "evt_cron_missed" } });
    const charge = await env.DB.prepare("SELECT last_event_id FROM stripe_charges WHERE id = 'ch_cron_missed'").first();
    expect(charge).toEqual({ last_event_id: "evt_cron_missed" });

    // The report: one R2 document and one D1 row per scope.
    expect(await rawObject(result.reportKey)).toMatchObject({ run_id: result.runId, job: "reconcile" });
    expect(result.reportKey).toBe(`metadata/reconcile/dt=2032-01-10/${result.runId}.json`);
    const row = await env.DB.prepare("SELECT * FROM reconcile_runs WHERE run_id = ?1 AND source = 'stripe'")
      .bind(result.runId)
      .first();
    expect(row).toMatchObject({ status: "ok", looked_at: 2, missing: 1, repaired: 1, api_calls: 1 });

    // Re-running the same window sends nothing new: both events are in the ledger now.
    queue.clear();
    const again = scope(await reconcile(cronEnv(queue), NOW + 15 * MINUTE, ["stripe"]), "stripe");
    expect(again).toMatchObject({ status: "ok", missing: 0, repaired: 0, apiCalls: 1 });
    expect(queue.sent).toEqual([]);
  });

  it("pages through a busy window and resumes a page-limited run without losing events", {
    timeout: 30_000,
  }, async () => {
    const now = Date.parse("2032-01-11T12:00:00Z");
    const base = Math.floor((now - 40 * MINUTE) / 1000);
    // A first-ever run (no cursor) that stops at its page limit must keep its whole window.
    await env.DB.prepare("DELETE FROM sync_cursors WHERE source = 'stripe'").run();
    const queue = new CaptureQueue();
    for (let i = 0; i < 250; i++) {
      stripe.add(
        "customer.updated",
        { id: `cus_cron_page_${i}`, object: "customer", email: `p${i}@example.com`, created: base },
        base + 600 + i,
      );
    }
    const e = cronEnv(queue, { RECONCILE_MAX_PAGES: "2" });
    const first = scope(await reconcile(e, now, ["stripe"]), "stripe");
    expect(first).toMatchObject({ status: "partial", lookedAt: 200, repaired: 200, apiCalls: 2 });
    await consumeCaptured(queue);
    const firstIds = queue.envelopes().map((x) => x.eventId);
    queue.clear();
    const second = scope(await reconcile(e, now + 15 * MINUTE, ["stripe"]), "stripe");
    expect(second).toMatchObject({ status: "ok", repaired: 50 });
    await consumeCaptured(queue);
    const ids = new Set([...firstIds, ...queue.envelopes().map((x) => x.eventId)]);
    expect(ids.size).toBe(250);
    // A quiet run afterwards: one request, nothing sent.
    queue.clear();
    const quiet = scope(await reconcile(e, now + 30 * MINUTE, ["stripe"]), "stripe");
    expect(quiet).toMatchObject({ status: "ok", repaired: 0, apiCalls: 1 });
  });

  it("leaves the cursor alone when Stripe fails, and reports the error", async () => {
    const now = Date.parse("2032-01-12T12:00:00Z");
    const queue = new CaptureQueue();
    stripe.failWith = 401;
    try {
      const s = scope(await reconcile(cronEnv(queue), now, ["stripe"]), "stripe");
      expect(s.status).toBe("error");
      expect(s.error).toContain("HTTP 401");
    } finally {
      stripe.failWith = null;
    }
  });
});

describe("Recharge reconciliation", () => {
  const NOW = Date.parse("2032-02-10T12:00:00Z");
  const subscription = (id: number, updatedMs: number, over: Record<string, unknown> = {}): RechargeObject => ({
    ...rechargeSubscriptionFixture.subscription,
    id,
    updated_at: rechargeTime(updatedMs),
    ...over,
  });
  const charge = (id: number, updatedMs: number, over: Record<string, unknown> = {}): RechargeObject => ({
    ...rechargeChargeFixture.charge,
    id,
    updated_at: rechargeTime(updatedMs),
    ...over,
  });

  it("repairs a missing subscription and refreshes a stale charge; a quiet run costs one request per resource", async () => {
    const queue = new CaptureQueue();
    const e = cronEnv(queue);
    // 300 subscriptions (two pages), all stored except one; one charge stored in an older version.
    const subs = Array.from({ length: 300 }, (_, i) => subscription(880_000_000 + i, NOW - 50 * MINUTE + i * 1000));
    recharge.subscriptions.push(...subs);
    const staleCharge = charge(770_000_001, NOW - 20 * MINUTE, { status: "refunded" });
    recharge.charges.push(staleCharge);
    const withheld = 880_000_123;
    const stored = subs.filter((s) => s.id !== withheld);
    const statements = stored.map((s) =>
      env.DB.prepare(
        "INSERT INTO recharge_subscriptions (id, status, updated_at, last_event_id) VALUES (?1, 'active', ?2, 'seed')",
      ).bind(String(s.id), new Date(Date.parse(s.updated_at)).toISOString()),
    );
    statements.push(
      env.DB.prepare(
        "INSERT INTO recharge_charges (id, status, updated_at, last_event_id) VALUES ('770000001', 'success', ?1, 'seed')",
      ).bind(iso(NOW - 3 * HOUR)),
    );
    await env.DB.batch(statements);
    const before = recharge.requests;

    const s = scope(await reconcile(e, NOW, ["recharge"]), "recharge");
    expect(s).toMatchObject({ status: "ok", lookedAt: 301, missing: 1, stale: 1, repaired: 2 });
    expect(s.resources).toMatchObject({
      subscriptions: { lookedAt: 300, missing: 1, stale: 0, repaired: 1 },
      charges: { lookedAt: 1, missing: 0, stale: 1, repaired: 1 },
    });
    // Two subscription pages, one charge page, and the store's currency (GET /store, at most once a day).
    expect(recharge.requests - before).toBe(4);
    expect(recharge.requested.filter((r) => r === "/store")).toHaveLength(1);
    const sent = queue.envelopes();
    expect(sent.map((x) => [x.topic, x.eventId])).toEqual([
      ["subscription/updated", `reconcile:subscriptions:${withheld}:${iso(Date.parse(subs[123]?.updated_at ?? ""))}`],
      ["charge/refunded", `reconcile:charges:770000001:${iso(NOW - 20 * MINUTE)}`],
    ]);
    expect(sent[0]?.body).toMatch(/^\{"subscription":\{"id":880000123,/);

    await consumeCaptured(queue);
    const sub = await env.DB.prepare("SELECT status, last_event_id FROM recharge_subscriptions WHERE id = ?1")
      .bind(String(withheld))
      .first();
    expect(sub).toEqual({ status: "active", last_event_id: sent[0]?.eventId });
    const refreshed = await env.DB.prepare(
      "SELECT status, updated_at FROM recharge_charges WHERE id = '770000001'",
    ).first();
    expect(refreshed).toEqual({ status: "refunded", updated_at: iso(NOW - 20 * MINUTE) });
    const ledger = await ledgerRow("recharge", sent[1]?.eventId ?? "");
    expect(ledger).toMatchObject({ origin: "reconcile", status: "applied" });
    expect(await env.LAKE.head(ledger?.r2_key ?? "")).not.toBeNull();

    // The next run re-reads its lookback (the last hour before the cursor) and finds nothing to do.
    queue.clear();
    const reread = scope(await reconcile(e, NOW + 70 * MINUTE, ["recharge"]), "recharge");
    expect(reread).toMatchObject({ status: "ok", missing: 0, stale: 0, repaired: 0 });
    // Quiet: nothing changed in the window; one request per resource, nothing sent.
    const quietBefore = recharge.requests;
    const quiet = scope(await reconcile(e, NOW + 140 * MINUTE, ["recharge"]), "recharge");
    expect(quiet).toMatchObject({ status: "ok", lookedAt: 0, repaired: 0, apiCalls: 2 });
    expect(recharge.requests - quietBefore).toBe(2);
    expect(queue.sent).toEqual([]);
  });

  it("skips a scope another run holds, with nothing fetched", async () => {
    const now = Date.parse("2032-02-11T12:00:00Z");
    await env.DB.prepare(
      "INSERT INTO job_leases (name, holder, acquired_at, expires_at) VALUES ('reconcile:recharge', 'other-run', ?1, ?2)",
    )
      .bind(iso(now - MINUTE), iso(now + 10 * MINUTE))
      .run();
    const before = recharge.requests;
    try {
      const s = scope(await reconcile(cronEnv(new CaptureQueue()), now, ["recharge"]), "recharge");
      expect(s.status).toBe("skipped");
      expect(s.note).toContain("other-run");
      expect(recharge.requests).toBe(before);
    } finally {
      await env.DB.prepare("DELETE FROM job_leases WHERE name = 'reconcile:recharge' AND holder = 'other-run'").run();
    }
  });
});

describe("Shopify reconciliation through the coordinator", () => {
  const NOW = Date.parse("2032-03-10T12:00:00Z");

  it("repairs missed orders, refreshes a stale one, and a quiet shop costs one query per listing", async () => {
    const shop = "cron-reconcile.myshopify.com";
    const data = makeShopData(shop, {
      orders: 6,
      lineItemsPerOrder: 12,
      customers: 2,
      products: 2,
      variantsPerProduct: 25,
      since: iso(NOW - 50 * MINUTE),
      firstId: 9_007_199_254_790_001n,
    });
    const fake = new FakeShopifyAdmin(shop, data);
    shopifyFakes.push(fake);
    registerShopToken(shop, fake.token);
    const queue = new CaptureQueue();
    const e = cronEnv(queue);

    // First run: D1 has nothing for this shop, so every record is missing.
    const first = scope(await reconcile(e, NOW, ["shopify"], [shop]), "shopify");
    expect(first).toMatchObject({ status: "ok", lookedAt: 10, missing: 10, stale: 0, repaired: 10 });
    expect(first.resources).toMatchObject({
      orders: { repaired: 6 },
      customers: { repaired: 2 },
      products: { repaired: 2 },
    });
    const consumed = await consumeCaptured(queue);
    expect(consumed.explicitAcks).toHaveLength(10);
    const order = data.orders[0];
    if (!order) throw new Error("no order generated");
    const orderId = order.id.split("/").pop() ?? "";
    const row = await env.DB.prepare(
      "SELECT id, currency, total_price_minor, line_item_count, origin FROM shopify_orders WHERE shop = ?1 AND id = ?2",
    )
      .bind(shop, orderId)
      .first();
    const totalPrice = (order.totalPriceSet as { shopMoney: { amount: string } }).shopMoney.amount;
    expect(row).toEqual({
      id: orderId,
      currency: "USD",
      total_price_minor: Math.round(Number(totalPrice) * 100),
      line_item_count: 12,
      origin: "reconcile",
    });
    const variants = await env.DB.prepare("SELECT COUNT(*) AS n FROM shopify_product_variants WHERE shop = ?1")
      .bind(shop)
      .first<{ n: number }>();
    expect(variants?.n).toBe(50);

    // Then: one order changes in Shopify (webhook lost) and one new order is never delivered.
    queue.clear();
    const later = NOW + 15 * MINUTE;
    const changed = data.orders[2] as Record<string, unknown> & { id: string; updatedAt: string };
    changed.updatedAt = iso(later - 5 * MINUTE).replace(".000Z", "Z");
    changed.displayFinancialStatus = "REFUNDED";
    const extra = makeShopData(shop, { orders: 1, since: iso(later - 4 * MINUTE), firstId: 9_007_199_254_799_001n });
    data.orders.push(...extra.orders);
    const second = scope(await reconcile(e, later, ["shopify"], [shop]), "shopify");
    expect(second).toMatchObject({ status: "ok", missing: 1, stale: 1, repaired: 2 });
    await consumeCaptured(queue);
    const refreshed = await env.DB.prepare(
      "SELECT financial_status, origin FROM shopify_orders WHERE shop = ?1 AND id = ?2",
    )
      .bind(shop, changed.id.split("/").pop())
      .first();
    expect(refreshed).toEqual({ financial_status: "refunded", origin: "reconcile" });

    // Quiet: nothing changed; one listing query for all three resources, one for inventory items and locations.
    queue.clear();
    const requests = fake.stats.requests;
    const quiet = scope(await reconcile(e, later + 15 * MINUTE, ["shopify"], [shop]), "shopify");
    expect(quiet).toMatchObject({ status: "ok", missing: 0, stale: 0, repaired: 0 });
    expect(fake.stats.requests - requests).toBeLessThanOrEqual(3);
    expect(quiet.apiCalls).toBe(2);
    expect(queue.sent).toEqual([]);
  });
});

describe("scheduling", () => {
  it("the scheduled handler runs the job mapped to the cron expression", async () => {
    const when = Date.parse("2032-04-01T09:15:00Z");
    const queue = new CaptureQueue();
    // A first Stripe run: an older cursor left by the tests above would be a gap past the Events API's 30 days.
    await env.DB.prepare("DELETE FROM sync_cursors WHERE source = 'stripe'").run();
    const controller = createScheduledController({ cron: "*/15 * * * *", scheduledTime: when });
    await worker.scheduled(controller, cronEnv(queue, { RECHARGE_API_TOKEN: "", SHOPIFY_ACCESS_TOKENS: "{}" }));
    const rows = await env.DB.prepare(
      "SELECT source, status, error FROM reconcile_runs WHERE started_at = ?1 ORDER BY source",
    )
      .bind(iso(when))
      .all();
    expect(rows.results).toEqual([
      { source: "recharge", status: "skipped", error: "RECHARGE_API_TOKEN is not set" },
      { source: "stripe", status: "ok", error: null },
    ]);
  });

  it("an unknown cron expression runs nothing", async () => {
    const controller = createScheduledController({
      cron: "0 0 1 1 *",
      scheduledTime: Date.parse("2032-04-02T00:00:00Z"),
    });
    await worker.scheduled(controller, cronEnv(new CaptureQueue()));
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM reconcile_runs WHERE started_at = ?1")
      .bind("2032-04-02T00:00:00.000Z")
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("POST /admin/jobs/:name runs a job on demand behind the admin token", async () => {
    const call = (path: string, body?: string, token = "test-admin-token") =>
      worker.fetch(
        new Request(`https://pipeline.test${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body,
        }),
        cronEnv(new CaptureQueue(), { STRIPE_API_KEY: "" }),
        createExecutionContext(),
      );
    const compact = await call("/admin/jobs/compact");
    expect(compact.status).toBe(200);
    expect(await compact.json()).toMatchObject({
      ok: true,
      job: "compact",
      result: { skipped: false, reportKey: expect.stringMatching(/^metadata\/compact\//) },
    });
    const oneDay = await call("/admin/jobs/compact", JSON.stringify({ day: "2031-03-05" }));
    expect(oneDay.status).toBe(200);
    expect((await call("/admin/jobs/compact", JSON.stringify({ day: "yesterday" }))).status).toBe(400);

    const rec = await call("/admin/jobs/reconcile", JSON.stringify({ sources: ["stripe"] }));
    expect(rec.status).toBe(200);
    expect(await rec.json()).toMatchObject({
      ok: true,
      job: "reconcile",
      result: { scopes: [{ source: "stripe", status: "skipped", note: "STRIPE_API_KEY is not set" }] },
    });

    expect((await call("/admin/jobs/nope")).status).toBe(404);
    expect((await call("/admin/jobs/reconcile", '{"sources":["paypal"]}')).status).toBe(400);
    expect((await call("/admin/jobs/reconcile", "not json")).status).toBe(400);
    expect((await call("/admin/jobs/compact", undefined, "wrong")).status).toBe(401);
  });
});
