-- Shopify payloads by API version (docs/shopify-versions.md).
--
-- Every Shopify row records the API version of the payload that last wrote it (the
-- X-Shopify-API-Version header; for bulk exports and reconciliation, the pinned
-- SHOPIFY_API_VERSION their queries ran in). NULL for rows written before this migration.
ALTER TABLE shopify_orders ADD COLUMN api_version TEXT;
ALTER TABLE shopify_order_line_items ADD COLUMN api_version TEXT;
ALTER TABLE shopify_customers ADD COLUMN api_version TEXT;
ALTER TABLE shopify_products ADD COLUMN api_version TEXT;
ALTER TABLE shopify_product_variants ADD COLUMN api_version TEXT;
ALTER TABLE shopify_fulfillments ADD COLUMN api_version TEXT;
ALTER TABLE shopify_refunds ADD COLUMN api_version TEXT;
ALTER TABLE shopify_refund_line_items ADD COLUMN api_version TEXT;
ALTER TABLE shopify_checkouts ADD COLUMN api_version TEXT;

-- Since 2025-01 the customer's purchase summary, marketing consent and tags arrive on topics of
-- their own (customers/purchasing_summary, customers_email_marketing_consent/update,
-- customers_marketing_consent/update, customer.tags_added|removed), no longer in customers/*.
-- Each of those groups of columns keeps the time its values are as of, so a group is only
-- replaced by a newer reading of it, whichever topic brings it. `last_order_id` belongs to the
-- purchase summary (orders_count, total_spent_minor).
ALTER TABLE shopify_customers ADD COLUMN last_order_id TEXT;
ALTER TABLE shopify_customers ADD COLUMN purchasing_as_of TEXT;
ALTER TABLE shopify_customers ADD COLUMN email_consent_as_of TEXT;
ALTER TABLE shopify_customers ADD COLUMN sms_consent_as_of TEXT;
ALTER TABLE shopify_customers ADD COLUMN tags_as_of TEXT;
