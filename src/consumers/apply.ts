/**
 * The seam between archiving and the normalized tables: given an archived event,
 * return the D1 statements that apply it. The consumer runs them in the same D1
 * batch as the ledger row, so an event is applied and marked in one step.
 */

import { withEventAlerts } from "../cron/event-alerts";
import type { QuarantineReason } from "../shared/archive";
import type { Envelope } from "../shared/envelope";
import { planRecharge } from "./apply-recharge";
import { planShopify } from "./apply-shopify";
import { planStripe } from "./apply-stripe";
import { isBulkFinish, planBulkFinish } from "./bulk-finish";
import { withIdentity } from "./identity";

export interface ArchivedEvent {
  envelope: Envelope;
  resource: string;
  /** The verbatim body text (valid JSON). */
  payload: string;
  r2Key: string;
}

export type ApplyPlan =
  /**
   * Statements that write the event's rows; the ledger row becomes `applied`. The first one is
   * the versioned parent write: when it changes no row, the consumer notes the event as superseded.
   */
  | { kind: "apply"; statements: D1PreparedStatement[]; note?: string }
  /** Nothing to write for this topic (kept in the raw archive); the ledger row stays `archived`. */
  | { kind: "archive-only"; note?: string }
  /** The payload failed validation: quarantined, nothing half-written. */
  | { kind: "quarantine"; reason: QuarantineReason; detail: string };

export type Planner = (env: Env, event: ArchivedEvent) => Promise<ApplyPlan>;

const planEvent: Planner = (env, event) => {
  // Bulk exports belong to the shop's coordinator; this webhook only tells it one finished.
  if (isBulkFinish(event)) return planBulkFinish(env, event);
  switch (event.envelope.source) {
    case "shopify":
      return planShopify(env, event);
    case "stripe":
      return planStripe(env, event);
    case "recharge":
      return planRecharge(env, event);
  }
};

/**
 * Every plan passes the alert rules (src/cron/event-alerts.ts), which may append alert rows to it,
 * and the identity linker (./identity.ts), which appends statements reading the rows just written.
 */
export const planApply: Planner = async (env, event) =>
  withEventAlerts(env, event, withIdentity(env.DB, event, await planEvent(env, event)));
