-- The subject index for what was stored before it existed: the `privacy` job walks the ledger
-- (webhook_events by rowid, up to the last row present when this migration ran; later rows were
-- indexed when they were stored) and enters each row's R2 object, in chunks, resumably.
CREATE TABLE subject_index_backfill (
  id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
  after_rowid INTEGER NOT NULL,
  until_rowid INTEGER NOT NULL,
  indexed INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL
);
INSERT INTO subject_index_backfill (id, after_rowid, until_rowid, indexed, updated_at)
SELECT 1, 0, coalesce(max(rowid), 0), 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM webhook_events;
