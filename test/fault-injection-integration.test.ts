/**
 * Nothing is lost when the bindings fail. A burst of signed webhooks across the three sources
 * goes through the real ingress and consumers with 20 % of D1, R2 and Queue calls failing
 * (thrown, or done with the answer lost); sources retry 503s, the queue retries and
 * dead-letters as configured, the dead letters are replayed once the faults stop. The end
 * state must equal a fault-free run of the same burst, table by table, with every event
 * applied (or quarantined as expected), whole orders, and each dead letter carrying its reason.
 * Then the specific crashes: between the R2 write and the D1 batch, a D1 batch whose answer
 * was lost, and a batch redelivered after it was applied.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../src/ingress/app";
import { FaultInjector, type FaultTarget, faultyEnv } from "./fakes/faulty-env";
import { commerceDeliveries, type Delivery, runPrefix, tagMark } from "./helpers/commerce-events";
import { deliverOnce, drain, type Pending, type Posted, postAll, SimulatedQueue } from "./helpers/pipeline-run";
import { ADMIN_TOKEN } from "./helpers/requests";
import { keysFor } from "./helpers/storage";

const SEED = 4242;
const TABLES = [
  "shopify_orders",
  "shopify_order_line_items",
  "shopify_customers",
  "shopify_products",
  "shopify_product_variants",
  "shopify_refunds",
  "shopify_refund_line_items",
  "stripe_charges",
  "stripe_invoices",
  "stripe_customers",
  "stripe_subscriptions",
  "recharge_subscriptions",
  "recharge_charges",
  "recharge_customers",
];

interface Run {
  tag: string;
  shops: string[];
  deliveries: Delivery[];
  posted: Posted[];
  deadLettered: Array<{ source: string; eventId: string }>;
  faults: number;
}

async function runBurst(
  tag: string,
  rate: number,
  { seed = SEED, count = 150, targets = ["DB", "LAKE", "EVENTS"] as FaultTarget[], dlqRate = rate } = {},
): Promise<Run> {
  const shops = [`${tag}-a.myshopify.com`, `${tag}-b.myshopify.com`];
  const deliveries = commerceDeliveries({
    seed,
    count,
    tag,
    shops,
    maxLineItems: 8,
    largeShare: 0.03,
    invalidShare: 0.03,
  });
  const injector = new FaultInjector({ seed: seed + 1, rate, targets });
  const queue = new SimulatedQueue();
  const faulty = faultyEnv({ ...env, EVENTS: queue.binding }, injector);
  // The shops have history: one order each is stored before the burst. Variants and refunds
  // take the shop's currency from its stored orders, so without one their money would depend
  // on which event happened to land first (see the report of the soak in README).
  const opening = shops.map((shop) => deliveries.find((d) => d.shop === shop && d.topic === "orders/create"));
  const openingQueue = new SimulatedQueue();
  await postAll(
    opening.filter((d) => d !== undefined),
    { ...env, EVENTS: openingQueue.binding },
  );
  await drain(openingQueue, env);
  const posted = await postAll(deliveries, faulty);
  const dlqFaults = new FaultInjector({ seed: seed + 2, rate: dlqRate });
  const drained = await drain(queue, faulty, faultyEnv({ ...env, EVENTS: queue.binding }, dlqFaults));
  const faults = injector.faults.length + dlqFaults.faults.length;
  injector.setEnabled(false);

  const deadLettered = drained.deadLettered as Array<{ source: string; eventId: string }>;
  for (const e of deadLettered) {
    // The reason is kept on the ledger row (failed) and in the dead-letter object. A row can also
    // hold its final status: a D1 batch committed and only its answer was lost, so the event did land.
    const row = await env.DB.prepare("SELECT status, error FROM webhook_events WHERE source = ?1 AND event_id = ?2")
      .bind(e.source, e.eventId)
      .first<{ status: string; error: string | null }>();
    expect(["failed", "applied", "archived", "quarantined"], `${e.source}/${e.eventId}`).toContain(row?.status);
    expect(row?.error, `${e.source}/${e.eventId}`).toMatch(/injected fault/);
    const key = await deadLetterKeyOf(e.source, e.eventId);
    const stored = (await (await env.LAKE.get(key))?.json()) as { last_error: string };
    expect(stored.last_error).toMatch(/injected fault/);
    // An operator replays it once the cause is gone.
    const res = await app.fetch(
      new Request("https://pipeline.test/admin/replay", {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ key }),
      }),
      { ...env, EVENTS: queue.binding },
      createExecutionContext(),
    );
    expect(res.status).toBe(200);
  }
  await drain(queue, { ...env, EVENTS: queue.binding });
  return { tag, shops, deliveries, posted, deadLettered, faults };
}

async function deadLetterKeyOf(source: string, eventId: string): Promise<string> {
  const listed = await env.LAKE.list({ prefix: `dead-letter/${source}/` });
  const hit = listed.objects.find((o) => o.key.endsWith(`/${eventId}.json`));
  if (!hit) throw new Error(`no dead-letter object for ${source}/${eventId}`);
  return hit.key;
}

/** Every row of the run in every table, with run-specific text (ids, shops, event ids) replaced by stable marks. */
async function snapshot(run: Run): Promise<Record<string, string[]>> {
  const prefix = runPrefix(run.tag);
  const mark = tagMark(run.tag);
  const eventIds = new Map<string, string>();
  run.posted.forEach((p, i) => {
    if (p.eventId && !eventIds.has(p.eventId)) eventIds.set(p.eventId, `#event${i}`);
  });
  const normalize = (text: string) =>
    text
      .replace(/"(rc_[0-9a-f]{40})"/g, (_m, id: string) => `"${eventIds.get(id) ?? id}"`)
      .replaceAll(prefix, "<run>")
      .replaceAll(mark, "<tag>")
      .replaceAll(mark.toLowerCase(), "<tag>");
  const out: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rows = await env.DB.prepare(`SELECT * FROM ${table} WHERE id LIKE ?1 OR id LIKE ?2`)
      .bind(`${prefix}%`, `%${mark}%`)
      .all<Record<string, unknown>>();
    // `origin` is provenance, not content: a replayed dead letter's rows say `replay`.
    out[table] = rows.results.map(({ origin: _origin, ...r }) => normalize(JSON.stringify(r))).sort();
  }
  return out;
}

async function ledgerOf(run: Run) {
  const rows: Array<{ status: string; deliveries: number } | null> = [];
  for (const p of run.posted) {
    rows.push(
      await env.DB.prepare("SELECT status, deliveries FROM webhook_events WHERE source = ?1 AND event_id = ?2")
        .bind(p.delivery.source, p.eventId)
        .first<{ status: string; deliveries: number }>(),
    );
  }
  return rows;
}

describe("fault injection on the bindings", { timeout: 120_000 }, () => {
  it("with 20 % of D1, R2 and Queue calls failing, a burst ends applied and equals the fault-free run", async () => {
    const stamp = Date.now().toString(36);
    const clean = await runBurst(`fclean${stamp}`, 0);
    const faulty = await runBurst(`ffault${stamp}`, 0.2);
    expect(faulty.faults, `seed ${SEED}`).toBeGreaterThan(100);
    expect(faulty.posted.some((p) => p.refusals > 0)).toBe(true); // some 503s, retried by the source
    await expectSameEnd(clean, faulty, `seed ${SEED}`);
  });

  it("with 90 % of D1 calls failing (20 % in the dead-letter consumer), events that run out of retries are dead-lettered with their reason and replay to the same end", async () => {
    const stamp = Date.now().toString(36);
    const options = { seed: SEED + 7, count: 60, targets: ["DB"] as FaultTarget[], dlqRate: 0.2 };
    const clean = await runBurst(`dclean${stamp}`, 0, options);
    const faulty = await runBurst(`dfault${stamp}`, 0.9, options);
    expect(faulty.deadLettered.length, `seed ${SEED + 7}`).toBeGreaterThan(0);
    await expectSameEnd(clean, faulty, `seed ${SEED + 7}`);
  });
});

async function expectSameEnd(clean: Run, faulty: Run, where: string) {
  expect(clean.deadLettered, where).toEqual([]);
  // Every delivery was accepted in the end (sources retry 503s).
  for (const p of faulty.posted) expect(p.status, `${where}: ${p.delivery.topic}`).toBe(200);

  // Every event has its ledger row with the expected outcome; quarantined ones only where expected.
  const ledger = await ledgerOf(faulty);
  faulty.posted.forEach((p, i) => {
    const want = p.delivery.expect === "quarantined" ? ["quarantined"] : ["applied", "archived"];
    expect(want, `${where}: ${p.delivery.source} ${p.eventId} ${p.delivery.topic}`).toContain(ledger[i]?.status);
  });

  // Whole orders: each stored order has exactly the line items it says.
  const halves = await env.DB.prepare(
    `SELECT o.shop, o.id, o.line_item_count, (SELECT count(*) FROM shopify_order_line_items l
       WHERE l.shop = o.shop AND l.order_id = o.id) AS lines
     FROM shopify_orders o WHERE o.shop IN (?1, ?2) AND o.line_item_count <> lines`,
  )
    .bind(...faulty.shops)
    .all();
  expect(halves.results, where).toEqual([]);

  const [a, b] = [await snapshot(clean), await snapshot(faulty)];
  expect(Object.values(a).flat().length, where).toBeGreaterThan(50);
  for (const table of TABLES) expect(b[table], `${where}: ${table}`).toEqual(a[table]);
  console.log(
    `${faulty.tag}: ${faulty.faults} faults injected, ${faulty.deadLettered.length} dead-lettered and replayed`,
  );
}

describe("crashes at the worst moments", { timeout: 60_000 }, () => {
  const stamp = () => Date.now().toString(36);

  async function envelopesOf(tag: string, count: number) {
    const shops = [`${tag}-a.myshopify.com`];
    const deliveries = commerceDeliveries({
      seed: SEED + 11,
      count,
      tag,
      shops,
      maxLineItems: 12,
      redeliveredShare: 0,
      invalidShare: 0,
      largeShare: 0,
    });
    // As in runBurst: the shop has an order stored before (variants take its currency).
    const opening = new SimulatedQueue();
    const first = deliveries.find((d) => d.topic === "orders/create");
    if (first) await postAll([first], { ...env, EVENTS: opening.binding });
    await drain(opening, env);
    const queue = new SimulatedQueue();
    const posted = await postAll(deliveries, { ...env, EVENTS: queue.binding });
    const run: Run = { tag, shops, deliveries, posted, deadLettered: [], faults: 0 };
    return { queue, run, messages: queue.pending.map((m) => m.body) };
  }

  async function rawObjects(run: Run): Promise<number> {
    let n = 0;
    for (const p of run.posted) {
      const row = await env.DB.prepare("SELECT r2_key FROM webhook_events WHERE source = ?1 AND event_id = ?2")
        .bind(p.delivery.source, p.eventId)
        .first<{ r2_key: string }>();
      if (row?.r2_key && (await env.LAKE.head(row.r2_key))) n++;
    }
    return n;
  }

  it("the consumer dies between the R2 write and the D1 batch: the retry applies the event once", async () => {
    const { queue, run } = await envelopesOf(`cr2${stamp()}`, 12);
    const crash = new FaultInjector({ seed: 1, rate: 1, calls: ["DB.batch"], modes: ["throw"] });
    const pending = queue.pending.splice(0);
    // First delivery: every D1 batch throws after the raw objects were written.
    expect(await deliverOnce(pending, faultyEnv(env, crash))).toBe(0);
    expect(await rawObjectsByKey(pending)).toBe(pending.length);
    // Nothing reached the tables (only the opening order is stored); the ledger says why.
    expect((await snapshot(run)).shopify_orders).toHaveLength(1);
    const opening = run.posted.find((p) => p.delivery.topic === "orders/create");
    const ledger = await ledgerOf(run);
    run.posted.forEach((p, i) => {
      if (p !== opening) expect(ledger[i]?.status ?? "retrying").toBe("retrying");
    });
    // The retry (attempt 2) finds its raw object in place and writes everything once.
    const retry = new SimulatedQueue();
    retry.pending.push(...pending.map((m) => ({ ...m, attempts: 2 })));
    await drain(retry, env);
    expect(await rawObjects(run)).toBe(run.posted.length);
    const final = await ledgerOf(run);
    run.posted.forEach((p, i) => {
      expect(final[i]).toMatchObject({ status: "applied", deliveries: p === opening ? 2 : 1 });
    });
    const halves = await env.DB.prepare(
      `SELECT count(*) AS n FROM shopify_orders o WHERE o.shop = ?1 AND o.line_item_count <>
        (SELECT count(*) FROM shopify_order_line_items l WHERE l.shop = o.shop AND l.order_id = o.id)`,
    )
      .bind(run.shops[0])
      .first<{ n: number }>();
    expect(halves?.n).toBe(0);
  });

  it("a D1 batch commits but its answer is lost, then the batch is redelivered after it was applied: nothing changes", async () => {
    const { queue, run } = await envelopesOf(`lost${stamp()}`, 15);
    const pending = queue.pending.splice(0);
    const lost = new FaultInjector({ seed: 2, rate: 1, calls: ["DB.batch"], modes: ["lost"] });
    expect(await deliverOnce(pending, faultyEnv(env, lost))).toBe(0); // committed, yet every message retried
    const afterLost = await snapshot(run);
    expect(afterLost.shopify_orders?.length).toBeGreaterThan(0);

    // The retry applies the same versions again: same rows, same child sets.
    expect(
      await deliverOnce(
        pending.map((m) => ({ ...m, attempts: 2 })),
        env,
      ),
    ).toBe(pending.length);
    expect(await snapshot(run)).toEqual(afterLost);

    // Queues redelivers the batch that was already applied and acked (at-least-once).
    expect(await deliverOnce(pending, env)).toBe(pending.length);
    expect(await snapshot(run)).toEqual(afterLost);
    expect(await rawObjects(run)).toBe(run.posted.length);
    for (const row of await ledgerOf(run)) expect(row?.status).toBe("applied");
  });
});

async function rawObjectsByKey(messages: Pending[]): Promise<number> {
  let n = 0;
  for (const m of messages) {
    const id = (m.body as { eventId: string }).eventId;
    if ((await keysFor(id)).filter((k) => k.endsWith(`/${id}.json`)).length === 1) n++;
  }
  return n;
}
