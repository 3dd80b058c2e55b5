/**
 * drizzle-orm definition of `lake_changes` (migrations/0020_lake_changes.sql), column for
 * column (a test compares them with `PRAGMA table_info`). Triggers on every compacted table
 * write these rows; the `compact` job reads and clears them.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const lakeChanges = sqliteTable(
  "lake_changes",
  {
    tableName: text("table_name").notNull(),
    /** UTC day (`YYYY-MM-DD`) of the rows written. */
    dt: text("dt").notNull(),
    /** Writes to that day since the mark was made; the job clears a mark only at the count it read. */
    seq: integer("seq").notNull(),
    changedAt: text("changed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tableName, t.dt] }), index("lake_changes_by_changed").on(t.changedAt)],
);
