-- Whether a shop still has the app installed: `app/uninstalled` marks it, any later webhook of the
-- shop (a re-install) marks it installed again. Reconciliation, backfills and data quality skip an
-- uninstalled shop; the status page lists them.
CREATE TABLE shop_installs (
  shop TEXT PRIMARY KEY NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('installed', 'uninstalled')),
  changed_at TEXT NOT NULL,
  last_event_id TEXT NOT NULL
);
CREATE INDEX shop_installs_by_status ON shop_installs (status);
