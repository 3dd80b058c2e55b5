/**
 * Pipeline-health rules, each a read of the ledger (`webhook_events`) or the job tables over a
 * short window ending at the run's time, giving alert drafts. They say what the hourly data-quality
 * checks say later, or not at all: a retry backlog, a burst of errors, lag, a source gone quiet
 * in hours it is normally busy, a failed export or backfill, and a Recharge webhook Recharge is
 * about to delete. Every draft names the source, the topic and a sample event id.
 */

import type { AlertDraft } from "../../shared/alerts";
import { SOURCES, type Source } from "../../shared/envelope";
import type { HealthSettings } from "./settings";
import { ERROR_RATE, PIPELINE_LAG } from "./sql";

export interface HealthContext {
  db: D1Database;
  now: Date;
  settings: HealthSettings;
}

const MINUTE = 60_000;
const at = (now: Date, minusMs: number) => new Date(now.getTime() - minusMs).toISOString();
const field = (name: string, value: string | number | null) => ({ name, value: String(value ?? "—") });

interface TopicRow {
  source: Source;
  topic: string;
  n: number;
  sample: string;
}

/** Messages retrying for longer than the window, per source and topic, at or above the threshold. */
export async function retryBacklog(ctx: HealthContext): Promise<AlertDraft[]> {
  const { results } = await ctx.db
    .prepare(
      `SELECT source, topic, count(*) AS n, max(event_id) AS sample FROM webhook_events
       WHERE status = 'retrying' AND first_seen_at > ?1 AND first_seen_at <= ?2
       GROUP BY source, topic HAVING count(*) >= ?3 ORDER BY n DESC`,
    )
    .bind(at(ctx.now, 24 * 60 * MINUTE), at(ctx.now, ctx.settings.windowMs), ctx.settings.retryBacklog)
    .all<TopicRow>();
  return results.map((r) => ({
    rule: "retry_backlog",
    key: `retry_backlog:${r.source}:${r.topic}`,
    severity: "critical",
    title: `${r.n} ${r.source} ${r.topic} events have been retrying for over ${ctx.settings.windowMs / MINUTE} minutes`,
    fields: [
      field("source", r.source),
      field("topic", r.topic),
      field("retrying", r.n),
      field("sample event", r.sample),
    ],
    source: r.source,
    eventId: r.sample,
  }));
}

// How far before the window an event stored in it may have been received (./sql.ts).
const RECEIVED_SLACK_MS = 6 * 60 * MINUTE;
const receivedFrom = (ctx: HealthContext) => at(ctx.now, ctx.settings.windowMs + RECEIVED_SLACK_MS);

/** Share of the window's events that needed a retry or failed, per source, above the threshold. */
export async function errorRate(ctx: HealthContext): Promise<AlertDraft[]> {
  const { results } = await ctx.db
    .prepare(ERROR_RATE)
    .bind(at(ctx.now, ctx.settings.windowMs), ctx.now.toISOString(), ctx.settings.minEvents, receivedFrom(ctx))
    .all<{
      source: Source;
      total: number;
      errors: number;
      sample: string | null;
      topic: string | null;
      error: string | null;
    }>();
  return results
    .filter((r) => r.errors / r.total > ctx.settings.errorRate)
    .map((r) => ({
      rule: "error_rate",
      key: `error_rate:${r.source}`,
      severity: "critical",
      title: `${Math.round((100 * r.errors) / r.total)} % of ${r.source} events failed a first attempt in the last ${ctx.settings.windowMs / MINUTE} minutes`,
      fields: [
        field("source", r.source),
        field("topic", r.topic),
        field("errors", `${r.errors} of ${r.total}`),
        field("sample event", r.sample),
        field("last error", r.error),
      ],
      source: r.source,
      eventId: r.sample,
    }));
}

/** Webhooks stored in the window whose median lag (event time to stored) is over the limit. */
export async function pipelineLag(ctx: HealthContext): Promise<AlertDraft[]> {
  const limit = ctx.settings.lagMs;
  const { results } = await ctx.db
    .prepare(PIPELINE_LAG)
    .bind(at(ctx.now, ctx.settings.windowMs), ctx.now.toISOString(), limit, receivedFrom(ctx))
    .all<{
      source: Source;
      total: number;
      late: number;
      sample: string | null;
      topic: string | null;
      worst_minutes: number;
    }>();
  return results
    .filter((r) => r.late * 2 > r.total)
    .map((r) => ({
      rule: "pipeline_lag",
      key: `pipeline_lag:${r.source}`,
      severity: "warning",
      title: `${r.source} events are reaching D1 more than ${limit / MINUTE} minutes after they happened`,
      fields: [
        field("source", r.source),
        field("topic", r.topic),
        field("late", `${r.late} of ${r.total}`),
        field("worst lag (min)", r.worst_minutes),
        field("sample event", r.sample),
      ],
      source: r.source,
      eventId: r.sample,
    }));
}

/**
 * A source silent for longer than its limit while the current UTC hour is one of its usual
 * active hours (it had webhooks in this hour on at least 5 of the previous 7 days). Each day
 * is one indexed probe, so the rule costs 8 small reads per source.
 */
export async function silentInActiveHours(ctx: HealthContext): Promise<AlertDraft[]> {
  const out: AlertDraft[] = [];
  for (const source of SOURCES) {
    const limit = ctx.settings.silenceMs[source];
    const last = await ctx.db
      .prepare(
        `SELECT received_at AS at, event_id AS id, topic FROM webhook_events
         WHERE source = ?1 AND received_at <= ?2 AND origin = 'webhook' ORDER BY received_at DESC LIMIT 1`,
      )
      .bind(source, ctx.now.toISOString())
      .first<{ at: string; id: string; topic: string }>();
    if (last === null || Date.parse(last.at) > ctx.now.getTime() - limit) continue;
    // The same hour on each of the 7 days before: when it starts, and its `YYYY-MM-DDTHH`.
    const hourStart = Math.floor(ctx.now.getTime() / (60 * MINUTE)) * 60 * MINUTE;
    const slots = [1, 2, 3, 4, 5, 6, 7].map((d) => {
      const at = new Date(hourStart - d * 24 * 60 * MINUTE).toISOString();
      return { at, end: new Date(Date.parse(at) + 60 * MINUTE).toISOString(), hour: at.slice(0, 13) };
    });
    const probes = slots.map((slot) =>
      ctx.db
        .prepare(
          `SELECT 1 AS hit FROM webhook_events WHERE source = ?1 AND received_at >= ?2 AND received_at < ?3
           AND origin = 'webhook' LIMIT 1`,
        )
        .bind(source, slot.at, slot.end),
    );
    // A day had webhooks in the hour if the ledger still holds one, or the hourly counts (kept past
    // the ledger's retention by the data-quality job, migrations/0164) say so.
    const counted = ctx.db
      .prepare(
        `SELECT DISTINCT hour FROM ledger_hour_counts WHERE source = ?1 AND webhooks > 0
         AND hour IN (SELECT value FROM json_each(?2))`,
      )
      .bind(source, JSON.stringify(slots.map((slot) => slot.hour)));
    const answers = await ctx.db.batch<{ hit?: number; hour?: string }>([...probes, counted]);
    const countedHours = new Set((answers.at(-1)?.results ?? []).map((r) => r.hour));
    const days = slots.filter((slot, i) => (answers[i]?.results.length ?? 0) > 0 || countedHours.has(slot.hour)).length;
    if (days < 5) continue;
    const silentMinutes = Math.floor((ctx.now.getTime() - Date.parse(last.at)) / MINUTE);
    out.push({
      rule: "source_silent_active_hours",
      key: `source_silent_active_hours:${source}`,
      severity: "critical",
      title: `No ${source} webhook for ${silentMinutes} minutes, in an hour that had webhooks on ${days} of the last 7 days`,
      fields: [
        field("source", source),
        field("topic", last.topic),
        field("last webhook", last.at),
        field("sample event", last.id),
        field("limit (min)", limit / MINUTE),
      ],
      source,
      eventId: last.id,
    });
  }
  return out;
}

/** Shopify bulk exports and Stripe/Recharge backfills that failed in the last day (one alert each). */
export async function failedLoads(ctx: HealthContext): Promise<AlertDraft[]> {
  const since = at(ctx.now, 24 * 60 * MINUTE);
  const until = ctx.now.toISOString();
  const bulk = await ctx.db
    .prepare(
      `SELECT id, backfill_id AS backfillId, shop, resource, error FROM bulk_operations
       WHERE status = 'failed' AND finished_at > ?1 AND finished_at <= ?2 ORDER BY finished_at LIMIT 50`,
    )
    .bind(since, until)
    .all<{ id: string; backfillId: string; shop: string; resource: string; error: string | null }>();
  const history = await ctx.db
    .prepare(
      `SELECT backfill_id AS backfillId, source, resource, error FROM backfills
       WHERE status = 'failed' AND finished_at > ?1 AND finished_at <= ?2 ORDER BY finished_at LIMIT 50`,
    )
    .bind(since, until)
    .all<{ backfillId: string; source: Source; resource: string; error: string | null }>();
  return [
    ...bulk.results.map(
      (b): AlertDraft => ({
        rule: "bulk_failed",
        key: `bulk_failed:${b.id}`,
        severity: "critical",
        title: `Shopify bulk export of ${b.resource} for ${b.shop} failed`,
        fields: [
          field("source", "shopify"),
          field("topic", `bulk_operations/${b.resource}`),
          field("backfill", b.backfillId),
          field("operation", b.id),
          field("error", b.error),
        ],
        source: "shopify",
        eventId: null,
      }),
    ),
    ...history.results.map(
      (b): AlertDraft => ({
        rule: "backfill_failed",
        key: `backfill_failed:${b.backfillId}:${b.resource}`,
        severity: "critical",
        title: `${b.source} backfill of ${b.resource} failed`,
        fields: [
          field("source", b.source),
          field("topic", b.resource),
          field("backfill", b.backfillId),
          field("error", b.error),
        ],
        source: b.source,
        eventId: null,
      }),
    ),
  ];
}

/**
 * Recharge deletes a webhook after 19 failed attempts in 48 hours. Each repeated delivery of an
 * event means an earlier attempt failed from Recharge's side, so the redeliveries per topic over
 * 48 hours count toward that limit. Attempts answered before the ledger (a signature refused, a
 * 503) are not in it: this can only undercount, so the threshold sits well below 19.
 */
export async function rechargeWebhookFailing(ctx: HealthContext): Promise<AlertDraft[]> {
  const { results } = await ctx.db
    .prepare(
      `SELECT topic, sum(deliveries - 1) AS n, max(CASE WHEN deliveries > 1 THEN event_id END) AS sample
       FROM webhook_events WHERE source = 'recharge' AND origin = 'webhook' AND received_at > ?1 AND received_at <= ?2
       GROUP BY topic HAVING sum(deliveries - 1) >= ?3`,
    )
    .bind(at(ctx.now, 48 * 60 * MINUTE), ctx.now.toISOString(), ctx.settings.rechargeFailedDeliveries)
    .all<{ topic: string; n: number; sample: string }>();
  return results.map((r) => ({
    rule: "recharge_webhook_failing",
    key: `recharge_webhook_failing:${r.topic}`,
    severity: "critical",
    title: `Recharge re-sent ${r.topic} ${r.n} times in 48 h: at 19 failed attempts Recharge deletes the webhook`,
    fields: [
      field("source", "recharge"),
      field("topic", r.topic),
      field("failed attempts (48 h)", r.n),
      field("sample event", r.sample),
    ],
    source: "recharge",
    eventId: r.sample,
  }));
}

const PRIVACY_DEADLINE_DAYS = 30;

/**
 * Privacy requests that have not moved (no stage, status or count changed) for a day: every
 * privacy run retries them and fails the same way, and Shopify's 30-day deadline keeps running.
 * One alert per request and day; the title says how many days are left.
 */
export async function privacyStalled(ctx: HealthContext): Promise<AlertDraft[]> {
  const { results } = await ctx.db
    .prepare(
      `SELECT request_id AS requestId, kind, shop, stage, received_at AS receivedAt, progressed_at AS progressedAt, error
       FROM privacy_requests WHERE status IN ('pending', 'running') AND progressed_at <= ?1
       ORDER BY progressed_at LIMIT 50`,
    )
    .bind(at(ctx.now, 24 * 60 * MINUTE))
    .all<{
      requestId: string;
      kind: string;
      shop: string | null;
      stage: string;
      receivedAt: string;
      progressedAt: string;
      error: string | null;
    }>();
  return results.map((r) => {
    const deadline = Date.parse(r.receivedAt) + PRIVACY_DEADLINE_DAYS * 24 * 60 * MINUTE;
    const daysLeft = Math.floor((deadline - ctx.now.getTime()) / (24 * 60 * MINUTE));
    const stuckHours = Math.floor((ctx.now.getTime() - Date.parse(r.progressedAt)) / (60 * MINUTE));
    return {
      rule: "privacy_stalled",
      key: `privacy_stalled:${r.requestId}`,
      severity: "critical",
      title: `Privacy request ${r.requestId} (${r.kind}) has not moved for ${stuckHours} h: ${daysLeft} days left of the ${PRIVACY_DEADLINE_DAYS}-day deadline`,
      fields: [
        field("request", r.requestId),
        field("kind", r.kind),
        field("shop", r.shop),
        field("stage", r.stage),
        field("received", r.receivedAt),
        field("last moved", r.progressedAt),
        field("error", r.error),
        field("next", `GET /admin/privacy/${r.requestId}; fix the error, then POST /admin/jobs/privacy`),
      ],
      source: r.kind === "erase" ? null : "shopify",
      eventId: null,
    };
  });
}
