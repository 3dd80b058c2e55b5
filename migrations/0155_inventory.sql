-- Shopify inventory (docs/tables.md): inventory items, their levels per location, and locations,
-- from the webhooks inventory_items/create|update|delete, inventory_levels/update and
-- locations/create|update|delete (src/mapping/shopify-inventory.ts). Same conventions as
-- migrations/0002_shopify.sql: ids TEXT exactly as Shopify wrote them, money INTEGER *_minor beside
-- `currency`, UTC ISO-8601 timestamps with milliseconds, and the version columns of every row
-- (updated_at, deleted_at, last_event_id, event_at, origin, api_version). A row takes an event only
-- when it is not older than the stored `updated_at`; deletes are soft. The drizzle definitions in
-- src/shared/schema/shopify.ts mirror this file column for column.

-- An inventory item: one per variant. Shopify's payload names no currency for `cost`: it is the
-- shop's, as for variants. `variant_id` only when the payload carries it (the REST webhooks do not:
-- a variant names its item in shopify_product_variants.inventory_item_id, which the views join by).
CREATE TABLE shopify_inventory_items (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  sku TEXT,
  tracked INTEGER,
  requires_shipping INTEGER,
  currency TEXT,
  cost_minor INTEGER,
  variant_id TEXT,
  country_code_of_origin TEXT,
  harmonized_system_code TEXT,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  api_version TEXT,
  PRIMARY KEY (shop, id)
);

-- The quantity of an item at a location. inventory_levels/update carries `available` (NULL for an
-- item whose inventory is not tracked); `on_hand` is written only by a source that reads it. Deleting
-- an item soft-deletes its levels.
CREATE TABLE shopify_inventory_levels (
  shop TEXT NOT NULL,
  inventory_item_id TEXT NOT NULL,
  location_id TEXT NOT NULL,
  available INTEGER,
  on_hand INTEGER,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  api_version TEXT,
  PRIMARY KEY (shop, inventory_item_id, location_id)
);

-- A shop's location (warehouse, store, app): its name and region (province and country codes), not
-- its address.
CREATE TABLE shopify_locations (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT,
  active INTEGER,
  legacy INTEGER,
  province_code TEXT,
  country_code TEXT,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  api_version TEXT,
  PRIMARY KEY (shop, id)
);

-- ---- The lake (migrations/0140_lake_iceberg.sql): a write marks its updated_at day, a delete logs its key.

-- shopify_inventory_items: lake key (shop, id), day column updated_at
CREATE TRIGGER shopify_inventory_items_lake_insert AFTER INSERT ON shopify_inventory_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_inventory_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_inventory_items_lake_update AFTER UPDATE ON shopify_inventory_items BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_inventory_items', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_inventory_items_lake_delete AFTER DELETE ON shopify_inventory_items BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_inventory_items', json_array(OLD.shop, OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_inventory_items_by_lake_day ON shopify_inventory_items (updated_at, shop, id);

-- shopify_inventory_levels: lake key (shop, inventory_item_id, location_id), day column updated_at
CREATE TRIGGER shopify_inventory_levels_lake_insert AFTER INSERT ON shopify_inventory_levels BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_inventory_levels', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_inventory_levels_lake_update AFTER UPDATE ON shopify_inventory_levels BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_inventory_levels', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_inventory_levels_lake_delete AFTER DELETE ON shopify_inventory_levels BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_inventory_levels', json_array(OLD.shop, OLD.inventory_item_id, OLD.location_id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_inventory_levels_by_lake_day ON shopify_inventory_levels (updated_at, shop, inventory_item_id, location_id);

-- shopify_locations: lake key (shop, id), day column updated_at
CREATE TRIGGER shopify_locations_lake_insert AFTER INSERT ON shopify_locations BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_locations', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_locations_lake_update AFTER UPDATE ON shopify_locations BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('shopify_locations', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER shopify_locations_lake_delete AFTER DELETE ON shopify_locations BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('shopify_locations', json_array(OLD.shop, OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;
CREATE INDEX shopify_locations_by_lake_day ON shopify_locations (updated_at, shop, id);

-- ---- Views (docs/tables.md, "Inventory views") ---------------------------------------------------
-- Stock is `available` (what inventory_levels/update keeps current), summed over a variant's
-- locations where a view is per variant. A variant reaches its levels through its
-- inventory_item_id (the levels' primary key, by index). Deleted variants, levels and items are
-- left out. Sales are line-item quantities of orders that count as sales (not test, deleted or
-- cancelled; refunds are not subtracted) created in the last 30 or 90 days before now (UTC).

-- Stock on hand: one row per variant and location. Each variant's levels are read by the levels'
-- primary key (shop, inventory_item_id, ...); CROSS JOIN keeps that order.
CREATE VIEW shopify_inventory_on_hand AS
SELECT v.shop, v.id AS variant_id, v.product_id, v.sku, l.inventory_item_id, l.location_id,
  loc.name AS location_name, l.available, l.on_hand, l.updated_at
FROM shopify_product_variants v
CROSS JOIN shopify_inventory_levels l ON l.shop = v.shop AND l.inventory_item_id = v.inventory_item_id
LEFT JOIN shopify_locations loc ON loc.shop = l.shop AND loc.id = l.location_id
WHERE v.deleted_at IS NULL AND l.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM shopify_inventory_items i
    WHERE i.shop = l.shop AND i.id = l.inventory_item_id AND i.deleted_at IS NOT NULL);

-- One row per variant with stock levels: its stock over its locations, and the units sold in the
-- last 30 and 90 days, gathered in one grouping rather than looked up per variant. Sales are read
-- per shop with inventory levels, by shopify_orders_by_created (the last 90 days of orders, not all),
-- then their lines by shopify_order_line_items_by_order (CROSS JOIN keeps that order).
CREATE VIEW shopify_inventory_by_variant AS
WITH facts AS (
  SELECT shop, variant_id, available, 1 AS level, 0 AS units_30d, 0 AS units_90d
  FROM shopify_inventory_on_hand
  UNION ALL
  SELECT o.shop, li.variant_id, NULL, 0,
    CASE WHEN o.created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days') THEN li.quantity ELSE 0 END,
    li.quantity
  FROM (SELECT DISTINCT shop FROM shopify_inventory_levels) s
  CROSS JOIN shopify_orders o ON o.shop = s.shop
  CROSS JOIN shopify_order_line_items li ON li.shop = o.shop AND li.order_id = o.id
  WHERE o.created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 days')
    AND coalesce(o.test, 0) = 0 AND o.deleted_at IS NULL AND o.cancelled_at IS NULL
    AND li.deleted_at IS NULL AND li.variant_id IS NOT NULL
),
per_variant AS (
  SELECT shop, variant_id, sum(level) AS locations, sum(available) AS available,
    sum(units_30d) AS units_sold_30d, sum(units_90d) AS units_sold_90d
  FROM facts
  GROUP BY shop, variant_id
)
SELECT p.shop, p.variant_id, v.product_id, v.sku, v.inventory_item_id, p.locations, p.available,
  p.units_sold_30d, p.units_sold_90d
FROM per_variant p
JOIN shopify_product_variants v ON v.shop = p.shop AND v.id = p.variant_id
WHERE p.locations > 0;

-- Days of cover: one row per variant with stock levels. days_of_cover = stock / (units sold in the
-- last 30 days / 30), stock below zero counted as none, rounded to 0.1 day; NULL when nothing sold
-- in 30 days (the stock does not run out at that pace).
CREATE VIEW shopify_inventory_days_of_cover AS
SELECT shop, variant_id, product_id, sku, locations, available, units_sold_30d,
  CASE WHEN units_sold_30d > 0 THEN round(max(coalesce(available, 0), 0) * 30.0 / units_sold_30d, 1) END
    AS days_of_cover
FROM shopify_inventory_by_variant;

-- Dead stock: variants with stock (> 0) and no sale in the last 90 days, with the stock's value at
-- the item's cost (NULL when the cost is unknown).
CREATE VIEW shopify_inventory_dead_stock AS
SELECT s.shop, s.variant_id, s.product_id, s.sku, s.available, i.currency,
  s.available * i.cost_minor AS stock_cost_minor
FROM shopify_inventory_by_variant s
LEFT JOIN shopify_inventory_items i ON i.shop = s.shop AND i.id = s.inventory_item_id
WHERE s.available > 0 AND s.units_sold_90d = 0;
