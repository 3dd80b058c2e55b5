-- Reconciliation runs say how far behind each scope is, so the status page shows the lag and the
-- `reconcile_lag_growing` alert can see it grow over consecutive runs (src/cron/reconcile/lag-alert.ts):
-- pages read this run, why the scope stopped paging (`done`, a budget limit, `throttled`, `deferred`),
-- and the lag in seconds after the run (now less the oldest change not yet reconciled).
ALTER TABLE reconcile_runs ADD COLUMN pages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reconcile_runs ADD COLUMN stopped_by TEXT;
ALTER TABLE reconcile_runs ADD COLUMN lag_seconds INTEGER;
-- The lag rule reads each scope's latest runs.
CREATE INDEX reconcile_runs_by_scope ON reconcile_runs (source, scope, started_at);
