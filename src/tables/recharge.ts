/**
 * Applies Recharge events to the `recharge_*` tables: map (pure), then one
 * conditional upsert ordered by the object's `updated_at`, plus a charge's line
 * items. Fields that one API version sends and the other does not (a
 * subscription's Shopify customer id and email, a 2021-11 customer's status) keep
 * their stored value when an event lacks them, so identity links are not lost
 * to a sparser payload; the price is that such a field can never be cleared.
 */

import { mapRechargeEvent, type RechargeRows } from "../mapping/recharge";
import {
  rechargeChargeLineItems,
  rechargeCharges,
  rechargeCustomers,
  rechargeSubscriptions,
} from "../shared/schema/recharge";
import { replaceChildren, upsertNotOlder } from "./d1";
import { sharedDatabase } from "./database";
import type { Planner } from "./plan";
import { storedRechargeCurrency } from "./recharge-store";

export const planRecharge: Planner = async (env, event) => {
  let mapped = mapRechargeEvent(event.envelope.topic, event.payload, event.envelope.eventId);
  // A payload without a currency (2021-11 subscriptions often have `presentment_currency: null`) takes
  // the store's, read only then. Unknown yet: the price stays NULL beside its text, and the next
  // store-currency fetch fills it (src/tables/recharge-store.ts).
  if (mapped.ok && mapped.value.kind === "rows" && lacksCurrency(mapped.value.rows)) {
    const storeCurrency = await storedRechargeCurrency(sharedDatabase(env));
    if (storeCurrency !== null) {
      mapped = mapRechargeEvent(event.envelope.topic, event.payload, event.envelope.eventId, storeCurrency);
    }
  }
  if (!mapped.ok) return { kind: "quarantine", reason: mapped.reason, detail: mapped.detail };
  if (mapped.value.kind === "skip") return { kind: "archive-only", note: mapped.value.note };
  const { rows } = mapped.value;
  const db = sharedDatabase(env);
  // A delete may carry only a stub of the object: then every stored value is kept.
  const stub = rows.row.deletedAt !== null;
  switch (rows.table) {
    case "customers":
      return {
        kind: "apply",
        statements: [
          upsertNotOlder(
            db,
            rechargeCustomers,
            rows.row,
            rechargeCustomers.updatedAt,
            stub || [rechargeCustomers.status],
          ),
        ],
      };
    case "subscriptions":
      return {
        kind: "apply",
        statements: [
          upsertNotOlder(
            db,
            rechargeSubscriptions,
            rows.row,
            rechargeSubscriptions.updatedAt,
            stub || [rechargeSubscriptions.shopifyCustomerId, rechargeSubscriptions.email],
          ),
        ],
      };
    case "charges": {
      const statements = [
        upsertNotOlder(
          db,
          rechargeCharges,
          rows.row,
          rechargeCharges.updatedAt,
          stub || [rechargeCharges.shopifyCustomerId, rechargeCharges.email],
        ),
      ];
      // A charge payload without `line_items` says nothing about them: the stored ones stay.
      if (rows.lineItems !== null) {
        statements.push(
          ...replaceChildren(db, {
            child: rechargeChargeLineItems,
            childParentId: rechargeChargeLineItems.chargeId,
            parent: rechargeCharges,
            parentId: rechargeCharges.id,
            parentLastEventId: rechargeCharges.lastEventId,
            id: rows.row.id,
            eventId: rows.row.lastEventId,
            rows: rows.lineItems,
          }),
        );
      }
      return { kind: "apply", statements };
    }
  }
};

/** A subscription or charge row with no currency (customers have no money). */
function lacksCurrency(rows: RechargeRows): boolean {
  return rows.table !== "customers" && rows.row.currency === null;
}
