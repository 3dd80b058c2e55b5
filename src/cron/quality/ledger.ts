/**
 * Checks on the ledger and the dead-letter archive, per source: events dead-lettered
 * (ledger `failed` rows, and `dead-letter/` objects, which also hold messages that were
 * not valid envelopes), events quarantined, and how often sources deliver the same
 * event twice. "Growth" is what happened in the last hour (FAIL, which alerts); older
 * ones within the day are WARN, so one incident alerts once, not every hour for a day.
 * Dead-letter objects are counted by their `dt=` partition (the day they died), the
 * granularity the layout offers without reading each object.
 */
import { SOURCES } from "../../shared/envelope";
import { DEAD_LETTER_PREFIX } from "../../shared/keys";
import { HELD_STATUS_SQL } from "../../shared/ledger-status";
import { partitionOf } from "../../shared/time";
import { sharedDatabase } from "../../tables/database";
import { DUPLICATE_DELIVERIES } from "./sql";
import { DAY_MS, type DqCheck, type DqResult, HOUR_MS, iso } from "./types";

async function statusCounts(
  db: D1Database,
  status: "failed" | "quarantined",
  now: Date,
): Promise<Map<string, { day: number; hour: number }>> {
  const { results } = await db
    .prepare(
      `SELECT source, COUNT(*) AS day, SUM(CASE WHEN updated_at > ?3 THEN 1 ELSE 0 END) AS hour
       FROM webhook_events WHERE status = ?4 AND ${HELD_STATUS_SQL} AND updated_at > ?1 AND updated_at <= ?2 GROUP BY source`,
    )
    .bind(iso(now.getTime() - DAY_MS), now.toISOString(), iso(now.getTime() - HOUR_MS), status)
    .all<{ source: string; day: number; hour: number | null }>();
  return new Map(results.map((r) => [r.source, { day: r.day, hour: r.hour ?? 0 }]));
}

/** Dead-letter objects in the partitions of the last day (yesterday's and today's `dt=`). */
async function deadLetterObjects(bucket: R2Bucket, source: string, now: Date): Promise<number> {
  const days = new Set([partitionOf(iso(now.getTime() - DAY_MS)).dt, partitionOf(now.toISOString()).dt]);
  let n = 0;
  for (const dt of days) {
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix: `${DEAD_LETTER_PREFIX}${source}/dt=${dt}/`, cursor, limit: 1000 });
      n += page.objects.length;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }
  return n;
}

export const deadLetters: DqCheck = async ({ env, now }) => {
  const failed = await statusCounts(sharedDatabase(env), "failed", now);
  const results: DqResult[] = [];
  for (const source of [...SOURCES, "unknown"] as const) {
    const f = failed.get(source) ?? { day: 0, hour: 0 };
    const objects = await deadLetterObjects(env.LAKE, source, now);
    const outcome = f.hour > 0 ? "FAIL" : f.day > 0 || objects > 0 ? "WARN" : "PASS";
    results.push({
      check: "dead_letters",
      subject: source,
      outcome,
      value: f.hour,
      threshold: 0,
      message:
        outcome === "PASS"
          ? "no dead-lettered events in the last day"
          : `${f.hour} events dead-lettered in the last hour, ${f.day} in the last day; ${objects} dead-letter objects in the day's partitions`,
      details: { failed_last_hour: f.hour, failed_last_day: f.day, dead_letter_objects: objects },
    });
  }
  return results;
};

export const quarantine: DqCheck = async ({ env, now, settings }) => {
  const counts = await statusCounts(sharedDatabase(env), "quarantined", now);
  return SOURCES.map((source): DqResult => {
    const q = counts.get(source) ?? { day: 0, hour: 0 };
    const outcome = q.hour >= settings.quarantinePerHour ? "FAIL" : q.day > 0 ? "WARN" : "PASS";
    return {
      check: "quarantine",
      subject: source,
      outcome,
      value: q.hour,
      threshold: settings.quarantinePerHour,
      message:
        outcome === "PASS"
          ? "no quarantined events in the last day"
          : `${q.hour} events quarantined in the last hour, ${q.day} in the last day`,
      details: { quarantined_last_hour: q.hour, quarantined_last_day: q.day },
    };
  });
};

export const duplicateDeliveries: DqCheck = async ({ env, now, settings }) => {
  const { results } = await sharedDatabase(env)
    .prepare(DUPLICATE_DELIVERIES)
    .bind(iso(now.getTime() - DAY_MS), now.toISOString())
    .all<{ source: string; events: number; extra: number | null }>();
  const bySource = new Map(results.map((r) => [r.source, r]));
  const fail = settings.duplicateRatioFail;
  return SOURCES.map((source): DqResult => {
    const r = bySource.get(source);
    const events = r?.events ?? 0;
    const extra = r?.extra ?? 0;
    const ratio = events === 0 ? 0 : extra / events;
    const outcome = ratio >= fail ? "FAIL" : ratio >= fail / 5 ? "WARN" : "PASS";
    return {
      check: "duplicate_deliveries",
      subject: source,
      outcome,
      value: Math.round(ratio * 1000) / 1000,
      threshold: fail,
      message:
        events === 0
          ? "no events in the last day"
          : `${extra} repeat deliveries for ${events} events in the last day (${Math.round(ratio * 1000) / 10} %)`,
      details: { events, repeat_deliveries: extra },
    };
  });
};
