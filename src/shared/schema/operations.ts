/**
 * drizzle-orm definitions of the operations tables written by the ShopCoordinator,
 * column for column the same as `migrations/0004_bulk_operations.sql` (the SQL file is
 * the source of truth, because wrangler applies it; these give typed rows) and the later
 * migration that rebuilt `bulk_operations` to admit fulfillments and refunds.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { BULK_RESOURCES } from "../backfill-resources";

export { BULK_RESOURCES, type BulkResource } from "../backfill-resources";

export const BULK_STATUSES = [
  "queued",
  "submitted",
  "archiving",
  "staging",
  "applying",
  "completed",
  "failed",
  "canceled",
] as const;
export type BulkStatus = (typeof BULK_STATUSES)[number];

export const bulkOperations = sqliteTable(
  "bulk_operations",
  {
    id: text("id").primaryKey().notNull(),
    backfillId: text("backfill_id").notNull(),
    shop: text("shop").notNull(),
    resource: text("resource", { enum: BULK_RESOURCES }).notNull(),
    since: text("since"),
    status: text("status", { enum: BULK_STATUSES }).notNull(),
    shopifyId: text("shopify_id"),
    shopifyStatus: text("shopify_status"),
    errorCode: text("error_code"),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    partial: integer("partial", { mode: "boolean" }).notNull().default(false),
    objectCount: integer("object_count"),
    fileSize: integer("file_size"),
    r2Key: text("r2_key"),
    bytesArchived: integer("bytes_archived").notNull().default(0),
    linesRead: integer("lines_read").notNull().default(0),
    parents: integer("parents").notNull().default(0),
    children: integer("children").notNull().default(0),
    invalid: integer("invalid").notNull().default(0),
    orphans: integer("orphans").notNull().default(0),
    entitiesApplied: integer("entities_applied").notNull().default(0),
    rowsApplied: integer("rows_applied").notNull().default(0),
    requestedAt: text("requested_at").notNull(),
    submittedAt: text("submitted_at"),
    shopifyCreatedAt: text("shopify_created_at"),
    shopifyCompletedAt: text("shopify_completed_at"),
    ingestStartedAt: text("ingest_started_at"),
    finishedAt: text("finished_at"),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [
    index("bulk_operations_by_backfill").on(t.backfillId),
    index("bulk_operations_by_shop").on(t.shop, t.resource, t.requestedAt),
    index("bulk_operations_by_status").on(t.status, t.shop),
  ],
);

export const syncCursors = sqliteTable(
  "sync_cursors",
  {
    source: text("source", { enum: ["shopify", "stripe", "recharge"] }).notNull(),
    shop: text("shop").notNull(),
    resource: text("resource").notNull(),
    name: text("name").notNull(),
    value: text("value").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.source, t.shop, t.resource, t.name] })],
);

export type BulkOperationRow = typeof bulkOperations.$inferSelect;
export type SyncCursorRow = typeof syncCursors.$inferInsert;
