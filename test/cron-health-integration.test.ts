import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runJob } from "../src/cron/jobs";

// Health rules read windows ending at the run's time: these tests run in 2047, where no other test writes.
const NOW = new Date("2047-05-10T14:00:00.000Z");
const MIN = 60_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

interface Seed {
  source: "shopify" | "stripe" | "recharge";
  id: string;
  topic?: string;
  status?: string;
  origin?: string;
  attempts?: number;
  deliveries?: number;
  firstSeen: string;
  eventAt?: string;
}
const ledger = (s: Seed) =>
  env.DB.prepare(
    `INSERT INTO webhook_events (source, event_id, topic, received_at, event_at, origin, status, attempts, deliveries,
       first_seen_at, updated_at, error)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?4, ?4, ?10)`,
  ).bind(
    s.source,
    `hl-${s.id}`,
    s.topic ?? "orders/create",
    s.firstSeen,
    s.eventAt ?? s.firstSeen,
    s.origin ?? "webhook",
    s.status ?? "applied",
    s.attempts ?? 1,
    s.deliveries ?? 1,
    (s.attempts ?? 1) > 1 ? "Error: D1 overloaded" : null,
  );

async function seed() {
  const statements: D1PreparedStatement[] = [
    env.DB.prepare("DELETE FROM webhook_events WHERE event_id LIKE 'hl-%'"),
    env.DB.prepare("DELETE FROM alerts WHERE created_at >= '2047-01-01'"),
    env.DB.prepare("DELETE FROM backfills WHERE backfill_id LIKE 'bf_hl%'"),
    env.DB.prepare("DELETE FROM bulk_operations WHERE id LIKE 'bo_hl%'"),
  ];
  // Retry backlog: 3 Stripe charge.failed retrying for 10 minutes (alert at 3), 2 invoice events
  // (below), and 3 retrying for only 2 minutes (not yet a backlog). Origin reconcile, so they are
  // not webhooks for the silence rule below.
  for (let i = 0; i < 3; i++)
    statements.push(
      ledger({
        source: "stripe",
        id: `bl${i}`,
        topic: "charge.failed",
        status: "retrying",
        origin: "reconcile",
        firstSeen: ago(10 * MIN),
      }),
    );
  for (let i = 0; i < 2; i++)
    statements.push(
      ledger({
        source: "stripe",
        id: `bi${i}`,
        topic: "invoice.paid",
        status: "retrying",
        origin: "reconcile",
        firstSeen: ago(10 * MIN),
      }),
    );
  for (let i = 0; i < 3; i++)
    statements.push(
      ledger({
        source: "stripe",
        id: `bn${i}`,
        topic: "charge.failed",
        status: "retrying",
        origin: "reconcile",
        firstSeen: ago(2 * MIN),
      }),
    );
  // Error rate: Recharge, 10 events in the window, 2 needed a second attempt: 20 % > 5 %.
  for (let i = 0; i < 10; i++)
    statements.push(
      ledger({ source: "recharge", id: `er${i}`, topic: "charge/paid", attempts: i < 2 ? 2 : 1, firstSeen: ago(MIN) }),
    );
  // Lag: Shopify, 10 webhooks in the window, 6 stored 20 minutes after they happened (median over 15).
  for (let i = 0; i < 10; i++)
    statements.push(
      ledger({ source: "shopify", id: `lag${i}`, firstSeen: ago(MIN), eventAt: ago((i < 6 ? 21 : 1) * MIN) }),
    );
  // Silence: Stripe's last webhook 90 minutes ago (limit 60), and 14:xx had Stripe webhooks on
  // 5 of the last 7 days: an active hour.
  statements.push(ledger({ source: "stripe", id: "last", topic: "charge.succeeded", firstSeen: ago(90 * MIN) }));
  for (const d of [1, 2, 3, 5, 7])
    statements.push(
      ledger({
        source: "stripe",
        id: `day${d}`,
        topic: "charge.succeeded",
        firstSeen: ago(d * 24 * 60 * MIN - 10 * MIN),
      }),
    );
  // Recharge redeliveries in 48 h: subscription/updated 5 + 5 = 10 (alert at 10); charge/failed 3 + 3 = 6.
  statements.push(
    ledger({
      source: "recharge",
      id: "rd1",
      topic: "subscription/updated",
      deliveries: 6,
      firstSeen: ago(3 * 60 * MIN),
    }),
    ledger({
      source: "recharge",
      id: "rd2",
      topic: "subscription/updated",
      deliveries: 6,
      firstSeen: ago(30 * 60 * MIN),
    }),
    ledger({ source: "recharge", id: "rd3", topic: "charge/failed", deliveries: 4, firstSeen: ago(3 * 60 * MIN) }),
    ledger({ source: "recharge", id: "rd4", topic: "charge/failed", deliveries: 4, firstSeen: ago(3 * 60 * MIN) }),
    // Outside the 48 hours: not counted.
    ledger({ source: "recharge", id: "rd5", topic: "charge/failed", deliveries: 9, firstSeen: ago(50 * 60 * MIN) }),
  );
  // A failed Recharge backfill and a failed Shopify export within the day; an older failure is not news.
  statements.push(
    env.DB.prepare(
      `INSERT INTO backfills (backfill_id, source, resource, status, requested_by, requested_at, updated_at, finished_at, error)
       VALUES ('bf_hl1', 'recharge', 'charges', 'failed', 'admin', ?1, ?1, ?1, 'HTTP 401')`,
    ).bind(ago(60 * MIN)),
    env.DB.prepare(
      `INSERT INTO bulk_operations (id, backfill_id, shop, resource, status, error, requested_at, finished_at, updated_at)
       VALUES ('bo_hl1', 'bf_hlx', 'hl.myshopify.com', 'orders', 'failed', 'ACCESS_DENIED', ?1, ?1, ?1),
              ('bo_hl2', 'bf_hlx', 'hl.myshopify.com', 'customers', 'failed', 'old', ?2, ?2, ?2)`,
    ).bind(ago(120 * MIN), ago(30 * 60 * MIN)),
  );
  await env.DB.batch(statements);
}

const healthEnv = { ...env, HEALTH_RETRY_BACKLOG: "3", HEALTH_MIN_EVENTS: "4" } as Env;

describe("pipeline-health rules (job health)", () => {
  it("raises each rule once per key, with source, topic and a sample event id", async () => {
    await seed();
    const run = await runJob(healthEnv, "health", { now: NOW });
    expect(run.job).toBe("health");
    const alerts = await env.DB.prepare(
      "SELECT rule, alert_key, source, event_id, fields, occurrences FROM alerts WHERE created_at >= '2047-01-01' ORDER BY alert_key",
    ).all<{
      rule: string;
      alert_key: string;
      source: string;
      event_id: string | null;
      fields: string;
      occurrences: number;
    }>();
    const byKey = Object.fromEntries(alerts.results.map((a) => [a.alert_key, a]));
    expect(Object.keys(byKey)).toEqual([
      "backfill_failed:bf_hl1:charges",
      "bulk_failed:bo_hl1",
      "error_rate:recharge",
      "pipeline_lag:shopify",
      "recharge_webhook_failing:subscription/updated",
      "retry_backlog:stripe:charge.failed",
      "source_silent_active_hours:stripe",
    ]);
    const fields = (key: string) =>
      Object.fromEntries(
        (JSON.parse(byKey[key]?.fields ?? "[]") as Array<{ name: string; value: string }>).map((f) => [
          f.name,
          f.value,
        ]),
      );
    expect(byKey["retry_backlog:stripe:charge.failed"]).toMatchObject({ source: "stripe", event_id: "hl-bl2" });
    expect(fields("retry_backlog:stripe:charge.failed")).toMatchObject({
      source: "stripe",
      topic: "charge.failed",
      retrying: "3",
    });
    expect(fields("error_rate:recharge")).toMatchObject({
      topic: "charge/paid",
      errors: "2 of 10",
      "last error": "Error: D1 overloaded",
    });
    expect(fields("pipeline_lag:shopify")).toMatchObject({
      late: "6 of 10",
      "worst lag (min)": "20",
      topic: "orders/create",
    });
    expect(fields("source_silent_active_hours:stripe")).toMatchObject({
      "sample event": "hl-last",
      topic: "charge.succeeded",
    });
    expect(fields("recharge_webhook_failing:subscription/updated")).toMatchObject({ "failed attempts (48 h)": "10" });
    expect(fields("bulk_failed:bo_hl1")).toMatchObject({ error: "ACCESS_DENIED", source: "shopify" });

    // Five minutes later the same conditions bump the recurring alerts; the failed loads stay one alert.
    await runJob(healthEnv, "health", { now: new Date(NOW.getTime() + 5 * MIN) });
    const again = await env.DB.prepare(
      "SELECT alert_key, occurrences FROM alerts WHERE created_at >= '2047-01-01' ORDER BY alert_key",
    ).all<{ alert_key: string; occurrences: number }>();
    expect(again.results.length).toBe(7);
    const occ = Object.fromEntries(again.results.map((a) => [a.alert_key, a.occurrences]));
    expect(occ["bulk_failed:bo_hl1"]).toBe(1);
    expect(occ["backfill_failed:bf_hl1:charges"]).toBe(1);
    expect(occ["recharge_webhook_failing:subscription/updated"]).toBe(2);
  });

  it("stays quiet in an hour the source is usually quiet, and below every threshold", async () => {
    await seed();
    // Two hours later: the Stripe silence is in an hour with no history, the window has no events.
    const later = new Date(NOW.getTime() + 120 * MIN);
    const run = await runJob({ ...env, HEALTH_RETRY_BACKLOG: "50" } as Env, "health", { now: later });
    const raised = run.job === "health" ? run.result.raised.map((r) => r.key) : null;
    expect(raised).toEqual([
      "recharge_webhook_failing:subscription/updated",
      "bulk_failed:bo_hl1",
      "backfill_failed:bf_hl1:charges",
    ]);
  });
});

describe("silence in active hours past the ledger's retention", () => {
  it("counts the days the ledger no longer holds from the hourly counts", async () => {
    // 2048, where no other test writes: the ledger holds the last webhook only (retention kept 2 days),
    // the hourly counts say the hour had Recharge webhooks on each of the 7 days before.
    const now = new Date("2048-03-10T14:20:00.000Z");
    const hour = Date.parse("2048-03-10T14:00:00.000Z");
    await env.DB.batch([
      env.DB.prepare("DELETE FROM alerts WHERE created_at >= '2048-01-01' AND created_at < '2049-01-01'"),
      ledger({
        source: "recharge",
        id: "rt-last",
        topic: "charge/paid",
        firstSeen: new Date(now.getTime() - 3 * 60 * MIN).toISOString(),
      }),
      ...[1, 2, 3, 4, 5, 6, 7].map((d) =>
        env.DB.prepare(
          "INSERT INTO ledger_hour_counts (source, resource, hour, webhooks, counted_at) VALUES ('recharge', 'charges', ?1, 9, ?2)",
        ).bind(new Date(hour - d * 24 * 60 * MIN).toISOString().slice(0, 13), now.toISOString()),
      ),
    ]);
    await runJob({ ...env, HEALTH_SILENCE_MINUTES: "recharge=120" } as Env, "health", { now });
    const alert = await env.DB.prepare(
      "SELECT rule, title FROM alerts WHERE alert_key = 'source_silent_active_hours:recharge' AND created_at >= '2048-01-01'",
    ).first<{ rule: string; title: string }>();
    expect(alert?.title).toContain("in an hour that had webhooks on 7 of the last 7 days");
  });
});
