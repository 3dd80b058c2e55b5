-- Indexes no query needs. Every index adds a billed D1 row written for each row inserted or updated
-- in its table (docs/performance.md: the cost bench breaks rows written per event down by table),
-- and these were read by no statement in src/ or cli/ and by no view or trigger of the migrations:
-- no query filters, joins or sorts on their leading column (created_at outside shopify_orders,
-- financial_status, order_number, product_id, sku, state, metadata_order_id, next_charge_scheduled_at,
-- scheduled_at, completed_at, price_id, line_item_id, and status outside the tables the KPI views
-- filter by status). The indexes that stay are proved in test/node/indexes.test.ts with EXPLAIN QUERY
-- PLAN on the queries that need them.
DROP INDEX IF EXISTS shopify_orders_by_number;
DROP INDEX IF EXISTS shopify_orders_by_status;
DROP INDEX IF EXISTS shopify_order_line_items_by_product;
DROP INDEX IF EXISTS shopify_order_line_items_by_sku;
DROP INDEX IF EXISTS shopify_customers_by_created;
DROP INDEX IF EXISTS shopify_customers_by_state;
DROP INDEX IF EXISTS shopify_products_by_created;
DROP INDEX IF EXISTS shopify_products_by_status;
DROP INDEX IF EXISTS shopify_product_variants_by_sku;
DROP INDEX IF EXISTS shopify_fulfillments_by_created;
DROP INDEX IF EXISTS shopify_fulfillments_by_status;
DROP INDEX IF EXISTS shopify_refunds_by_created;
DROP INDEX IF EXISTS shopify_refund_line_items_by_line;
DROP INDEX IF EXISTS shopify_checkouts_by_created;
DROP INDEX IF EXISTS shopify_checkouts_by_completed;
DROP INDEX IF EXISTS stripe_customers_by_created;
DROP INDEX IF EXISTS stripe_charges_by_created;
DROP INDEX IF EXISTS stripe_charges_by_order;
DROP INDEX IF EXISTS stripe_payment_intents_by_created;
DROP INDEX IF EXISTS stripe_payment_intents_by_order;
DROP INDEX IF EXISTS stripe_payment_intents_by_status;
DROP INDEX IF EXISTS stripe_invoices_by_created;
DROP INDEX IF EXISTS stripe_disputes_by_created;
DROP INDEX IF EXISTS stripe_disputes_by_status;
DROP INDEX IF EXISTS stripe_refunds_by_created;
DROP INDEX IF EXISTS stripe_refunds_by_status;
DROP INDEX IF EXISTS stripe_subscriptions_by_created;
DROP INDEX IF EXISTS stripe_checkout_sessions_by_created;
DROP INDEX IF EXISTS stripe_checkout_sessions_by_status;
DROP INDEX IF EXISTS stripe_checkout_session_line_items_by_product;
DROP INDEX IF EXISTS stripe_checkout_session_line_items_by_price;
DROP INDEX IF EXISTS recharge_customers_by_created;
DROP INDEX IF EXISTS recharge_customers_by_status;
DROP INDEX IF EXISTS recharge_subscriptions_by_created;
DROP INDEX IF EXISTS recharge_subscriptions_by_next_charge;
DROP INDEX IF EXISTS recharge_charges_by_created;
DROP INDEX IF EXISTS recharge_charges_by_scheduled;
DROP INDEX IF EXISTS recharge_charge_line_items_by_sku;
