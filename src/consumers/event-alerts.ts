/**
 * The consumer's alert hook: appends the statements that raise this event's alerts to
 * its apply plan, so they are written in the same D1 batch as the event's rows and
 * ledger entry (stored once, with the event; nothing is sent from the consumer). Only
 * `apply` plans carry alerts: a quarantined payload is not trusted enough to page
 * anyone. A fault here is logged and the plan returned untouched: alerting must never
 * make an event fail to store.
 */

import { raiseAlert } from "../shared/alerts";
import { describeError, log } from "../shared/log";
import { cronSettings } from "../shared/settings";
import { eventDatabase } from "../tables/database";
import type { ApplyPlan, ArchivedEvent } from "../tables/plan";
import { eventAlerts } from "./alert-rules";

export function withEventAlerts(env: Env, event: ArchivedEvent, plan: ApplyPlan): ApplyPlan {
  if (plan.kind !== "apply") return plan;
  const e = event.envelope;
  try {
    const settings = cronSettings(env);
    const drafts = eventAlerts(e.source, e.topic, e.eventId, event.payload, settings);
    if (drafts.length === 0) return plan;
    const now = new Date().toISOString();
    const guard = { source: e.source, eventId: e.eventId };
    const statements = drafts.flatMap((d) =>
      raiseAlert(eventDatabase(env, e.shop, event.resource), d, now, settings.alertDedupMs, guard),
    );
    return { ...plan, alerts: [...(plan.alerts ?? []), ...statements] };
  } catch (err) {
    log.warn("alert rules failed; event stored without alerts", { eventId: e.eventId, error: describeError(err) });
    return plan;
  }
}
