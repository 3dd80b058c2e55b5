/**
 * drizzle-orm definitions of the privacy, replay and install tables (`migrations/0010_privacy.sql`,
 * `0011_subject_index_backfill.sql`, `0012_shop_installs.sql`, `0131_privacy_progress.sql`, `0167_subject_index_objects.sql`), column for column (test/privacy-unit.test.ts
 * compares them with `PRAGMA table_info`). The SQL files are the source of truth.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const SUBJECT_KINDS = ["shopify_customer", "stripe_customer", "recharge_customer", "email"] as const;

export const archiveSubjects = sqliteTable(
  "archive_subjects",
  {
    subjectKind: text("subject_kind", { enum: SUBJECT_KINDS }).notNull(),
    subjectId: text("subject_id").notNull(),
    shop: text("shop").notNull(),
    r2Key: text("r2_key").notNull(),
    source: text("source").notNull(),
    indexedAt: text("indexed_at").notNull(),
    redacted: integer("redacted").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.subjectKind, t.subjectId, t.shop, t.r2Key] })],
);

/** `migrations/0167_subject_index_objects.sql`: what a subject index shard reported late. */
export const privacyLateObjects = sqliteTable(
  "privacy_late_objects",
  {
    r2Key: text("r2_key").notNull(),
    subjectKind: text("subject_kind").notNull(),
    subjectId: text("subject_id").notNull(),
    shop: text("shop").notNull(),
    foundAt: text("found_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.r2Key, t.subjectKind, t.subjectId, t.shop] })],
);

/** `migrations/0167_subject_index_objects.sql`: the subject index's first generation of shards. */
export const subjectIndexMoves = sqliteTable("subject_index_moves", {
  id: integer("id").primaryKey().notNull(),
  firstGeneration: text("first_generation").notNull(),
  updatedAt: text("updated_at"),
});

export const erasedSubjects = sqliteTable(
  "erased_subjects",
  {
    subjectKind: text("subject_kind", { enum: [...SUBJECT_KINDS, "shop"] }).notNull(),
    subjectId: text("subject_id").notNull(),
    shop: text("shop").notNull(),
    requestId: text("request_id").notNull(),
    erasedAt: text("erased_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.subjectKind, t.subjectId, t.shop] })],
);

export const privacyRequests = sqliteTable(
  "privacy_requests",
  {
    requestId: text("request_id").primaryKey().notNull(),
    kind: text("kind", { enum: ["customer_redact", "shop_redact", "erase", "data_request"] }).notNull(),
    shop: text("shop"),
    subjectHash: text("subject_hash"),
    sourceEventId: text("source_event_id"),
    status: text("status", { enum: ["pending", "running", "completed", "failed"] }).notNull(),
    stage: text("stage").notNull(),
    receivedAt: text("received_at").notNull(),
    completedAt: text("completed_at"),
    objectsRewritten: integer("objects_rewritten").notNull().default(0),
    objectsDeleted: integer("objects_deleted").notNull().default(0),
    rowsChanged: integer("rows_changed").notNull().default(0),
    exportKey: text("export_key"),
    error: text("error"),
    progressedAt: text("progressed_at"),
    objectsTotal: integer("objects_total"),
  },
  (t) => [index("privacy_requests_by_status").on(t.status, t.receivedAt)],
);

export const privacyWork = sqliteTable("privacy_work", {
  requestId: text("request_id").primaryKey().notNull(),
  subject: text("subject").notNull(),
  days: text("days").notNull().default("[]"),
  lakeTables: text("lake_tables"),
  lakeSince: text("lake_since"),
  shopCursor: text("shop_cursor"),
});

export const replayRuns = sqliteTable(
  "replay_runs",
  {
    id: text("id").primaryKey().notNull(),
    filter: text("filter").notNull(),
    status: text("status", { enum: ["pending", "running", "completed", "failed"] }).notNull(),
    cursor: text("cursor"),
    listed: integer("listed").notNull().default(0),
    sent: integer("sent").notNull().default(0),
    applied: integer("applied").notNull().default(0),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    completedAt: text("completed_at"),
    error: text("error"),
  },
  (t) => [index("replay_runs_by_status").on(t.status, t.createdAt)],
);

export const subjectIndexBackfill = sqliteTable("subject_index_backfill", {
  id: integer("id").primaryKey().notNull(),
  afterRowid: integer("after_rowid").notNull(),
  untilRowid: integer("until_rowid").notNull(),
  indexed: integer("indexed").notNull().default(0),
  updatedAt: text("updated_at").notNull(),
});

/** `migrations/0012_shop_installs.sql`: `app/uninstalled` and re-installs. */
export const shopInstalls = sqliteTable(
  "shop_installs",
  {
    shop: text("shop").primaryKey().notNull(),
    status: text("status", { enum: ["installed", "uninstalled"] }).notNull(),
    changedAt: text("changed_at").notNull(),
    lastEventId: text("last_event_id").notNull(),
  },
  (t) => [index("shop_installs_by_status").on(t.status)],
);

export const PRIVACY_TABLES = [
  archiveSubjects,
  erasedSubjects,
  privacyRequests,
  privacyWork,
  replayRuns,
  subjectIndexBackfill,
  shopInstalls,
] as const;
