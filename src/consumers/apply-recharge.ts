/** Applies Recharge events to the `recharge_*` tables. Not built yet: events are archived only. */
import type { Planner } from "./apply";

export const planRecharge: Planner = async () => ({ kind: "archive-only", note: "no recharge mapper yet" });
