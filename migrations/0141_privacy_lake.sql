-- An erasure is done when no object of the lake holds the person (docs/privacy.md): once the compact
-- run has hidden the old versions of the person's rows, lake-upkeep rebuilds each table that still
-- holds hidden versions (lake_tables, asked at lake_since) and expires the snapshots before the
-- rebuild, deleting their files. The request completes when every one of them was rebuilt and
-- swept after lake_since.
ALTER TABLE privacy_work ADD COLUMN lake_tables TEXT;
ALTER TABLE privacy_work ADD COLUMN lake_since TEXT;
