-- A change mark is written once per table and day, not once per write. Every write to a table
-- fires its `*_lake_*` trigger, whose upsert bumped the mark's `seq` each time: one billed D1 row
-- written (two with `lake_changes_by_changed`) per row written, about ten per Shopify order with
-- its lines. The compaction only needs to know that a day changed after it read the day: it now
-- records the `seq` it read (`read_seq`), and a mark whose change is still unread is left as it is,
-- so a day's thousands of writes between two runs cost one row. A write after the read bumps `seq`
-- once, which keeps the mark when the run clears it at the `seq` it read (src/cron/compact/changes.ts).
-- The guard is a trigger on lake_changes rather than a change to each table's triggers, so every
-- table's triggers, today's and later ones, take it. KPI marks (`dt = 'snapshot'`) keep counting.
ALTER TABLE lake_changes ADD COLUMN read_seq INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER lake_changes_once BEFORE UPDATE OF seq ON lake_changes
WHEN OLD.seq <> OLD.read_seq AND OLD.dt <> 'snapshot'
BEGIN
  SELECT RAISE(IGNORE);
END;
