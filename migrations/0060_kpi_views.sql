-- Subscription and customer KPIs (README, "Subscription and customer KPIs"): MRR by day and its
-- monthly movements, lifetime value through the identity graph, attribution, segments.
-- Same rules as the analytics views: money in integer minor units, summed only within one
-- currency; test data and soft-deleted rows left out; days 'YYYY-MM-DD' and months 'YYYY-MM' (UTC).

-- MRR needs history, and the subscription tables hold only each subscription's latest state. The
-- triggers below keep the part of that history MRR depends on: one row each time a subscription
-- starts paying, changes its price, quantity or interval, stops or resumes, written in the same
-- statement as the upsert that changed it. Only writes that apply fire them, so an older event
-- arriving late (which the newest-wins rule discards) records nothing, and a redelivery changes no
-- component and records nothing either. A subscription first seen already cancelled (a backfill, or a
-- webhook for a subscription older than the pipeline) is recorded as paying from its start to its end.
-- `amount_minor` is price x quantity for one billing interval of `interval_count` `interval_unit`s.
CREATE TABLE subscription_mrr_history (
  source TEXT NOT NULL CHECK (source IN ('stripe', 'recharge')),
  subscription_id TEXT NOT NULL,
  effective_at TEXT NOT NULL,
  paying INTEGER NOT NULL,
  amount_minor INTEGER,
  interval_unit TEXT,
  interval_count INTEGER,
  PRIMARY KEY (source, subscription_id, effective_at)
);

-- Recharge: paying while `active`; `cancelled` and `expired` end it at cancelled_at (expired ones
-- may have none: their updated_at). The billing interval is charge_interval_frequency (a prepaid
-- subscription ships more often than it bills), else order_interval_frequency.
CREATE TRIGGER subscription_mrr_recharge_insert AFTER INSERT ON recharge_subscriptions
WHEN NEW.status IN ('active', 'cancelled', 'expired') AND NEW.created_at IS NOT NULL
BEGIN
  INSERT OR REPLACE INTO subscription_mrr_history VALUES ('recharge', NEW.id, NEW.created_at, 1,
    NEW.price_minor * coalesce(NEW.quantity, 1), NEW.order_interval_unit,
    coalesce(NEW.charge_interval_frequency, NEW.order_interval_frequency, 1));
  INSERT OR REPLACE INTO subscription_mrr_history
  SELECT 'recharge', NEW.id, max(coalesce(NEW.cancelled_at, NEW.updated_at), NEW.created_at), 0, NULL, NULL, NULL
  WHERE NEW.status IN ('cancelled', 'expired');
END;

CREATE TRIGGER subscription_mrr_recharge_update AFTER UPDATE ON recharge_subscriptions
WHEN (NEW.status IS 'active') IS NOT (OLD.status IS 'active')
  OR (NEW.status IS 'active' AND (NEW.price_minor IS NOT OLD.price_minor OR NEW.quantity IS NOT OLD.quantity
    OR NEW.order_interval_unit IS NOT OLD.order_interval_unit
    OR NEW.charge_interval_frequency IS NOT OLD.charge_interval_frequency
    OR NEW.order_interval_frequency IS NOT OLD.order_interval_frequency))
BEGIN
  INSERT OR REPLACE INTO subscription_mrr_history
  SELECT 'recharge', NEW.id,
    CASE WHEN NEW.status IN ('cancelled', 'expired') THEN coalesce(NEW.cancelled_at, NEW.updated_at) ELSE NEW.updated_at END,
    NEW.status IS 'active', NEW.price_minor * coalesce(NEW.quantity, 1), NEW.order_interval_unit,
    coalesce(NEW.charge_interval_frequency, NEW.order_interval_frequency, 1)
  WHERE NEW.created_at IS NOT NULL;
END;

-- Stripe: paying while `active` or `past_due` (Stripe still bills it); from the later of start
-- date and trial end; `canceled` ends it at ended_at (else canceled_at). Trialing, incomplete,
-- unpaid and paused subscriptions are not paying. Price fields are the first item's.
CREATE TRIGGER subscription_mrr_stripe_insert AFTER INSERT ON stripe_subscriptions
WHEN NEW.status IN ('active', 'past_due', 'canceled') AND coalesce(NEW.start_date, NEW.created_at) IS NOT NULL
  AND (NEW.status IS NOT 'canceled' OR coalesce(NEW.ended_at, NEW.canceled_at) > coalesce(NEW.trial_end, ''))
BEGIN
  INSERT OR REPLACE INTO subscription_mrr_history VALUES ('stripe', NEW.id,
    max(coalesce(NEW.start_date, NEW.created_at), coalesce(NEW.trial_end, '')), 1,
    NEW.unit_amount_minor * coalesce(NEW.quantity, 1), NEW.price_interval, coalesce(NEW.price_interval_count, 1));
  INSERT OR REPLACE INTO subscription_mrr_history
  SELECT 'stripe', NEW.id, coalesce(NEW.ended_at, NEW.canceled_at, NEW.updated_at), 0, NULL, NULL, NULL
  WHERE NEW.status = 'canceled';
END;

CREATE TRIGGER subscription_mrr_stripe_update AFTER UPDATE ON stripe_subscriptions
WHEN (NEW.status IN ('active', 'past_due')) IS NOT (OLD.status IN ('active', 'past_due'))
  OR (NEW.status IN ('active', 'past_due') AND (NEW.unit_amount_minor IS NOT OLD.unit_amount_minor
    OR NEW.quantity IS NOT OLD.quantity OR NEW.price_interval IS NOT OLD.price_interval
    OR NEW.price_interval_count IS NOT OLD.price_interval_count))
BEGIN
  INSERT OR REPLACE INTO subscription_mrr_history
  SELECT 'stripe', NEW.id,
    CASE WHEN NEW.status = 'canceled' THEN coalesce(NEW.ended_at, NEW.canceled_at, NEW.updated_at) ELSE NEW.updated_at END,
    coalesce(NEW.status IN ('active', 'past_due'), 0), NEW.unit_amount_minor * coalesce(NEW.quantity, 1),
    NEW.price_interval, coalesce(NEW.price_interval_count, 1);
END;

-- Subscriptions stored before this migration get their history from their current rows.
INSERT OR REPLACE INTO subscription_mrr_history
SELECT 'recharge', id, created_at, 1, price_minor * coalesce(quantity, 1), order_interval_unit,
  coalesce(charge_interval_frequency, order_interval_frequency, 1)
FROM recharge_subscriptions WHERE status IN ('active', 'cancelled', 'expired') AND created_at IS NOT NULL;
INSERT OR REPLACE INTO subscription_mrr_history
SELECT 'recharge', id, max(coalesce(cancelled_at, updated_at), created_at), 0, NULL, NULL, NULL
FROM recharge_subscriptions WHERE status IN ('cancelled', 'expired') AND created_at IS NOT NULL;
INSERT OR REPLACE INTO subscription_mrr_history
SELECT 'stripe', id, max(coalesce(start_date, created_at), coalesce(trial_end, '')), 1,
  unit_amount_minor * coalesce(quantity, 1), price_interval, coalesce(price_interval_count, 1)
FROM stripe_subscriptions WHERE status IN ('active', 'past_due', 'canceled')
  AND coalesce(start_date, created_at) IS NOT NULL
  AND (status IS NOT 'canceled' OR coalesce(ended_at, canceled_at) > coalesce(trial_end, ''));
INSERT OR REPLACE INTO subscription_mrr_history
SELECT 'stripe', id, coalesce(ended_at, canceled_at, updated_at), 0, NULL, NULL, NULL
FROM stripe_subscriptions WHERE status = 'canceled' AND coalesce(start_date, created_at) IS NOT NULL
  AND coalesce(ended_at, canceled_at) > coalesce(trial_end, '');

-- Each recorded state of a subscription with its MRR: the interval amount normalized to a month
-- (day x 365/12, week x 52/12, month x 1, year x 1/12, divided by the interval count) and rounded to
-- the minor unit (halves away from zero); 0 while not paying or when the interval is unknown.
-- `change_minor` is the difference to the state before. Deleted subscriptions, Stripe test-mode
-- ones and those without a currency are left out; a subscription counts in its current currency.
CREATE VIEW analytics_subscription_mrr AS
WITH subs AS (
  SELECT 'recharge' AS source, id, currency, customer_id FROM recharge_subscriptions
  WHERE deleted_at IS NULL AND currency IS NOT NULL
  UNION ALL
  SELECT 'stripe', id, currency, customer_id FROM stripe_subscriptions
  WHERE deleted_at IS NULL AND currency IS NOT NULL AND coalesce(livemode, 1) = 1
),
states AS (
  SELECT h.source, h.subscription_id, s.customer_id, s.currency, h.effective_at,
    CASE WHEN h.paying = 1 THEN coalesce(CAST(round(h.amount_minor
      * CASE rtrim(lower(h.interval_unit), 's') WHEN 'day' THEN 365.0 / 12 WHEN 'week' THEN 52.0 / 12
          WHEN 'month' THEN 1.0 WHEN 'year' THEN 1.0 / 12 END
      / max(h.interval_count, 1)) AS INTEGER), 0) ELSE 0 END AS mrr_minor
  FROM subscription_mrr_history h JOIN subs s ON s.source = h.source AND s.id = h.subscription_id
)
SELECT source, subscription_id, customer_id, currency, effective_at, mrr_minor,
  mrr_minor - lag(mrr_minor, 1, 0) OVER (PARTITION BY source, subscription_id ORDER BY effective_at) AS change_minor
FROM states;

-- MRR per UTC day and currency: the sum over subscriptions of their MRR at the end of the day,
-- and how many were paying. One row per currency and day, from the currency's first change to
-- today (or the last recorded change, when later).
CREATE VIEW analytics_mrr_by_day AS
WITH RECURSIVE
changes AS (
  SELECT currency, substr(effective_at, 1, 10) AS day, sum(change_minor) AS change_minor,
    sum(CASE WHEN mrr_minor > 0 AND mrr_minor - change_minor <= 0 THEN 1
      WHEN mrr_minor <= 0 AND mrr_minor - change_minor > 0 THEN -1 ELSE 0 END) AS change_count
  FROM analytics_subscription_mrr GROUP BY currency, substr(effective_at, 1, 10)
),
currencies AS (SELECT currency, min(day) AS first_day FROM changes GROUP BY currency),
bounds AS (SELECT min(day) AS first_day, max(max(day), date('now')) AS last_day FROM changes),
days (day) AS (
  SELECT first_day FROM bounds WHERE first_day IS NOT NULL
  UNION ALL
  SELECT date(day, '+1 day') FROM days, bounds WHERE day < bounds.last_day
)
SELECT d.day, c.currency,
  sum(coalesce(x.change_minor, 0)) OVER (PARTITION BY c.currency ORDER BY d.day) AS mrr_minor,
  sum(coalesce(x.change_count, 0)) OVER (PARTITION BY c.currency ORDER BY d.day) AS paying_subscriptions
FROM days d JOIN currencies c ON d.day >= c.first_day
LEFT JOIN changes x ON x.currency = c.currency AND x.day = d.day;

-- MRR movements per month and currency, comparing each subscription's MRR at the start of the
-- month with its MRR at the end: new (0 -> paying, never paid before), reactivation (0 -> paying
-- again), expansion (up), contraction (down, still paying), churned (paying -> 0). Contraction and
-- churn are negative; net_new_mrr_minor is the sum of the five, so the end-of-month MRR is the
-- previous one plus it. Months without any change are absent.
CREATE VIEW analytics_mrr_movements AS
WITH
points AS (
  SELECT source, subscription_id, currency, mrr_minor, substr(effective_at, 1, 7) AS month,
    row_number() OVER (PARTITION BY source, subscription_id, substr(effective_at, 1, 7) ORDER BY effective_at DESC) AS rn,
    max(mrr_minor) OVER (PARTITION BY source, subscription_id, substr(effective_at, 1, 7)) AS month_max
  FROM analytics_subscription_mrr
),
moves AS (
  SELECT month, currency, mrr_minor AS end_mrr,
    lag(mrr_minor, 1, 0) OVER w AS start_mrr,
    coalesce(max(month_max > 0) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS paid_before
  FROM points WHERE rn = 1
  WINDOW w AS (PARTITION BY source, subscription_id ORDER BY month)
)
SELECT month, currency,
  sum(CASE WHEN start_mrr <= 0 AND end_mrr > 0 AND NOT paid_before THEN end_mrr ELSE 0 END) AS new_mrr_minor,
  sum(CASE WHEN start_mrr <= 0 AND end_mrr > 0 AND paid_before THEN end_mrr ELSE 0 END) AS reactivation_mrr_minor,
  sum(CASE WHEN start_mrr > 0 AND end_mrr > start_mrr THEN end_mrr - start_mrr ELSE 0 END) AS expansion_mrr_minor,
  sum(CASE WHEN start_mrr > 0 AND end_mrr > 0 AND end_mrr < start_mrr THEN end_mrr - start_mrr ELSE 0 END)
    AS contraction_mrr_minor,
  sum(CASE WHEN start_mrr > 0 AND end_mrr <= 0 THEN -start_mrr ELSE 0 END) AS churned_mrr_minor,
  sum(end_mrr - start_mrr) AS net_new_mrr_minor,
  count(*) FILTER (WHERE start_mrr <= 0 AND end_mrr > 0 AND NOT paid_before) AS new_subscriptions,
  count(*) FILTER (WHERE start_mrr > 0 AND end_mrr <= 0) AS churned_subscriptions
FROM moves
GROUP BY month, currency;

-- Recharge charges and Stripe charges name a Shopify order by its id alone.
CREATE INDEX shopify_orders_by_id ON shopify_orders (id);

-- Every paid order of a person, across sources, through the identity graph (the profile of the
-- customer it references, else of its email, as in customer_activity): Shopify orders (not test,
-- not cancelled), Recharge charges that went through (success or refunded later) unless their
-- Shopify order is stored (then the order is the sale), Stripe charges that succeeded (live mode)
-- unless they name a stored Shopify order in metadata. A Stripe checkout session is paid by a
-- charge, so sessions are not counted again. refunded_minor: Shopify refunds, Recharge
-- total_refunds, Stripe amount_refunded; net_minor = gross_minor - refunded_minor.
-- order_number is the person's nth paid order over all sources and currencies (1 = first);
-- rebill_number is, for an order paid by a subscription charge, that charge's position among its
-- subscription's successful charges (1 = first Recharge charge / first paid Stripe invoice).
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
  FROM customer_charges a JOIN recharge_charges c ON c.id = a.id
  WHERE a.source = 'recharge' AND c.status IN ('success', 'refunded', 'partially_refunded')
    AND a.amount_minor IS NOT NULL AND a.currency IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM shopify_orders o WHERE o.id = c.shopify_order_id)
  UNION ALL
  SELECT a.profile_id, 'stripe', '', a.id, a.occurred_at, a.currency, coalesce(c.amount_captured_minor, c.amount_minor),
    coalesce(c.amount_refunded_minor, 0),
    EXISTS (SELECT 1 FROM stripe_invoices i WHERE i.id = c.invoice_id AND i.subscription_id IS NOT NULL), ir.rebill_number
  FROM customer_charges a JOIN stripe_charges c ON c.id = a.id
  LEFT JOIN invoice_rebills ir ON ir.charge_id = c.id
  WHERE a.source = 'stripe' AND a.is_test = 0 AND c.status = 'succeeded'
    AND NOT EXISTS (SELECT 1 FROM shopify_orders o WHERE o.id = c.metadata_order_id)
)
SELECT profile_id, source, shop, id, occurred_at, currency, gross_minor, refunded_minor,
  gross_minor - refunded_minor AS net_minor, is_subscription, rebill_number,
  row_number() OVER (PARTITION BY profile_id ORDER BY occurred_at, source, id) AS order_number,
  min(occurred_at) OVER (PARTITION BY profile_id) AS first_order_at
FROM paid;

-- Lifetime value per person and currency: paid orders, gross, refunded and net revenue, first and
-- last order, and whole days from the first order (in any currency) to now.
CREATE VIEW analytics_customer_ltv AS
SELECT o.profile_id, p.email, o.currency, count(*) AS orders, sum(o.gross_minor) AS gross_minor,
  sum(o.refunded_minor) AS refunded_minor, sum(o.net_minor) AS ltv_minor,
  sum(o.is_subscription) AS subscription_orders,
  min(o.occurred_at) AS first_order_at, max(o.occurred_at) AS last_order_at,
  CAST(julianday('now') - julianday(min(o.first_order_at)) AS INTEGER) AS days_since_acquisition
FROM analytics_customer_orders o JOIN customer_profiles p ON p.id = o.profile_id
GROUP BY o.profile_id, o.currency;

-- Orders, customers and revenue by UTM source / medium / campaign and landing page (path only, no
-- query string or host; NULL without one), split into subscription and one-time orders, per shop
-- and currency. customers counts distinct Shopify customers (guests by email); in the
-- `subscription` rows they are the subscribers that channel brought.
CREATE VIEW analytics_attribution AS
WITH
orders AS (
  SELECT shop, id, currency, total_price_minor, utm_source, utm_medium, utm_campaign,
    coalesce(customer_id, lower(trim(email))) AS buyer,
    CASE WHEN is_subscription = 1 OR EXISTS (SELECT 1 FROM recharge_charges rc WHERE rc.shopify_order_id = o.id
      AND rc.deleted_at IS NULL) THEN 'subscription' ELSE 'one_time' END AS order_type,
    CASE WHEN instr(landing_site, '://') > 0 THEN substr(landing_site, instr(landing_site, '://') + 3) END AS after_scheme,
    landing_site
  FROM shopify_orders o
  WHERE coalesce(test, 0) = 0 AND deleted_at IS NULL AND cancelled_at IS NULL
    AND currency IS NOT NULL AND total_price_minor IS NOT NULL
),
paths AS (
  SELECT *, CASE WHEN after_scheme IS NULL THEN landing_site WHEN instr(after_scheme, '/') > 0
    THEN substr(after_scheme, instr(after_scheme, '/')) ELSE '/' END AS path FROM orders
),
pages AS (
  SELECT *, nullif(CASE WHEN instr(path, '?') > 0 THEN substr(path, 1, instr(path, '?') - 1) ELSE path END, '')
    AS landing_page FROM paths
)
SELECT shop, utm_source, utm_medium, utm_campaign, landing_page, order_type, currency, count(*) AS orders,
  count(DISTINCT buyer) AS customers, sum(total_price_minor) AS revenue_minor
FROM pages
GROUP BY shop, utm_source, utm_medium, utm_campaign, landing_page, order_type, currency;

-- Repeat purchase rate per currency: people with at least one paid order in it, and those with two or more.
CREATE VIEW analytics_repeat_rate AS
SELECT currency, count(*) AS customers, count(*) FILTER (WHERE orders >= 2) AS repeat_customers,
  round(1.0 * count(*) FILTER (WHERE orders >= 2) / count(*), 4) AS repeat_rate
FROM analytics_customer_ltv GROUP BY currency;

-- The top decile of people by net lifetime value, per currency (ties broken by profile id).
CREATE VIEW analytics_high_value_customers AS
SELECT * FROM (
  SELECT profile_id, email, currency, orders, ltv_minor, first_order_at,
    ntile(10) OVER (PARTITION BY currency ORDER BY ltv_minor DESC, profile_id) AS decile
  FROM analytics_customer_ltv
) WHERE decile = 1;

-- People at risk: a subscription still active whose billing is failing. Recharge: failed charges
-- (status error) of the subscription since its last successful one, or max_retries_reached; Stripe:
-- status past_due or unpaid. One row per subscription, through the identity graph.
CREATE VIEW analytics_customers_at_risk AS
WITH recharge_failing AS (
  SELECT s.id, count(c.id) AS failed_charges, max(coalesce(c.processed_at, c.scheduled_at, c.updated_at)) AS last_failed_at
  FROM recharge_subscriptions s
  JOIN recharge_charge_line_items li ON li.purchase_item_id = s.id
  JOIN recharge_charges c ON c.id = li.charge_id AND c.deleted_at IS NULL AND c.status = 'error'
  WHERE s.status = 'active' AND s.deleted_at IS NULL
    AND coalesce(c.processed_at, c.scheduled_at, c.updated_at) > coalesce((
      SELECT max(coalesce(ok.processed_at, ok.scheduled_at, ok.updated_at)) FROM recharge_charges ok
      JOIN recharge_charge_line_items oli ON oli.charge_id = ok.id
      WHERE oli.purchase_item_id = s.id AND ok.deleted_at IS NULL AND ok.status = 'success'), '')
  GROUP BY s.id
)
SELECT cs.profile_id, cs.source, cs.id AS subscription_id, cs.status, cs.currency, cs.amount_minor,
  coalesce(f.failed_charges, 0) AS failed_charges, f.last_failed_at,
  coalesce(rs.max_retries_reached, 0) AS max_retries_reached
FROM customer_subscriptions cs
LEFT JOIN recharge_subscriptions rs ON cs.source = 'recharge' AND rs.id = cs.id
LEFT JOIN recharge_failing f ON cs.source = 'recharge' AND f.id = cs.id
WHERE cs.is_test = 0 AND (
  (cs.source = 'recharge' AND cs.status = 'active' AND (f.id IS NOT NULL OR rs.max_retries_reached = 1))
  OR (cs.source = 'stripe' AND cs.status IN ('past_due', 'unpaid')));
