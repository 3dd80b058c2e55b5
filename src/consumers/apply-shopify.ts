/** Applies Shopify events to the `shopify_*` tables. Not built yet: events are archived only. */
import type { Planner } from "./apply";

export const planShopify: Planner = async () => ({ kind: "archive-only", note: "no shopify mapper yet" });
