-- When a rebuild last read a part (lake-upkeep): a privacy request waiting at stage `lake` for the
-- rebuild of a large table (5,000,000 line items take about twenty hourly runs) counts that as
-- progress, so the status page and `privacy_stalled` see it moving rather than stuck for a day.
ALTER TABLE lake_upkeep ADD COLUMN rebuild_progressed_at TEXT;
