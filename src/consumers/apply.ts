/**
 * The seam between archiving and the normalized tables: given an archived event,
 * return the D1 statements that apply it. The consumer runs them in the same D1
 * batch as the ledger row, so an event is applied and marked in one step.
 */
import type { QuarantineReason } from "../shared/archive";
import type { Envelope } from "../shared/envelope";
import { planRecharge } from "./apply-recharge";
import { planShopify } from "./apply-shopify";
import { planStripe } from "./apply-stripe";

export interface ArchivedEvent {
  envelope: Envelope;
  resource: string;
  /** The verbatim body text (valid JSON). */
  payload: string;
  r2Key: string;
}

export type ApplyPlan =
  /** Statements that write the event's rows; the ledger row becomes `applied`. */
  | { kind: "apply"; statements: D1PreparedStatement[]; note?: string }
  /** Nothing to write for this topic (kept in the raw archive); the ledger row stays `archived`. */
  | { kind: "archive-only"; note?: string }
  /** The payload failed validation: quarantined, nothing half-written. */
  | { kind: "quarantine"; reason: QuarantineReason; detail: string };

export type Planner = (env: Env, event: ArchivedEvent) => Promise<ApplyPlan>;

export const planApply: Planner = (env, event) => {
  switch (event.envelope.source) {
    case "shopify":
      return planShopify(env, event);
    case "stripe":
      return planStripe(env, event);
    case "recharge":
      return planRecharge(env, event);
  }
};
