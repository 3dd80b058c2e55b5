/**
 * drizzle-orm definition of `subscription_mrr_history` (migrations/0060_kpi_views.sql), column
 * for column. Triggers on the subscription tables write it; the KPI views read it.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const subscriptionMrrHistory = sqliteTable(
  "subscription_mrr_history",
  {
    source: text("source", { enum: ["stripe", "recharge"] }).notNull(),
    subscriptionId: text("subscription_id").notNull(),
    effectiveAt: text("effective_at").notNull(),
    paying: integer("paying").notNull(),
    amountMinor: integer("amount_minor"),
    intervalUnit: text("interval_unit"),
    intervalCount: integer("interval_count"),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.subscriptionId, t.effectiveAt] }),
    // migrations/0140: the lake reads a changed day as an index range.
    index("subscription_mrr_history_by_lake_day").on(t.effectiveAt, t.source, t.subscriptionId),
  ],
);
