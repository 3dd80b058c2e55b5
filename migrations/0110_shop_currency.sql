-- The shop's currency, as Shopify answered when the shop was added (`POST /admin/shops`): a product
-- applied before the shop's first order takes its variant currency and prices from it.
ALTER TABLE shops ADD COLUMN currency TEXT;
