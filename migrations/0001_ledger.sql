-- The event ledger: one row per (source, event_id), written by the queue consumer.
-- First write wins for what the event is; later deliveries only bump counters and status.
CREATE TABLE webhook_events (
  source TEXT NOT NULL CHECK (source IN ('shopify', 'stripe', 'recharge')),
  event_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  resource TEXT,
  shop TEXT,
  received_at TEXT NOT NULL,
  event_at TEXT NOT NULL,
  api_version TEXT,
  origin TEXT NOT NULL CHECK (origin IN ('webhook', 'reconcile', 'bulk', 'replay')),
  r2_key TEXT,
  status TEXT NOT NULL CHECK (status IN ('retrying', 'archived', 'applied', 'quarantined', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 1,
  deliveries INTEGER NOT NULL DEFAULT 1,
  error TEXT,
  note TEXT,
  first_seen_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source, event_id)
);

CREATE INDEX webhook_events_by_status ON webhook_events (status, source);
CREATE INDEX webhook_events_by_received ON webhook_events (source, received_at);
CREATE INDEX webhook_events_by_event_at ON webhook_events (source, resource, event_at);
