-- Webhooks per source, resource and hour, counted from the ledger by the data-quality job
-- (src/cron/quality/hour-counts.ts). The volume and silence checks compare an hour with the same
-- hour of the 7 days before: read from the ledger, those days are gone once retention keeps fewer
-- (a large brand keeps 3), and the checks saw every source as having no regular traffic.
CREATE TABLE IF NOT EXISTS ledger_hour_counts (
  source TEXT NOT NULL CHECK (source IN ('shopify', 'stripe', 'recharge')),
  resource TEXT NOT NULL,
  hour TEXT NOT NULL,
  webhooks INTEGER NOT NULL,
  counted_at TEXT NOT NULL,
  PRIMARY KEY (source, resource, hour)
) WITHOUT ROWID;
