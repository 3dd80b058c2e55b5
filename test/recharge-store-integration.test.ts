import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runJob } from "../src/cron/jobs";
import worker from "../src/index";
import { rechargeStore } from "../src/shared/schema/recharge";
import { CaptureQueue, consumeBodies, routeFetch } from "./cron-helpers";
import { FakeRechargeApi } from "./fakes/recharge-api";
import rechargeSubscription from "./fixtures/recharge/subscription.json";
import { adminRequest } from "./helpers/requests";
import { expectMatchesMigration } from "./helpers/schema-match";

const recharge = new FakeRechargeApi("https://recharge-store.test", "rc_test_store");
beforeEach(() => {
  routeFetch(() => [recharge]);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await env.DB.prepare("DELETE FROM recharge_store").run();
});

function rechargeEnv(queue: CaptureQueue): Env {
  return {
    ...env,
    EVENTS: queue,
    RECHARGE_API_TOKEN: recharge.token,
    RECHARGE_API_BASE: recharge.base,
    BACKFILL_RECHARGE_REQUESTS_PER_SECOND: "1000",
  };
}

/** A 2021-11 `subscription/created` envelope for the fixture (presentment_currency null) as `id` at `price`. */
function subscriptionEvent(id: string, price: string) {
  const body = JSON.stringify({ subscription: { ...rechargeSubscription.subscription, id, price } });
  return {
    v: 1,
    source: "recharge",
    topic: "subscription/created",
    eventId: `rc_store_${id}`,
    shop: null,
    receivedAt: "2026-11-20T12:00:00.000Z",
    eventAt: "2026-11-20T12:00:00.000Z",
    apiVersion: "2021-11",
    origin: "webhook",
    body,
  };
}

async function subscriptionRow(id: string) {
  return env.DB.prepare("SELECT currency, price_minor, price_decimal FROM recharge_subscriptions WHERE id = ?1")
    .bind(id)
    .first();
}

async function mrr(id: string) {
  return (
    await env.DB.prepare(
      "SELECT currency, mrr_minor FROM analytics_subscription_mrr WHERE source = 'recharge' AND subscription_id = ?1 ORDER BY effective_at",
    )
      .bind(id)
      .all<{ currency: string; mrr_minor: number }>()
  ).results;
}

async function reconcileRecharge(e: Env, now: Date) {
  const run = await runJob(e, "reconcile", { now, options: { sources: ["recharge"] } });
  if (run.job !== "reconcile") throw new Error("not a reconcile run");
  return run.result.scopes.find((s) => s.source === "recharge");
}

// The fixture bills every 30 days: MRR is the price × (365 / 12) / 30, as analytics_subscription_mrr computes it.
const monthly = (minor: number) => Math.round((minor * (365 / 12)) / 30);

describe("Recharge store currency", () => {
  it("recharge_store matches its drizzle definition", async () => {
    await expectMatchesMigration(rechargeStore);
  });

  it("a 2021-11 subscription without presentment currency is filled by the next store fetch, and gets its MRR", async () => {
    expect(rechargeSubscription.subscription.presentment_currency).toBeNull();
    const queue = new CaptureQueue();
    const e = rechargeEnv(queue);
    // No store currency known yet: the price is kept as text only, never as minor units without a currency.
    await consumeBodies([subscriptionEvent("990000001", "49.00")], e);
    expect(await subscriptionRow("990000001")).toEqual({ currency: null, price_minor: null, price_decimal: "49.00" });
    expect(await mrr("990000001")).toEqual([]);

    // Reconciliation calls Recharge, fetches GET /store, keeps the currency and fills the row.
    recharge.store = { ...recharge.store, currency: "usd" };
    const before = recharge.requested.length;
    const scope = await reconcileRecharge(e, new Date("2026-11-21T00:00:00Z"));
    expect(recharge.requested.slice(before).filter((r) => r === "/store")).toHaveLength(1);
    expect(scope?.note).toContain("store currency USD given to 1 subscriptions");
    expect(await env.DB.prepare("SELECT currency FROM recharge_store WHERE id = 1").first()).toEqual({
      currency: "USD",
    });
    expect(await subscriptionRow("990000001")).toEqual({ currency: "USD", price_minor: 4900, price_decimal: "49.00" });
    const filled = await mrr("990000001");
    expect(filled.length).toBeGreaterThan(0);
    expect(filled.every((r) => r.currency === "USD" && r.mrr_minor === monthly(4900))).toBe(true);

    // Known now: a later subscription without presentment currency is priced on arrival.
    await consumeBodies([subscriptionEvent("990000002", "12.50")], e);
    expect(await subscriptionRow("990000002")).toEqual({ currency: "USD", price_minor: 1250, price_decimal: "12.50" });
    expect(await mrr("990000002")).toEqual([{ currency: "USD", mrr_minor: monthly(1250) }]);

    // Fetched at most once a day: a run an hour later does not ask again.
    const again = recharge.requested.length;
    await reconcileRecharge(e, new Date("2026-11-21T01:00:00Z"));
    expect(recharge.requested.slice(again)).not.toContain("/store");
  });

  it("the Recharge backfill fetches the store currency too; a failed fetch is reported, not fatal", async () => {
    const queue = new CaptureQueue();
    const e = rechargeEnv(queue);
    recharge.store = { ...recharge.store, currency: "EUR" };
    await env.DB.prepare("DELETE FROM backfills").run();
    const res = await worker.fetch(
      adminRequest("/admin/backfill", undefined, {
        method: "POST",
        body: JSON.stringify({ source: "recharge", resources: ["subscriptions"] }),
      }),
      e,
      createExecutionContext(),
    );
    expect(res.status).toBe(202);
    const before = recharge.requested.length;
    await runJob(e, "backfill", { now: new Date() });
    expect(recharge.requested.slice(before)[0]).toBe("/store");
    expect(await env.DB.prepare("SELECT currency FROM recharge_store WHERE id = 1").first()).toEqual({
      currency: "EUR",
    });

    // A store answer without a currency is refused at the boundary; reconciliation goes on and says so.
    await env.DB.prepare("DELETE FROM recharge_store").run();
    recharge.store = { id: 51_001 };
    const scope = await reconcileRecharge(e, new Date("2026-11-22T00:00:00Z"));
    expect(scope?.status).toBe("ok");
    expect(scope?.note).toContain("store currency: GET /store");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM recharge_store").first()).toEqual({ n: 0 });
    recharge.store = { id: 51_001, currency: "USD" };
  });
});

describe("Recharge store currency at scale", () => {
  it("fills thousands of subscriptions a few pages a run, each run inside D1's 1,000 queries", async () => {
    const queue = new CaptureQueue();
    const e = rechargeEnv(queue);
    const ids = Array.from({ length: 2_500 }, (_, i) => `99100${String(i).padStart(5, "0")}`);
    // Applied while no store currency was known: the price kept as text only.
    await env.DB.prepare(
      `INSERT INTO recharge_subscriptions (id, status, price_decimal, quantity, updated_at, last_event_id)
       SELECT value, 'active', '19.99', 2, '2026-11-20T12:00:00.000Z', 'seed-' || value FROM json_each(?1)`,
    )
      .bind(JSON.stringify(ids))
      .run();
    const left = async () =>
      (
        await env.DB.prepare(
          "SELECT count(*) AS n FROM recharge_subscriptions WHERE id LIKE '99100%' AND currency IS NULL",
        ).first<{ n: number }>()
      )?.n;
    recharge.store = { ...recharge.store, currency: "EUR" };

    const first = await reconcileRecharge(e, new Date("2026-11-23T00:00:00Z"));
    expect(first?.status).toBe("ok");
    expect(first?.note).toContain("store currency EUR given to 2000 subscriptions");
    expect(await left()).toBe(500);
    // Not due for a fetch an hour later: the run fills what is left without asking Recharge again.
    const before = recharge.requested.length;
    const second = await reconcileRecharge(e, new Date("2026-11-23T01:00:00Z"));
    expect(recharge.requested.slice(before)).not.toContain("/store");
    expect(second?.note).toContain("store currency EUR given to 500 subscriptions");
    expect(await left()).toBe(0);
    // Exact minor units in the store's currency.
    const sample = await env.DB.prepare(
      "SELECT currency, price_minor, price_decimal FROM recharge_subscriptions WHERE id = ?1",
    )
      .bind(ids[0])
      .first();
    expect(sample).toEqual({ currency: "EUR", price_minor: 1999, price_decimal: "19.99" });
    await env.DB.prepare("DELETE FROM recharge_subscriptions WHERE id LIKE '99100%'").run();
    recharge.store = { id: 51_001, currency: "USD" };
  });
});

describe("Recharge charges backfill: the 90-day gap", () => {
  async function startCharges(e: Env, since?: string) {
    const res = await worker.fetch(
      adminRequest("/admin/backfill", undefined, {
        method: "POST",
        body: JSON.stringify({ source: "recharge", resources: ["charges"], ...(since ? { since } : {}) }),
      }),
      e,
      createExecutionContext(),
    );
    expect(res.status).toBe(202);
    return String(((await res.json()) as { backfillId: string }).backfillId);
  }

  async function opsPage(e: Env): Promise<string> {
    const signIn = await worker.fetch(
      new Request("https://pipeline.test/ops/sign-in", {
        method: "POST",
        headers: { accept: "text/html", "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: "test-admin-token" }).toString(),
        redirect: "manual",
      }),
      e,
      createExecutionContext(),
    );
    expect(signIn.status).toBe(303);
    const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const page = await worker.fetch(
      new Request("https://pipeline.test/ops", { headers: { accept: "text/html", cookie } }),
      e,
      createExecutionContext(),
    );
    expect(page.status).toBe(200);
    return page.text();
  }

  it("says in its status row, the job's report, the status API and /ops that older processed charges were not backfilled", async () => {
    const queue = new CaptureQueue();
    const e = rechargeEnv(queue);
    await env.DB.prepare("DELETE FROM backfills").run();
    const id = await startCharges(e);
    const cutoff = new Date(Date.now() - 90 * 86_400_000).toISOString().slice(0, 10);
    const expected = `processed charges (success, refunded, partially refunded) older than 90 days are not listed by Recharge (since 2025-03-19), so those processed before ${cutoff} were not backfilled`;

    const stored = await env.DB.prepare("SELECT note FROM backfills WHERE backfill_id = ?1 AND resource = 'charges'")
      .bind(id)
      .first<{ note: string }>();
    expect(stored?.note).toContain(expected);

    const run = await runJob(e, "backfill", { now: new Date() });
    if (run.job !== "backfill") throw new Error("not a backfill run");
    const item = run.result.items.find((i) => i.backfillId === id);
    expect(item).toMatchObject({ resource: "charges", status: "completed" });
    expect(item?.note).toContain(expected);

    const status = await worker.fetch(adminRequest(`/admin/backfill/${id}`), e, createExecutionContext());
    const body = (await status.json()) as { backfill: { status: string; resources: Array<{ note: string | null }> } };
    expect(body.backfill.status).toBe("completed");
    expect(body.backfill.resources[0]?.note).toContain(expected);

    const html = await opsPage(e);
    expect(html).toContain("Stripe and Recharge backfills");
    expect(html).toContain(id);
    expect(html).toContain(expected);
  });

  it("has no note when it starts inside the last 90 days, nor for other resources", async () => {
    const e = rechargeEnv(new CaptureQueue());
    await env.DB.prepare("DELETE FROM backfills").run();
    const recent = await startCharges(e, new Date(Date.now() - 30 * 86_400_000).toISOString());
    const res = await worker.fetch(
      adminRequest("/admin/backfill", undefined, {
        method: "POST",
        body: JSON.stringify({ source: "recharge", resources: ["subscriptions", "orders"] }),
      }),
      e,
      createExecutionContext(),
    );
    expect(res.status).toBe(202);
    const notes = await env.DB.prepare("SELECT backfill_id, resource, note FROM backfills ORDER BY resource").all();
    expect(notes.results.map((r) => [r.backfill_id === recent, r.resource, r.note])).toEqual([
      [true, "charges", null],
      [false, "orders", null],
      [false, "subscriptions", null],
    ]);
    await env.DB.prepare("DELETE FROM backfills").run();
  });
});
