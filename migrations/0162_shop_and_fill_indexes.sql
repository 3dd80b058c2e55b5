-- shop/redact deletes a shop's identities in chunks (`WHERE shop = ?1 LIMIT n`): without an index
-- on shop each chunk scanned every identity of every shop (the full-scale run read 685M D1 rows).
-- The entry is written once per identity: an update never changes `shop`.
CREATE INDEX IF NOT EXISTS customer_identities_by_shop ON customer_identities (shop);

-- Subscriptions waiting for the store's currency (src/tables/recharge-store.ts): the fill and its
-- probe on every reconcile run seek them here instead of scanning every subscription. Partial: only
-- rows without a currency have an entry, so a priced subscription costs no write here.
CREATE INDEX IF NOT EXISTS recharge_subscriptions_without_currency ON recharge_subscriptions (id)
  WHERE currency IS NULL AND price_decimal IS NOT NULL;
