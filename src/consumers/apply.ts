/**
 * The seam between archiving and the normalized tables: given an archived event,
 * return the D1 statements that apply it. The consumer runs them in the same D1
 * batch as the ledger row, so an event is applied and marked in one step.
 * Until the per-source mappers exist, events are archived and left unapplied.
 */

import type { QuarantineReason } from "../shared/archive";
import type { Envelope } from "../shared/envelope";

export interface ArchivedEvent {
  envelope: Envelope;
  resource: string;
  /** The verbatim body text. */
  payload: string;
  r2Key: string;
}

export type ApplyPlan =
  | { kind: "apply"; statements: D1PreparedStatement[]; note?: string }
  | { kind: "archive-only"; note?: string }
  | { kind: "quarantine"; reason: QuarantineReason; detail: string };

export async function planApply(_env: Env, _event: ArchivedEvent): Promise<ApplyPlan> {
  return { kind: "archive-only" };
}
