-- Normalized Stripe and Recharge tables, written by the queue consumer (src/consumers/apply-stripe.ts,
-- apply-recharge.ts). Ids are TEXT exactly as the source wrote them; money is INTEGER minor units
-- beside an upper-case ISO `currency`; timestamps are UTC ISO-8601 text ending in Z (Recharge dates
-- without a time are stored as midnight UTC); booleans are 0/1.
--
-- Ordering: a Stripe row keeps the `created` (unix seconds) of the event that last wrote it in
-- `event_created`, and an event applies only when its `created` is >= that value. A Recharge row is
-- ordered by the object's own `updated_at`. Ties apply, so a redelivery is idempotent.
-- `*.deleted` events set `deleted_at`; rows are never erased here. Child rows (line items) carry
-- the parent's `last_event_id` and are replaced only when the parent write applied.

CREATE TABLE stripe_customers (
  id TEXT PRIMARY KEY NOT NULL,
  email TEXT,
  name TEXT,
  phone TEXT,
  description TEXT,
  currency TEXT,
  balance_minor INTEGER,
  delinquent INTEGER,
  address_country TEXT,
  address_postal_code TEXT,
  metadata TEXT,
  livemode INTEGER,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_customers_by_email ON stripe_customers (email);
CREATE INDEX stripe_customers_by_created ON stripe_customers (created_at);

CREATE TABLE stripe_charges (
  id TEXT PRIMARY KEY NOT NULL,
  customer_id TEXT,
  payment_intent_id TEXT,
  invoice_id TEXT,
  email TEXT,
  amount_minor INTEGER NOT NULL,
  amount_captured_minor INTEGER,
  amount_refunded_minor INTEGER,
  currency TEXT NOT NULL,
  status TEXT,
  paid INTEGER,
  captured INTEGER,
  refunded INTEGER,
  disputed INTEGER,
  failure_code TEXT,
  failure_message TEXT,
  outcome_type TEXT,
  payment_method_id TEXT,
  payment_method_type TEXT,
  card_brand TEXT,
  description TEXT,
  metadata_order_id TEXT,
  metadata_customer_id TEXT,
  metadata TEXT,
  livemode INTEGER,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_charges_by_customer ON stripe_charges (customer_id);
CREATE INDEX stripe_charges_by_email ON stripe_charges (email);
CREATE INDEX stripe_charges_by_payment_intent ON stripe_charges (payment_intent_id);
CREATE INDEX stripe_charges_by_order ON stripe_charges (metadata_order_id);
CREATE INDEX stripe_charges_by_created ON stripe_charges (created_at);
CREATE INDEX stripe_charges_by_status ON stripe_charges (status, created_at);

CREATE TABLE stripe_payment_intents (
  id TEXT PRIMARY KEY NOT NULL,
  customer_id TEXT,
  email TEXT,
  amount_minor INTEGER NOT NULL,
  amount_received_minor INTEGER,
  amount_capturable_minor INTEGER,
  currency TEXT NOT NULL,
  status TEXT,
  capture_method TEXT,
  latest_charge_id TEXT,
  payment_method_id TEXT,
  invoice_id TEXT,
  description TEXT,
  cancellation_reason TEXT,
  canceled_at TEXT,
  last_error_code TEXT,
  last_error_message TEXT,
  metadata_order_id TEXT,
  metadata_customer_id TEXT,
  metadata TEXT,
  livemode INTEGER,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_payment_intents_by_customer ON stripe_payment_intents (customer_id);
CREATE INDEX stripe_payment_intents_by_email ON stripe_payment_intents (email);
CREATE INDEX stripe_payment_intents_by_order ON stripe_payment_intents (metadata_order_id);
CREATE INDEX stripe_payment_intents_by_created ON stripe_payment_intents (created_at);
CREATE INDEX stripe_payment_intents_by_status ON stripe_payment_intents (status, created_at);

CREATE TABLE stripe_invoices (
  id TEXT PRIMARY KEY NOT NULL,
  number TEXT,
  customer_id TEXT,
  email TEXT,
  subscription_id TEXT,
  payment_intent_id TEXT,
  charge_id TEXT,
  status TEXT,
  billing_reason TEXT,
  collection_method TEXT,
  currency TEXT NOT NULL,
  amount_due_minor INTEGER,
  amount_paid_minor INTEGER,
  amount_remaining_minor INTEGER,
  subtotal_minor INTEGER,
  total_minor INTEGER,
  tax_minor INTEGER,
  attempt_count INTEGER,
  attempted INTEGER,
  next_payment_attempt_at TEXT,
  due_at TEXT,
  period_start TEXT,
  period_end TEXT,
  paid_at TEXT,
  metadata TEXT,
  livemode INTEGER,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_invoices_by_customer ON stripe_invoices (customer_id);
CREATE INDEX stripe_invoices_by_email ON stripe_invoices (email);
CREATE INDEX stripe_invoices_by_subscription ON stripe_invoices (subscription_id);
CREATE INDEX stripe_invoices_by_created ON stripe_invoices (created_at);
CREATE INDEX stripe_invoices_by_status ON stripe_invoices (status, created_at);

CREATE TABLE stripe_disputes (
  id TEXT PRIMARY KEY NOT NULL,
  charge_id TEXT,
  payment_intent_id TEXT,
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  reason TEXT,
  status TEXT,
  is_charge_refundable INTEGER,
  evidence_due_by TEXT,
  network_reason_code TEXT,
  metadata TEXT,
  livemode INTEGER,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_disputes_by_charge ON stripe_disputes (charge_id);
CREATE INDEX stripe_disputes_by_created ON stripe_disputes (created_at);
CREATE INDEX stripe_disputes_by_status ON stripe_disputes (status, created_at);

CREATE TABLE stripe_refunds (
  id TEXT PRIMARY KEY NOT NULL,
  charge_id TEXT,
  payment_intent_id TEXT,
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  status TEXT,
  reason TEXT,
  failure_reason TEXT,
  metadata TEXT,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_refunds_by_charge ON stripe_refunds (charge_id);
CREATE INDEX stripe_refunds_by_payment_intent ON stripe_refunds (payment_intent_id);
CREATE INDEX stripe_refunds_by_created ON stripe_refunds (created_at);
CREATE INDEX stripe_refunds_by_status ON stripe_refunds (status, created_at);

-- Price fields summarize the first subscription item; item_count says how many there are.
CREATE TABLE stripe_subscriptions (
  id TEXT PRIMARY KEY NOT NULL,
  customer_id TEXT,
  status TEXT,
  currency TEXT,
  collection_method TEXT,
  cancel_at_period_end INTEGER,
  cancel_at TEXT,
  canceled_at TEXT,
  ended_at TEXT,
  cancellation_reason TEXT,
  cancellation_feedback TEXT,
  cancellation_comment TEXT,
  start_date TEXT,
  trial_start TEXT,
  trial_end TEXT,
  current_period_start TEXT,
  current_period_end TEXT,
  latest_invoice_id TEXT,
  default_payment_method_id TEXT,
  item_count INTEGER,
  price_id TEXT,
  product_id TEXT,
  quantity INTEGER,
  unit_amount_minor INTEGER,
  price_interval TEXT,
  price_interval_count INTEGER,
  metadata TEXT,
  livemode INTEGER,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_subscriptions_by_customer ON stripe_subscriptions (customer_id);
CREATE INDEX stripe_subscriptions_by_created ON stripe_subscriptions (created_at);
CREATE INDEX stripe_subscriptions_by_status ON stripe_subscriptions (status, created_at);

-- A checkout session is an order snapshot: who, how much, where to ship, and (child table) what.
CREATE TABLE stripe_checkout_sessions (
  id TEXT PRIMARY KEY NOT NULL,
  mode TEXT,
  status TEXT,
  payment_status TEXT,
  customer_id TEXT,
  email TEXT,
  user_id TEXT,
  client_reference_id TEXT,
  currency TEXT,
  amount_subtotal_minor INTEGER,
  amount_total_minor INTEGER,
  amount_discount_minor INTEGER,
  amount_tax_minor INTEGER,
  amount_shipping_minor INTEGER,
  payment_intent_id TEXT,
  subscription_id TEXT,
  invoice_id TEXT,
  shipping_name TEXT,
  shipping_line1 TEXT,
  shipping_line2 TEXT,
  shipping_city TEXT,
  shipping_state TEXT,
  shipping_postal_code TEXT,
  shipping_country TEXT,
  expires_at TEXT,
  metadata TEXT,
  livemode INTEGER,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_checkout_sessions_by_email ON stripe_checkout_sessions (email);
CREATE INDEX stripe_checkout_sessions_by_customer ON stripe_checkout_sessions (customer_id);
CREATE INDEX stripe_checkout_sessions_by_user ON stripe_checkout_sessions (user_id);
CREATE INDEX stripe_checkout_sessions_by_payment_intent ON stripe_checkout_sessions (payment_intent_id);
CREATE INDEX stripe_checkout_sessions_by_created ON stripe_checkout_sessions (created_at);
CREATE INDEX stripe_checkout_sessions_by_status ON stripe_checkout_sessions (status, created_at);

-- Keyed by position (the order Stripe lists them), so a list is replaced as a whole.
CREATE TABLE stripe_checkout_session_line_items (
  session_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  id TEXT,
  price_id TEXT,
  product_id TEXT,
  description TEXT,
  quantity INTEGER,
  currency TEXT,
  unit_amount_minor INTEGER,
  amount_subtotal_minor INTEGER,
  amount_discount_minor INTEGER,
  amount_tax_minor INTEGER,
  amount_total_minor INTEGER,
  updated_at TEXT NOT NULL,
  last_event_id TEXT NOT NULL,
  PRIMARY KEY (session_id, position)
);
CREATE INDEX stripe_checkout_session_line_items_by_product ON stripe_checkout_session_line_items (product_id);
CREATE INDEX stripe_checkout_session_line_items_by_price ON stripe_checkout_session_line_items (price_id);

CREATE TABLE recharge_customers (
  id TEXT PRIMARY KEY NOT NULL,
  shopify_customer_id TEXT,
  email TEXT,
  first_name TEXT,
  last_name TEXT,
  phone TEXT,
  status TEXT,
  subscriptions_active_count INTEGER,
  subscriptions_total_count INTEGER,
  has_valid_payment_method INTEGER,
  has_payment_method_in_dunning INTEGER,
  first_charge_processed_at TEXT,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX recharge_customers_by_email ON recharge_customers (email);
CREATE INDEX recharge_customers_by_shopify_customer ON recharge_customers (shopify_customer_id);
CREATE INDEX recharge_customers_by_created ON recharge_customers (created_at);
CREATE INDEX recharge_customers_by_status ON recharge_customers (status);

-- `price_minor` needs a currency: it is NULL when the payload names none (`presentment_currency`
-- null means "the store's currency"), and `price_decimal` keeps the exact text for that case.
CREATE TABLE recharge_subscriptions (
  id TEXT PRIMARY KEY NOT NULL,
  customer_id TEXT,
  shopify_customer_id TEXT,
  email TEXT,
  address_id TEXT,
  status TEXT,
  product_title TEXT,
  variant_title TEXT,
  shopify_product_id TEXT,
  shopify_variant_id TEXT,
  sku TEXT,
  currency TEXT,
  price_minor INTEGER,
  price_decimal TEXT,
  quantity INTEGER,
  order_interval_unit TEXT,
  order_interval_frequency INTEGER,
  charge_interval_frequency INTEGER,
  order_day_of_month INTEGER,
  order_day_of_week INTEGER,
  expire_after_specific_number_of_charges INTEGER,
  next_charge_scheduled_at TEXT,
  is_prepaid INTEGER,
  is_skippable INTEGER,
  is_swappable INTEGER,
  max_retries_reached INTEGER,
  cancelled_at TEXT,
  cancellation_reason TEXT,
  cancellation_reason_comments TEXT,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX recharge_subscriptions_by_customer ON recharge_subscriptions (customer_id);
CREATE INDEX recharge_subscriptions_by_shopify_customer ON recharge_subscriptions (shopify_customer_id);
CREATE INDEX recharge_subscriptions_by_email ON recharge_subscriptions (email);
CREATE INDEX recharge_subscriptions_by_created ON recharge_subscriptions (created_at);
CREATE INDEX recharge_subscriptions_by_status ON recharge_subscriptions (status, created_at);
CREATE INDEX recharge_subscriptions_by_next_charge ON recharge_subscriptions (next_charge_scheduled_at);

CREATE TABLE recharge_charges (
  id TEXT PRIMARY KEY NOT NULL,
  customer_id TEXT,
  shopify_customer_id TEXT,
  email TEXT,
  address_id TEXT,
  status TEXT,
  type TEXT,
  currency TEXT,
  subtotal_minor INTEGER,
  total_price_minor INTEGER,
  total_tax_minor INTEGER,
  total_discounts_minor INTEGER,
  total_refunds_minor INTEGER,
  total_line_items_price_minor INTEGER,
  total_duties_minor INTEGER,
  total_shipping_minor INTEGER,
  line_item_count INTEGER,
  scheduled_at TEXT,
  processed_at TEXT,
  retry_date TEXT,
  charge_attempts INTEGER,
  error TEXT,
  error_type TEXT,
  shopify_order_id TEXT,
  payment_processor TEXT,
  external_transaction_id TEXT,
  tags TEXT,
  created_at TEXT,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX recharge_charges_by_customer ON recharge_charges (customer_id);
CREATE INDEX recharge_charges_by_shopify_customer ON recharge_charges (shopify_customer_id);
CREATE INDEX recharge_charges_by_email ON recharge_charges (email);
CREATE INDEX recharge_charges_by_shopify_order ON recharge_charges (shopify_order_id);
CREATE INDEX recharge_charges_by_created ON recharge_charges (created_at);
CREATE INDEX recharge_charges_by_scheduled ON recharge_charges (scheduled_at);
CREATE INDEX recharge_charges_by_status ON recharge_charges (status, created_at);

CREATE TABLE recharge_charge_line_items (
  charge_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  purchase_item_id TEXT,
  purchase_item_type TEXT,
  shopify_product_id TEXT,
  shopify_variant_id TEXT,
  sku TEXT,
  title TEXT,
  variant_title TEXT,
  quantity INTEGER,
  currency TEXT,
  unit_price_minor INTEGER,
  total_price_minor INTEGER,
  tax_due_minor INTEGER,
  updated_at TEXT NOT NULL,
  last_event_id TEXT NOT NULL,
  PRIMARY KEY (charge_id, position)
);
CREATE INDEX recharge_charge_line_items_by_purchase_item ON recharge_charge_line_items (purchase_item_id);
CREATE INDEX recharge_charge_line_items_by_sku ON recharge_charge_line_items (sku);
