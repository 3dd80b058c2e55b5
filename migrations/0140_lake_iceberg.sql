-- The lake as Apache Iceberg tables (docs/lake.md). Rows change in the lake by equality deletes on
-- each table's lake key (its primary key; a child table's parent key, since a parent's children
-- are replaced as a set; a subscription's MRR states by subscription), so the compact job needs:
-- * an UPDATE to mark only the row's new day: the old version is deleted by key wherever it lies,
--   and re-reading the old day (a whole day of rows for one moved row) is what made a run cost
--   O(history) after a backfill;
-- * a DELETE to record the deleted row's lake key in lake_deletes (no day holds it any more), with
--   seq counting deletes of that key so the job clears only the entries it read;
-- * an index on each table's (day column, primary key), so a changed day is read in key pages by an
--   index range, not a scan of the table;
-- * every day of every table marked once, so the first run builds each Iceberg table from D1 (the
--   plain Parquet under processed/…/current/ and dt=…/ is retired by the lake-upkeep job after).
CREATE TABLE lake_deletes (
  table_name TEXT NOT NULL,
  lake_key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (table_name, lake_key)
) WITHOUT ROWID;

-- The lake-upkeep job (src/cron/compact/upkeep.ts): when each table was last swept (expired
-- snapshots, files no snapshot reaches), and a rebuild in progress, which reads the table from D1
-- in key order over as many runs as it takes (after_key: the last key written; files: the data
-- files written so far, as JSON) and then replaces every file committed before base_sequence.
CREATE TABLE lake_upkeep (
  table_name TEXT PRIMARY KEY,
  swept_at TEXT,
  rebuilt_at TEXT,
  rebuild_base_sequence INTEGER,
  rebuild_after_key TEXT,
  rebuild_files TEXT,
  rebuild_rows INTEGER NOT NULL DEFAULT 0,
  rebuild_started_at TEXT,
  rebuild_reason TEXT,
  -- When the last committed rebuild started reading D1.
  rebuilt_from TEXT,
  -- An erasure asked for a rebuild that starts after it (one already reading D1 may hold the person)...
  erasure_asked_at TEXT,
  -- ...and once it commits, the next sweep expires every snapshot older than it.
  expire_before TEXT
);

-- shopify_orders: lake key (shop, id), day column updated_at
DROP TRIGGER shopify_orders_lake_update;
CREATE TRIGGER shopify_orders_lake_update AFTER UPDATE ON shopify_orders BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_orders', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_orders_lake_delete;
CREATE TRIGGER shopify_orders_lake_delete AFTER DELETE ON shopify_orders BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_orders', json_array(OLD.shop, OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_orders_by_lake_day ON shopify_orders (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_orders', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_orders WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- shopify_order_line_items: lake key (shop, order_id), day column updated_at
DROP TRIGGER shopify_order_line_items_lake_update;
CREATE TRIGGER shopify_order_line_items_lake_update AFTER UPDATE ON shopify_order_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_order_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_order_line_items_lake_delete;
CREATE TRIGGER shopify_order_line_items_lake_delete AFTER DELETE ON shopify_order_line_items BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_order_line_items', json_array(OLD.shop, OLD.order_id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_order_line_items_by_lake_day ON shopify_order_line_items (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_order_line_items', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_order_line_items WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- shopify_customers: lake key (shop, id), day column updated_at
DROP TRIGGER shopify_customers_lake_update;
CREATE TRIGGER shopify_customers_lake_update AFTER UPDATE ON shopify_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_customers_lake_delete;
CREATE TRIGGER shopify_customers_lake_delete AFTER DELETE ON shopify_customers BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_customers', json_array(OLD.shop, OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_customers_by_lake_day ON shopify_customers (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_customers', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_customers WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- shopify_products: lake key (shop, id), day column updated_at
DROP TRIGGER shopify_products_lake_update;
CREATE TRIGGER shopify_products_lake_update AFTER UPDATE ON shopify_products BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_products', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_products_lake_delete;
CREATE TRIGGER shopify_products_lake_delete AFTER DELETE ON shopify_products BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_products', json_array(OLD.shop, OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_products_by_lake_day ON shopify_products (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_products', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_products WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- shopify_product_variants: lake key (shop, product_id), day column updated_at
DROP TRIGGER shopify_product_variants_lake_update;
CREATE TRIGGER shopify_product_variants_lake_update AFTER UPDATE ON shopify_product_variants BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_product_variants', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_product_variants_lake_delete;
CREATE TRIGGER shopify_product_variants_lake_delete AFTER DELETE ON shopify_product_variants BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_product_variants', json_array(OLD.shop, OLD.product_id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_product_variants_by_lake_day ON shopify_product_variants (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_product_variants', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_product_variants WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- shopify_fulfillments: lake key (shop, id), day column updated_at
DROP TRIGGER shopify_fulfillments_lake_update;
CREATE TRIGGER shopify_fulfillments_lake_update AFTER UPDATE ON shopify_fulfillments BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_fulfillments', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_fulfillments_lake_delete;
CREATE TRIGGER shopify_fulfillments_lake_delete AFTER DELETE ON shopify_fulfillments BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_fulfillments', json_array(OLD.shop, OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_fulfillments_by_lake_day ON shopify_fulfillments (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_fulfillments', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_fulfillments WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- shopify_refunds: lake key (shop, id), day column updated_at
DROP TRIGGER shopify_refunds_lake_update;
CREATE TRIGGER shopify_refunds_lake_update AFTER UPDATE ON shopify_refunds BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_refunds', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_refunds_lake_delete;
CREATE TRIGGER shopify_refunds_lake_delete AFTER DELETE ON shopify_refunds BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_refunds', json_array(OLD.shop, OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_refunds_by_lake_day ON shopify_refunds (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_refunds', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_refunds WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- shopify_refund_line_items: lake key (shop, refund_id), day column updated_at
DROP TRIGGER shopify_refund_line_items_lake_update;
CREATE TRIGGER shopify_refund_line_items_lake_update AFTER UPDATE ON shopify_refund_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_refund_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_refund_line_items_lake_delete;
CREATE TRIGGER shopify_refund_line_items_lake_delete AFTER DELETE ON shopify_refund_line_items BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_refund_line_items', json_array(OLD.shop, OLD.refund_id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_refund_line_items_by_lake_day ON shopify_refund_line_items (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_refund_line_items', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_refund_line_items WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- shopify_checkouts: lake key (shop, id), day column updated_at
DROP TRIGGER shopify_checkouts_lake_update;
CREATE TRIGGER shopify_checkouts_lake_update AFTER UPDATE ON shopify_checkouts BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_checkouts', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER shopify_checkouts_lake_delete;
CREATE TRIGGER shopify_checkouts_lake_delete AFTER DELETE ON shopify_checkouts BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_checkouts', json_array(OLD.shop, OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_checkouts_by_lake_day ON shopify_checkouts (updated_at, shop, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'shopify_checkouts', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM shopify_checkouts WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_customers: lake key (id), day column updated_at
DROP TRIGGER stripe_customers_lake_update;
CREATE TRIGGER stripe_customers_lake_update AFTER UPDATE ON stripe_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_customers_lake_delete;
CREATE TRIGGER stripe_customers_lake_delete AFTER DELETE ON stripe_customers BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_customers', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_customers_by_lake_day ON stripe_customers (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_customers', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_customers WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_charges: lake key (id), day column updated_at
DROP TRIGGER stripe_charges_lake_update;
CREATE TRIGGER stripe_charges_lake_update AFTER UPDATE ON stripe_charges BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_charges', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_charges_lake_delete;
CREATE TRIGGER stripe_charges_lake_delete AFTER DELETE ON stripe_charges BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_charges', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_charges_by_lake_day ON stripe_charges (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_charges', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_charges WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_payment_intents: lake key (id), day column updated_at
DROP TRIGGER stripe_payment_intents_lake_update;
CREATE TRIGGER stripe_payment_intents_lake_update AFTER UPDATE ON stripe_payment_intents BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_payment_intents', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_payment_intents_lake_delete;
CREATE TRIGGER stripe_payment_intents_lake_delete AFTER DELETE ON stripe_payment_intents BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_payment_intents', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_payment_intents_by_lake_day ON stripe_payment_intents (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_payment_intents', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_payment_intents WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_invoices: lake key (id), day column updated_at
DROP TRIGGER stripe_invoices_lake_update;
CREATE TRIGGER stripe_invoices_lake_update AFTER UPDATE ON stripe_invoices BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_invoices', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_invoices_lake_delete;
CREATE TRIGGER stripe_invoices_lake_delete AFTER DELETE ON stripe_invoices BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_invoices', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_invoices_by_lake_day ON stripe_invoices (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_invoices', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_invoices WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_disputes: lake key (id), day column updated_at
DROP TRIGGER stripe_disputes_lake_update;
CREATE TRIGGER stripe_disputes_lake_update AFTER UPDATE ON stripe_disputes BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_disputes', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_disputes_lake_delete;
CREATE TRIGGER stripe_disputes_lake_delete AFTER DELETE ON stripe_disputes BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_disputes', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_disputes_by_lake_day ON stripe_disputes (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_disputes', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_disputes WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_refunds: lake key (id), day column updated_at
DROP TRIGGER stripe_refunds_lake_update;
CREATE TRIGGER stripe_refunds_lake_update AFTER UPDATE ON stripe_refunds BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_refunds', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_refunds_lake_delete;
CREATE TRIGGER stripe_refunds_lake_delete AFTER DELETE ON stripe_refunds BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_refunds', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_refunds_by_lake_day ON stripe_refunds (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_refunds', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_refunds WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_subscriptions: lake key (id), day column updated_at
DROP TRIGGER stripe_subscriptions_lake_update;
CREATE TRIGGER stripe_subscriptions_lake_update AFTER UPDATE ON stripe_subscriptions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_subscriptions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_subscriptions_lake_delete;
CREATE TRIGGER stripe_subscriptions_lake_delete AFTER DELETE ON stripe_subscriptions BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_subscriptions', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_subscriptions_by_lake_day ON stripe_subscriptions (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_subscriptions', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_subscriptions WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_checkout_sessions: lake key (id), day column updated_at
DROP TRIGGER stripe_checkout_sessions_lake_update;
CREATE TRIGGER stripe_checkout_sessions_lake_update AFTER UPDATE ON stripe_checkout_sessions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_checkout_sessions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_checkout_sessions_lake_delete;
CREATE TRIGGER stripe_checkout_sessions_lake_delete AFTER DELETE ON stripe_checkout_sessions BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_checkout_sessions', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_checkout_sessions_by_lake_day ON stripe_checkout_sessions (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_checkout_sessions', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_checkout_sessions WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- stripe_checkout_session_line_items: lake key (session_id), day column updated_at
DROP TRIGGER stripe_checkout_session_line_items_lake_update;
CREATE TRIGGER stripe_checkout_session_line_items_lake_update AFTER UPDATE ON stripe_checkout_session_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_checkout_session_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER stripe_checkout_session_line_items_lake_delete;
CREATE TRIGGER stripe_checkout_session_line_items_lake_delete AFTER DELETE ON stripe_checkout_session_line_items BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_checkout_session_line_items', json_array(OLD.session_id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX stripe_checkout_session_line_items_by_lake_day ON stripe_checkout_session_line_items (updated_at, session_id, position);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'stripe_checkout_session_line_items', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM stripe_checkout_session_line_items WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- recharge_customers: lake key (id), day column updated_at
DROP TRIGGER recharge_customers_lake_update;
CREATE TRIGGER recharge_customers_lake_update AFTER UPDATE ON recharge_customers BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_customers', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER recharge_customers_lake_delete;
CREATE TRIGGER recharge_customers_lake_delete AFTER DELETE ON recharge_customers BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('recharge_customers', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX recharge_customers_by_lake_day ON recharge_customers (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'recharge_customers', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM recharge_customers WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- recharge_subscriptions: lake key (id), day column updated_at
DROP TRIGGER recharge_subscriptions_lake_update;
CREATE TRIGGER recharge_subscriptions_lake_update AFTER UPDATE ON recharge_subscriptions BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_subscriptions', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER recharge_subscriptions_lake_delete;
CREATE TRIGGER recharge_subscriptions_lake_delete AFTER DELETE ON recharge_subscriptions BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('recharge_subscriptions', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX recharge_subscriptions_by_lake_day ON recharge_subscriptions (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'recharge_subscriptions', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM recharge_subscriptions WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- recharge_charges: lake key (id), day column updated_at
DROP TRIGGER recharge_charges_lake_update;
CREATE TRIGGER recharge_charges_lake_update AFTER UPDATE ON recharge_charges BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_charges', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER recharge_charges_lake_delete;
CREATE TRIGGER recharge_charges_lake_delete AFTER DELETE ON recharge_charges BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('recharge_charges', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX recharge_charges_by_lake_day ON recharge_charges (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'recharge_charges', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM recharge_charges WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- recharge_charge_line_items: lake key (charge_id), day column updated_at
DROP TRIGGER recharge_charge_line_items_lake_update;
CREATE TRIGGER recharge_charge_line_items_lake_update AFTER UPDATE ON recharge_charge_line_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('recharge_charge_line_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER recharge_charge_line_items_lake_delete;
CREATE TRIGGER recharge_charge_line_items_lake_delete AFTER DELETE ON recharge_charge_line_items BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('recharge_charge_line_items', json_array(OLD.charge_id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX recharge_charge_line_items_by_lake_day ON recharge_charge_line_items (updated_at, charge_id, position);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'recharge_charge_line_items', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM recharge_charge_line_items WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- customer_profiles: lake key (id), day column updated_at
DROP TRIGGER customer_profiles_lake_update;
CREATE TRIGGER customer_profiles_lake_update AFTER UPDATE ON customer_profiles BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_profiles', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER customer_profiles_lake_delete;
CREATE TRIGGER customer_profiles_lake_delete AFTER DELETE ON customer_profiles BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('customer_profiles', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX customer_profiles_by_lake_day ON customer_profiles (updated_at, id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'customer_profiles', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM customer_profiles WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- customer_profile_emails: lake key (email), day column created_at
DROP TRIGGER customer_profile_emails_lake_update;
CREATE TRIGGER customer_profile_emails_lake_update AFTER UPDATE ON customer_profile_emails BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_profile_emails', substr(NEW.created_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER customer_profile_emails_lake_delete;
CREATE TRIGGER customer_profile_emails_lake_delete AFTER DELETE ON customer_profile_emails BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('customer_profile_emails', json_array(OLD.email), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX customer_profile_emails_by_lake_day ON customer_profile_emails (created_at, email);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'customer_profile_emails', substr(created_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM customer_profile_emails WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- customer_identities: lake key (source, external_id, shop), day column updated_at
DROP TRIGGER customer_identities_lake_update;
CREATE TRIGGER customer_identities_lake_update AFTER UPDATE ON customer_identities BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_identities', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER customer_identities_lake_delete;
CREATE TRIGGER customer_identities_lake_delete AFTER DELETE ON customer_identities BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('customer_identities', json_array(OLD.source, OLD.external_id, OLD.shop), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX customer_identities_by_lake_day ON customer_identities (updated_at, source, external_id, shop);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'customer_identities', substr(updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM customer_identities WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- customer_identity_conflicts: lake key (source, external_id, shop, kind, other_profile_id), day column last_seen_at
DROP TRIGGER customer_identity_conflicts_lake_update;
CREATE TRIGGER customer_identity_conflicts_lake_update AFTER UPDATE ON customer_identity_conflicts BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('customer_identity_conflicts', substr(NEW.last_seen_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER customer_identity_conflicts_lake_delete;
CREATE TRIGGER customer_identity_conflicts_lake_delete AFTER DELETE ON customer_identity_conflicts BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('customer_identity_conflicts', json_array(OLD.source, OLD.external_id, OLD.shop, OLD.kind, OLD.other_profile_id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
DROP INDEX customer_identity_conflicts_by_seen; -- the index below leads with the same column
CREATE INDEX customer_identity_conflicts_by_lake_day ON customer_identity_conflicts (last_seen_at, source, external_id, shop, kind, other_profile_id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'customer_identity_conflicts', substr(last_seen_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM customer_identity_conflicts WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;

-- subscription_mrr_history: lake key (source, subscription_id), day column effective_at
DROP TRIGGER subscription_mrr_history_lake_update;
CREATE TRIGGER subscription_mrr_history_lake_update AFTER UPDATE ON subscription_mrr_history BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('subscription_mrr_history', substr(NEW.effective_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
DROP TRIGGER subscription_mrr_history_lake_delete;
CREATE TRIGGER subscription_mrr_history_lake_delete AFTER DELETE ON subscription_mrr_history BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('subscription_mrr_history', json_array(OLD.source, OLD.subscription_id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX subscription_mrr_history_by_lake_day ON subscription_mrr_history (effective_at, source, subscription_id);
INSERT INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'subscription_mrr_history', substr(effective_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM subscription_mrr_history WHERE true
ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1;
