-- The Recharge store's own currency (docs/tables.md). API 2021-11 subscriptions often carry
-- `presentment_currency: null`, and a price needs a currency for its exponent. `GET /store` answers
-- `{"store": {"currency": "USD", ...}}`; reconciliation and the Recharge backfill fetch it (at most
-- once a day) and keep it here, one row. The consumer gives a subscription or charge without a
-- currency this one; a subscription applied before it was known keeps its price as text
-- (`price_decimal`, currency and price_minor NULL) and is filled when the currency is next fetched.
CREATE TABLE recharge_store (
  id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
  currency TEXT NOT NULL,
  fetched_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- What a backfill could not load, said on its row (docs/operations.md). Since 2025-03-19 Recharge's
-- charge list (API 2021-01 and 2021-11) omits processed charges (success, refunded, partially
-- refunded) processed more than 90 days ago, and a single charge of that age cannot be retrieved
-- either: a Recharge charges backfill reaching further back says so here, in its status and on /ops.
ALTER TABLE backfills ADD COLUMN note TEXT;
