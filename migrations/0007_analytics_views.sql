-- Analytics views over the normalized tables (README, "Analytics views"). Read-only: they compute
-- at query time, so they are always current and cost a scan of what they read; for large shops
-- export the same SQL to a warehouse over the R2 archive instead of polling it.
-- Rules shared by every view: test orders and soft-deleted rows are left out; money stays in
-- integer minor units and is only summed within one currency (each row names its currency);
-- averages are rounded to the nearest minor unit. Shopify views are per shop. Recharge rows carry
-- no shop, so the subscription views cover the whole Recharge account. Months are 'YYYY-MM' (UTC).

-- The orders that count as sales: not test, not deleted, not cancelled, with a total and currency.
-- Revenue is the order's total at checkout (tax and shipping included, refunds not subtracted).
CREATE VIEW analytics_orders AS
SELECT shop, id, customer_id, email, created_at, substr(created_at, 1, 7) AS month, currency,
  total_price_minor, subtotal_price_minor, coalesce(total_discounts_minor, 0) AS total_discounts_minor,
  source_name, shipping_country_code, shipping_province_code,
  CASE WHEN coalesce(total_discounts_minor, 0) > 0 OR coalesce(json_array_length(discount_codes), 0) > 0
    THEN 1 ELSE 0 END AS discounted
FROM shopify_orders
WHERE coalesce(test, 0) = 0 AND deleted_at IS NULL AND cancelled_at IS NULL
  AND currency IS NOT NULL AND total_price_minor IS NOT NULL;

-- Revenue and average order value by sales channel (`source_name`: web, pos, shopify_draft_order,
-- an app's id, ...; NULL when Shopify sent none).
CREATE VIEW analytics_revenue_by_source AS
SELECT shop, source_name, currency, count(*) AS orders, sum(total_price_minor) AS revenue_minor,
  CAST(round(1.0 * sum(total_price_minor) / count(*)) AS INTEGER) AS average_order_value_minor
FROM analytics_orders
GROUP BY shop, source_name, currency;

-- Discounted (any discount amount or code) against full-price orders; share_of_orders is within
-- the shop and currency.
CREATE VIEW analytics_discounted_orders AS
SELECT shop, currency, discounted, count(*) AS orders, sum(total_price_minor) AS revenue_minor,
  sum(total_discounts_minor) AS discounts_minor,
  CAST(round(1.0 * sum(total_price_minor) / count(*)) AS INTEGER) AS average_order_value_minor,
  round(1.0 * count(*) / sum(count(*)) OVER (PARTITION BY shop, currency), 4) AS share_of_orders
FROM analytics_orders
GROUP BY shop, currency, discounted;

-- Orders and revenue by shipping country and province (ISO codes; NULL without a shipping address).
CREATE VIEW analytics_orders_by_region AS
SELECT shop, shipping_country_code AS country_code, shipping_province_code AS province_code, currency,
  count(*) AS orders, sum(total_price_minor) AS revenue_minor,
  CAST(round(1.0 * sum(total_price_minor) / count(*)) AS INTEGER) AS average_order_value_minor
FROM analytics_orders
GROUP BY shop, shipping_country_code, shipping_province_code, currency;

-- Monthly churn by acquisition cohort, per Recharge customer. A customer's cohort is the month of
-- their first subscription; they churn in the month of their last cancellation once every one of
-- their subscriptions is cancelled (a customer who re-subscribed is not churned). One row per
-- cohort and calendar month, from the cohort's month to the latest month in the data:
-- active_at_start = cohort customers not churned before the month (everyone, in the cohort's own
-- month), churned = customers churning in it, churn_rate = churned / active_at_start.
CREATE VIEW analytics_subscription_churn_by_cohort AS
WITH RECURSIVE
subs AS (
  SELECT customer_id, created_at, cancelled_at FROM recharge_subscriptions
  WHERE deleted_at IS NULL AND customer_id IS NOT NULL AND created_at IS NOT NULL
),
customers AS (
  SELECT customer_id, substr(min(created_at), 1, 7) AS cohort_month,
    CASE WHEN count(cancelled_at) = count(*) THEN substr(max(cancelled_at), 1, 7) END AS churn_month
  FROM subs GROUP BY customer_id
),
latest AS (
  SELECT max(substr(coalesce(max(cancelled_at), ''), 1, 7), substr(max(created_at), 1, 7)) AS month FROM subs
),
months (cohort_month, month, months_since_acquisition) AS (
  SELECT DISTINCT cohort_month, cohort_month, 0 FROM customers
  UNION ALL
  SELECT m.cohort_month, strftime('%Y-%m', m.month || '-01', '+1 month'), m.months_since_acquisition + 1
  FROM months m, latest WHERE m.month < latest.month
)
SELECT m.cohort_month, m.month, m.months_since_acquisition,
  count(*) AS cohort_customers,
  count(*) FILTER (WHERE c.churn_month IS NULL OR c.churn_month >= m.month) AS active_at_start,
  count(*) FILTER (WHERE c.churn_month = m.month) AS churned,
  round(1.0 * count(*) FILTER (WHERE c.churn_month = m.month)
    / nullif(count(*) FILTER (WHERE c.churn_month IS NULL OR c.churn_month >= m.month), 0), 4) AS churn_rate
FROM months m JOIN customers c ON c.cohort_month = m.cohort_month
GROUP BY m.cohort_month, m.month, m.months_since_acquisition;

-- Subscription retention by cohort and rebill number. A subscription's cohort is the month it was
-- created; rebill n is its nth successful Recharge charge (status success, or refunded afterwards),
-- matched through the charge's line items. With Shopify checkout the first order is not a
-- Recharge charge, so n = 1 is then the first rebill. One row per cohort and n from 1 to the most
-- charges any subscription of the cohort has: subscriptions_charged = those with at least n,
-- retention_rate = subscriptions_charged / cohort_subscriptions (every subscription created).
CREATE VIEW analytics_subscription_retention AS
WITH RECURSIVE
subs AS (
  SELECT id, substr(created_at, 1, 7) AS cohort_month FROM recharge_subscriptions
  WHERE deleted_at IS NULL AND created_at IS NOT NULL
),
paid AS (
  SELECT li.purchase_item_id AS subscription_id, count(DISTINCT ch.id) AS charges
  FROM recharge_charges ch JOIN recharge_charge_line_items li ON li.charge_id = ch.id
  WHERE ch.deleted_at IS NULL AND ch.status IN ('success', 'refunded', 'partially_refunded')
    AND li.purchase_item_id IS NOT NULL
  GROUP BY li.purchase_item_id
),
per_sub AS (
  SELECT s.cohort_month, coalesce(p.charges, 0) AS charges FROM subs s LEFT JOIN paid p ON p.subscription_id = s.id
),
rebills (cohort_month, rebill_number, most) AS (
  SELECT cohort_month, 1, max(charges) FROM per_sub GROUP BY cohort_month HAVING max(charges) >= 1
  UNION ALL
  SELECT cohort_month, rebill_number + 1, most FROM rebills WHERE rebill_number < most
)
SELECT r.cohort_month, r.rebill_number, count(*) AS cohort_subscriptions,
  count(*) FILTER (WHERE p.charges >= r.rebill_number) AS subscriptions_charged,
  round(1.0 * count(*) FILTER (WHERE p.charges >= r.rebill_number) / count(*), 4) AS retention_rate
FROM rebills r JOIN per_sub p ON p.cohort_month = r.cohort_month
GROUP BY r.cohort_month, r.rebill_number;
