-- Operations tables for the scheduled jobs (src/cron): job leases, reconciliation runs, data-quality
-- runs and results, and alerts. Reconciliation cursors live in `sync_cursors` (0004_bulk_operations.sql),
-- under the name 'reconcile'. Timestamps are UTC ISO-8601 text ending in Z
-- with milliseconds (Date#toISOString), so text order is time order.
-- The drizzle definitions in src/shared/schema/cron.ts mirror this file column for column.

-- One row per running job scope (`reconcile:stripe`, `reconcile:shopify:{shop}`, `data-quality`).
-- A run takes the row when it is absent or expired; a second run finds it held and skips.
CREATE TABLE job_leases (
  name TEXT PRIMARY KEY NOT NULL,
  holder TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);

-- One row per reconciliation run and scope; the full report is in R2 at report_key.
CREATE TABLE reconcile_runs (
  run_id TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('shopify', 'stripe', 'recharge')),
  scope TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'skipped', 'error')),
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  window_from TEXT,
  window_to TEXT,
  looked_at INTEGER NOT NULL DEFAULT 0,
  missing INTEGER NOT NULL DEFAULT 0,
  stale INTEGER NOT NULL DEFAULT 0,
  repaired INTEGER NOT NULL DEFAULT 0,
  api_calls INTEGER NOT NULL DEFAULT 0,
  api_cost INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  report_key TEXT,
  PRIMARY KEY (run_id, source, scope)
);
CREATE INDEX reconcile_runs_by_started ON reconcile_runs (source, started_at);

CREATE TABLE dq_runs (
  run_id TEXT PRIMARY KEY NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  window_end TEXT NOT NULL,
  pass_count INTEGER NOT NULL,
  warn_count INTEGER NOT NULL,
  fail_count INTEGER NOT NULL,
  report_key TEXT NOT NULL
);
CREATE INDEX dq_runs_by_started ON dq_runs (started_at);

-- One row per check and subject (a source, a source/resource pair, a shop, or `all`).
CREATE TABLE dq_results (
  run_id TEXT NOT NULL,
  check_name TEXT NOT NULL,
  subject TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('PASS', 'WARN', 'FAIL')),
  value REAL,
  threshold REAL,
  message TEXT NOT NULL,
  details TEXT,
  PRIMARY KEY (run_id, check_name, subject)
);
CREATE INDEX dq_results_by_check ON dq_results (check_name, subject, outcome);

-- Alerts: raised by rules (consumer batch or cron), delivered by the cron to ALERT_WEBHOOK_URL.
-- A key raised again within the dedupe window only bumps `occurrences` on the open row.
CREATE TABLE alerts (
  id TEXT PRIMARY KEY NOT NULL,
  rule TEXT NOT NULL,
  alert_key TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  title TEXT NOT NULL,
  fields TEXT NOT NULL,
  source TEXT,
  event_id TEXT,
  created_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  occurrences INTEGER NOT NULL DEFAULT 1,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'expired')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  claimed_until TEXT,
  sent_at TEXT,
  last_error TEXT
);
CREATE INDEX alerts_by_key ON alerts (alert_key, created_at);
CREATE INDEX alerts_by_due ON alerts (status, next_attempt_at);
