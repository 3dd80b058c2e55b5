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
      /** Alert rows the event raises, written after its rows; their guards read the ledger. */
      alerts?: D1PreparedStatement[];
      /** The customer the event names, linked after the rest (src/tables/identity.ts `LinkBatcher`). */
      identity?: IdentityLink;
      /** The Shopify order or customer row the event writes, which waiting order links may read. */
      linkInput?: LinkInput;
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

/** The resolvers of src/tables/identity.ts: how each kind of stored row names its customer. */
export type ResolverName =
  | "shopifyCustomer"
  | "shopifyOrder"
  | "rechargeCustomer"
  | "rechargeSubscription"
  | "rechargeCharge"
  | "stripeCustomer"
  | "stripeCharge"
  | "stripePaymentIntent"
  | "stripeInvoice"
  | "stripeCheckoutSession";

/** The stored row an applied event wrote that names a customer. */
export interface IdentityTarget {
  resolver: ResolverName;
  /** Shopify shop domain; '' for Stripe and Recharge. */
  shop: string;
  id: string;
  /**
   * The identity an order names (its Shopify customer), which the order may create but never
   * changes: once it exists, and another event made it, the link changes nothing and may be skipped.
   */
  referenced?: IdentityKey;
}

/** How an applied event links the customer it names. */
export interface IdentityLink {
  target: IdentityTarget;
  eventId: string;
}

/** A Shopify order or customer row an event writes; `id` null when unknown (then any row of the shop). */
export interface LinkInput {
  table: "order" | "customer";
  shop: string;
  id: string | null;
}
