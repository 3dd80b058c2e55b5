-- Bulk exports of inventory (docs/backfills-and-reconciliation.md): `bulk_operations.resource` gains
-- 'inventory' (inventory items with their levels per location) and 'locations'. SQLite cannot alter a
-- CHECK constraint, so the table is rebuilt as 0062_bulk_fulfillments_refunds.sql did: create the new
-- one, copy every row, drop the old one, rename, and recreate its indexes. Columns are unchanged.
CREATE TABLE bulk_operations_new (
  id TEXT PRIMARY KEY NOT NULL,
  backfill_id TEXT NOT NULL,
  shop TEXT NOT NULL,
  resource TEXT NOT NULL CHECK (resource IN ('orders', 'customers', 'products', 'fulfillments', 'refunds', 'inventory', 'locations')),
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
INSERT INTO bulk_operations_new (
  id, backfill_id, shop, resource, since, status, shopify_id, shopify_status, error_code, error, attempts,
  partial, object_count, file_size, r2_key, bytes_archived, lines_read, parents, children, invalid, orphans,
  entities_applied, rows_applied, requested_at, submitted_at, shopify_created_at, shopify_completed_at,
  ingest_started_at, finished_at, updated_at
)
SELECT
  id, backfill_id, shop, resource, since, status, shopify_id, shopify_status, error_code, error, attempts,
  partial, object_count, file_size, r2_key, bytes_archived, lines_read, parents, children, invalid, orphans,
  entities_applied, rows_applied, requested_at, submitted_at, shopify_created_at, shopify_completed_at,
  ingest_started_at, finished_at, updated_at
FROM bulk_operations;
DROP TABLE bulk_operations;
ALTER TABLE bulk_operations_new RENAME TO bulk_operations;
CREATE INDEX bulk_operations_by_backfill ON bulk_operations (backfill_id);
CREATE INDEX bulk_operations_by_shop ON bulk_operations (shop, resource, requested_at);
CREATE INDEX bulk_operations_by_status ON bulk_operations (status, shop);
