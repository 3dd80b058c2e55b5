-- Indexes no query needs. Every index adds a billed D1 row written for each row inserted into its
-- table (and each update that writes an indexed column), and no statement in src/, no view and no
-- trigger of the migrations plans on these: EXPLAIN QUERY PLAN of every query on their tables picks
-- another index or the primary key (test/node/indexes.test.ts proves each index that stays, and
-- checks the plans that used to touch the ones below). A later query that needs one adds it back
-- with its plan in that test.
-- customer_identities: no query looks an identity up by email (linking and erasure go through
-- customer_profile_emails and profile_id).
DROP INDEX IF EXISTS customer_identities_by_email;
-- customer_identity_conflicts: erasure deletes by `profile_id OR other_profile_id`, which scans the
-- (small) table either way; nothing else reads conflicts by profile.
DROP INDEX IF EXISTS customer_identity_conflicts_by_profile;
-- dq_results: read only by run_id (the ops page, retention), the primary key's first column.
DROP INDEX IF EXISTS dq_results_by_check;
-- lake_changes: the compaction takes marks by table_name (the primary key) and sorts them by
-- changed_at; no query seeks by changed_at.
DROP INDEX IF EXISTS lake_changes_by_changed;
-- privacy_requests: the stalled-request rule plans on privacy_requests_by_status (status IN
-- ('pending', 'running')), as every other query on open requests does.
DROP INDEX IF EXISTS privacy_requests_open_by_progress;
-- recharge_*: no query reads Recharge rows by their Shopify customer id (identity linking reads it
-- from the row found by id, erasure matches customer_id and email).
DROP INDEX IF EXISTS recharge_charges_by_shopify_customer;
DROP INDEX IF EXISTS recharge_customers_by_shopify_customer;
DROP INDEX IF EXISTS recharge_subscriptions_by_shopify_customer;
-- reconcile_runs: the lag rule reads a scope's runs by reconcile_runs_by_scope; retention's oldest
-- day only scanned this index whole, which reconcile_runs_by_scope covers as well.
DROP INDEX IF EXISTS reconcile_runs_by_started;
-- shopify_checkouts: no query looks a checkout up by token.
DROP INDEX IF EXISTS shopify_checkouts_by_token;
-- shopify_fulfillments: no query reads fulfillments by order; shop/redact's `WHERE shop = ?` seeks
-- the primary key (shop, id) instead.
DROP INDEX IF EXISTS shopify_fulfillments_by_order;
-- stripe_checkout_sessions: no query reads sessions by user_id or payment_intent_id (erasure and the
-- identity views use customer_id and email).
DROP INDEX IF EXISTS stripe_checkout_sessions_by_user;
DROP INDEX IF EXISTS stripe_checkout_sessions_by_payment_intent;
-- stripe_invoices: no query seeks by subscription_id (the KPI views read paid invoices by status).
DROP INDEX IF EXISTS stripe_invoices_by_subscription;
-- stripe_refunds: no query, view or trigger reads refunds by charge or payment intent.
DROP INDEX IF EXISTS stripe_refunds_by_charge;
DROP INDEX IF EXISTS stripe_refunds_by_payment_intent;
-- stripe_subscriptions: no query filters subscriptions by status (the views reach them by customer).
DROP INDEX IF EXISTS stripe_subscriptions_by_status;
-- webhook_events: no query seeks by (source, resource, event_at); the hourly volume check only
-- scanned it whole for its GROUP BY order, and scans webhook_events_by_received the same way without it.
DROP INDEX IF EXISTS webhook_events_by_event_at;
