-- Cross-source identity: one profile per person, the source customers that resolve to it, and
-- the conflicts the linker refused to merge. Written by the queue consumer in the same D1 batch as
-- the source rows (src/consumers/identity.ts, where the rules are stated); read through the
-- `customer_activity` view. These are derived rows, not source entities: they carry updated_at and
-- last_event_id (the event that last changed them) but no soft delete, because a deleted source
-- customer keeps its identity (its past orders still belong to the person).
-- Timestamps are UTC ISO-8601 text with milliseconds, ending in Z.
-- The drizzle definitions in src/shared/schema/identity.ts mirror this file column for column.

-- One row per person. `email` is the normalized email (trimmed, lower-cased) the profile was
-- created for, and never changes: emails learnt later are rows of customer_profile_emails.
CREATE TABLE customer_profiles (
  id TEXT PRIMARY KEY NOT NULL,
  email TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_event_id TEXT NOT NULL
);
CREATE UNIQUE INDEX customer_profiles_by_email ON customer_profiles (email);

-- Every normalized email known for a profile, its key email included: an email belongs to at
-- most one profile. Guest orders and charges (no customer object) are attributed through it.
CREATE TABLE customer_profile_emails (
  email TEXT PRIMARY KEY NOT NULL,
  profile_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_event_id TEXT NOT NULL
);
CREATE INDEX customer_profile_emails_by_profile ON customer_profile_emails (profile_id);

-- One row per source customer: (source, external id, shop) → profile. `shop` is the Shopify shop
-- domain, '' for Stripe and Recharge (a key column cannot be NULL and still be unique).
-- `shopify_customer_id` is the Shopify customer this identity is (Shopify) or carries (Recharge):
-- identities sharing it belong together. `matched_by` says how the profile was chosen.
CREATE TABLE customer_identities (
  source TEXT NOT NULL CHECK (source IN ('shopify', 'stripe', 'recharge')),
  external_id TEXT NOT NULL,
  shop TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  email TEXT,
  shopify_customer_id TEXT,
  matched_by TEXT NOT NULL CHECK (matched_by IN ('email', 'shopify_customer_id')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_event_id TEXT NOT NULL,
  PRIMARY KEY (source, external_id, shop)
);
CREATE INDEX customer_identities_by_profile ON customer_identities (profile_id);
CREATE INDEX customer_identities_by_shopify_customer ON customer_identities (shopify_customer_id);
CREATE INDEX customer_identities_by_email ON customer_identities (email);

-- What the linker decided not to merge, or moved, for an operator to review:
--   email_in_other_profile  the identity's email belongs to other_profile_id; the identity stayed
--                           on profile_id and the email stayed where it was.
--   moved_by_shopify_link   a Recharge customer's Shopify customer id pointed at profile_id, so the
--                           identity moved there from other_profile_id (the link wins over email).
-- One row per identity, kind and other profile; a repeat only moves last_seen_at.
CREATE TABLE customer_identity_conflicts (
  source TEXT NOT NULL CHECK (source IN ('shopify', 'stripe', 'recharge')),
  external_id TEXT NOT NULL,
  shop TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('email_in_other_profile', 'moved_by_shopify_link')),
  other_profile_id TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  email TEXT,
  first_seen_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  last_event_id TEXT NOT NULL,
  PRIMARY KEY (source, external_id, shop, kind, other_profile_id)
);
CREATE INDEX customer_identity_conflicts_by_profile ON customer_identity_conflicts (profile_id);
CREATE INDEX customer_identity_conflicts_by_seen ON customer_identity_conflicts (last_seen_at);

-- A person's orders, subscriptions, charges and disputes across sources, one row per source row:
--   SELECT * FROM customer_activity
--   WHERE profile_id = (SELECT profile_id FROM customer_profile_emails WHERE email = ?)
--   ORDER BY occurred_at;
-- A row belongs to the profile of the customer it references when that customer has an identity,
-- otherwise to the profile owning the row's email (guest checkouts, charges without a customer):
-- each pair of arms below splits on that, so no row is listed twice. The filter on profile_id is
-- pushed into every arm, which then starts from the profile's identities or emails by index.
-- Deleted rows are left out; test data is flagged (`is_test`: Shopify test orders, Stripe test
-- mode), not dropped. Money is minor units beside its currency. D1 allows at most 5 terms in a
-- compound SELECT, so each activity is its own view and customer_activity unions the four.
CREATE VIEW customer_orders AS
SELECT i.profile_id, 'order' AS activity, 'shopify' AS source, o.shop, o.id, o.name AS reference,
  coalesce(o.financial_status, '') AS status, o.currency, o.total_price_minor AS amount_minor,
  coalesce(o.processed_at, o.created_at) AS occurred_at, o.email, 'identity' AS attributed_by,
  coalesce(o.test, 0) AS is_test
FROM customer_identities i
JOIN shopify_orders o ON o.shop = i.shop AND o.customer_id = i.external_id
WHERE i.source = 'shopify' AND o.deleted_at IS NULL
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
WHERE i.source = 'stripe' AND s.status = 'complete' AND s.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'order', 'stripe', '', s.id, s.client_reference_id, coalesce(s.payment_status, ''), s.currency,
  s.amount_total_minor, s.created_at, s.email, 'email', 1 - coalesce(s.livemode, 1)
FROM customer_profile_emails e
JOIN stripe_checkout_sessions s ON s.email = e.email
-- Unary + keeps the planner on the email index instead of scanning every complete session.
WHERE +s.status = 'complete' AND s.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'stripe' AND x.external_id = s.customer_id AND x.shop = '');

CREATE VIEW customer_subscriptions AS
SELECT i.profile_id, 'subscription' AS activity, 'recharge' AS source, '' AS shop, s.id, s.sku AS reference,
  coalesce(s.status, '') AS status, s.currency, s.price_minor * coalesce(s.quantity, 1) AS amount_minor,
  s.created_at AS occurred_at, s.email, 'identity' AS attributed_by, 0 AS is_test
FROM customer_identities i
JOIN recharge_subscriptions s ON s.customer_id = i.external_id
WHERE i.source = 'recharge' AND s.deleted_at IS NULL
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
WHERE i.source = 'stripe' AND s.deleted_at IS NULL;

CREATE VIEW customer_charges AS
SELECT i.profile_id, 'charge' AS activity, 'recharge' AS source, '' AS shop, c.id,
  c.shopify_order_id AS reference, coalesce(c.status, '') AS status, c.currency, c.total_price_minor AS amount_minor,
  coalesce(c.processed_at, c.scheduled_at, c.created_at) AS occurred_at, c.email, 'identity' AS attributed_by,
  0 AS is_test
FROM customer_identities i
JOIN recharge_charges c ON c.customer_id = i.external_id
WHERE i.source = 'recharge' AND c.deleted_at IS NULL
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
WHERE i.source = 'stripe' AND c.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'charge', 'stripe', '', c.id, c.metadata_order_id, coalesce(c.status, ''), c.currency,
  c.amount_minor, c.created_at, c.email, 'email', 1 - coalesce(c.livemode, 1)
FROM customer_profile_emails e
JOIN stripe_charges c ON c.email = e.email
WHERE c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'stripe' AND x.external_id = c.customer_id AND x.shop = '');

-- A dispute belongs to whoever its charge belongs to.
CREATE VIEW customer_disputes AS
SELECT i.profile_id, 'dispute' AS activity, 'stripe' AS source, '' AS shop, d.id, d.charge_id AS reference,
  coalesce(d.status, '') AS status, d.currency, d.amount_minor, d.created_at AS occurred_at, c.email,
  'identity' AS attributed_by, 1 - coalesce(d.livemode, 1) AS is_test
FROM customer_identities i
JOIN stripe_charges c ON c.customer_id = i.external_id
JOIN stripe_disputes d ON d.charge_id = c.id
WHERE i.source = 'stripe' AND d.deleted_at IS NULL
UNION ALL
SELECT e.profile_id, 'dispute', 'stripe', '', d.id, d.charge_id, coalesce(d.status, ''), d.currency,
  d.amount_minor, d.created_at, c.email, 'email', 1 - coalesce(d.livemode, 1)
FROM customer_profile_emails e
JOIN stripe_charges c ON c.email = e.email
JOIN stripe_disputes d ON d.charge_id = c.id
WHERE d.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM customer_identities x
    WHERE x.source = 'stripe' AND x.external_id = c.customer_id AND x.shop = '');

CREATE VIEW customer_activity AS
SELECT * FROM customer_orders
UNION ALL SELECT * FROM customer_subscriptions
UNION ALL SELECT * FROM customer_charges
UNION ALL SELECT * FROM customer_disputes;
