/**
 * Statements on `webhook_events`, the ledger: one row per (source, event_id).
 * What an event is (topic, times, key) is fixed by its first write. Later writes
 * only move the status forward, count deliveries and attempts, and record errors:
 * a row that reached archived/applied/quarantined never goes back to retrying, and a
 * quarantined one moves to applied or archived once the event validates (a replay after a fix).
 */
import type { Envelope } from "../shared/envelope";

export type LedgerStatus = "retrying" | "archived" | "applied" | "quarantined" | "failed";

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

const UPSERT = `
INSERT INTO webhook_events (source, event_id, topic, resource, shop, received_at, event_at, api_version,
  origin, r2_key, status, attempts, deliveries, error, note, first_seen_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13, ?14, ?15, ?15)
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

export function ledgerUpsert(db: D1Database, w: LedgerWrite): D1PreparedStatement {
  const e = w.envelope;
  return db
    .prepare(UPSERT)
    .bind(
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
    );
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
