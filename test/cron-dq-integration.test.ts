import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runJob } from "../src/cron/jobs";
import { moneyIntegrity, referentialIntegrity } from "../src/cron/quality/integrity";
import { deadLetters, duplicateDeliveries, quarantine } from "../src/cron/quality/ledger";
import { countParity, ORDERS_COUNT_QUERY } from "../src/cron/quality/parity";
import type { DqCheck, DqContext, DqResult } from "../src/cron/quality/types";
import { freshness, hourlyGaps, volumeDrop } from "../src/cron/quality/volume";
import { coordinatorConnector } from "../src/cron/shopify-port";
import { cronSettings } from "../src/shared/settings";
import { DAY, HOUR, iso, type LedgerSeed, MINUTE, registerShopToken, routeFetch, seedLedger } from "./cron-helpers";
import { FakeShopifyAdmin } from "./fakes/shopify-admin";
import { makeShopData } from "./fakes/shopify-data";

// Every test reads a window of its own in 2031 (checks take the window end as `now`), so rows
// written by other tests, which all live elsewhere in time, never enter a check.
afterEach(() => vi.restoreAllMocks());

let window = 0;
/** A fresh window end: 40 days after the previous one, on the hour plus 5 minutes (when the job runs). */
function nextNow(): number {
  window++;
  return Date.parse("2031-01-01T00:05:00Z") + window * 40 * DAY;
}

function ctx(now: number, over: Partial<DqContext> = {}): DqContext {
  return {
    env,
    settings: cronSettings(env),
    now: new Date(now),
    connector: coordinatorConnector(env),
    shops: [],
    ...over,
  };
}

async function only(check: DqCheck, now: number, subject: string, over: Partial<DqContext> = {}): Promise<DqResult> {
  const results = await check(ctx(now, over));
  const r = results.find((x) => x.subject === subject);
  if (!r) throw new Error(`no result for ${subject}: ${JSON.stringify(results.map((x) => x.subject))}`);
  return r;
}

let seq = 0;
const eid = (p: string) => `dq-${p}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

/** Webhook rows for `source/resource` at the given hour starts (n per hour, a minute into the hour). */
function hourly(source: LedgerSeed["source"], resource: string, hours: number[], n = 1): LedgerSeed[] {
  return hours.flatMap((h) =>
    Array.from({ length: n }, (_, i) => ({
      source,
      resource,
      topic: `${resource}/x`,
      eventId: eid(resource),
      receivedAt: iso(h + MINUTE + i * 1000),
    })),
  );
}

const hourStart = (now: number) => Math.floor(now / HOUR) * HOUR;

describe("hourly gaps", () => {
  const busyHours = (now: number, skip: number[] = []) => {
    const end = hourStart(now);
    const hours: number[] = [];
    for (let k = 1; k <= 8 * 24; k++) if (!skip.includes(k)) hours.push(end - k * HOUR);
    return hours;
  };

  it("passes when every normally busy hour had webhooks", async () => {
    const now = nextNow();
    await seedLedger(hourly("stripe", "invoices", busyHours(now)));
    expect(await only(hourlyGaps, now, "stripe/invoices")).toMatchObject({ outcome: "PASS", value: 0 });
  });

  it("fails when busy hours of the last 24 h were empty", async () => {
    const now = nextNow();
    await seedLedger(hourly("stripe", "invoices", busyHours(now, [3, 4, 9])));
    const r = await only(hourlyGaps, now, "stripe/invoices");
    expect(r).toMatchObject({ outcome: "FAIL", value: 3 });
    expect(r.details?.empty_hours).toHaveLength(3);
  });
});

describe("volume drop", () => {
  /** `n` events in the last full hour and `avg` in the same hour on each of the 7 days before. */
  const seed = (now: number, last: number, avg: number) => {
    const lastHour = hourStart(now) - HOUR;
    const rows = hourly("shopify", "orders", [lastHour], last);
    for (let d = 1; d <= 7; d++) rows.push(...hourly("shopify", "orders", [lastHour - d * DAY], avg));
    return seedLedger(rows);
  };

  it("passes at the usual volume", async () => {
    const now = nextNow();
    await seed(now, 12, 12);
    expect(await only(volumeDrop, now, "shopify")).toMatchObject({ outcome: "PASS", value: 1 });
  });

  it("fails when the last hour is below half the 7-day average", async () => {
    const now = nextNow();
    await seed(now, 4, 12);
    expect(await only(volumeDrop, now, "shopify")).toMatchObject({ outcome: "FAIL", value: 0.333, threshold: 0.5 });
  });
});

describe("volume past the ledger's retention", () => {
  it("judges the last hour against days the ledger no longer holds, from the hourly counts", async () => {
    const now = nextNow();
    const end = hourStart(now);
    const hours: number[] = [];
    for (let k = 1; k <= 8 * 24; k++) hours.push(end - k * HOUR);
    await seedLedger(hourly("shopify", "orders", hours, 12));
    // An hourly run counts the 8 days while the ledger holds them.
    expect(await only(volumeDrop, now, "shopify")).toMatchObject({ outcome: "PASS", value: 1 });
    const counted = await env.DB.prepare(
      "SELECT count(*) AS hours, sum(webhooks) AS webhooks FROM ledger_hour_counts WHERE source = 'shopify' AND resource = 'orders' AND hour >= ?1 AND hour < ?2",
    )
      .bind(iso(end - 8 * DAY).slice(0, 13), iso(end).slice(0, 13))
      .first();
    expect(counted).toEqual({ hours: 8 * 24, webhooks: 8 * 24 * 12 });
    // Retention keeps 3 days; the next hour brings 3 orders where the same hour had 12 on every day.
    await env.DB.prepare(
      "DELETE FROM webhook_events WHERE source = 'shopify' AND received_at >= ?1 AND received_at < ?2",
    )
      .bind(iso(end - 9 * DAY), iso(end - 3 * DAY))
      .run();
    await seedLedger(hourly("shopify", "orders", [end], 3));
    const r = await only(volumeDrop, now + HOUR, "shopify");
    expect(r).toMatchObject({ outcome: "FAIL", value: 0.25 });
    expect(r.details).toMatchObject({ last_hour: 3, seven_day_average: 12 });
  });
});

describe("freshness", () => {
  it("passes when the source delivered recently", async () => {
    const now = nextNow();
    await seedLedger([{ source: "stripe", eventId: eid("fresh"), receivedAt: iso(now - 10 * MINUTE) }]);
    expect(await only(freshness, now, "stripe")).toMatchObject({ outcome: "PASS", value: 10 });
  });

  it("fails when the source is silent past its limit, and warns when it was never seen", async () => {
    const now = nextNow();
    await seedLedger([{ source: "stripe", eventId: eid("stale"), receivedAt: iso(now - 2 * DAY) }]);
    expect(await only(freshness, now, "stripe")).toMatchObject({ outcome: "FAIL", value: 2880, threshold: 720 });
    expect(await only(freshness, now, "recharge")).toMatchObject({ outcome: "WARN", value: null });
  });
});

describe("referential integrity", () => {
  async function order(shop: string, id: string, at: string, lines: Array<{ id: string; orderId?: string }>) {
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO shopify_orders (shop, id, currency, total_price_minor, total_shipping_minor, total_tax_minor,
           total_discounts_minor, updated_at, last_event_id, event_at, origin)
         VALUES (?1, ?2, 'USD', ?3, ?4, ?5, ?6, ?7, 'dq', ?7, 'webhook')`,
      ).bind(shop, id, 2650, 500, 150, 0, at),
      ...lines.map((l, i) =>
        env.DB.prepare(
          `INSERT INTO shopify_order_line_items (shop, id, order_id, position, quantity, price_minor, updated_at,
             last_event_id, event_at, origin) VALUES (?1, ?2, ?3, ?4, 2, 1000, ?5, 'dq', ?5, 'webhook')`,
        ).bind(shop, l.id, l.orderId ?? id, i + 1, at),
      ),
    ]);
  }
  async function charge(id: string, subscriptionId: string, at: string, withSubscription: boolean) {
    const statements = [
      env.DB.prepare(
        "INSERT INTO recharge_charges (id, status, updated_at, last_event_id) VALUES (?1, 'success', ?2, 'dq')",
      ).bind(id, at),
      env.DB.prepare(
        `INSERT INTO recharge_charge_line_items (charge_id, position, purchase_item_id, purchase_item_type, updated_at,
           last_event_id) VALUES (?1, 0, ?2, 'subscription', ?3, 'dq')`,
      ).bind(id, subscriptionId, at),
    ];
    if (withSubscription) {
      statements.push(
        env.DB.prepare(
          "INSERT INTO recharge_subscriptions (id, status, updated_at, last_event_id) VALUES (?1, 'active', ?2, 'dq')",
        ).bind(subscriptionId, at),
      );
    }
    await env.DB.batch(statements);
  }
  async function identity(externalId: string, profileId: string, at: string, withProfile: boolean) {
    const statements = [
      env.DB.prepare(
        `INSERT INTO customer_identities (source, external_id, shop, profile_id, email, matched_by, created_at,
           updated_at, last_event_id) VALUES ('stripe', ?1, '', ?2, NULL, 'email', ?3, ?3, 'dq')`,
      ).bind(externalId, profileId, at),
    ];
    if (withProfile) {
      statements.push(
        env.DB.prepare(
          "INSERT INTO customer_profiles (id, email, created_at, updated_at, last_event_id) VALUES (?1, ?2, ?3, ?3, 'dq')",
        ).bind(profileId, `${profileId}@example.com`, at),
      );
    }
    await env.DB.batch(statements);
  }

  it("passes when line items, charges and identities all resolve", async () => {
    const now = nextNow();
    const at = iso(now - HOUR);
    const s = eid("ri");
    await order("dq-ri.myshopify.com", `o-${s}`, at, [{ id: `l1-${s}` }, { id: `l2-${s}` }]);
    await charge(`c-${s}`, `s-${s}`, at, true);
    await identity(`cus-${s}`, `p-${s}`, at, true);
    const results = await referentialIntegrity(ctx(now));
    expect(results.map((r) => [r.subject, r.outcome, r.value])).toEqual([
      ["shopify_order_line_items→shopify_orders", "PASS", 0],
      ["recharge_charges→recharge_subscriptions", "PASS", 0],
      ["customer_identities→customer_profiles", "PASS", 0],
    ]);
  });

  it("fails for a line item without its order, a charge without its subscription, an identity without its profile", async () => {
    const now = nextNow();
    const at = iso(now - HOUR);
    const s = eid("ri");
    await order("dq-ri.myshopify.com", `o-${s}`, at, [{ id: `l1-${s}` }, { id: `l2-${s}`, orderId: `gone-${s}` }]);
    await charge(`c-${s}`, `s-${s}`, at, false);
    await identity(`cus-${s}`, `p-${s}`, at, false);
    const results = await referentialIntegrity(ctx(now));
    expect(results.map((r) => [r.subject, r.outcome, r.value])).toEqual([
      ["shopify_order_line_items→shopify_orders", "FAIL", 1],
      ["recharge_charges→recharge_subscriptions", "FAIL", 1],
      ["customer_identities→customer_profiles", "FAIL", 1],
    ]);
    expect(results[0]?.details?.sample).toEqual([`dq-ri.myshopify.com/gone-${s}`]);
  });
});

describe("money integrity", () => {
  async function order(id: string, at: string, total: number, lines: number[]) {
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO shopify_orders (shop, id, currency, total_price_minor, total_shipping_minor, total_tax_minor,
           total_discounts_minor, updated_at, last_event_id, event_at, origin)
         VALUES ('dq-money.myshopify.com', ?1, 'USD', ?2, 500, 150, 300, ?3, 'dq', ?3, 'webhook')`,
      ).bind(id, total, at),
      ...lines.map((price, i) =>
        env.DB.prepare(
          `INSERT INTO shopify_order_line_items (shop, id, order_id, position, quantity, price_minor, updated_at,
             last_event_id, event_at, origin) VALUES ('dq-money.myshopify.com', ?1, ?2, ?3, 1, ?4, ?5, 'dq', ?5, 'webhook')`,
        ).bind(`${id}-l${i}`, id, i + 1, price, at),
      ),
    ]);
  }

  it("passes when lines + shipping + tax − discounts equal the total (or tax is included)", async () => {
    const now = nextNow();
    const at = iso(now - HOUR);
    await order(eid("m"), at, 2000 + 500 + 150 - 300, [1200, 800]);
    await order(eid("m"), at, 2000 + 500 - 300, [1200, 800]);
    expect(await only(moneyIntegrity, now, "shopify_orders")).toMatchObject({ outcome: "PASS", value: 0 });
  });

  it("fails when an order's parts do not add up to its total", async () => {
    const now = nextNow();
    const at = iso(now - HOUR);
    const bad = eid("m");
    await order(bad, at, 9999, [1200, 800]);
    const r = await only(moneyIntegrity, now, "shopify_orders");
    expect(r).toMatchObject({ outcome: "FAIL", value: 1 });
    expect(r.details?.sample).toEqual([`dq-money.myshopify.com/${bad}`]);
  });
});

describe("dead letters and quarantine", () => {
  it("pass when nothing failed or was quarantined", async () => {
    const now = nextNow();
    await seedLedger([{ source: "recharge", eventId: eid("ok"), receivedAt: iso(now - HOUR) }]);
    expect(await only(deadLetters, now, "recharge")).toMatchObject({ outcome: "PASS", value: 0 });
    expect(await only(quarantine, now, "recharge")).toMatchObject({ outcome: "PASS", value: 0 });
  });

  it("fail on events dead-lettered in the last hour; warn on older ones or dead-letter objects only", async () => {
    const now = nextNow();
    await seedLedger([
      {
        source: "recharge",
        eventId: eid("dl"),
        receivedAt: iso(now - 3 * HOUR),
        status: "failed",
        updatedAt: iso(now - 10 * MINUTE),
      },
      {
        source: "shopify",
        eventId: eid("dl"),
        receivedAt: iso(now - 9 * HOUR),
        status: "failed",
        updatedAt: iso(now - 5 * HOUR),
      },
    ]);
    await env.LAKE.put(`dead-letter/unknown/dt=${iso(now).slice(0, 10)}/${eid("obj")}.json`, "{}");
    expect(await only(deadLetters, now, "recharge")).toMatchObject({ outcome: "FAIL", value: 1 });
    expect(await only(deadLetters, now, "shopify")).toMatchObject({ outcome: "WARN", value: 0 });
    expect(await only(deadLetters, now, "unknown")).toMatchObject({
      outcome: "WARN",
      details: { dead_letter_objects: 1 },
    });
  });

  it("fails when quarantined events in the last hour reach the threshold", async () => {
    const now = nextNow();
    const rows: LedgerSeed[] = Array.from({ length: 5 }, () => ({
      source: "shopify" as const,
      eventId: eid("q"),
      receivedAt: iso(now - 20 * MINUTE),
      status: "quarantined",
    }));
    rows.push({ source: "stripe", eventId: eid("q"), receivedAt: iso(now - 6 * HOUR), status: "quarantined" });
    await seedLedger(rows);
    expect(await only(quarantine, now, "shopify")).toMatchObject({ outcome: "FAIL", value: 5, threshold: 5 });
    expect(await only(quarantine, now, "stripe")).toMatchObject({ outcome: "WARN", value: 0 });
  });
});

describe("duplicate deliveries", () => {
  it("passes when sources rarely deliver twice", async () => {
    const now = nextNow();
    await seedLedger(
      Array.from({ length: 25 }, (_, i) => ({
        source: "shopify" as const,
        eventId: eid("d"),
        receivedAt: iso(now - HOUR),
        deliveries: i === 0 ? 2 : 1,
      })),
    );
    expect(await only(duplicateDeliveries, now, "shopify")).toMatchObject({ outcome: "PASS", value: 0.04 });
  });

  it("fails when most events arrive several times", async () => {
    const now = nextNow();
    await seedLedger(
      Array.from({ length: 10 }, () => ({
        source: "shopify" as const,
        eventId: eid("d"),
        receivedAt: iso(now - HOUR),
        deliveries: 3,
      })),
    );
    expect(await only(duplicateDeliveries, now, "shopify")).toMatchObject({ outcome: "FAIL", value: 2 });
  });
});

describe("count parity with Shopify", () => {
  /** The fake Admin API has no ordersCount; this answers it from the fake's data, with a realistic cost. */
  function withOrdersCount(fake: FakeShopifyAdmin) {
    return {
      serves: (url: URL) => fake.serves(url),
      async handle(request: Request): Promise<Response> {
        const body = (await request.clone().json()) as { query?: string; variables?: { query?: string } };
        if (body.query !== ORDERS_COUNT_QUERY) return fake.handle(request);
        const q = body.variables?.query ?? "";
        const from = Date.parse(/created_at:>='([^']+)'/.exec(q)?.[1] ?? "");
        const to = Date.parse(/created_at:<'([^']+)'/.exec(q)?.[1] ?? "");
        const count = fake.data.orders.filter((o) => {
          const t = Date.parse(String(o.createdAt));
          return t >= from && t < to;
        }).length;
        return Response.json({
          data: { ordersCount: { count, precision: "EXACT" } },
          extensions: {
            cost: {
              requestedQueryCost: 1,
              actualQueryCost: 1,
              throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1999, restoreRate: 100 },
            },
          },
        });
      },
    };
  }

  async function setup(name: string, now: number, stored: number) {
    const shop = `${name}.myshopify.com`;
    const data = makeShopData(shop, { orders: 4, since: iso(now - 10 * HOUR) });
    const fake = new FakeShopifyAdmin(shop, data);
    registerShopToken(shop, fake.token);
    routeFetch(() => [withOrdersCount(fake)]);
    await env.DB.batch(
      data.orders.slice(0, stored).map((o) =>
        env.DB.prepare(
          `INSERT INTO shopify_orders (shop, id, currency, created_at, updated_at, last_event_id, event_at, origin)
           VALUES (?1, ?2, 'USD', ?3, ?3, 'dq', ?3, 'webhook')`,
        ).bind(shop, String(o.id).split("/").pop(), new Date(String(o.createdAt)).toISOString()),
      ),
    );
    return shop;
  }

  it("passes when D1 holds every order Shopify counts", async () => {
    const now = nextNow();
    const shop = await setup("dq-parity-ok", now, 4);
    expect(await only(countParity, now, shop, { shops: [shop] })).toMatchObject({
      outcome: "PASS",
      value: 0,
      details: { shopify: 4, d1: 4 },
    });
  });

  it("fails when D1 is missing orders Shopify has", async () => {
    const now = nextNow();
    const shop = await setup("dq-parity-gap", now, 3);
    expect(await only(countParity, now, shop, { shops: [shop] })).toMatchObject({
      outcome: "FAIL",
      value: 1,
      details: { shopify: 4, d1: 3 },
    });
  });
});

describe("the data-quality job", () => {
  it("stores results in dq_runs, dq_results and R2, and alerts once per failing check within the window", async () => {
    const now = nextNow();
    // Stripe last delivered two days ago: freshness fails for Stripe only.
    await seedLedger([
      { source: "stripe", eventId: eid("job"), receivedAt: iso(now - 2 * DAY) },
      { source: "shopify", eventId: eid("job"), receivedAt: iso(now - 5 * MINUTE) },
      { source: "recharge", eventId: eid("job"), receivedAt: iso(now - 5 * MINUTE) },
    ]);
    const run = await runJob(env, "data-quality", { now: new Date(now), options: { shops: [] } });
    if (run.job !== "data-quality" || run.result.skipped) throw new Error("data-quality did not run");
    const result = run.result;
    expect(result.reportKey).toBe(`metadata/data_quality/dt=${iso(now).slice(0, 10)}/${run.runId}.json`);
    const stored = await env.DB.prepare("SELECT * FROM dq_runs WHERE run_id = ?1").bind(run.runId).first();
    expect(stored).toMatchObject({ window_end: iso(now), fail_count: result.fail, report_key: result.reportKey });
    const rows = await env.DB.prepare("SELECT check_name, subject, outcome FROM dq_results WHERE run_id = ?1")
      .bind(run.runId)
      .all<{ check_name: string; subject: string; outcome: string }>();
    expect(rows.results).toHaveLength(result.results.length);
    expect(rows.results).toContainEqual({ check_name: "freshness", subject: "stripe", outcome: "FAIL" });
    const report = (await (await env.LAKE.get(result.reportKey))?.json()) as { results: DqResult[] };
    expect(report.results).toHaveLength(result.results.length);

    const silent = () =>
      env.DB.prepare(
        "SELECT rule, severity, occurrences, status FROM alerts WHERE alert_key = 'source_silent:stripe' AND created_at = ?1",
      )
        .bind(iso(now))
        .all();
    expect((await silent()).results).toEqual([
      { rule: "source_silent", severity: "critical", occurrences: 1, status: "pending" },
    ]);

    // An hour later it still fails: the same alert, counted, not a second message.
    const again = await runJob(env, "data-quality", { now: new Date(now + HOUR), options: { shops: [] } });
    expect(again.job).toBe("data-quality");
    expect((await silent()).results).toEqual([
      { rule: "source_silent", severity: "critical", occurrences: 2, status: "pending" },
    ]);
    const all = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM alerts WHERE alert_key = 'source_silent:stripe' AND created_at >= ?1 AND created_at <= ?2",
    )
      .bind(iso(now), iso(now + HOUR))
      .first<{ n: number }>();
    expect(all?.n).toBe(1);
  });

  it("skips while another data-quality run holds the lease", async () => {
    const now = nextNow();
    await env.DB.prepare(
      "INSERT INTO job_leases (name, holder, acquired_at, expires_at) VALUES ('data-quality', 'other-dq', ?1, ?2)",
    )
      .bind(iso(now - MINUTE), iso(now + 10 * MINUTE))
      .run();
    try {
      const run = await runJob(env, "data-quality", { now: new Date(now), options: { shops: [] } });
      expect(run).toMatchObject({ job: "data-quality", result: { skipped: true, heldBy: "other-dq" } });
    } finally {
      await env.DB.prepare("DELETE FROM job_leases WHERE name = 'data-quality' AND holder = 'other-dq'").run();
    }
  });
});
