-- Stripe and Recharge history backfills (README, "Backfills"): one row per backfill and
-- resource, written by POST /admin/backfill (or by reconciliation, for a Stripe gap older than
-- the Events API keeps) and advanced by the `backfill` job page by page. `cursor` is where the
-- next page starts (Stripe: the last object id, for starting_after; Recharge: next_cursor), saved
-- after each page's objects are queued, so a run that stops resumes there: a page queued twice is
-- absorbed by the ledger (its event ids are derived from the backfill and object ids).
-- At most one running backfill per source and resource: the partial unique index refuses a second.
CREATE TABLE backfills (
  backfill_id TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('stripe', 'recharge')),
  resource TEXT NOT NULL,
  since TEXT,
  until TEXT,
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  cursor TEXT,
  pages INTEGER NOT NULL DEFAULT 0,
  listed INTEGER NOT NULL DEFAULT 0,
  sent INTEGER NOT NULL DEFAULT 0,
  api_calls INTEGER NOT NULL DEFAULT 0,
  throttled INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  retry_at TEXT,
  requested_by TEXT NOT NULL,
  requested_at TEXT NOT NULL,
  started_at TEXT,
  updated_at TEXT NOT NULL,
  finished_at TEXT,
  error TEXT,
  PRIMARY KEY (backfill_id, resource)
);
CREATE UNIQUE INDEX backfills_one_running ON backfills (source, resource) WHERE status = 'running';
CREATE INDEX backfills_by_status ON backfills (status, requested_at);
