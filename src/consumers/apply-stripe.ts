/** Applies Stripe events to the `stripe_*` tables. Not built yet: events are archived only. */
import type { Planner } from "./apply";

export const planStripe: Planner = async () => ({ kind: "archive-only", note: "no stripe mapper yet" });
