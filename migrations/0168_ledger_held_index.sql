-- The ledger's status index holds only the statuses few rows have (events held back or not yet
-- through): every read by status asks for one of them (src/shared/ledger-status.ts HELD_STATUS_SQL), and an
-- applied or archived event, nearly every row, then writes no entry in it. A row written per event less.
DROP INDEX IF EXISTS webhook_events_by_status;
CREATE INDEX IF NOT EXISTS webhook_events_held ON webhook_events (status, source)
  WHERE status IN ('retrying', 'quarantined', 'failed');
