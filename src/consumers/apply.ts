/**
 * The seam between archiving and the normalized tables: given an archived event,
 * return the D1 statements that apply it. The consumer runs them in the same D1
 * batch as the ledger row, so an event is applied and marked in one step.
 */

import { withIdentity } from "../tables/identity";
import type { Planner } from "../tables/plan";
import { planCompliance } from "../tables/privacy-requests";
import { planRecharge } from "../tables/recharge";
import { planUninstalled } from "../tables/shop-installs";
import { planShopify } from "../tables/shopify";
import { planStripe } from "../tables/stripe";
import { isBulkFinish, planBulkFinish } from "./bulk-finish";
import { withEventAlerts } from "./event-alerts";
import { resolveStripeThin } from "./stripe-thin";

const planEvent: Planner = (env, event) => {
  // Bulk exports belong to the shop's coordinator; this webhook only tells it one finished.
  if (isBulkFinish(event)) return planBulkFinish(env, event);
  // Compliance webhooks are recorded as privacy requests, carried out by the `privacy` job.
  if (event.envelope.source === "shopify" && event.resource === "compliance") return planCompliance(env, event);
  if (event.envelope.source === "shopify" && event.envelope.topic === "app/uninstalled")
    return planUninstalled(env, event);
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
 * Every plan passes the alert rules (./event-alerts.ts), which may append alert rows to it,
 * and the identity linker (src/tables/identity.ts), which names the customer to link once the rows are written.
 * A Stripe thin event is planned as the snapshot event of the object it names, fetched (./stripe-thin.ts).
 */
export const planApply: Planner = async (env, archived) => {
  const thin = await resolveStripeThin(env, archived);
  if (thin.kind === "done") return thin.plan;
  const event = thin.kind === "fetched" ? thin.event : archived;
  const plan = await withEventAlerts(env, event, withIdentity(event, await planEvent(env, event)));
  if (thin.kind !== "fetched" || plan.kind === "quarantine") return plan;
  return { ...plan, note: plan.note === undefined ? thin.note : `${thin.note}; ${plan.note}` };
};
