/**
 * What applying an archived event means, shared by the consumer (src/consumers), which runs a plan
 * in one D1 batch with the event's ledger row, and the bulk path (src/durable/bulk), which reuses the
 * planners' statements. Types only: this module imports none of the planners.
 */
import type { QuarantineReason } from "../shared/archive";
import type { Envelope } from "../shared/envelope";
import type { ChildWrite } from "./children";

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
  | {
      kind: "apply";
      statements: D1PreparedStatement[];
      /**
       * Child sets to replace once the parent statements ran; the runner writes those of a whole
       * D1 batch together (`childStatements`), after every event's statements.
       */
      children?: ChildWrite[];
      /** The statements that link the customer the event names (src/tables/identity.ts), run after the rest. */
      identity?: IdentityLink;
      note?: string;
    }
  /** Nothing to write for this topic (kept in the raw archive); the ledger row stays `archived`. */
  | { kind: "archive-only"; note?: string }
  /** The payload failed validation: quarantined, nothing half-written. */
  | { kind: "quarantine"; reason: QuarantineReason; detail: string };

export type Planner = (env: Env, event: ArchivedEvent) => Promise<ApplyPlan>;

/** An identity row by its key (`customer_identities`). */
export interface IdentityKey {
  source: "shopify" | "stripe" | "recharge";
  externalId: string;
  shop: string;
}

/** How an applied event links the customer it names. */
export interface IdentityLink {
  statements: D1PreparedStatement[];
  eventId: string;
  /**
   * Set when the event only references its customer (an order): once that identity exists, and
   * another event made it, the statements change nothing, so a runner that finds it may skip them.
   */
  referenced?: IdentityKey;
}
