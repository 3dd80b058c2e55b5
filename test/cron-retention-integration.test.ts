import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { runJob } from "../src/cron/jobs";
import { ledgerCutoffs } from "../src/cron/retention/retention";
import worker from "../src/index";
import type { Envelope } from "../src/shared/envelope";
import { webhookEvents } from "../src/shared/schema/ledger";
import { consumeBodies } from "./cron-helpers";
import { onStatement } from "./fakes/limits";
import stripeCharge from "./fixtures/stripe/charge.json";
import { adminRequest } from "./helpers/requests";
import { expectMatchesMigration } from "./helpers/schema-match";

// Retention runs in March 2013 (ledger rows received then, no other test writes that year) and is
// limited to days from 2013-01-01, so it never touches another test's rows.
const NOW = new Date("2013-03-20T06:00:00.000Z");
const FROM = "2013-01-01";
const retentionEnv = { ...env, RETENTION_DAYS: "1" } as Env;

function stripeFailed(eventId: string, receivedAt: string): Envelope {
  const object = {
    ...stripeCharge,
    id: `ch_${eventId}`,
    status: "failed",
    amount: 50_000,
    failure_code: "card_declined",
  };
  const body = JSON.stringify({
    id: eventId,
    object: "event",
    type: "charge.failed",
    created: 1_362_900_000,
    data: { object },
  });
  return {
    v: 1,
    source: "stripe",
    topic: "charge.failed",
    eventId,
    shop: null,
    receivedAt,
    eventAt: receivedAt,
    apiVersion: null,
    origin: "webhook",
    body,
  };
}

const ledgerSeed = (source: string, id: string, receivedAt: string, status = "applied") =>
  env.DB.prepare(
    `INSERT INTO webhook_events (source, event_id, topic, received_at, event_at, origin, status, attempts, deliveries,
       first_seen_at, updated_at)
     VALUES (?1, ?2, 'x/y', ?3, ?3, 'webhook', ?4, 1, 1, ?3, ?3)`,
  ).bind(source, id, receivedAt, status);

const ledgerRow = (source: string, id: string) =>
  env.DB.prepare("SELECT * FROM webhook_events WHERE source = ?1 AND event_id = ?2")
    .bind(source, id)
    .first<Record<string, unknown>>();

describe("retention of a day larger than one run", () => {
  it("archives what its query budget allows, leaves the rest for the next run, and loses no row", async () => {
    const day = "2013-01-05";
    const ids = Array.from({ length: 2500 }, (_, i) => `big-${i}`);
    for (let i = 0; i < ids.length; i += 50) {
      await env.DB.batch(
        ids
          .slice(i, i + 50)
          .map((id, j) => ledgerSeed("shopify", id, `${day}T01:${String((i + j) % 60).padStart(2, "0")}:00.000Z`)),
      );
    }
    const left = async () =>
      (
        await env.DB.prepare("SELECT count(*) AS n FROM webhook_events WHERE event_id LIKE 'big-%'").first<{
          n: number;
        }>()
      )?.n;
    // Two queries a run: the day's first page (1,000 rows) and no more.
    const runs: number[] = [];
    for (let i = 0; i < 5 && (await left()) !== 0; i++) {
      await runJob(retentionEnv, "retention", { now: NOW, options: { fromDay: day, ledgerQueries: 2 } });
      runs.push((await left()) as number);
    }
    expect(runs).toEqual([1500, 500, 0]);
    // Every row is in the archive, once.
    const listed = await env.LAKE.list({ prefix: `metadata/ledger/dt=${day}/` });
    const archived: string[] = [];
    for (const o of listed.objects) {
      const body = await (await env.LAKE.get(o.key))?.arrayBuffer();
      const rows = (await parquetReadObjects({ file: body as ArrayBuffer, columns: ["event_id"] })) as Array<{
        event_id: string;
      }>;
      archived.push(...rows.map((r) => r.event_id).filter((id) => id.startsWith("big-")));
    }
    expect(archived.sort()).toEqual([...ids].sort());
  });
});

describe("retention's reads of a large day", () => {
  it("reads each row of the day about once, whatever the number of pages", async () => {
    const day = "2013-01-07";
    const n = 6_000;
    await env.DB.prepare(
      `INSERT INTO webhook_events (source, event_id, topic, received_at, event_at, origin, status, attempts, deliveries,
         first_seen_at, updated_at)
       SELECT 'shopify', 'reads-' || value, 'x/y', strftime('%Y-%m-%dT%H:%M:%fZ', ?1, '+' || (value * 7) || ' seconds'),
         ?1, 'webhook', 'applied', 1, 1, ?1, ?1 FROM json_each(?2)`,
    )
      .bind(`${day}T00:00:00.000Z`, JSON.stringify(Array.from({ length: n }, (_, i) => i)))
      .run();
    const pages: number[] = [];
    const stop = onStatement((s) => {
      if (s.sql.startsWith("SELECT CAST(rowid AS TEXT) AS _rowid")) pages.push(s.rowsRead);
    });
    try {
      await runJob(retentionEnv, "retention", { now: NOW, options: { fromDay: day } });
    } finally {
      stop();
    }
    const left = await env.DB.prepare("SELECT count(*) AS n FROM webhook_events WHERE event_id LIKE 'reads-%'").first();
    expect(left).toEqual({ n: 0 });
    // Seven pages of 1,000: each reads its own rows (an ORDER BY the index did not serve sorted the
    // day's rest on every page, about 2 × 21,000 rows here).
    expect(pages.length).toBeGreaterThanOrEqual(6);
    expect(pages.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(n * 1.05);
  });
});

describe("retention of operational tables", () => {
  it("matches the ledger's drizzle definition", async () => {
    await expectMatchesMigration(webhookEvents);
  });

  it("keeps every source's redelivery horizon however short the window", () => {
    // Window 1 day: Shopify keeps 48 h + the 60 min reconciliation lookback, Stripe 30 days, Recharge 48 h,
    // in whole UTC days (rows received before the day given may go).
    expect(ledgerCutoffs(NOW, 1, 60 * 60_000)).toEqual({
      shopify: "2013-03-18",
      stripe: "2013-02-18",
      recharge: "2013-03-18",
    });
    // The default 90 days is longer than every horizon.
    expect(ledgerCutoffs(NOW, 90, 60 * 60_000)).toEqual({
      shopify: "2012-12-20",
      stripe: "2012-12-20",
      recharge: "2012-12-20",
    });
  });

  it("archives old rows to R2 and deletes them, but a redelivery inside the horizon is still a duplicate", async () => {
    await env.DB.batch([
      env.DB.prepare("DELETE FROM webhook_events WHERE event_id LIKE 'rt-%' OR event_id LIKE 'evt_rt_%'"),
      env.DB.prepare("DELETE FROM alerts WHERE alert_key LIKE 'rt-%' OR event_id LIKE 'evt_rt_%'"),
      env.DB.prepare("DELETE FROM reconcile_runs WHERE run_id LIKE 'rt-%'"),
      env.DB.prepare("DELETE FROM dq_runs WHERE run_id LIKE 'rt-%'"),
      env.DB.prepare("DELETE FROM dq_results WHERE run_id LIKE 'rt-%'"),
      env.DB.prepare("DELETE FROM bulk_operations WHERE id LIKE 'bo_rt%'"),
    ]);
    // A high-value failed Stripe charge received 10 days before the run: applied, and it raised an alert.
    const charge = stripeFailed(`evt_rt_${Date.now()}`, "2013-03-10T12:00:00.000Z");
    expect((await consumeBodies([charge])).explicitAcks).toHaveLength(1);
    const alertsOf = () =>
      env.DB.prepare("SELECT occurrences FROM alerts WHERE event_id = ?1")
        .bind(charge.eventId)
        .all<{ occurrences: number }>();
    expect((await alertsOf()).results).toEqual([{ occurrences: 1 }]);

    await env.DB.batch([
      ledgerSeed("stripe", "rt-stripe-old", "2013-02-10T12:00:00.000Z"), // 38 days: past Stripe's 30
      ledgerSeed("recharge", "rt-recharge-old", "2013-03-15T12:00:00.000Z"), // past 48 h
      ledgerSeed("recharge", "rt-recharge-new", "2013-03-19T00:00:00.000Z"), // inside 48 h
      ledgerSeed("shopify", "rt-shopify-old", "2013-03-17T12:00:00.000Z"), // before 2013-03-18
      ledgerSeed("shopify", "rt-shopify-new", "2013-03-18T10:00:00.000Z"), // inside 48 h + lookback
      ledgerSeed("recharge", "rt-retrying", "2013-03-01T00:00:00.000Z", "retrying"), // unfinished: kept
      // Operational rows: old finished ones go, unfinished ones stay.
      env.DB.prepare(
        `INSERT INTO alerts (id, rule, alert_key, severity, title, fields, created_at, last_seen_at, status, next_attempt_at)
         VALUES ('rt-a1', 'dq_fail', 'rt-sent', 'warning', 't', '[]', '2013-03-01T00:00:00.000Z', '2013-03-01T00:00:00.000Z', 'sent', '2013-03-01T00:00:00.000Z'),
                ('rt-a2', 'dq_fail', 'rt-pending', 'warning', 't', '[]', '2013-03-01T00:00:00.000Z', '2013-03-01T00:00:00.000Z', 'pending', '2013-03-01T00:00:00.000Z')`,
      ),
      env.DB.prepare(
        `INSERT INTO reconcile_runs (run_id, source, scope, status, started_at, finished_at)
         VALUES ('rt-r1', 'stripe', 'events', 'ok', '2013-03-05T00:00:00.000Z', '2013-03-05T00:01:00.000Z')`,
      ),
      env.DB.prepare(
        `INSERT INTO dq_runs (run_id, started_at, finished_at, window_end, pass_count, warn_count, fail_count, report_key)
         VALUES ('rt-dq1', '2013-03-05T00:00:00.000Z', '2013-03-05T00:00:10.000Z', '2013-03-05T00:00:00.000Z', 2, 0, 0, 'k')`,
      ),
      env.DB.prepare(
        `INSERT INTO dq_results (run_id, check_name, subject, outcome, value, threshold, message)
         VALUES ('rt-dq1', 'freshness', 'stripe', 'PASS', 1.5, 2, 'ok'), ('rt-dq1', 'quarantine', 'stripe', 'PASS', 0, 5, 'ok')`,
      ),
      env.DB.prepare(
        `INSERT INTO bulk_operations (id, backfill_id, shop, resource, status, requested_at, updated_at)
         VALUES ('bo_rt1', 'bf_rt', 'rt.myshopify.com', 'orders', 'completed', '2013-03-05T00:00:00.000Z', '2013-03-05T00:00:00.000Z'),
                ('bo_rt2', 'bf_rt', 'rt.myshopify.com', 'customers', 'staging', '2013-03-05T00:00:00.000Z', '2013-03-05T00:00:00.000Z')`,
      ),
    ]);

    const run = await runJob(retentionEnv, "retention", { now: NOW, options: { fromDay: FROM } });
    if (run.job !== "retention") throw new Error("not a retention run");
    const byTable = Object.fromEntries(run.result.tables.map((t) => [t.table, t]));
    expect(byTable.webhook_events).toMatchObject({ archived: 3, deleted: 3 });
    expect(byTable.alerts).toMatchObject({ archived: 1, deleted: 1 });
    expect(byTable.reconcile_runs).toMatchObject({ archived: 1, deleted: 1 });
    expect(byTable.dq_results).toMatchObject({ archived: 2, deleted: 2 });
    expect(byTable.bulk_operations).toMatchObject({ archived: 1, deleted: 1 });

    // What left D1 is in R2: the ledger as Parquet under the day it was received.
    for (const id of ["rt-stripe-old", "rt-recharge-old", "rt-shopify-old"]) {
      const source = id.split("-")[1] ?? "";
      expect(await ledgerRow(source, id)).toBeNull();
    }
    const parquetKeys = byTable.webhook_events?.objects ?? [];
    expect(parquetKeys.map((k) => k.replace(/\/[^/]+$/, ""))).toEqual([
      "metadata/ledger/dt=2013-02-10",
      "metadata/ledger/dt=2013-03-15",
      "metadata/ledger/dt=2013-03-17",
    ]);
    const archived: Array<Record<string, unknown>> = [];
    for (const key of parquetKeys) {
      const obj = await env.LAKE.get(key);
      archived.push(...(await parquetReadObjects({ file: await (obj as R2ObjectBody).arrayBuffer() })));
    }
    expect(archived.map((r) => [r.source, r.event_id, r.status, r.received_at, r.deliveries])).toEqual([
      // Times are Parquet timestamps, as in the compacted tables.
      ["stripe", "rt-stripe-old", "applied", new Date("2013-02-10T12:00:00.000Z"), 1n],
      ["recharge", "rt-recharge-old", "applied", new Date("2013-03-15T12:00:00.000Z"), 1n],
      ["shopify", "rt-shopify-old", "applied", new Date("2013-03-17T12:00:00.000Z"), 1n],
    ]);
    const alertArchive = await env.LAKE.get(byTable.alerts?.objects[0] ?? "");
    const alertLines = await new Response(
      (alertArchive as R2ObjectBody).body.pipeThrough(new DecompressionStream("gzip")),
    ).text();
    expect(JSON.parse(alertLines.trim())).toMatchObject({ id: "rt-a1", status: "sent" });

    // Kept: everything inside a horizon, the unfinished rows.
    for (const [source, id] of [
      ["stripe", charge.eventId],
      ["recharge", "rt-recharge-new"],
      ["shopify", "rt-shopify-new"],
      ["recharge", "rt-retrying"],
    ] as const) {
      expect(await ledgerRow(source, id), id).not.toBeNull();
    }
    const left = async (sql: string) => (await env.DB.prepare(sql).first<{ n: number }>())?.n;
    expect(await left("SELECT count(*) AS n FROM alerts WHERE id LIKE 'rt-%'")).toBe(1);
    expect(await left("SELECT count(*) AS n FROM bulk_operations WHERE id LIKE 'bo_rt%'")).toBe(1);

    // Stripe re-sends the charge event (its retries run for days; reconciliation re-lists 30 days):
    // the ledger still knows it, so it is a duplicate: no second alert, the first sighting kept.
    const before = await ledgerRow("stripe", charge.eventId);
    expect((await consumeBodies([charge])).explicitAcks).toHaveLength(1);
    const after = await ledgerRow("stripe", charge.eventId);
    expect(after).toMatchObject({ deliveries: 2, first_seen_at: before?.first_seen_at, status: "applied" });
    expect((await alertsOf()).results).toEqual([{ occurrences: 1 }]);

    // A second run finds nothing more to move.
    const again = await runJob(retentionEnv, "retention", { now: NOW, options: { fromDay: FROM } });
    expect(again.job === "retention" && again.result.tables.map((t) => t.deleted)).toEqual([0, 0, 0, 0, 0]);
  }, 20_000);

  it("shows D1's size against its limit in the status API", async () => {
    const res = await worker.fetch(adminRequest("/admin/status"), env, createExecutionContext());
    const status = (await res.json()) as { d1: { bytes: number | null; limitBytes: number; share: number | null } };
    expect(status.d1.limitBytes).toBe(10_000_000_000);
    expect(status.d1.bytes).toBeGreaterThan(0);
    expect(status.d1.share).toBe(Math.round(((status.d1.bytes ?? 0) / 1e10) * 10_000) / 10_000);
  });
});
