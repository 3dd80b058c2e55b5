-- Changed days for the lake (docs/lake.md): every write to a table the `compact`
-- job snapshots marks the UTC day(s) of the rows it touched, so the hourly run recompacts exactly
-- the (table, day) partitions that changed, however late the change arrived, without scanning
-- any table. Triggers keep the marks in the same transaction as the write, so no writer (the
-- consumer, bulk exports, erasure, a manual fix) can forget one. An UPDATE that moves a row to
-- another day marks both days: the old partition must lose the row. `seq` counts writes, so the
-- job clears a mark only if nothing wrote to that day while it was compacting it.
-- Rows already in D1 when this migration runs mark their days (the INSERT after each table's
-- triggers), so the first run after it compacts every table in full.
-- The day is taken from the column that places a row in its `dt=` partition: `updated_at`,
-- `created_at` for customer_profile_emails, `last_seen_at` for customer_identity_conflicts.
CREATE TABLE lake_changes (
  table_name TEXT NOT NULL,
  dt TEXT NOT NULL,
  seq INTEGER NOT NULL,
  changed_at TEXT NOT NULL,
  PRIMARY KEY (table_name, dt)
);
CREATE INDEX lake_changes_by_changed ON lake_changes (changed_at);

CREATE TRIGGER shopify_orders_lake_insert AFTER INSERT ON shopify_orders BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_orders', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_orders_lake_update AFTER UPDATE ON shopify_orders BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_orders', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_orders', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_orders_lake_delete AFTER DELETE ON shopify_orders BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_orders', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_orders', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_orders;

CREATE TRIGGER shopify_order_line_items_lake_insert AFTER INSERT ON shopify_order_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_order_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_order_line_items_lake_update AFTER UPDATE ON shopify_order_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_order_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_order_line_items', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_order_line_items_lake_delete AFTER DELETE ON shopify_order_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_order_line_items', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_order_line_items', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_order_line_items;

CREATE TRIGGER shopify_customers_lake_insert AFTER INSERT ON shopify_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_customers_lake_update AFTER UPDATE ON shopify_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_customers', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_customers_lake_delete AFTER DELETE ON shopify_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_customers', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_customers', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_customers;

CREATE TRIGGER shopify_products_lake_insert AFTER INSERT ON shopify_products BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_products', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_products_lake_update AFTER UPDATE ON shopify_products BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_products', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_products', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_products_lake_delete AFTER DELETE ON shopify_products BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_products', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_products', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_products;

CREATE TRIGGER shopify_product_variants_lake_insert AFTER INSERT ON shopify_product_variants BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_product_variants', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_product_variants_lake_update AFTER UPDATE ON shopify_product_variants BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_product_variants', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_product_variants', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_product_variants_lake_delete AFTER DELETE ON shopify_product_variants BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_product_variants', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_product_variants', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_product_variants;

CREATE TRIGGER shopify_fulfillments_lake_insert AFTER INSERT ON shopify_fulfillments BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_fulfillments', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_fulfillments_lake_update AFTER UPDATE ON shopify_fulfillments BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_fulfillments', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_fulfillments', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_fulfillments_lake_delete AFTER DELETE ON shopify_fulfillments BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_fulfillments', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_fulfillments', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_fulfillments;

CREATE TRIGGER shopify_refunds_lake_insert AFTER INSERT ON shopify_refunds BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_refunds', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_refunds_lake_update AFTER UPDATE ON shopify_refunds BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_refunds', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_refunds', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_refunds_lake_delete AFTER DELETE ON shopify_refunds BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_refunds', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_refunds', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_refunds;

CREATE TRIGGER shopify_refund_line_items_lake_insert AFTER INSERT ON shopify_refund_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_refund_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_refund_line_items_lake_update AFTER UPDATE ON shopify_refund_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_refund_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_refund_line_items', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_refund_line_items_lake_delete AFTER DELETE ON shopify_refund_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_refund_line_items', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_refund_line_items', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_refund_line_items;

CREATE TRIGGER shopify_checkouts_lake_insert AFTER INSERT ON shopify_checkouts BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_checkouts', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_checkouts_lake_update AFTER UPDATE ON shopify_checkouts BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_checkouts', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'shopify_checkouts', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_checkouts_lake_delete AFTER DELETE ON shopify_checkouts BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_checkouts', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_checkouts', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_checkouts;

CREATE TRIGGER stripe_customers_lake_insert AFTER INSERT ON stripe_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_customers_lake_update AFTER UPDATE ON stripe_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_customers', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_customers_lake_delete AFTER DELETE ON stripe_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_customers', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_customers', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_customers;

CREATE TRIGGER stripe_charges_lake_insert AFTER INSERT ON stripe_charges BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_charges', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_charges_lake_update AFTER UPDATE ON stripe_charges BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_charges', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_charges', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_charges_lake_delete AFTER DELETE ON stripe_charges BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_charges', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_charges', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_charges;

CREATE TRIGGER stripe_payment_intents_lake_insert AFTER INSERT ON stripe_payment_intents BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_payment_intents', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_payment_intents_lake_update AFTER UPDATE ON stripe_payment_intents BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_payment_intents', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_payment_intents', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_payment_intents_lake_delete AFTER DELETE ON stripe_payment_intents BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_payment_intents', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_payment_intents', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_payment_intents;

CREATE TRIGGER stripe_invoices_lake_insert AFTER INSERT ON stripe_invoices BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_invoices', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_invoices_lake_update AFTER UPDATE ON stripe_invoices BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_invoices', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_invoices', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_invoices_lake_delete AFTER DELETE ON stripe_invoices BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_invoices', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_invoices', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_invoices;

CREATE TRIGGER stripe_disputes_lake_insert AFTER INSERT ON stripe_disputes BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_disputes', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_disputes_lake_update AFTER UPDATE ON stripe_disputes BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_disputes', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_disputes', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_disputes_lake_delete AFTER DELETE ON stripe_disputes BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_disputes', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_disputes', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_disputes;

CREATE TRIGGER stripe_refunds_lake_insert AFTER INSERT ON stripe_refunds BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_refunds', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_refunds_lake_update AFTER UPDATE ON stripe_refunds BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_refunds', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_refunds', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_refunds_lake_delete AFTER DELETE ON stripe_refunds BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_refunds', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_refunds', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_refunds;

CREATE TRIGGER stripe_subscriptions_lake_insert AFTER INSERT ON stripe_subscriptions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_subscriptions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_subscriptions_lake_update AFTER UPDATE ON stripe_subscriptions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_subscriptions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_subscriptions', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_subscriptions_lake_delete AFTER DELETE ON stripe_subscriptions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_subscriptions', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_subscriptions', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_subscriptions;

CREATE TRIGGER stripe_checkout_sessions_lake_insert AFTER INSERT ON stripe_checkout_sessions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_checkout_sessions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_checkout_sessions_lake_update AFTER UPDATE ON stripe_checkout_sessions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_checkout_sessions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_checkout_sessions', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_checkout_sessions_lake_delete AFTER DELETE ON stripe_checkout_sessions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_checkout_sessions', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_checkout_sessions', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_checkout_sessions;

CREATE TRIGGER stripe_checkout_session_line_items_lake_insert AFTER INSERT ON stripe_checkout_session_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_checkout_session_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_checkout_session_line_items_lake_update AFTER UPDATE ON stripe_checkout_session_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_checkout_session_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'stripe_checkout_session_line_items', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_checkout_session_line_items_lake_delete AFTER DELETE ON stripe_checkout_session_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_checkout_session_line_items', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_checkout_session_line_items', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_checkout_session_line_items;

CREATE TRIGGER recharge_customers_lake_insert AFTER INSERT ON recharge_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER recharge_customers_lake_update AFTER UPDATE ON recharge_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'recharge_customers', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER recharge_customers_lake_delete AFTER DELETE ON recharge_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_customers', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'recharge_customers', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM recharge_customers;

CREATE TRIGGER recharge_subscriptions_lake_insert AFTER INSERT ON recharge_subscriptions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_subscriptions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER recharge_subscriptions_lake_update AFTER UPDATE ON recharge_subscriptions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_subscriptions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'recharge_subscriptions', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER recharge_subscriptions_lake_delete AFTER DELETE ON recharge_subscriptions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_subscriptions', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'recharge_subscriptions', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM recharge_subscriptions;

CREATE TRIGGER recharge_charges_lake_insert AFTER INSERT ON recharge_charges BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_charges', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER recharge_charges_lake_update AFTER UPDATE ON recharge_charges BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_charges', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'recharge_charges', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER recharge_charges_lake_delete AFTER DELETE ON recharge_charges BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_charges', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'recharge_charges', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM recharge_charges;

CREATE TRIGGER recharge_charge_line_items_lake_insert AFTER INSERT ON recharge_charge_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_charge_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER recharge_charge_line_items_lake_update AFTER UPDATE ON recharge_charge_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_charge_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'recharge_charge_line_items', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER recharge_charge_line_items_lake_delete AFTER DELETE ON recharge_charge_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_charge_line_items', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'recharge_charge_line_items', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM recharge_charge_line_items;

CREATE TRIGGER customer_profiles_lake_insert AFTER INSERT ON customer_profiles BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_profiles', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER customer_profiles_lake_update AFTER UPDATE ON customer_profiles BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_profiles', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'customer_profiles', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER customer_profiles_lake_delete AFTER DELETE ON customer_profiles BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_profiles', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'customer_profiles', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM customer_profiles;

CREATE TRIGGER customer_profile_emails_lake_insert AFTER INSERT ON customer_profile_emails BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_profile_emails', substr(NEW.created_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER customer_profile_emails_lake_update AFTER UPDATE ON customer_profile_emails BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_profile_emails', substr(NEW.created_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'customer_profile_emails', substr(OLD.created_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.created_at, 1, 10) <> substr(NEW.created_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER customer_profile_emails_lake_delete AFTER DELETE ON customer_profile_emails BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_profile_emails', substr(OLD.created_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'customer_profile_emails', substr(created_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM customer_profile_emails;

CREATE TRIGGER customer_identities_lake_insert AFTER INSERT ON customer_identities BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_identities', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER customer_identities_lake_update AFTER UPDATE ON customer_identities BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_identities', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'customer_identities', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.updated_at, 1, 10) <> substr(NEW.updated_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER customer_identities_lake_delete AFTER DELETE ON customer_identities BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_identities', substr(OLD.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'customer_identities', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM customer_identities;

CREATE TRIGGER customer_identity_conflicts_lake_insert AFTER INSERT ON customer_identity_conflicts BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_identity_conflicts', substr(NEW.last_seen_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER customer_identity_conflicts_lake_update AFTER UPDATE ON customer_identity_conflicts BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_identity_conflicts', substr(NEW.last_seen_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'customer_identity_conflicts', substr(OLD.last_seen_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.last_seen_at, 1, 10) <> substr(NEW.last_seen_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER customer_identity_conflicts_lake_delete AFTER DELETE ON customer_identity_conflicts BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_identity_conflicts', substr(OLD.last_seen_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'customer_identity_conflicts', substr(last_seen_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM customer_identity_conflicts;
