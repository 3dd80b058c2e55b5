-- Bulk exports and sync positions, written by the ShopCoordinator Durable Object (src/durable).
-- The coordinator's own SQLite storage is the source of truth for a running operation (its
-- checkpoint); `bulk_operations` mirrors it after every step so operators, GET /admin/backfill/:id
-- and analytics can read progress without waking the object. Timestamps are UTC ISO-8601 text
-- ending in Z. The drizzle definitions in src/shared/schema/operations.ts mirror this file.

-- One row per requested export of one resource (a backfill requests one or more resources).
-- `id` is ours (bo_…): a queued export has no Shopify id yet, and an export whose result URL
-- expired is re-run under the same row with a new `shopify_id` (attempts counts the runs).
CREATE TABLE bulk_operations (
  id TEXT PRIMARY KEY NOT NULL,
  backfill_id TEXT NOT NULL,
  shop TEXT NOT NULL,
  resource TEXT NOT NULL CHECK (resource IN ('orders', 'customers', 'products')),
  since TEXT,
  status TEXT NOT NULL CHECK (status IN ('queued', 'submitted', 'archiving', 'staging', 'applying', 'completed', 'failed', 'canceled')),
  shopify_id TEXT,
  shopify_status TEXT,
  error_code TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  partial INTEGER NOT NULL DEFAULT 0,
  object_count INTEGER,
  file_size INTEGER,
  r2_key TEXT,
  bytes_archived INTEGER NOT NULL DEFAULT 0,
  lines_read INTEGER NOT NULL DEFAULT 0,
  parents INTEGER NOT NULL DEFAULT 0,
  children INTEGER NOT NULL DEFAULT 0,
  invalid INTEGER NOT NULL DEFAULT 0,
  orphans INTEGER NOT NULL DEFAULT 0,
  entities_applied INTEGER NOT NULL DEFAULT 0,
  rows_applied INTEGER NOT NULL DEFAULT 0,
  requested_at TEXT NOT NULL,
  submitted_at TEXT,
  shopify_created_at TEXT,
  shopify_completed_at TEXT,
  ingest_started_at TEXT,
  finished_at TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX bulk_operations_by_backfill ON bulk_operations (backfill_id);
CREATE INDEX bulk_operations_by_shop ON bulk_operations (shop, resource, requested_at);
CREATE INDEX bulk_operations_by_status ON bulk_operations (status, shop);

-- How far a sync has got per shop and resource, e.g. name 'bulk_snapshot' = the created_at of the
-- last completed full or incremental bulk export (the next incremental run can start from it).
CREATE TABLE sync_cursors (
  source TEXT NOT NULL CHECK (source IN ('shopify', 'stripe', 'recharge')),
  shop TEXT NOT NULL,
  resource TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source, shop, resource, name)
);
