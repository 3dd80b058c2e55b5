/**
 * R2 key layout (`LAKE`), Hive-style so DuckDB, Spark and warehouses read it
 * directly. The one place that spells these keys; docs/architecture.md lays them out.
 */
import type { Source } from "./envelope";
import { partitionOf } from "./time";

/** One immutable object per event: a redelivery maps to the same key because `eventAt` comes from the source. */
export function rawEventKey(source: Source, resource: string, eventAt: string, eventId: string): string {
  const { dt, hour } = partitionOf(eventAt);
  return `raw/${source}/${resource}/events/dt=${dt}/hour=${hour}/${eventId}.json`;
}

export function quarantineKey(source: Source, eventAt: string, eventId: string): string {
  return `quarantine/${source}/dt=${partitionOf(eventAt).dt}/${eventId}.json`;
}

/** Partitioned by the day the message died, so "dead letters in the last day" is one prefix. */
export function deadLetterKey(source: Source | "unknown", diedAt: string, id: string): string {
  return `dead-letter/${source}/dt=${partitionOf(diedAt).dt}/${id}.json`;
}

export const QUARANTINE_PREFIX = "quarantine/";
export const DEAD_LETTER_PREFIX = "dead-letter/";

/** One page of a Stripe or Recharge backfill, as listed (gzipped JSON lines), under the day it was listed. */
export function backfillSnapshotKey(
  source: Source,
  resource: string,
  listedAt: string,
  backfillId: string,
  page: number,
): string {
  return `raw/${source}/${resource}/snapshots/dt=${partitionOf(listedAt).dt}/${backfillId}-${String(page).padStart(5, "0")}.jsonl.gz`;
}
