/**
 * Webhooks per source, resource and hour (`ledger_hour_counts`, migrations/0164), counted from the
 * ledger and kept past its retention: the checks that compare an hour with the same hour of the 7
 * days before (volume drop, hourly gaps, and the health rule of silence in active hours) read them
 * here, since a large brand keeps 3 days of ledger or fewer.
 *
 * Each refresh recounts from two hours before the last hour counted (events of an hour may still be
 * in the queue when it ends) up to `end`, at most 8 days back: one seek per source by
 * (source, received_at), one upsert, one prune.
 */
import { HOURLY_COUNTS } from "./sql";
import { DAY_MS, HOUR_MS, iso } from "./types";

/** How far back the checks look, and how long counts are kept. */
export const COUNTED_DAYS = 8;
const KEEP_DAYS = 9;

/** `YYYY-MM-DDTHH` of an hour start. */
const hourText = (ms: number) => iso(ms).slice(0, 13);

/** Counts the hours before `end` (an hour start) not yet counted, and the two before them again. */
export async function refreshHourCounts(db: D1Database, end: number, now: Date): Promise<void> {
  const last = await db
    .prepare("SELECT max(hour) AS hour, max(counted_at) AS countedAt FROM ledger_hour_counts WHERE hour < ?1")
    .bind(hourText(end))
    .first<{ hour: string | null; countedAt: string | null }>();
  // Counted by this run already (its checks share one refresh: the second finds its own counts).
  if (last?.countedAt === now.toISOString()) return;
  const lastMs = last?.hour ? Date.parse(`${last.hour}:00:00Z`) : Number.NEGATIVE_INFINITY;
  const from = Math.max(end - COUNTED_DAYS * DAY_MS, lastMs - 2 * HOUR_MS);
  if (from >= end) return;
  const { results } = await db
    .prepare(HOURLY_COUNTS)
    .bind(iso(from), iso(end))
    .all<{ source: string; resource: string; hour: string; n: number }>();
  const rows = JSON.stringify(results.map((r) => [r.source, r.resource, r.hour, r.n]));
  await db.batch([
    db
      .prepare(
        `INSERT INTO ledger_hour_counts (source, resource, hour, webhooks, counted_at)
         SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]', ?2 FROM json_each(?1) WHERE true
         ON CONFLICT (source, resource, hour) DO UPDATE SET webhooks = excluded.webhooks, counted_at = excluded.counted_at`,
      )
      .bind(rows, now.toISOString()),
    db.prepare("DELETE FROM ledger_hour_counts WHERE hour < ?1").bind(hourText(end - KEEP_DAYS * DAY_MS)),
  ]);
}

/** (source/resource) → hour start (ms) → webhooks, for the COUNTED_DAYS before `end`. */
export async function readHourCounts(db: D1Database, end: number): Promise<Map<string, Map<number, number>>> {
  const { results } = await db
    .prepare("SELECT source, resource, hour, webhooks FROM ledger_hour_counts WHERE hour >= ?1 AND hour < ?2")
    .bind(hourText(end - COUNTED_DAYS * DAY_MS), hourText(end))
    .all<{ source: string; resource: string; hour: string; webhooks: number }>();
  const out = new Map<string, Map<number, number>>();
  for (const r of results) {
    const key = `${r.source}/${r.resource}`;
    let hours = out.get(key);
    if (!hours) {
      hours = new Map();
      out.set(key, hours);
    }
    hours.set(Date.parse(`${r.hour}:00:00Z`), r.webhooks);
  }
  return out;
}
