/**
 * Statements on `webhook_events`, the ledger: one row per (source, event_id).
 * What an event is (topic, times, key) is fixed by its first write. Later writes
 * only move the status forward, count deliveries and attempts, and record errors:
 * a row that reached archived/applied/quarantined never goes back to retrying, and a
 * quarantined one moves to applied or archived once the event validates (a replay after a fix).
 */
import type { Envelope } from "../shared/envelope";
import type { LedgerStatus } from "../shared/ledger-status";
import { jsonArrayChunks } from "./d1";

export type { LedgerStatus } from "../shared/ledger-status";

export interface LedgerWrite {
  envelope: Envelope;
  resource: string | null;
  status: LedgerStatus;
  r2Key: string | null;
  /** The queue's attempt count for this message (1 on first delivery). */
  attempts: number;
  error?: string | null;
  note?: string | null;
  now: string;
}

/**
 * A quarantined event that now validates (replayed after a mapper fix, or delivered again) has its
 * table rows written: the row moves on and points at the raw object instead of the quarantine one.
 */
const LEAVES_QUARANTINE = "webhook_events.status = 'quarantined' AND excluded.status IN ('applied', 'archived')";

/** Rows come as a JSON array of `LedgerRow`s, upserted in array order (a repeat updates what the earlier row wrote). */
const UPSERT = `
INSERT INTO webhook_events (source, event_id, topic, resource, shop, received_at, event_at, api_version,
  origin, r2_key, status, attempts, deliveries, error, note, first_seen_at, updated_at)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
  json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[6]'),
  json_extract(value, '$[7]'), json_extract(value, '$[8]'), json_extract(value, '$[9]'), json_extract(value, '$[10]'),
  json_extract(value, '$[11]'), 1, json_extract(value, '$[12]'), json_extract(value, '$[13]'),
  json_extract(value, '$[14]'), json_extract(value, '$[14]')
FROM json_each(?1) WHERE 1 ORDER BY key
ON CONFLICT (source, event_id) DO UPDATE SET
  deliveries = webhook_events.deliveries + (CASE WHEN excluded.attempts = 1 AND excluded.status <> 'failed' THEN 1 ELSE 0 END),
  attempts = max(webhook_events.attempts, excluded.attempts),
  status = CASE
    WHEN webhook_events.status IN ('retrying', 'failed') THEN excluded.status
    WHEN webhook_events.status = 'archived' AND excluded.status = 'applied' THEN 'applied'
    WHEN ${LEAVES_QUARANTINE} THEN excluded.status
    ELSE webhook_events.status END,
  r2_key = CASE WHEN ${LEAVES_QUARANTINE} THEN coalesce(excluded.r2_key, webhook_events.r2_key)
    ELSE coalesce(webhook_events.r2_key, excluded.r2_key) END,
  resource = coalesce(webhook_events.resource, excluded.resource),
  error = CASE
    WHEN excluded.status IN ('retrying', 'failed') THEN coalesce(excluded.error, webhook_events.error)
    WHEN webhook_events.status IN ('retrying', 'failed') THEN NULL
    ELSE webhook_events.error END,
  note = CASE WHEN ${LEAVES_QUARANTINE}
    THEN coalesce(excluded.note, 'left quarantine (was ' || coalesce(webhook_events.note, 'quarantined') || ')')
    ELSE coalesce(excluded.note, webhook_events.note) END,
  updated_at = excluded.updated_at`;

type LedgerRow = [
  string,
  string,
  string,
  string | null,
  string | null,
  string,
  string,
  string | null,
  string,
  string | null,
  LedgerStatus,
  number,
  string | null,
  string | null,
  string,
];

function ledgerRow(w: LedgerWrite): LedgerRow {
  const e = w.envelope;
  return [
    e.source,
    e.eventId,
    e.topic,
    w.resource,
    e.shop,
    e.receivedAt,
    e.eventAt,
    e.apiVersion,
    e.origin,
    w.r2Key,
    w.status,
    w.attempts,
    w.error ?? null,
    w.note ?? null,
    w.now,
  ];
}

/**
 * The ledger rows of a queue batch as one statement (per MAX_JSON_CHARS of rows), in order: the
 * same rows as one statement per event, with the upsert compiled once instead of once per event.
 */
export function ledgerUpserts(db: D1Database, writes: readonly LedgerWrite[]): D1PreparedStatement[] {
  const rows = writes.map((w) => JSON.stringify(ledgerRow(w)));
  return jsonArrayChunks(rows).map((json) => db.prepare(UPSERT).bind(json));
}

export function ledgerUpsert(db: D1Database, w: LedgerWrite): D1PreparedStatement {
  return db.prepare(UPSERT).bind(JSON.stringify([ledgerRow(w)]));
}

export async function ledgerError(
  db: D1Database,
  source: string,
  eventId: string,
): Promise<{ error: string | null; attempts: number } | null> {
  return db
    .prepare("SELECT error, attempts FROM webhook_events WHERE source = ?1 AND event_id = ?2")
    .bind(source, eventId)
    .first<{ error: string | null; attempts: number }>();
}
