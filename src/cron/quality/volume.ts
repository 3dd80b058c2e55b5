/**
 * Volume checks on webhook deliveries (ledger rows with origin `webhook`, by
 * `received_at`): hourly gaps in the last 24 h, last hour against the same hour's
 * 7-day average, and freshness per source. Reconciled events are left out on purpose:
 * they are the repair, not the signal. The hourly counts come from `ledger_hour_counts`
 * (./hour-counts.ts), which each run brings up to date from the ledger's last hours and which
 * outlives the ledger's retention.
 */
import { SOURCES } from "../../shared/envelope";
import { sharedDatabase } from "../../tables/database";
import { readHourCounts, refreshHourCounts } from "./hour-counts";
import { LAST_WEBHOOKS } from "./sql";
import { DAY_MS, type DqCheck, type DqResult, HOUR_MS, hourFloor, iso } from "./types";

/** An hour is "normally busy" for a pair when it had traffic on at least 5 of the previous 7 days. */
const BUSY_DAYS = 5;
/** Below this 7-day average for the hour, a drop is noise, not a signal. */
const MIN_AVERAGE = 10;
/** A source with no webhook in this long is treated as not in use. */
const IN_USE_MS = 30 * DAY_MS;

type Counts = Map<string, Map<number, number>>;

/** (source/resource) → hour start (ms) → webhooks, for the 8 days before `end`, counted up to `end` first. */
async function hourlyCounts(db: D1Database, end: number, now: Date): Promise<Counts> {
  await refreshHourCounts(db, end, now);
  return readHourCounts(db, end);
}

export const hourlyGaps: DqCheck = async ({ env, now }) => {
  const end = hourFloor(now);
  const counts = await hourlyCounts(sharedDatabase(env), end, now);
  const results: DqResult[] = [];
  for (const [pair, hours] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
    let expected = 0;
    const gaps: string[] = [];
    for (let k = 1; k <= 24; k++) {
      const slot = end - k * HOUR_MS;
      let busy = 0;
      for (let d = 1; d <= 7; d++) if ((hours.get(slot - d * DAY_MS) ?? 0) > 0) busy++;
      if (busy < BUSY_DAYS) continue;
      expected++;
      if ((hours.get(slot) ?? 0) === 0) gaps.push(iso(slot));
    }
    if (expected === 0) continue;
    results.push({
      check: "hourly_gaps",
      subject: pair,
      outcome: gaps.length === 0 ? "PASS" : gaps.length === 1 ? "WARN" : "FAIL",
      value: gaps.length,
      threshold: 2,
      message:
        gaps.length === 0
          ? `webhooks arrived in all ${expected} normally busy hours of the last 24 h`
          : `no webhooks in ${gaps.length} of ${expected} normally busy hours of the last 24 h`,
      details: { expected_hours: expected, empty_hours: gaps },
    });
  }
  if (results.length === 0) {
    results.push({
      check: "hourly_gaps",
      subject: "all",
      outcome: "PASS",
      value: 0,
      threshold: 2,
      message: "no source/resource has regular hourly traffic to compare against",
    });
  }
  return results;
};

export const volumeDrop: DqCheck = async ({ env, now, settings }) => {
  const end = hourFloor(now);
  const counts = await hourlyCounts(sharedDatabase(env), end, now);
  const last = end - HOUR_MS;
  return SOURCES.map((source): DqResult => {
    const at = (slot: number) => {
      let n = 0;
      for (const [pair, hours] of counts) if (pair.startsWith(`${source}/`)) n += hours.get(slot) ?? 0;
      return n;
    };
    const current = at(last);
    let sum = 0;
    for (let d = 1; d <= 7; d++) sum += at(last - d * DAY_MS);
    const average = sum / 7;
    const details = { hour: iso(last), last_hour: current, seven_day_average: Math.round(average * 100) / 100 };
    if (average < MIN_AVERAGE) {
      return {
        check: "volume_drop",
        subject: source,
        outcome: "PASS",
        value: current,
        threshold: null,
        message: `too little traffic to judge (${details.seven_day_average} per hour on average)`,
        details,
      };
    }
    const ratio = current / average;
    return {
      check: "volume_drop",
      subject: source,
      outcome: ratio < settings.volumeDropRatio ? "FAIL" : "PASS",
      value: Math.round(ratio * 1000) / 1000,
      threshold: settings.volumeDropRatio,
      message: `${current} webhooks in the last hour, ${Math.round(ratio * 100)} % of the 7-day average for that hour`,
      details,
    };
  });
};

export const freshness: DqCheck = async ({ env, now, settings }) => {
  const { results } = await sharedDatabase(env)
    .prepare(LAST_WEBHOOKS)
    .bind(iso(now.getTime() - IN_USE_MS), now.toISOString())
    .all<{ source: string; last: string | null }>();
  const lastBySource = new Map(results.flatMap((r) => (r.last === null ? [] : [[r.source, r.last] as const])));
  return SOURCES.map((source): DqResult => {
    const limit = settings.freshnessLimitMs[source];
    const last = lastBySource.get(source);
    if (last === undefined) {
      return {
        check: "freshness",
        subject: source,
        outcome: "WARN",
        value: null,
        threshold: limit / 60_000,
        message: "no webhook in 30 days: the source is not in use, or its webhooks are not reaching the pipeline",
      };
    }
    const ageMin = Math.round((now.getTime() - Date.parse(last)) / 60_000);
    return {
      check: "freshness",
      subject: source,
      outcome: ageMin * 60_000 > limit ? "FAIL" : "PASS",
      value: ageMin,
      threshold: limit / 60_000,
      message: `last webhook ${ageMin} min ago (limit ${limit / 60_000} min)`,
      details: { last_received_at: last },
    };
  });
};
