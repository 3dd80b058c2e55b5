-- Stripe and Recharge payloads as the sources send them today (docs/tables.md).

-- ---- Stripe invoice payments ------------------------------------------------------------------
-- Since API 2025-03-31 (basil) invoice.charge, invoice.payment_intent, charge.invoice and
-- payment_intent.invoice are gone: an invoice names its payments only through `invoice_payment`
-- objects. They are stored here, and the triggers below copy the link of a paid one onto the
-- columns the views read (stripe_invoices.payment_intent_id and charge_id, stripe_charges.invoice_id,
-- stripe_payment_intents.invoice_id), whichever of the four rows arrives first. A payment names a
-- payment intent (or, for a charge without one, the charge): the invoice's charge is then the
-- payment intent's succeeded charge, else its latest_charge. A link once made is kept: the mappers
-- never write NULL over one (src/tables/stripe.ts), so a pre-basil copy and a basil copy of one
-- object agree.
CREATE TABLE stripe_invoice_payments (
  id TEXT PRIMARY KEY NOT NULL,
  invoice_id TEXT,
  payment_type TEXT,
  payment_intent_id TEXT,
  charge_id TEXT,
  status TEXT,
  is_default INTEGER,
  amount_paid_minor INTEGER,
  amount_requested_minor INTEGER,
  currency TEXT NOT NULL,
  paid_at TEXT,
  canceled_at TEXT,
  livemode INTEGER,
  created_at TEXT,
  event_created INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_event_id TEXT NOT NULL
);
CREATE INDEX stripe_invoice_payments_by_invoice ON stripe_invoice_payments (invoice_id);
CREATE INDEX stripe_invoice_payments_by_payment_intent ON stripe_invoice_payments (payment_intent_id);
CREATE INDEX stripe_invoice_payments_by_charge ON stripe_invoice_payments (charge_id);
CREATE INDEX stripe_invoice_payments_by_lake_day ON stripe_invoice_payments (updated_at, id);

-- The lake (migrations/0140_lake_iceberg.sql): a write marks its updated_at day, a delete logs its key.
CREATE TRIGGER stripe_invoice_payments_lake_insert AFTER INSERT ON stripe_invoice_payments BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_invoice_payments', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_invoice_payments_lake_update AFTER UPDATE ON stripe_invoice_payments BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('stripe_invoice_payments', substr(NEW.updated_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER stripe_invoice_payments_lake_delete AFTER DELETE ON stripe_invoice_payments BEGIN
  INSERT INTO lake_deletes (table_name, lake_key, seq)
  VALUES ('stripe_invoice_payments', json_array(OLD.id), 1)
  ON CONFLICT (table_name, lake_key) DO UPDATE SET seq = seq + 1;
END;

-- A paid invoice payment links its invoice, its payment intent and its charges.
CREATE TRIGGER stripe_invoice_payments_link_insert AFTER INSERT ON stripe_invoice_payments
WHEN NEW.status = 'paid' AND NEW.invoice_id IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
  UPDATE stripe_invoices SET
    payment_intent_id = coalesce(NEW.payment_intent_id, payment_intent_id),
    charge_id = coalesce(NEW.charge_id,
      (SELECT c.id FROM stripe_charges c WHERE c.payment_intent_id = NEW.payment_intent_id AND c.status = 'succeeded'
        ORDER BY c.created_at DESC, c.id DESC LIMIT 1),
      (SELECT p.latest_charge_id FROM stripe_payment_intents p WHERE p.id = NEW.payment_intent_id),
      charge_id)
  WHERE id = NEW.invoice_id;
  UPDATE stripe_charges SET invoice_id = NEW.invoice_id
  WHERE invoice_id IS NULL AND (id = NEW.charge_id OR payment_intent_id = NEW.payment_intent_id);
  UPDATE stripe_payment_intents SET invoice_id = NEW.invoice_id WHERE id = NEW.payment_intent_id AND invoice_id IS NULL;
END;
CREATE TRIGGER stripe_invoice_payments_link_update AFTER UPDATE ON stripe_invoice_payments
WHEN NEW.status = 'paid' AND NEW.invoice_id IS NOT NULL AND NEW.deleted_at IS NULL
  AND (OLD.status IS NOT 'paid' OR NEW.invoice_id IS NOT OLD.invoice_id OR NEW.charge_id IS NOT OLD.charge_id
    OR NEW.payment_intent_id IS NOT OLD.payment_intent_id)
BEGIN
  UPDATE stripe_invoices SET
    payment_intent_id = coalesce(NEW.payment_intent_id, payment_intent_id),
    charge_id = coalesce(NEW.charge_id,
      (SELECT c.id FROM stripe_charges c WHERE c.payment_intent_id = NEW.payment_intent_id AND c.status = 'succeeded'
        ORDER BY c.created_at DESC, c.id DESC LIMIT 1),
      (SELECT p.latest_charge_id FROM stripe_payment_intents p WHERE p.id = NEW.payment_intent_id),
      charge_id)
  WHERE id = NEW.invoice_id;
  UPDATE stripe_charges SET invoice_id = NEW.invoice_id
  WHERE invoice_id IS NULL AND (id = NEW.charge_id OR payment_intent_id = NEW.payment_intent_id);
  UPDATE stripe_payment_intents SET invoice_id = NEW.invoice_id WHERE id = NEW.payment_intent_id AND invoice_id IS NULL;
END;

-- An invoice stored after its paid payment takes the link from it.
CREATE TRIGGER stripe_invoices_payment_link AFTER INSERT ON stripe_invoices
WHEN NEW.payment_intent_id IS NULL OR NEW.charge_id IS NULL
BEGIN
  UPDATE stripe_invoices SET
    payment_intent_id = coalesce(payment_intent_id, (SELECT ip.payment_intent_id FROM stripe_invoice_payments ip
      WHERE ip.invoice_id = NEW.id AND ip.status = 'paid' AND ip.deleted_at IS NULL
      ORDER BY ip.paid_at DESC, ip.is_default DESC, ip.id DESC LIMIT 1)),
    charge_id = coalesce(charge_id, (SELECT coalesce(ip.charge_id,
        (SELECT c.id FROM stripe_charges c WHERE c.payment_intent_id = ip.payment_intent_id AND c.status = 'succeeded'
          ORDER BY c.created_at DESC, c.id DESC LIMIT 1),
        (SELECT p.latest_charge_id FROM stripe_payment_intents p WHERE p.id = ip.payment_intent_id))
      FROM stripe_invoice_payments ip
      WHERE ip.invoice_id = NEW.id AND ip.status = 'paid' AND ip.deleted_at IS NULL
      ORDER BY ip.paid_at DESC, ip.is_default DESC, ip.id DESC LIMIT 1))
  WHERE id = NEW.id AND EXISTS (SELECT 1 FROM stripe_invoice_payments ip
    WHERE ip.invoice_id = NEW.id AND ip.status = 'paid' AND ip.deleted_at IS NULL);
END;

-- A charge stored after the invoice payment of its payment intent (or of itself) takes its invoice,
-- and a succeeded one becomes the charge of the invoice that payment paid.
CREATE TRIGGER stripe_charges_invoice_link_insert AFTER INSERT ON stripe_charges
WHEN NEW.payment_intent_id IS NOT NULL OR NEW.invoice_id IS NULL
BEGIN
  UPDATE stripe_charges SET invoice_id = (SELECT ip.invoice_id FROM stripe_invoice_payments ip
      WHERE (ip.payment_intent_id = NEW.payment_intent_id OR ip.charge_id = NEW.id) AND ip.deleted_at IS NULL
        AND ip.invoice_id IS NOT NULL
      ORDER BY ip.status = 'paid' DESC, ip.paid_at DESC, ip.id DESC LIMIT 1)
  WHERE id = NEW.id AND invoice_id IS NULL AND EXISTS (SELECT 1 FROM stripe_invoice_payments ip
    WHERE (ip.payment_intent_id = NEW.payment_intent_id OR ip.charge_id = NEW.id) AND ip.deleted_at IS NULL
      AND ip.invoice_id IS NOT NULL);
  UPDATE stripe_invoices SET charge_id = NEW.id
  WHERE NEW.status = 'succeeded' AND charge_id IS NOT NEW.id
    AND id IN (SELECT ip.invoice_id FROM stripe_invoice_payments ip
      WHERE (ip.payment_intent_id = NEW.payment_intent_id OR ip.charge_id = NEW.id) AND ip.status = 'paid'
        AND ip.deleted_at IS NULL)
    AND NOT EXISTS (SELECT 1 FROM stripe_charges c WHERE c.id = stripe_invoices.charge_id AND c.status = 'succeeded');
END;
CREATE TRIGGER stripe_charges_invoice_link_update AFTER UPDATE OF status ON stripe_charges
WHEN NEW.status = 'succeeded' AND OLD.status IS NOT 'succeeded'
BEGIN
  UPDATE stripe_invoices SET charge_id = NEW.id
  WHERE charge_id IS NOT NEW.id
    AND id IN (SELECT ip.invoice_id FROM stripe_invoice_payments ip
      WHERE (ip.payment_intent_id = NEW.payment_intent_id OR ip.charge_id = NEW.id) AND ip.status = 'paid'
        AND ip.deleted_at IS NULL)
    AND NOT EXISTS (SELECT 1 FROM stripe_charges c WHERE c.id = stripe_invoices.charge_id AND c.status = 'succeeded');
END;

-- A payment intent stored after its invoice payment takes its invoice, and gives the invoice its
-- latest charge when no charge row has.
CREATE TRIGGER stripe_payment_intents_invoice_link AFTER INSERT ON stripe_payment_intents
BEGIN
  UPDATE stripe_payment_intents SET invoice_id = (SELECT ip.invoice_id FROM stripe_invoice_payments ip
      WHERE ip.payment_intent_id = NEW.id AND ip.deleted_at IS NULL AND ip.invoice_id IS NOT NULL
      ORDER BY ip.status = 'paid' DESC, ip.paid_at DESC, ip.id DESC LIMIT 1)
  WHERE id = NEW.id AND invoice_id IS NULL AND EXISTS (SELECT 1 FROM stripe_invoice_payments ip
    WHERE ip.payment_intent_id = NEW.id AND ip.deleted_at IS NULL AND ip.invoice_id IS NOT NULL);
  UPDATE stripe_invoices SET charge_id = NEW.latest_charge_id
  WHERE NEW.latest_charge_id IS NOT NULL AND charge_id IS NULL
    AND id IN (SELECT ip.invoice_id FROM stripe_invoice_payments ip
      WHERE ip.payment_intent_id = NEW.id AND ip.status = 'paid' AND ip.deleted_at IS NULL);
END;

-- ---- Stripe API versions ----------------------------------------------------------------------
-- Every Stripe row records the API version of the payload that wrote it (the event's
-- `api_version`; the pinned version for objects the pipeline fetched or listed itself; NULL when
-- the event named none). src/shared/stripe-version.ts says which versions are read by which rules;
-- a payload in any other version is quarantined, never mapped.
ALTER TABLE stripe_customers ADD COLUMN api_version TEXT;
ALTER TABLE stripe_charges ADD COLUMN api_version TEXT;
ALTER TABLE stripe_payment_intents ADD COLUMN api_version TEXT;
ALTER TABLE stripe_invoices ADD COLUMN api_version TEXT;
ALTER TABLE stripe_invoice_payments ADD COLUMN api_version TEXT;
ALTER TABLE stripe_disputes ADD COLUMN api_version TEXT;
ALTER TABLE stripe_refunds ADD COLUMN api_version TEXT;
ALTER TABLE stripe_subscriptions ADD COLUMN api_version TEXT;
ALTER TABLE stripe_checkout_sessions ADD COLUMN api_version TEXT;

-- ---- Stripe MRR over every item -----------------------------------------------------------------
-- A subscription's items may each have their own price, quantity and (under flexible billing, the
-- default since 2025-09-30) interval. The mapper sums every item's amount normalized to a month into
-- mrr_minor (src/mapping/stripe.ts subscriptionMrrMinor: metered items add nothing; NULL when an
-- item's amount or interval is unknown). The MRR history records that sum as a monthly amount; a row
-- without it (written before this migration, or not computable) keeps the first item's price as before.
ALTER TABLE stripe_subscriptions ADD COLUMN mrr_minor INTEGER;

DROP TRIGGER subscription_mrr_stripe_insert;
DROP TRIGGER subscription_mrr_stripe_update;

CREATE TRIGGER subscription_mrr_stripe_insert AFTER INSERT ON stripe_subscriptions
WHEN NEW.status IN ('active', 'past_due', 'canceled') AND coalesce(NEW.start_date, NEW.created_at) IS NOT NULL
  AND (NEW.status IS NOT 'canceled' OR coalesce(NEW.ended_at, NEW.canceled_at) > coalesce(NEW.trial_end, ''))
BEGIN
  INSERT INTO subscription_mrr_history
  SELECT 'stripe', NEW.id, max(coalesce(NEW.start_date, NEW.created_at), coalesce(NEW.trial_end, '')), 1,
    coalesce(NEW.mrr_minor, NEW.unit_amount_minor * coalesce(NEW.quantity, 1)),
    CASE WHEN NEW.mrr_minor IS NOT NULL THEN 'month' ELSE NEW.price_interval END,
    CASE WHEN NEW.mrr_minor IS NOT NULL THEN 1 ELSE coalesce(NEW.price_interval_count, 1) END
  WHERE 1
  ON CONFLICT (source, subscription_id, effective_at) DO UPDATE SET paying = excluded.paying,
    amount_minor = excluded.amount_minor, interval_unit = excluded.interval_unit, interval_count = excluded.interval_count;
  INSERT INTO subscription_mrr_history
  SELECT 'stripe', NEW.id, coalesce(NEW.ended_at, NEW.canceled_at, NEW.updated_at), 0, NULL, NULL, NULL
  WHERE NEW.status = 'canceled'
  ON CONFLICT (source, subscription_id, effective_at) DO UPDATE SET paying = excluded.paying,
    amount_minor = excluded.amount_minor, interval_unit = excluded.interval_unit, interval_count = excluded.interval_count;
END;

CREATE TRIGGER subscription_mrr_stripe_update AFTER UPDATE ON stripe_subscriptions
WHEN (NEW.status IN ('active', 'past_due')) IS NOT (OLD.status IN ('active', 'past_due'))
  OR (NEW.status IN ('active', 'past_due') AND (NEW.mrr_minor IS NOT OLD.mrr_minor
    OR NEW.unit_amount_minor IS NOT OLD.unit_amount_minor OR NEW.quantity IS NOT OLD.quantity
    OR NEW.price_interval IS NOT OLD.price_interval OR NEW.price_interval_count IS NOT OLD.price_interval_count))
BEGIN
  INSERT INTO subscription_mrr_history
  SELECT 'stripe', NEW.id,
    CASE WHEN NEW.status = 'canceled' THEN coalesce(NEW.ended_at, NEW.canceled_at, NEW.updated_at) ELSE NEW.updated_at END,
    coalesce(NEW.status IN ('active', 'past_due'), 0),
    coalesce(NEW.mrr_minor, NEW.unit_amount_minor * coalesce(NEW.quantity, 1)),
    CASE WHEN NEW.mrr_minor IS NOT NULL THEN 'month' ELSE NEW.price_interval END,
    CASE WHEN NEW.mrr_minor IS NOT NULL THEN 1 ELSE coalesce(NEW.price_interval_count, 1) END
  WHERE 1
  ON CONFLICT (source, subscription_id, effective_at) DO UPDATE SET paying = excluded.paying,
    amount_minor = excluded.amount_minor, interval_unit = excluded.interval_unit, interval_count = excluded.interval_count;
END;
