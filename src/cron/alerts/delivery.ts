/**
 * Delivers pending alerts to `ALERT_WEBHOOK_URL`, from the cron only. Rows are claimed
 * with one conditional UPDATE … RETURNING (status `sending` with a short claim), so two
 * overlapping runs never post the same alert; a claim left by a crashed run lapses and
 * the alert is picked up again. A failed post (non-2xx, timeout) is retried with backoff
 * (1 min doubling to 1 h) up to 12 attempts, then marked `failed`; an alert still unsent
 * after 24 h is marked `expired` rather than posted late and out of context. Posts go
 * one at a time, since chat webhooks rate-limit to about one message per second.
 * With no URL configured nothing is touched: alerts stay pending and visible in D1.
 * A caller with a wall-time budget (a cron invocation) passes its `deadline`: posting stops while a
 * post could still run past it, and the alerts claimed but not posted go back to pending at once.
 */
import { log } from "../../shared/log";
import { recordAlertMetric } from "../../shared/metrics";
import { everyDatabase } from "../../tables/database";
import { type AlertForMessage, slackMessage } from "./message";

export const MAX_ATTEMPTS = 12;
const CLAIM_MS = 2 * 60 * 1000;
const MAX_AGE_MS = 24 * 3600 * 1000;
const BATCH = 25;
const POST_TIMEOUT_MS = 10_000;

export interface DeliveryResult {
  configured: boolean;
  sent: number;
  retrying: number;
  failed: number;
  expired: number;
  /** Claimed but left for the next run: posting them could have run past the caller's deadline. */
  deferred: number;
}

interface ClaimedAlert extends AlertForMessage {
  id: string;
  attempts: number;
  source: string | null;
}

export function retryDelayMs(attempts: number): number {
  return Math.min(60_000 * 2 ** Math.max(0, attempts - 1), 3600_000);
}

/** Delivers due alerts (only `ids`, when given: an operator's or a test's explicit selection). */
export async function deliverAlerts(
  env: Env,
  opts: { now: Date; ids?: readonly string[]; deadline?: number } = { now: new Date() },
): Promise<DeliveryResult> {
  const result: DeliveryResult = { configured: false, sent: 0, retrying: 0, failed: 0, expired: 0, deferred: 0 };
  const url = env.ALERT_WEBHOOK_URL?.trim() ?? "";
  if (url === "") return result;
  result.configured = true;
  const ids = opts.ids ?? null;
  if (ids !== null && ids.length === 0) return result;
  const deadline = opts.deadline ?? Number.POSITIVE_INFINITY;
  for (const { db } of everyDatabase(env)) await deliverFrom(env, db, url, opts.now, ids, deadline, result);
  return result;
}

/** Delivers the due alerts stored in one database (a routed shop's events raise theirs in its own). */
async function deliverFrom(
  env: Env,
  db: D1Database,
  url: string,
  nowDate: Date,
  ids: readonly string[] | null,
  deadline: number,
  result: DeliveryResult,
): Promise<void> {
  const now = nowDate.toISOString();
  const oldest = new Date(nowDate.getTime() - MAX_AGE_MS).toISOString();
  /** ` AND id IN (…)` with placeholders numbered from `first`, or nothing without a selection. */
  const only = (first: number) => (ids === null ? "" : ` AND id IN (${ids.map((_, i) => `?${i + first}`).join(", ")})`);
  const scope = ids ?? [];
  const due = `(status = 'pending' OR (status = 'sending' AND claimed_until < ?1))`;

  const expired = await db
    .prepare(
      `UPDATE alerts SET status = 'expired', claimed_until = NULL,
       last_error = coalesce(last_error, 'not delivered within 24 h')
     WHERE ${due} AND created_at < ?2${only(3)}`,
    )
    .bind(now, oldest, ...scope)
    .run();
  result.expired += expired.meta.changes ?? 0;

  const claimedUntil = new Date(nowDate.getTime() + CLAIM_MS).toISOString();
  const { results: claimed } = await db
    .prepare(
      `UPDATE alerts SET status = 'sending', claimed_until = ?2
     WHERE id IN (SELECT id FROM alerts WHERE ${due} AND next_attempt_at <= ?1 AND created_at >= ?3${only(5)}
                  ORDER BY created_at LIMIT ?4)
     RETURNING id, rule, alert_key AS alertKey, severity, title, fields, created_at AS createdAt, occurrences,
       attempts, source`,
    )
    .bind(now, claimedUntil, oldest, BATCH, ...scope)
    .all<ClaimedAlert>();

  const inOrder = claimed.sort((x, y) => x.createdAt.localeCompare(y.createdAt));
  for (const [i, a] of inOrder.entries()) {
    if (Date.now() + POST_TIMEOUT_MS > deadline) {
      // Out of the invocation's time: the rest wait for the next run, not for their claim to lapse.
      const left = JSON.stringify(inOrder.slice(i).map((x) => x.id));
      await db
        .prepare(
          "UPDATE alerts SET status = 'pending', claimed_until = NULL WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(left)
        .run();
      result.deferred += inOrder.length - i;
      return;
    }
    const error = await post(url, a);
    const attempts = a.attempts + 1;
    if (error === null) {
      await db
        .prepare(
          `UPDATE alerts SET status = 'sent', sent_at = ?2, attempts = ?3, claimed_until = NULL, last_error = NULL
         WHERE id = ?1`,
        )
        .bind(a.id, now, attempts)
        .run();
      result.sent++;
      recordAlertMetric(env, { source: a.source, rule: a.rule, outcome: "sent" });
      continue;
    }
    const giveUp = attempts >= MAX_ATTEMPTS;
    const next = new Date(nowDate.getTime() + retryDelayMs(attempts)).toISOString();
    await db
      .prepare(
        `UPDATE alerts SET status = ?2, attempts = ?3, next_attempt_at = ?4, claimed_until = NULL, last_error = ?5
       WHERE id = ?1`,
      )
      .bind(a.id, giveUp ? "failed" : "pending", attempts, next, error)
      .run();
    if (giveUp) result.failed++;
    else result.retrying++;
    recordAlertMetric(env, { source: a.source, rule: a.rule, outcome: giveUp ? "failed" : "retry" });
    log.warn("alert not delivered", { alertId: a.id, rule: a.rule, attempts, error, giveUp });
  }
}

/** Null when the endpoint accepted the message, else a short reason (never the URL: it is a secret). */
async function post(url: string, a: ClaimedAlert): Promise<string | null> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(slackMessage(a)),
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return res.ok ? null : `HTTP ${res.status}`;
  } catch (err) {
    return (err instanceof Error ? err.name : "error").slice(0, 100);
  }
}
