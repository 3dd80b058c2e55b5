-- The privacy subject index moves out of D1 into the SubjectIndex Durable Objects (16 shards a month,
-- keyed by a hash of the subject; src/durable/subject-index.ts): it grows with every event and would fill
-- a database within days at a large brand's volume (docs/performance.md). The `privacy` job moves
-- the rows still here (src/cron/privacy/move-index.ts) and deletes them; it reads them by rowid, so
-- the two indexes only the old readers needed go now.
DROP INDEX IF EXISTS archive_subjects_by_shop;
DROP INDEX IF EXISTS archive_subjects_by_key;

-- Objects indexed unredacted for a subject erased before (the writer's read of erased_subjects found
-- it): the privacy sweep rewrites each and deletes its rows.
CREATE TABLE privacy_late_objects (
  r2_key TEXT NOT NULL,
  subject_kind TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  shop TEXT NOT NULL,
  found_at TEXT NOT NULL,
  PRIMARY KEY (r2_key, subject_kind, subject_id, shop)
) WITHOUT ROWID;

-- The subject index's shards come in generations, one a month (src/tables/subject-index.ts): readers ask
-- every generation from the first, the month this migration ran.
CREATE TABLE subject_index_moves (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  first_generation TEXT NOT NULL,
  updated_at TEXT
);
INSERT INTO subject_index_moves (id, first_generation) VALUES (1, strftime('%Y-%m', 'now'));

-- shop/redact walks the index shards by primary key; where it stands is kept on the request.
ALTER TABLE privacy_work ADD COLUMN shop_cursor TEXT;
