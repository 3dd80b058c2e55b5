/**
 * Reconciliation paged by the invocation's budget (src/cron/reconcile/budget.ts): thousands of
 * changes upstream are caught up in a bounded number of runs, each under the limits layer; a run
 * cut short (its wall time, an upstream failure) resumes from the cursor its last page committed;
 * many shops share a run fairly; a source's rate limit stops the scope until the next run, and a
 * lag that keeps growing raises `reconcile_lag_growing`. Fetches to the fakes are counted as
 * subrequests of the invocation making them, as production counts them. Lives in 2037.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runJob } from "../src/cron/jobs";
import type { ReconcileResult } from "../src/cron/reconcile/reconcile";
import type { ScopeReport } from "../src/cron/reconcile/types";
import type { ShopifyConnector } from "../src/cron/shopify-port";
import { ShopifyAdmin } from "../src/durable/admin-graphql";
import { opsData } from "../src/ingress/admin/ops-data";
import { CaptureQueue, consumeCaptured, type FakeServer, iso, MINUTE, registerShopToken } from "./cron-helpers";
import { currentInvocation, type InvocationReport, LIMITS, LimitExceededError, onInvocationEnd } from "./fakes/limits";
import { FakeRechargeApi, type RechargeObject, rechargeTime } from "./fakes/recharge-api";
import { FakeShopifyAdmin } from "./fakes/shopify-admin";
import { makeShopData } from "./fakes/shopify-data";
import { FakeStripeApi } from "./fakes/stripe-api";
import rechargeSubscriptionFixture from "./fixtures/recharge/subscription.json";

const servers: FakeServer[] = [];
/** Milliseconds each upstream request takes, as a slow API would (0: as fast as the fake). */
let latencyMs = 0;
/** Answer this status instead of the fake's answer once this many requests were served (null: never). */
let failAfter: { requests: number; status: number } | null = null;
let served = 0;

/** A subrequest of the invocation making it, refused past the limit as production does. */
function countSubrequest(url: string): void {
  const inv = currentInvocation();
  if (inv === undefined) return;
  inv.subrequests++;
  if (inv.subrequests > LIMITS.subrequests) {
    inv.exceeded ??= "subrequests";
    throw new LimitExceededError("subrequests", `${inv.subrequests} in one ${inv.kind}: fetch ${url}`);
  }
}

async function upstream(request: Request): Promise<Response> {
  const url = new URL(request.url);
  countSubrequest(url.href);
  if (latencyMs > 0) await new Promise((ok) => setTimeout(ok, latencyMs));
  if (failAfter !== null && served >= failAfter.requests) return Response.json({}, { status: failAfter.status });
  for (const f of servers) {
    if (f.serves(url)) {
      served++;
      return f.handle(request);
    }
  }
  throw new Error(`unexpected fetch: ${request.method} ${url.origin}${url.pathname}`);
}

/** Every `job reconcile` invocation's counts, as the limits layer measured them. */
const invocations: InvocationReport[] = [];
let stopListening: () => void = () => {};

beforeEach(() => {
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => upstream(new Request(input, init)));
  invocations.length = 0;
  stopListening = onInvocationEnd((r) => {
    if (r.kind === "job reconcile") invocations.push(r);
  });
  latencyMs = 0;
  failAfter = null;
  served = 0;
});
afterEach(() => {
  stopListening();
  servers.length = 0;
  vi.restoreAllMocks();
});

function expectWithinLimits(): void {
  expect(invocations.length).toBeGreaterThan(0);
  for (const r of invocations) {
    expect(r.exceeded).toBeNull();
    expect(r.d1Queries).toBeLessThanOrEqual(LIMITS.d1Queries);
    expect(r.subrequests).toBeLessThanOrEqual(LIMITS.subrequests);
    expect(r.aePoints).toBeLessThanOrEqual(LIMITS.aePoints);
    // The */15 schedule's invocation may run 30 s.
    expect(r.wallMs).toBeLessThan(30_000);
  }
}

async function reconcile(
  e: Env,
  now: number,
  sources: Array<"stripe" | "recharge" | "shopify">,
  extra: { shops?: string[]; connector?: ShopifyConnector } = {},
): Promise<ReconcileResult> {
  const run = await runJob(e, "reconcile", { now: new Date(now), options: { sources, ...extra } });
  if (run.job !== "reconcile") throw new Error("not a reconcile run");
  return run.result;
}

function only(result: ReconcileResult, source: string, scope?: string): ScopeReport {
  const s = result.scopes.find((x) => x.source === source && (scope === undefined || x.scope === scope));
  if (!s) throw new Error(`no ${source} ${scope ?? ""} scope in the report`);
  return s;
}

const repaired = (s: ScopeReport) => Object.values(s.resources).reduce((n, t) => n + t.repaired, 0);

async function cursorRows(source: string, shop = "") {
  const { results } = await env.DB.prepare(
    "SELECT resource, name, value FROM sync_cursors WHERE source = ?1 AND shop = ?2 AND name LIKE 'reconcile%' ORDER BY resource, name",
  )
    .bind(source, shop)
    .all<{ resource: string; name: string; value: string }>();
  return results;
}

async function stripePartial(): Promise<{ windowFrom: string; windowTo: string; reachedDown: string } | null> {
  const row = (await cursorRows("stripe")).find((r) => r.name === "reconcile_partial");
  return row ? JSON.parse(row.value) : null;
}

describe("Stripe: thousands of missed events", () => {
  it("catches up in a bounded number of runs, each within the limits, resuming where the last stopped", {
    timeout: 240_000,
  }, async () => {
    const stripe = new FakeStripeApi("https://stripe.budget.test", "sk_test_budget");
    servers.push(stripe);
    const NOW = Date.parse("2037-01-10T12:00:00Z");
    const base = Math.floor((NOW - 55 * MINUTE) / 1000);
    const TOTAL = 2_500;
    for (let i = 0; i < TOTAL; i++) {
      stripe.add(
        "customer.updated",
        { id: `cus_budget_${i}`, object: "customer", email: `b${i}@example.com`, created: base },
        base + Math.floor((i * 50 * 60) / TOTAL),
        `evt_budget_${String(i).padStart(5, "0")}`,
      );
    }
    const queue = new CaptureQueue();
    // Each Events API page takes 60 ms, and a run may page for 1 s: about a dozen pages of 25.
    latencyMs = 60;
    const e = {
      ...env,
      EVENTS: queue,
      STRIPE_API_KEY: stripe.key,
      STRIPE_API_BASE: stripe.base,
      RECONCILE_RUN_SECONDS: "1",
    } as Env;

    const sent = new Map<string, number>();
    const runs: ScopeReport[] = [];
    let partialBefore = await stripePartial();
    expect(partialBefore).toBeNull();
    for (let k = 0; k < 10; k++) {
      const firstRequest = stripe.requested.length;
      const s = only(await reconcile(e, NOW + k * 15 * MINUTE, ["stripe"]), "stripe");
      runs.push(s);
      if (partialBefore !== null) {
        // A run resumes below what the last one committed, not from the top of the window.
        const url = new URL(`https://x${stripe.requested[firstRequest] ?? ""}`);
        expect(url.searchParams.get("created[lte]")).toBe(String(Date.parse(partialBefore.reachedDown) / 1000));
      }
      for (const env of queue.envelopes()) sent.set(env.eventId, (sent.get(env.eventId) ?? 0) + 1);
      await consumeCaptured(queue);
      queue.clear();
      if (s.stoppedBy === "done") break;
      // Stopped by its wall time, with the cursor committed after its last page.
      expect(s).toMatchObject({ status: "partial", stoppedBy: "wall_time" });
      expect(s.pages).toBeGreaterThan(0);
      const partial = await stripePartial();
      expect(partial).not.toBeNull();
      if (partialBefore !== null && partial !== null)
        expect(partial.reachedDown < partialBefore.reachedDown).toBe(true);
      partialBefore = partial;
    }
    const last = runs.at(-1) as ScopeReport;
    expect(last).toMatchObject({ status: "ok", stoppedBy: "done" });
    // 25 pages at about a dozen a run: bounded, and more than one run (the budget, not a count, stopped them).
    expect(runs.length).toBeGreaterThan(1);
    expect(runs.length).toBeLessThanOrEqual(6);
    expect(runs.reduce((n, s) => n + s.pages, 0)).toBeGreaterThanOrEqual(TOTAL / 100);
    expect(runs.reduce((n, s) => n + repaired(s), 0)).toBe(TOTAL);
    // Every event sent exactly once, and applied.
    expect(sent.size).toBe(TOTAL);
    expect([...sent.values()].every((n) => n === 1)).toBe(true);
    const stored = await env.DB.prepare(
      "SELECT count(*) AS n FROM stripe_customers WHERE id LIKE 'cus_budget_%'",
    ).first<{ n: number }>();
    expect(stored?.n).toBe(TOTAL);
    expect(await stripePartial()).toBeNull();
    // Lag: behind while the window was unfinished, two minutes once a run ends caught up.
    expect(runs[0]?.lagSeconds).toBeGreaterThan(45 * 60);
    const quiet = only(await reconcile(e, NOW + runs.length * 15 * MINUTE, ["stripe"]), "stripe");
    expect(quiet).toMatchObject({ status: "ok", stoppedBy: "done", pages: 1, lagSeconds: 120 });
    expectWithinLimits();
    // A run's Analytics Engine points are summed per topic and resource, however many pages it sent.
    expect(Math.max(...invocations.map((r) => r.aePoints))).toBeLessThanOrEqual(2);
  });

  it("a run that dies part-way keeps what its pages committed; the next sends only the rest", {
    timeout: 120_000,
  }, async () => {
    const stripe = new FakeStripeApi("https://stripe.cut.test", "sk_test_cut");
    servers.push(stripe);
    const NOW = Date.parse("2037-02-10T12:00:00Z");
    await env.DB.prepare("DELETE FROM sync_cursors WHERE source = 'stripe'").run();
    const base = Math.floor((NOW - 50 * MINUTE) / 1000);
    for (let i = 0; i < 1_000; i++) {
      stripe.add(
        "customer.updated",
        { id: `cus_cut_${i}`, object: "customer", created: base },
        base + i * 2,
        `evt_cut_${String(i).padStart(5, "0")}`,
      );
    }
    const queue = new CaptureQueue();
    const e = { ...env, EVENTS: queue, STRIPE_API_KEY: stripe.key, STRIPE_API_BASE: stripe.base } as Env;
    // Stripe answers four pages, then refuses (a 400 is not retried): the scope fails mid-window.
    failAfter = { requests: 4, status: 400 };
    const first = only(await reconcile(e, NOW, ["stripe"]), "stripe");
    expect(first).toMatchObject({ status: "error", pages: 5 });
    expect(first.error).toContain("HTTP 400");
    const cut = await stripePartial();
    // The newest 400 events were listed; the cursor says the rest lies below them.
    expect(cut?.reachedDown).toBe(new Date((base + 600 * 2) * 1000).toISOString());
    const firstIds = queue.envelopes().map((x) => x.eventId);
    expect(firstIds).toHaveLength(400);
    await consumeCaptured(queue);
    queue.clear();

    failAfter = null;
    const second = only(await reconcile(e, NOW + 15 * MINUTE, ["stripe"]), "stripe");
    expect(second).toMatchObject({ status: "ok", stoppedBy: "done" });
    const secondIds = queue.envelopes().map((x) => x.eventId);
    expect(secondIds).toHaveLength(600);
    expect(new Set([...firstIds, ...secondIds]).size).toBe(1_000);
    await consumeCaptured(queue);
    const stored = await env.DB.prepare("SELECT count(*) AS n FROM stripe_customers WHERE id LIKE 'cus_cut_%'").first<{
      n: number;
    }>();
    expect(stored?.n).toBe(1_000);
    expectWithinLimits();
  });
});

describe("rate limits win", () => {
  it("a Stripe 429 the run cannot wait out stops the scope; a lag growing over four runs raises an alert", {
    timeout: 120_000,
  }, async () => {
    const stripe = new FakeStripeApi("https://stripe.throttle.test", "sk_test_throttle");
    servers.push(stripe);
    const NOW = Date.parse("2037-03-10T12:00:00Z");
    await env.DB.prepare("DELETE FROM sync_cursors WHERE source = 'stripe'").run();
    const base = Math.floor((NOW - 50 * MINUTE) / 1000);
    for (let i = 0; i < 800; i++) {
      stripe.add("customer.updated", { id: `cus_thr_${i}`, object: "customer", created: base }, base + i * 3);
    }
    const queue = new CaptureQueue();
    const e = {
      ...env,
      EVENTS: queue,
      STRIPE_API_KEY: stripe.key,
      STRIPE_API_BASE: stripe.base,
      RECONCILE_RUN_SECONDS: "2",
    } as Env;
    // Three requests an hour: the first run reads three pages, the next ones none.
    stripe.rateLimit = { requests: 3, windowMs: 3_600_000 };
    const runs: ScopeReport[] = [];
    for (let k = 0; k < 4; k++) {
      const started = Date.now();
      runs.push(only(await reconcile(e, NOW + k * 15 * MINUTE, ["stripe"]), "stripe"));
      // Backed off inside the run's budget instead of waiting out the limit.
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    for (const s of runs) expect(s).toMatchObject({ status: "partial", stoppedBy: "throttled", error: null });
    expect(runs[0]?.note).toContain("rate limited by Stripe");
    expect(runs.map((s) => repaired(s))).toEqual([300, 0, 0, 0]);
    expect(stripe.throttled).toBeGreaterThan(0);
    // The cursor stays where the three pages reached; the lag grows with every run.
    expect((await stripePartial())?.reachedDown).toBe(new Date((base + 500 * 3) * 1000).toISOString());
    const lags = runs.map((s) => s.lagSeconds ?? 0);
    expect(lags).toEqual([...lags].sort((a, b) => a - b));
    expect(new Set(lags).size).toBe(4);
    const alert = await env.DB.prepare(
      "SELECT rule, severity, title, source, fields FROM alerts WHERE alert_key = 'reconcile_lag_growing:stripe:events'",
    ).first<{ rule: string; severity: string; title: string; source: string; fields: string }>();
    expect(alert).toMatchObject({ rule: "reconcile_lag_growing", severity: "warning", source: "stripe" });
    expect(alert?.title).toContain("behind");
    expect(JSON.parse(alert?.fields ?? "[]")).toContainEqual({ name: "stopped by", value: "throttled" });

    // The status page says how far behind the scope is, and why its last runs stopped.
    const ops = await opsData(env, new Date(NOW + 3 * 15 * MINUTE));
    expect(ops.status.reconcile.find((r) => r.source === "stripe")).toMatchObject({
      scope: "events",
      unfinished: ["events"],
    });
    expect(ops.reconcileRuns.find((r) => r.source === "stripe")).toMatchObject({
      stoppedBy: "throttled",
      lagSeconds: lags[3],
    });

    // The limit lifted: the next run resumes below the three pages and finishes the window.
    stripe.rateLimit = null;
    await consumeCaptured(queue);
    queue.clear();
    const done = only(await reconcile(e, NOW + 4 * 15 * MINUTE, ["stripe"]), "stripe");
    expect(done).toMatchObject({ status: "ok", stoppedBy: "done" });
    expect(repaired(done)).toBe(500);
    await consumeCaptured(queue);
    const stored = await env.DB.prepare("SELECT count(*) AS n FROM stripe_customers WHERE id LIKE 'cus_thr_%'").first<{
      n: number;
    }>();
    expect(stored?.n).toBe(800);
    expectWithinLimits();
  });

  it("a Recharge 429 stops the scope with its pages committed, and the next run resumes", {
    timeout: 60_000,
  }, async () => {
    const recharge = new FakeRechargeApi("https://recharge.throttle.test", "rc_test_throttle");
    servers.push(recharge);
    const NOW = Date.parse("2037-04-10T12:00:00Z");
    const subs: RechargeObject[] = Array.from({ length: 1_500 }, (_, i) => ({
      ...rechargeSubscriptionFixture.subscription,
      id: 937_000_000 + i,
      updated_at: rechargeTime(NOW - 50 * MINUTE + i * 1_000),
    }));
    recharge.subscriptions.push(...subs);
    // A bucket of 4 calls draining slowly: the store, then three subscription pages, then 429.
    recharge.bucket = 4;
    recharge.leakPerSecond = 0.01;
    const queue = new CaptureQueue();
    const e = {
      ...env,
      EVENTS: queue,
      RECHARGE_API_TOKEN: recharge.token,
      RECHARGE_API_BASE: recharge.base,
      RECONCILE_RUN_SECONDS: "2",
    } as Env;
    const first = only(await reconcile(e, NOW, ["recharge"]), "recharge");
    expect(first).toMatchObject({ status: "partial", stoppedBy: "throttled", error: null });
    expect(first.resources.subscriptions?.repaired).toBe(750);
    const partial = (await cursorRows("recharge")).find(
      (r) => r.resource === "subscriptions" && r.name === "reconcile_partial",
    );
    expect(JSON.parse(partial?.value ?? "{}")).toMatchObject({ resumeFrom: iso(NOW - 50 * MINUTE + 749 * 1_000) });
    await consumeCaptured(queue);
    queue.clear();

    recharge.bucket = 40;
    recharge.leakPerSecond = 1_000;
    const second = only(await reconcile(e, NOW + 15 * MINUTE, ["recharge"]), "recharge");
    expect(second).toMatchObject({ status: "ok", stoppedBy: "done" });
    // The page it resumed at is listed again (its newest second), the rest is new: 750 more repairs.
    expect(second.resources.subscriptions?.repaired).toBe(750);
    await consumeCaptured(queue);
    const stored = await env.DB.prepare(
      "SELECT count(*) AS n FROM recharge_subscriptions WHERE CAST(id AS INTEGER) BETWEEN 937000000 AND 937001499",
    ).first<{ n: number }>();
    expect(stored?.n).toBe(1_500);
    expectWithinLimits();
  });

  it("Shopify's cost throttle stops the shop within the run, through its coordinator; the next run finishes", {
    timeout: 60_000,
  }, async () => {
    const shop = "budget-throttle.myshopify.com";
    const NOW = Date.parse("2037-05-10T12:00:00Z");
    const data = makeShopData(shop, {
      orders: 3,
      lineItemsPerOrder: 2,
      customers: 0,
      products: 0,
      since: iso(NOW - 50 * MINUTE),
      firstId: 9_007_199_254_837_001n,
    });
    // Shopify's standard bucket (2,000 points, 100 a second), emptied by another app just before the run.
    const fake = new FakeShopifyAdmin(shop, data);
    servers.push(fake);
    registerShopToken(shop, fake.token);
    const queue = new CaptureQueue();
    fake.drain(2_000);
    const started = Date.now();
    const first = only(
      await reconcile({ ...env, EVENTS: queue, RECONCILE_RUN_SECONDS: "3" } as Env, NOW, ["shopify"], {
        shops: [shop],
      }),
      "shopify",
      shop,
    );
    // The coordinator gave up waiting for points at the run's deadline instead of holding the run.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(first).toMatchObject({ status: "partial", stoppedBy: "throttled", error: null, pages: 1 });
    expect(first.note).toContain("throttled by Shopify");
    expect(fake.stats.throttled).toBeGreaterThan(0);
    // Nothing was listed, so the cursor is the first window kept before any call.
    expect(queue.sent).toEqual([]);

    // A run with the usual 20 s waits for the bucket to refill and finishes the window.
    const second = only(
      await reconcile({ ...env, EVENTS: queue } as Env, NOW + 15 * MINUTE, ["shopify"], { shops: [shop] }),
      "shopify",
      shop,
    );
    expect(second).toMatchObject({ status: "ok", stoppedBy: "done" });
    await consumeCaptured(queue);
    const stored = await env.DB.prepare("SELECT count(*) AS n FROM shopify_orders WHERE shop = ?1")
      .bind(shop)
      .first<{ n: number }>();
    expect(stored?.n).toBe(3);
    expectWithinLimits();
  });
});

describe("many shops in one run", () => {
  it("two hundred shops: each run stays inside 1,000 D1 queries, defers what it cannot afford, and all are served", {
    timeout: 240_000,
  }, async () => {
    const NOW = Date.parse("2037-07-10T12:00:00Z");
    const shops = Array.from({ length: 200 }, (_, i) => `budget-many-${String(i).padStart(3, "0")}.myshopify.com`);
    const fakes = new Map<string, FakeShopifyAdmin>();
    shops.forEach((shop, i) => {
      const data = makeShopData(shop, {
        orders: 1,
        lineItemsPerOrder: 1,
        customers: 0,
        products: 0,
        since: iso(NOW - 30 * MINUTE),
        firstId: 9_007_199_255_000_001n + BigInt(i * 100),
      });
      const fake = new FakeShopifyAdmin(shop, data);
      fakes.set(shop, fake);
      servers.push(fake);
      registerShopToken(shop, fake.token);
    });
    const connector: ShopifyConnector = (shop) => {
      const fake = fakes.get(shop) as FakeShopifyAdmin;
      const admin = new ShopifyAdmin({
        shop,
        token: fake.token,
        apiVersion: "2026-01",
        url: `https://${shop}/admin/api/2026-01/graphql.json`,
        fetch: (input, init) => upstream(new Request(input, init)),
      });
      return (query, variables, options) => admin.request(query, variables, options);
    };
    const queue = new CaptureQueue();
    const e = { ...env, EVENTS: queue, RECONCILE_LOOKBACK_MINUTES: "600" } as Env;
    const served = new Set<string>();
    const perRun: Array<{ ran: number; deferred: number; stop: string | undefined }> = [];
    for (let k = 0; k < 12 && served.size < shops.length; k++) {
      const result = await reconcile(e, NOW + k * 15 * MINUTE, ["shopify"], { shops, connector });
      const ran = result.scopes.filter((s) => s.stoppedBy !== "deferred");
      const deferred = result.scopes.filter((s) => s.stoppedBy === "deferred");
      for (const s of ran) {
        expect(s.error).toBeNull();
        served.add(s.scope);
      }
      perRun.push({ ran: ran.length, deferred: deferred.length, stop: deferred[0]?.note ?? undefined });
      await consumeCaptured(queue);
      queue.clear();
    }
    expect(served.size).toBe(shops.length);
    // No run could take them all: the D1 query budget deferred the rest to the next runs.
    expect(perRun[0]?.deferred).toBeGreaterThan(0);
    expect(perRun[0]?.stop).toContain("d1_queries");
    // A quiet shop costs a handful of queries (its lease, one read of its cursors, a commit per listing):
    // over a hundred shops a run once their first windows are kept.
    expect(perRun.length).toBeLessThanOrEqual(4);
    expect(Math.max(...perRun.map((r) => r.ran))).toBeGreaterThanOrEqual(100);
    const stored = await env.DB.prepare(
      "SELECT count(*) AS n FROM shopify_orders WHERE shop LIKE 'budget-many-%'",
    ).first<{
      n: number;
    }>();
    expect(stored?.n).toBe(200);
    expectWithinLimits();
    for (const r of invocations) expect(r.d1Queries).toBeLessThanOrEqual(1_000);
  });

  it("share the budget round-robin: the shops a run could not start come first in the next", {
    timeout: 120_000,
  }, async () => {
    const NOW = Date.parse("2037-06-10T12:00:00Z");
    const shops = Array.from({ length: 12 }, (_, i) => `budget-fair-${String(i).padStart(2, "0")}.myshopify.com`);
    const fakes = new Map<string, FakeShopifyAdmin>();
    shops.forEach((shop, i) => {
      const data = makeShopData(shop, {
        orders: 2,
        lineItemsPerOrder: 1,
        customers: 0,
        products: 0,
        since: iso(NOW - 30 * MINUTE),
        firstId: 9_007_199_254_900_001n + BigInt(i * 100),
      });
      const fake = new FakeShopifyAdmin(shop, data);
      fakes.set(shop, fake);
      servers.push(fake);
      registerShopToken(shop, fake.token);
    });
    // The shops' Admin API, as the coordinator reaches it, without a Durable Object per shop.
    const connector: ShopifyConnector = (shop) => {
      const fake = fakes.get(shop) as FakeShopifyAdmin;
      const admin = new ShopifyAdmin({
        shop,
        token: fake.token,
        apiVersion: "2026-01",
        url: `https://${shop}/admin/api/2026-01/graphql.json`,
        fetch: (input, init) => upstream(new Request(input, init)),
      });
      return (query, variables, options) => admin.request(query, variables, options);
    };
    // Every request takes 100 ms and a run pages for 1 s: a few shops per run.
    latencyMs = 100;
    const queue = new CaptureQueue();
    // A shop's first window starts one lookback before its first run: three hours reach the orders
    // from whichever run serves the shop first.
    const e = { ...env, EVENTS: queue, RECONCILE_RUN_SECONDS: "1", RECONCILE_LOOKBACK_MINUTES: "180" } as Env;
    const servedIn: string[][] = [];
    for (let k = 0; k < 8 && servedIn.flat().length < shops.length; k++) {
      const result = await reconcile(e, NOW + k * 15 * MINUTE, ["shopify"], { shops, connector });
      const ran = result.scopes.filter((s) => s.stoppedBy !== "deferred");
      const deferred = result.scopes.filter((s) => s.stoppedBy === "deferred");
      expect(ran.length).toBeGreaterThan(0);
      for (const s of ran) {
        expect(s.error).toBeNull();
        // A shop served for the first time lists and repairs its two missed orders.
        if (!servedIn.flat().includes(s.scope)) expect(s.resources.orders?.repaired).toBe(2);
      }
      for (const s of deferred) expect(s.note).toContain("deferred");
      // Round-robin: no shop is served a second time before every shop was served once.
      servedIn.push(ran.map((s) => s.scope));
      await consumeCaptured(queue);
      queue.clear();
    }
    // Round-robin: a shop is served again only in a run by whose end every shop was served once.
    const seen = new Set<string>();
    const lastRun = new Map<string, number>();
    servedIn.forEach((ran, k) => {
      const repeats = ran.filter((shop) => seen.has(shop));
      for (const shop of ran) {
        seen.add(shop);
        lastRun.set(shop, k);
      }
      if (repeats.length > 0) expect(seen.size).toBe(shops.length);
    });
    expect(seen.size).toBe(shops.length);
    // The budget, not a shop count, split them: more than one run, and no run served them all.
    expect(servedIn.length).toBeGreaterThan(1);
    // The next run starts again with the shops served longest ago.
    const again = await reconcile(e, NOW + servedIn.length * 15 * MINUTE, ["shopify"], { shops, connector });
    const next = again.scopes.filter((s) => s.stoppedBy !== "deferred").map((s) => s.scope);
    expect(next.length).toBeGreaterThan(0);
    const newestOfNext = Math.max(...next.map((shop) => lastRun.get(shop) ?? 0));
    for (const shop of shops.filter((x) => !next.includes(x))) {
      expect(lastRun.get(shop) ?? 0).toBeGreaterThanOrEqual(newestOfNext);
    }
    for (const shop of shops) {
      expect((await cursorRows("shopify", shop)).some((r) => r.resource === "orders" && r.name === "reconcile")).toBe(
        true,
      );
      const stored = await env.DB.prepare("SELECT count(*) AS n FROM shopify_orders WHERE shop = ?1")
        .bind(shop)
        .first<{ n: number }>();
      expect(stored?.n).toBe(2);
    }
    // Deferred runs are recorded, so the status page shows who waits.
    const deferredRows = await env.DB.prepare(
      "SELECT count(*) AS n FROM reconcile_runs WHERE source = 'shopify' AND stopped_by = 'deferred' AND scope LIKE 'budget-fair-%'",
    ).first<{ n: number }>();
    expect(deferredRows?.n).toBeGreaterThan(0);
    expectWithinLimits();
  });
});
