-- Privacy and replay (docs/privacy.md, "Replay and rebuild").
-- archive_subjects: which data subjects each stored R2 object names, written in the same D1 batch
-- as the event's rows, so erasure finds a person's objects by index instead of scanning the bucket.
-- subject_kind: shopify_customer | stripe_customer | recharge_customer (subject_id = the source's
-- customer id) or email (subject_id = keyed HMAC-SHA256 of the normalized email, never plaintext).
-- shop: the Shopify domain, '' outside Shopify. redacted: 1 once the object was rewritten without
-- this subject's PII (or written that way), so a resumed erasure skips it.
CREATE TABLE archive_subjects (
  subject_kind TEXT NOT NULL CHECK (subject_kind IN ('shopify_customer', 'stripe_customer', 'recharge_customer', 'email')),
  subject_id TEXT NOT NULL,
  shop TEXT NOT NULL,
  r2_key TEXT NOT NULL,
  source TEXT NOT NULL,
  indexed_at TEXT NOT NULL,
  redacted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (subject_kind, subject_id, shop, r2_key)
);
CREATE INDEX archive_subjects_by_shop ON archive_subjects (shop, r2_key);
CREATE INDEX archive_subjects_by_key ON archive_subjects (r2_key);

-- Subjects that were erased: later events naming one of them are archived and applied redacted.
-- shop '*' matches every shop (an erasure across sources); '' is Stripe and Recharge.
CREATE TABLE erased_subjects (
  subject_kind TEXT NOT NULL CHECK (subject_kind IN ('shopify_customer', 'stripe_customer', 'recharge_customer', 'email', 'shop')),
  subject_id TEXT NOT NULL,
  shop TEXT NOT NULL,
  request_id TEXT NOT NULL,
  erased_at TEXT NOT NULL,
  PRIMARY KEY (subject_kind, subject_id, shop)
);

-- The tombstone of every privacy request: proves it was carried out without keeping PII.
CREATE TABLE privacy_requests (
  request_id TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('customer_redact', 'shop_redact', 'erase', 'data_request')),
  shop TEXT,
  subject_hash TEXT,
  source_event_id TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  stage TEXT NOT NULL,
  received_at TEXT NOT NULL,
  completed_at TEXT,
  objects_rewritten INTEGER NOT NULL DEFAULT 0,
  objects_deleted INTEGER NOT NULL DEFAULT 0,
  rows_changed INTEGER NOT NULL DEFAULT 0,
  export_key TEXT,
  error TEXT
);
CREATE INDEX privacy_requests_by_status ON privacy_requests (status, received_at);

-- What a pending request needs to find the person (email, customer ids); deleted when the
-- request completes, so plaintext PII lives here only while the erasure is being carried out.
CREATE TABLE privacy_work (
  request_id TEXT PRIMARY KEY NOT NULL,
  subject TEXT NOT NULL,
  days TEXT NOT NULL DEFAULT '[]'
);

-- Replays by event-time range: progress of the resumable `replay` job.
CREATE TABLE replay_runs (
  id TEXT PRIMARY KEY NOT NULL,
  filter TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  cursor TEXT,
  listed INTEGER NOT NULL DEFAULT 0,
  sent INTEGER NOT NULL DEFAULT 0,
  applied INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  completed_at TEXT,
  error TEXT
);
CREATE INDEX replay_runs_by_status ON replay_runs (status, created_at);

CREATE INDEX webhook_events_by_shop ON webhook_events (shop);
