/**
 * Raising an alert = two D1 statements, so the caller can put them in the batch it is
 * already writing (the consumer's, for event rules; the data-quality run's): bump the
 * open alert with the same key if one was raised within the dedupe window, else insert
 * a new `pending` row. Nothing is sent here: delivery is the cron's job, so a slow or
 * failing alert endpoint can never hold up ingestion. An alert raised by an event is
 * guarded by that event's ledger row, so a redelivery of an event already stored
 * neither re-raises nor counts as another occurrence.
 */
import type { Source } from "./envelope";
import type { AlertSeverity } from "./schema/cron";

export const ALERT_RULES = [
  "recharge_subscription_cancelled",
  "recharge_charge_failed",
  "stripe_charge_failed",
  "stripe_dispute_created",
  "stripe_dispute_closed",
  "dq_fail",
  "dead_letter_growth",
  "quarantine_growth",
  "source_silent",
  "privacy_data_request",
  "retry_backlog",
  "error_rate",
  "pipeline_lag",
  "source_silent_active_hours",
  "bulk_failed",
  "backfill_failed",
  "recharge_webhook_failing",
  "privacy_stalled",
  "privacy_object_set_aside",
  "reconcile_lag_growing",
] as const;
export type AlertRule = (typeof ALERT_RULES)[number];

export interface AlertField {
  name: string;
  value: string;
}

export interface AlertDraft {
  rule: AlertRule;
  /** Dedupe key: the same key within the window is one alert. */
  key: string;
  severity: AlertSeverity;
  title: string;
  fields: AlertField[];
  source: Source | null;
  eventId: string | null;
}

const MAX_FIELD = 500;

/** Statements that raise `draft` at `now` (UTC ISO), deduplicated over `windowMs`. */
export function raiseAlert(
  db: D1Database,
  draft: AlertDraft,
  now: string,
  windowMs: number,
  guard: { source: Source; eventId: string } | null = null,
): D1PreparedStatement[] {
  const since = new Date(Date.parse(now) - windowMs).toISOString();
  const fields = JSON.stringify(
    draft.fields.map((f) => ({ name: f.name.slice(0, 100), value: f.value.slice(0, MAX_FIELD) })),
  );
  // ?4/?5: the event whose first storage raises this alert (NULL: raised by a job, always applies).
  const notStored = `(?4 IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_events
    WHERE source = ?4 AND event_id = ?5 AND status IN ('archived', 'applied', 'quarantined')))`;
  const head = [draft.key, since, now, guard?.source ?? null, guard?.eventId ?? null];
  const bump = db
    .prepare(
      `UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = ?3
       WHERE alert_key = ?1 AND created_at > ?2 AND ${notStored}`,
    )
    .bind(...head);
  const insert = db
    .prepare(
      `INSERT INTO alerts (id, rule, alert_key, severity, title, fields, source, event_id, created_at, last_seen_at,
         occurrences, status, attempts, next_attempt_at)
       SELECT ?6, ?7, ?1, ?8, ?9, ?10, ?11, ?12, ?3, ?3, 1, 'pending', 0, ?3
       WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE alert_key = ?1 AND created_at > ?2) AND ${notStored}`,
    )
    .bind(
      ...head,
      crypto.randomUUID(),
      draft.rule,
      draft.severity,
      draft.title.slice(0, 300),
      fields,
      draft.source,
      draft.eventId,
    );
  return [bump, insert];
}
