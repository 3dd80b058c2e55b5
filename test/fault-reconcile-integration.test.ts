/**
 * Reconciliation with failing bindings: Stripe and Recharge hold objects whose webhooks never
 * arrived since the last run; runs every 15 minutes with 20 % of D1, R2, Queue and upstream fetch calls failing
 * (thrown, or done with the answer lost) must, once the faults stop and one more run settles,
 * leave every object in D1 at its upstream version, each event applied once, and a quiet run
 * that finds nothing left to repair. Lives in 2034, away from every other test's rows.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { runJob } from "../src/cron/jobs";
import { app } from "../src/ingress/app";
import { routeFetch } from "./cron-helpers";
import { FaultInjector, faultyEnv, faultyFetch } from "./fakes/faulty-env";
import { FakeRechargeApi, type RechargeObject, rechargeTime } from "./fakes/recharge-api";
import { FakeStripeApi } from "./fakes/stripe-api";
import rechargeChargeFixture from "./fixtures/recharge/charge.json";
import rechargeSubscriptionFixture from "./fixtures/recharge/subscription.json";
import { drain, SimulatedQueue } from "./helpers/pipeline-run";
import { ADMIN_TOKEN } from "./helpers/requests";

const SEED = 2034;
const MINUTE = 60_000;
const NOW = Date.parse("2034-03-01T12:00:00Z");
const stripe = new FakeStripeApi("https://stripe.fault.test", "sk_test_fault");
const recharge = new FakeRechargeApi("https://recharge.fault.test", "rc_test_fault");
let fetchSpy: MockInstance<typeof fetch>;

beforeEach(() => {
  fetchSpy = routeFetch(() => [stripe, recharge]);
});
afterEach(() => vi.restoreAllMocks());

describe("reconciliation under faults", { timeout: 120_000 }, () => {
  it("repairs every missed object exactly once, with 20 % of D1, R2, Queue and fetch calls failing", async () => {
    const base = Math.floor((NOW - 40 * MINUTE) / 1000);
    const stripeEvents = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? stripe.add(
            "customer.updated",
            { id: `cus_fault_${i}`, object: "customer", email: `f${i}@example.com`, created: base },
            base + i * 30,
          )
        : stripe.add(
            "charge.succeeded",
            { id: `ch_fault_${i}`, object: "charge", amount: 1000 + i, currency: "usd", created: base },
            base + i * 30,
          ),
    );
    const subs: RechargeObject[] = Array.from({ length: 30 }, (_, i) => ({
      ...rechargeSubscriptionFixture.subscription,
      id: 934_000_000 + i,
      updated_at: rechargeTime(NOW - 35 * MINUTE + i * 20_000),
    }));
    const charges: RechargeObject[] = Array.from({ length: 15 }, (_, i) => ({
      ...rechargeChargeFixture.charge,
      id: 935_000_000 + i,
      updated_at: rechargeTime(NOW - 30 * MINUTE + i * 20_000),
    }));
    recharge.subscriptions.push(...subs);
    recharge.charges.push(...charges);

    const injector = new FaultInjector({ seed: SEED, rate: 0.2 });
    const realFetch = fetchSpy.getMockImplementation() as typeof fetch;
    fetchSpy.mockImplementation(faultyFetch(realFetch, injector));
    const queue = new SimulatedQueue();
    const faulty = faultyEnv(
      {
        ...env,
        EVENTS: queue.binding,
        STRIPE_API_KEY: stripe.key,
        STRIPE_API_BASE: stripe.base,
        RECHARGE_API_TOKEN: recharge.token,
        RECHARGE_API_BASE: recharge.base,
      },
      injector,
    );
    // Reconciliation has run before (its cursors exist), then the objects changed and the faults began.
    injector.setEnabled(false);
    await runJob(faulty, "reconcile", {
      now: new Date(NOW - 45 * MINUTE),
      options: { sources: ["stripe", "recharge"] },
    });
    injector.setEnabled(true);
    const dead: unknown[] = [];
    let now = NOW;
    for (let run = 0; run < 4; run++, now += 15 * MINUTE) {
      await runJob(faulty, "reconcile", { now: new Date(now), options: { sources: ["stripe", "recharge"] } }).catch(
        () => undefined, // a run that dies is simply the next run's work
      );
      dead.push(...(await drain(queue, faulty)).deadLettered);
    }
    expect(injector.faults.length, `seed ${SEED}`).toBeGreaterThan(10);

    // The faults stop: dead letters are replayed and one more run picks up what is still missing.
    injector.setEnabled(false);
    const clean = { ...faulty, DB: env.DB, LAKE: env.LAKE };
    for (const e of dead as Array<{ source: string; eventId: string }>) {
      const listed = await env.LAKE.list({ prefix: `dead-letter/${e.source}/` });
      const key = listed.objects.find((o) => o.key.endsWith(`/${e.eventId}.json`))?.key;
      const res = await app.fetch(
        new Request("https://pipeline.test/admin/replay", {
          method: "POST",
          headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
          body: JSON.stringify({ key }),
        }),
        clean,
        createExecutionContext(),
      );
      expect(res.status).toBe(200);
    }
    await drain(queue, clean);
    now += 16 * MINUTE; // past any lease a dying run left behind
    await runJob(clean, "reconcile", { now: new Date(now), options: { sources: ["stripe", "recharge"] } });
    await drain(queue, clean);

    console.log(
      JSON.stringify(
        (
          await env.DB.prepare(
            "SELECT event_id, status, note, error FROM webhook_events WHERE event_id LIKE 'reconcile:charges:935%' LIMIT 3",
          ).all()
        ).results,
      ),
    );
    console.log(JSON.stringify((await env.DB.prepare("SELECT * FROM sync_cursors").all()).results));
    // Everything upstream is in D1 at its version, each Stripe event applied once.
    for (const ev of stripeEvents) {
      const row = await env.DB.prepare(
        "SELECT status, deliveries FROM webhook_events WHERE source = 'stripe' AND event_id = ?1",
      )
        .bind(ev.id)
        .first<{ status: string; deliveries: number }>();
      expect(row?.status, `seed ${SEED}: ${ev.id}`).toBe("applied");
    }
    const customers = await env.DB.prepare(
      "SELECT count(*) AS n FROM stripe_customers WHERE id LIKE 'cus_fault_%'",
    ).first<{ n: number }>();
    const stripeCharges = await env.DB.prepare(
      "SELECT count(*) AS n FROM stripe_charges WHERE id LIKE 'ch_fault_%'",
    ).first<{ n: number }>();
    expect([customers?.n, stripeCharges?.n]).toEqual([20, 20]);
    for (const [table, objects] of [
      ["recharge_subscriptions", subs],
      ["recharge_charges", charges],
    ] as const) {
      const stored = await env.DB.prepare(`SELECT id, updated_at FROM ${table} WHERE id LIKE '93%'`).all<{
        id: string;
        updated_at: string;
      }>();
      const byId = new Map(stored.results.map((r) => [r.id, r.updated_at]));
      for (const o of objects) {
        expect(byId.get(String(o.id)), `seed ${SEED}: ${table} ${o.id}`).toBe(
          new Date(Date.parse(o.updated_at)).toISOString(),
        );
      }
    }

    // Quiet afterwards: nothing missing, nothing sent.
    now += 16 * MINUTE;
    const quiet = await runJob(clean, "reconcile", {
      now: new Date(now),
      options: { sources: ["stripe", "recharge"] },
    });
    if (quiet.job !== "reconcile") throw new Error("not a reconcile run");
    for (const s of quiet.result.scopes) {
      const repaired = Object.values(s.resources).reduce((n, r) => n + r.repaired, 0);
      expect([s.source, s.status, repaired]).toEqual([s.source, "ok", 0]);
    }
    expect(queue.pending).toEqual([]);
    console.log(
      `reconcile under faults: ${injector.faults.length} faults injected, ${dead.length} dead-lettered and replayed`,
    );
  });

  it("a scope's first run that fails is resumed from its own window, however much later the next run comes", async () => {
    await env.DB.prepare("DELETE FROM sync_cursors WHERE source = 'recharge'").run();
    const at = Date.parse("2035-05-01T12:00:00Z");
    const missed: RechargeObject = {
      ...rechargeChargeFixture.charge,
      id: 936_000_001,
      updated_at: rechargeTime(at - 30 * MINUTE),
    };
    recharge.charges.push(missed);
    const queue = new SimulatedQueue();
    const e = {
      ...env,
      EVENTS: queue.binding,
      RECHARGE_API_TOKEN: recharge.token,
      RECHARGE_API_BASE: recharge.base,
    };
    const down = new FaultInjector({ seed: 1, rate: 1, targets: ["fetch"] });
    const realFetch = fetchSpy.getMockImplementation() as typeof fetch;
    fetchSpy.mockImplementation(faultyFetch(realFetch, down));
    const failed = await runJob(e, "reconcile", { now: new Date(at), options: { sources: ["recharge"] } });
    if (failed.job !== "reconcile") throw new Error("not a reconcile run");
    expect(failed.result.scopes[0]?.status).toBe("error");

    // Recharge is back two hours later: the charge from before the first run is still repaired.
    down.setEnabled(false);
    const later = await runJob(e, "reconcile", {
      now: new Date(at + 120 * MINUTE),
      options: { sources: ["recharge"] },
    });
    if (later.job !== "reconcile") throw new Error("not a reconcile run");
    expect(later.result.scopes[0]?.resources.charges).toMatchObject({ missing: 1, repaired: 1 });
    await drain(queue, env);
    const row = await env.DB.prepare("SELECT updated_at FROM recharge_charges WHERE id = '936000001'").first();
    expect(row).toEqual({ updated_at: new Date(at - 30 * MINUTE).toISOString() });
  });
});
