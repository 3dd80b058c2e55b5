-- shop/redact finds a shop's ledger rows and identities by walking rowids in windows
-- (src/cron/privacy/shop.ts), once per uninstalled shop; these indexes cost a written row for every
-- event and every identity of every shop. A row written per event less, and per identity.
DROP INDEX IF EXISTS webhook_events_by_shop;
DROP INDEX IF EXISTS customer_identities_by_shop;
