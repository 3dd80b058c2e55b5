/**
 * drizzle-orm definition of the ledger, `webhook_events` (migrations/0001_ledger.sql), column for
 * column (a test compares them). The consumer writes it with hand-written SQL (src/tables/ledger.ts);
 * this gives the retention job the columns and types it archives to Parquet.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { HELD_STATUS_SQL } from "../ledger-status";

export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    source: text("source").notNull(),
    eventId: text("event_id").notNull(),
    topic: text("topic").notNull(),
    resource: text("resource"),
    shop: text("shop"),
    receivedAt: text("received_at").notNull(),
    eventAt: text("event_at").notNull(),
    apiVersion: text("api_version"),
    origin: text("origin").notNull(),
    r2Key: text("r2_key"),
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(1),
    deliveries: integer("deliveries").notNull().default(1),
    error: text("error"),
    note: text("note"),
    firstSeenAt: text("first_seen_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.eventId] }),
    // migrations/0168_ledger_held_index.sql: only the statuses few rows hold (src/shared/ledger-status.ts).
    index("webhook_events_held").on(t.status, t.source).where(sql.raw(HELD_STATUS_SQL)),
    index("webhook_events_by_received").on(t.source, t.receivedAt),
    // No index by shop (dropped by migrations/0169): shop/redact walks the ledger by rowid.
  ],
);
