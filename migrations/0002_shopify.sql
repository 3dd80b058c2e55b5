-- Normalized Shopify tables, written by the queue consumer (src/consumers/apply-shopify.ts).
-- Conventions (ARCHITECTURE.md, D1): rows keyed by (shop, id); ids TEXT exactly as Shopify wrote
-- them; money INTEGER *_minor beside `currency`; timestamps UTC ISO-8601 text ending in Z, always
-- with milliseconds so text order is time order. Every row carries the version it holds:
-- updated_at (the source's), deleted_at (soft delete), last_event_id, event_at and origin of the
-- event that wrote it. JSON-array columns (tags, discount_codes, ...) are TEXT for json_each().
-- The drizzle definitions in src/shared/schema/shopify.ts mirror this file column for column.

CREATE TABLE shopify_orders (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT,
  order_number INTEGER,
  confirmation_number TEXT,
  email TEXT,
  phone TEXT,
  customer_id TEXT,
  customer_orders_count INTEGER,
  customer_total_spent_minor INTEGER,
  created_at TEXT,
  processed_at TEXT,
  closed_at TEXT,
  cancelled_at TEXT,
  cancel_reason TEXT,
  financial_status TEXT,
  fulfillment_status TEXT,
  test INTEGER,
  confirmed INTEGER,
  buyer_accepts_marketing INTEGER,
  currency TEXT,
  presentment_currency TEXT,
  total_price_minor INTEGER,
  subtotal_price_minor INTEGER,
  total_line_items_price_minor INTEGER,
  total_discounts_minor INTEGER,
  total_tax_minor INTEGER,
  total_shipping_minor INTEGER,
  current_total_price_minor INTEGER,
  discount_codes TEXT,
  tags TEXT,
  note TEXT,
  payment_gateway_names TEXT,
  source_name TEXT,
  referring_site TEXT,
  landing_site TEXT,
  landing_site_ref TEXT,
  utm_source TEXT,
  utm_medium TEXT,
  utm_campaign TEXT,
  utm_content TEXT,
  utm_term TEXT,
  checkout_token TEXT,
  cart_token TEXT,
  shipping_city TEXT,
  shipping_province TEXT,
  shipping_province_code TEXT,
  shipping_zip TEXT,
  shipping_country TEXT,
  shipping_country_code TEXT,
  billing_city TEXT,
  billing_province TEXT,
  billing_province_code TEXT,
  billing_zip TEXT,
  billing_country TEXT,
  billing_country_code TEXT,
  line_item_count INTEGER,
  total_quantity INTEGER,
  is_subscription INTEGER,
  subscription_type TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_orders_by_email ON shopify_orders (email);
CREATE INDEX shopify_orders_by_number ON shopify_orders (shop, order_number);
CREATE INDEX shopify_orders_by_customer ON shopify_orders (shop, customer_id);
CREATE INDEX shopify_orders_by_created ON shopify_orders (shop, created_at);
CREATE INDEX shopify_orders_by_status ON shopify_orders (shop, financial_status, fulfillment_status);

-- Replaced as a set whenever the order row takes a newer version.
CREATE TABLE shopify_order_line_items (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  product_id TEXT,
  variant_id TEXT,
  sku TEXT,
  title TEXT,
  variant_title TEXT,
  vendor TEXT,
  quantity INTEGER NOT NULL,
  currency TEXT,
  price_minor INTEGER,
  discount_minor INTEGER,
  gift_card INTEGER,
  fulfillment_status TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_order_line_items_by_order ON shopify_order_line_items (shop, order_id);
CREATE INDEX shopify_order_line_items_by_product ON shopify_order_line_items (shop, product_id);
CREATE INDEX shopify_order_line_items_by_sku ON shopify_order_line_items (shop, sku);

CREATE TABLE shopify_customers (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  email TEXT,
  first_name TEXT,
  last_name TEXT,
  phone TEXT,
  state TEXT,
  verified_email INTEGER,
  tax_exempt INTEGER,
  tags TEXT,
  currency TEXT,
  orders_count INTEGER,
  total_spent_minor INTEGER,
  accepts_marketing INTEGER,
  email_marketing_state TEXT,
  email_marketing_opt_in_level TEXT,
  email_marketing_updated_at TEXT,
  sms_marketing_state TEXT,
  city TEXT,
  province TEXT,
  province_code TEXT,
  zip TEXT,
  country TEXT,
  country_code TEXT,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_customers_by_email ON shopify_customers (email);
CREATE INDEX shopify_customers_by_created ON shopify_customers (shop, created_at);
CREATE INDEX shopify_customers_by_state ON shopify_customers (shop, state);

CREATE TABLE shopify_products (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  title TEXT,
  handle TEXT,
  product_type TEXT,
  vendor TEXT,
  status TEXT,
  tags TEXT,
  published_at TEXT,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_products_by_status ON shopify_products (shop, status);
CREATE INDEX shopify_products_by_created ON shopify_products (shop, created_at);

-- Replaced as a set whenever the product row takes a newer version. Prices are in the shop's
-- currency, which product payloads do not name: NULL until an order has shown it.
CREATE TABLE shopify_product_variants (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  product_id TEXT NOT NULL,
  position INTEGER,
  title TEXT,
  sku TEXT,
  barcode TEXT,
  currency TEXT,
  price_minor INTEGER,
  compare_at_price_minor INTEGER,
  inventory_item_id TEXT,
  inventory_quantity INTEGER,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_product_variants_by_product ON shopify_product_variants (shop, product_id);
CREATE INDEX shopify_product_variants_by_sku ON shopify_product_variants (shop, sku);

CREATE TABLE shopify_fulfillments (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  name TEXT,
  status TEXT,
  shipment_status TEXT,
  service TEXT,
  location_id TEXT,
  tracking_company TEXT,
  tracking_number TEXT,
  tracking_url TEXT,
  tracking_numbers TEXT,
  line_item_count INTEGER,
  total_quantity INTEGER,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_fulfillments_by_order ON shopify_fulfillments (shop, order_id);
CREATE INDEX shopify_fulfillments_by_status ON shopify_fulfillments (shop, status);
CREATE INDEX shopify_fulfillments_by_created ON shopify_fulfillments (shop, created_at);

-- Refunds never change after creation; updated_at is their created_at.
CREATE TABLE shopify_refunds (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  note TEXT,
  restock INTEGER,
  currency TEXT,
  refunded_amount_minor INTEGER,
  line_subtotal_minor INTEGER,
  line_tax_minor INTEGER,
  line_count INTEGER,
  created_at TEXT,
  processed_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_refunds_by_order ON shopify_refunds (shop, order_id);
CREATE INDEX shopify_refunds_by_created ON shopify_refunds (shop, created_at);

-- The refund's line references, replaced with their refund.
CREATE TABLE shopify_refund_line_items (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  refund_id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  line_item_id TEXT,
  quantity INTEGER NOT NULL,
  restock_type TEXT,
  location_id TEXT,
  currency TEXT,
  subtotal_minor INTEGER,
  total_tax_minor INTEGER,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_refund_line_items_by_refund ON shopify_refund_line_items (shop, refund_id);
CREATE INDEX shopify_refund_line_items_by_line ON shopify_refund_line_items (shop, line_item_id);

-- Checkouts (abandoned when completed_at stays NULL).
CREATE TABLE shopify_checkouts (
  shop TEXT NOT NULL,
  id TEXT NOT NULL,
  token TEXT,
  cart_token TEXT,
  name TEXT,
  email TEXT,
  phone TEXT,
  customer_id TEXT,
  abandoned_checkout_url TEXT,
  source_name TEXT,
  referring_site TEXT,
  landing_site TEXT,
  utm_source TEXT,
  utm_medium TEXT,
  utm_campaign TEXT,
  utm_content TEXT,
  utm_term TEXT,
  buyer_accepts_marketing INTEGER,
  currency TEXT,
  presentment_currency TEXT,
  total_price_minor INTEGER,
  subtotal_price_minor INTEGER,
  total_line_items_price_minor INTEGER,
  total_discounts_minor INTEGER,
  total_tax_minor INTEGER,
  discount_codes TEXT,
  line_item_count INTEGER,
  total_quantity INTEGER,
  shipping_country_code TEXT,
  shipping_province_code TEXT,
  created_at TEXT,
  completed_at TEXT,
  closed_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL,
  event_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (shop, id)
);
CREATE INDEX shopify_checkouts_by_email ON shopify_checkouts (email);
CREATE INDEX shopify_checkouts_by_token ON shopify_checkouts (shop, token);
CREATE INDEX shopify_checkouts_by_customer ON shopify_checkouts (shop, customer_id);
CREATE INDEX shopify_checkouts_by_created ON shopify_checkouts (shop, created_at);
CREATE INDEX shopify_checkouts_by_completed ON shopify_checkouts (shop, completed_at);
