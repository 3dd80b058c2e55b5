-- The identity views of 0006, recreated with one change: each arm says `+i.source`, so a range of
-- profiles (the KPI people pass reads the per-person views by ranges of profile_id) seeks
-- customer_identities_by_profile instead of reading every identity of the source by the primary
-- key's (source) prefix for each range. A single profile's plan is the same seek as before.
-- analytics_customer_orders (0060) likewise: `CROSS JOIN` keeps a person's charges outer, found by
-- their ids, where the planner walked every succeeded Recharge and Stripe charge by status.

DROP VIEW IF EXISTS customer_orders;
CREATE VIEW customer_orders AS
SELECT i.profile_id, 'order' AS activity, 'shopify' AS source, o.shop, o.id, o.name AS reference,
  coalesce(o.financial_status, '') AS status, o.currency, o.total_price_minor AS amount_minor,
  coalesce(o.processed_at, o.created_at) AS occurred_at, o.email, 'identity' AS attributed_by,
  coalesce(o.test, 0) AS is_test
FROM customer_identities i
JOIN shopify_orders o ON o.shop = i.shop AND o.customer_id = i.external_id
WHERE +i.source = 'shopify' AND o.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'order', 'shopify', o.shop, o.id, o.name, coalesce(o.financial_status, ''), o.currency,
  o.total_price_minor, coalesce(o.processed_at, o.created_at), o.email, 'email', coalesce(o.test, 0)
FROM customer_profile_emails e
JOIN shopify_orders o ON o.email = e.email
WHERE o.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'shopify' AND x.external_id = o.customer_id AND x.shop = o.shop)
UNION ALL
SELECT i.profile_id, 'order', 'stripe', '', s.id, s.client_reference_id, coalesce(s.payment_status, ''), s.currency,
  s.amount_total_minor, s.created_at, s.email, 'identity', 1 - coalesce(s.livemode, 1)
FROM customer_identities i
JOIN stripe_checkout_sessions s ON s.customer_id = i.external_id
WHERE +i.source = 'stripe' AND s.status = 'complete' AND s.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'order', 'stripe', '', s.id, s.client_reference_id, coalesce(s.payment_status, ''), s.currency,
  s.amount_total_minor, s.created_at, s.email, 'email', 1 - coalesce(s.livemode, 1)
FROM customer_profile_emails e
JOIN stripe_checkout_sessions s ON s.email = e.email
-- Unary + keeps the planner on the email index instead of scanning every complete session.
WHERE +s.status = 'complete' AND s.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'stripe' AND x.external_id = s.customer_id AND x.shop = '');

DROP VIEW IF EXISTS customer_subscriptions;
CREATE VIEW customer_subscriptions AS
SELECT i.profile_id, 'subscription' AS activity, 'recharge' AS source, '' AS shop, s.id, s.sku AS reference,
  coalesce(s.status, '') AS status, s.currency, s.price_minor * coalesce(s.quantity, 1) AS amount_minor,
  s.created_at AS occurred_at, s.email, 'identity' AS attributed_by, 0 AS is_test
FROM customer_identities i
JOIN recharge_subscriptions s ON s.customer_id = i.external_id
WHERE +i.source = 'recharge' AND s.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'subscription', 'recharge', '', s.id, s.sku, coalesce(s.status, ''), s.currency,
  s.price_minor * coalesce(s.quantity, 1), s.created_at, s.email, 'email', 0
FROM customer_profile_emails e
JOIN recharge_subscriptions s ON s.email = e.email
WHERE s.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'recharge' AND x.external_id = s.customer_id AND x.shop = '')
UNION ALL
SELECT i.profile_id, 'subscription', 'stripe', '', s.id, s.price_id, coalesce(s.status, ''), s.currency,
  s.unit_amount_minor * coalesce(s.quantity, 1), coalesce(s.start_date, s.created_at), NULL, 'identity',
  1 - coalesce(s.livemode, 1)
FROM customer_identities i
JOIN stripe_subscriptions s ON s.customer_id = i.external_id
WHERE +i.source = 'stripe' AND s.deleted_at IS NULL;

DROP VIEW IF EXISTS customer_charges;
CREATE VIEW customer_charges AS
SELECT i.profile_id, 'charge' AS activity, 'recharge' AS source, '' AS shop, c.id,
  c.shopify_order_id AS reference, coalesce(c.status, '') AS status, c.currency, c.total_price_minor AS amount_minor,
  coalesce(c.processed_at, c.scheduled_at, c.created_at) AS occurred_at, c.email, 'identity' AS attributed_by,
  0 AS is_test
FROM customer_identities i
JOIN recharge_charges c ON c.customer_id = i.external_id
WHERE +i.source = 'recharge' AND c.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'charge', 'recharge', '', c.id, c.shopify_order_id, coalesce(c.status, ''), c.currency,
  c.total_price_minor, coalesce(c.processed_at, c.scheduled_at, c.created_at), c.email, 'email', 0
FROM customer_profile_emails e
JOIN recharge_charges c ON c.email = e.email
WHERE c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'recharge' AND x.external_id = c.customer_id AND x.shop = '')
UNION ALL
SELECT i.profile_id, 'charge', 'stripe', '', c.id, c.metadata_order_id, coalesce(c.status, ''), c.currency,
  c.amount_minor, c.created_at, c.email, 'identity', 1 - coalesce(c.livemode, 1)
FROM customer_identities i
JOIN stripe_charges c ON c.customer_id = i.external_id
WHERE +i.source = 'stripe' AND c.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'charge', 'stripe', '', c.id, c.metadata_order_id, coalesce(c.status, ''), c.currency,
  c.amount_minor, c.created_at, c.email, 'email', 1 - coalesce(c.livemode, 1)
FROM customer_profile_emails e
JOIN stripe_charges c ON c.email = e.email
WHERE c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'stripe' AND x.external_id = c.customer_id AND x.shop = '');

DROP VIEW IF EXISTS customer_disputes;
CREATE VIEW customer_disputes AS
SELECT i.profile_id, 'dispute' AS activity, 'stripe' AS source, '' AS shop, d.id, d.charge_id AS reference,
  coalesce(d.status, '') AS status, d.currency, d.amount_minor, d.created_at AS occurred_at, c.email,
  'identity' AS attributed_by, 1 - coalesce(d.livemode, 1) AS is_test
FROM customer_identities i
JOIN stripe_charges c ON c.customer_id = i.external_id
JOIN stripe_disputes d ON d.charge_id = c.id
WHERE +i.source = 'stripe' AND d.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'dispute', 'stripe', '', d.id, d.charge_id, coalesce(d.status, ''), d.currency,
  d.amount_minor, d.created_at, c.email, 'email', 1 - coalesce(d.livemode, 1)
FROM customer_profile_emails e
JOIN stripe_charges c ON c.email = e.email
JOIN stripe_disputes d ON d.charge_id = c.id
WHERE d.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'stripe' AND x.external_id = c.customer_id AND x.shop = '');

DROP VIEW IF EXISTS analytics_customer_orders;
CREATE VIEW analytics_customer_orders AS
WITH
rebills AS (
  SELECT c.id AS charge_id, row_number() OVER (PARTITION BY li.purchase_item_id
    ORDER BY coalesce(c.processed_at, c.scheduled_at, c.created_at), c.id) AS rebill_number
  FROM recharge_charges c JOIN recharge_charge_line_items li ON li.charge_id = c.id AND li.position = 0
  WHERE c.deleted_at IS NULL AND c.status IN ('success', 'refunded', 'partially_refunded')
    AND li.purchase_item_id IS NOT NULL
),
invoice_rebills AS (
  SELECT i.charge_id, row_number() OVER (PARTITION BY i.subscription_id ORDER BY coalesce(i.paid_at, i.created_at), i.id)
    AS rebill_number
  FROM stripe_invoices i
  WHERE i.deleted_at IS NULL AND i.status = 'paid' AND i.subscription_id IS NOT NULL AND i.charge_id IS NOT NULL
),
paid AS (
  SELECT a.profile_id, 'shopify' AS source, a.shop, a.id, a.occurred_at, a.currency, a.amount_minor AS gross_minor,
    coalesce((SELECT sum(r.refunded_amount_minor) FROM shopify_refunds r
      WHERE r.shop = o.shop AND r.order_id = o.id AND r.deleted_at IS NULL), 0) AS refunded_minor,
    coalesce(o.is_subscription, 0) OR EXISTS (SELECT 1 FROM recharge_charges rc WHERE rc.shopify_order_id = o.id
      AND rc.deleted_at IS NULL) AS is_subscription,
    (SELECT rb.rebill_number FROM recharge_charges rc JOIN rebills rb ON rb.charge_id = rc.id
      WHERE rc.shopify_order_id = o.id AND rc.deleted_at IS NULL LIMIT 1) AS rebill_number
  FROM customer_orders a JOIN shopify_orders o ON o.shop = a.shop AND o.id = a.id
  WHERE a.source = 'shopify' AND a.is_test = 0 AND o.cancelled_at IS NULL AND a.amount_minor IS NOT NULL
    AND a.currency IS NOT NULL
  UNION ALL
  SELECT a.profile_id, 'recharge', '', a.id, a.occurred_at, a.currency, a.amount_minor,
    coalesce(c.total_refunds_minor, 0), 1, (SELECT rb.rebill_number FROM rebills rb WHERE rb.charge_id = c.id)
  FROM customer_charges a CROSS JOIN recharge_charges c ON c.id = a.id
  WHERE a.source = 'recharge' AND c.status IN ('success', 'refunded', 'partially_refunded')
    AND a.amount_minor IS NOT NULL AND a.currency IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM shopify_orders o WHERE o.id = c.shopify_order_id)
  UNION ALL
  SELECT a.profile_id, 'stripe', '', a.id, a.occurred_at, a.currency, coalesce(c.amount_captured_minor, c.amount_minor),
    coalesce(c.amount_refunded_minor, 0),
    EXISTS (SELECT 1 FROM stripe_invoices i WHERE i.id = c.invoice_id AND i.subscription_id IS NOT NULL), ir.rebill_number
  FROM customer_charges a CROSS JOIN stripe_charges c ON c.id = a.id
  LEFT JOIN invoice_rebills ir ON ir.charge_id = c.id
  WHERE a.source = 'stripe' AND a.is_test = 0 AND c.status = 'succeeded'
    AND NOT EXISTS (SELECT 1 FROM shopify_orders o WHERE o.id = c.metadata_order_id)
)
SELECT profile_id, source, shop, id, occurred_at, currency, gross_minor, refunded_minor,
  gross_minor - refunded_minor AS net_minor, is_subscription, rebill_number,
  row_number() OVER (PARTITION BY profile_id ORDER BY occurred_at, source, id) AS order_number,
  min(occurred_at) OVER (PARTITION BY profile_id) AS first_order_at
FROM paid;
