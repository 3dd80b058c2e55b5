/**
 * Sends what reconciliation found down the normal path (src/cron/send-events.ts) with origin
 * `reconcile`. Event ids are derived from (resource, id, updated_at), so re-running a window
 * re-sends the same ids and the ledger and the write-once R2 key absorb them.
 */
import { EVENT_ID_PATTERN } from "../../shared/envelope";
import { type OutgoingEvent, sendEvents } from "../send-events";

export type RepairEvent = OutgoingEvent;

/** `reconcile:{resource}:{id}:{updatedAt}`, or null when that cannot be a valid event id. */
export function reconcileEventId(resource: string, id: string, updatedAt: string): string | null {
  const eventId = `reconcile:${resource}:${id}:${updatedAt}`;
  return EVENT_ID_PATTERN.test(eventId) ? eventId : null;
}

/** Sends the repairs; returns how many were queued (invalid ones are logged and left out). */
export function sendRepairs(env: Env, events: readonly RepairEvent[], receivedAt: string): Promise<number> {
  return sendEvents(env, events, receivedAt, "reconcile");
}
