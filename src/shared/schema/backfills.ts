/**
 * drizzle-orm definition of `backfills` (migrations/0061_backfills.sql), column for column:
 * the Stripe and Recharge history backfills and their checkpoints.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { API_BACKFILL_SOURCES } from "../backfill-resources";

export {
  API_BACKFILL_RESOURCES,
  API_BACKFILL_SOURCES,
  type ApiBackfillSource,
} from "../backfill-resources";

export const API_BACKFILL_STATUSES = ["running", "completed", "failed"] as const;
export type ApiBackfillStatus = (typeof API_BACKFILL_STATUSES)[number];

export const backfills = sqliteTable(
  "backfills",
  {
    backfillId: text("backfill_id").notNull(),
    source: text("source", { enum: API_BACKFILL_SOURCES }).notNull(),
    resource: text("resource").notNull(),
    since: text("since"),
    until: text("until"),
    status: text("status", { enum: API_BACKFILL_STATUSES }).notNull(),
    cursor: text("cursor"),
    pages: integer("pages").notNull().default(0),
    listed: integer("listed").notNull().default(0),
    sent: integer("sent").notNull().default(0),
    apiCalls: integer("api_calls").notNull().default(0),
    throttled: integer("throttled").notNull().default(0),
    failures: integer("failures").notNull().default(0),
    retryAt: text("retry_at"),
    requestedBy: text("requested_by").notNull(),
    requestedAt: text("requested_at").notNull(),
    startedAt: text("started_at"),
    updatedAt: text("updated_at").notNull(),
    finishedAt: text("finished_at"),
    error: text("error"),
    /** migrations/0154: what the source does not let this backfill load (null: nothing known). */
    note: text("note"),
  },
  (t) => [
    primaryKey({ columns: [t.backfillId, t.resource] }),
    uniqueIndex("backfills_one_running").on(t.source, t.resource).where(sql`status = 'running'`),
    index("backfills_by_status").on(t.status, t.requestedAt),
  ],
);

export type BackfillRow = typeof backfills.$inferSelect;
