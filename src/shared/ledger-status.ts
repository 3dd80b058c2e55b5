/** The statuses of a ledger row (`webhook_events.status`). */
export const LEDGER_STATUSES = ["retrying", "archived", "applied", "quarantined", "failed"] as const;
export type LedgerStatus = (typeof LEDGER_STATUSES)[number];

/**
 * The statuses few rows hold (held back, or not yet through) and the WHERE of the partial index
 * `webhook_events_held` (migrations/0168_ledger_held_index.sql). A read by status adds this term as
 * it stands, so the planner can prove the index covers it: a bound status alone does not.
 */
export const HELD_STATUSES: readonly LedgerStatus[] = ["retrying", "quarantined", "failed"];
export const HELD_STATUS_SQL = `status IN (${HELD_STATUSES.map((s) => `'${s}'`).join(", ")})`;
