/**
 * drizzle-orm definition of `lake_changes` (migrations/0020_lake_changes.sql), column for
 * column (a test compares them with `PRAGMA table_info`). Triggers on every compacted table
 * write these rows; the `compact` job reads and clears them.
 */
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const lakeChanges = sqliteTable(
  "lake_changes",
  {
    tableName: text("table_name").notNull(),
    /** UTC day (`YYYY-MM-DD`) of the rows written. */
    dt: text("dt").notNull(),
    /** Bumped by a write after the job read the mark; the job clears a mark only at the count it read. */
    seq: integer("seq").notNull(),
    changedAt: text("changed_at").notNull(),
    /** The count the job read (migrations/0156_lake_marks_once.sql): until it is, writes leave the mark as it is. */
    readSeq: integer("read_seq").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tableName, t.dt] })],
);
