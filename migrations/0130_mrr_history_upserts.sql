-- subscription_mrr_history is kept idempotently. The triggers of 0060 wrote it with INSERT OR REPLACE,
-- but a trigger's conflict clause is overridden by the statement that fires it: the consumer's
-- INSERT … ON CONFLICT DO UPDATE runs its update (and so the update triggers) under ABORT. A history
-- row that already existed (a subscription created and changed within one second, or any rebuild by
-- replay over a kept history) then failed the whole write with "UNIQUE constraint failed". An upsert
-- names its own conflict target, which no outer statement overrides: the newest state recorded at an
-- instant replaces the one before, as REPLACE meant to.
DROP TRIGGER subscription_mrr_recharge_insert;
DROP TRIGGER subscription_mrr_recharge_update;
DROP TRIGGER subscription_mrr_stripe_insert;
DROP TRIGGER subscription_mrr_stripe_update;

CREATE TRIGGER subscription_mrr_recharge_insert AFTER INSERT ON recharge_subscriptions
WHEN NEW.status IN ('active', 'cancelled', 'expired') AND NEW.created_at IS NOT NULL
BEGIN
  INSERT INTO subscription_mrr_history
  SELECT 'recharge', NEW.id, NEW.created_at, 1, NEW.price_minor * coalesce(NEW.quantity, 1), NEW.order_interval_unit,
    coalesce(NEW.charge_interval_frequency, NEW.order_interval_frequency, 1)
  WHERE 1
  ON CONFLICT (source, subscription_id, effective_at) DO UPDATE SET paying = excluded.paying,
    amount_minor = excluded.amount_minor, interval_unit = excluded.interval_unit, interval_count = excluded.interval_count;
  INSERT INTO subscription_mrr_history
  SELECT 'recharge', NEW.id, max(coalesce(NEW.cancelled_at, NEW.updated_at), NEW.created_at), 0, NULL, NULL, NULL
  WHERE NEW.status IN ('cancelled', 'expired')
  ON CONFLICT (source, subscription_id, effective_at) DO UPDATE SET paying = excluded.paying,
    amount_minor = excluded.amount_minor, interval_unit = excluded.interval_unit, interval_count = excluded.interval_count;
END;

CREATE TRIGGER subscription_mrr_recharge_update AFTER UPDATE ON recharge_subscriptions
WHEN (NEW.status IS 'active') IS NOT (OLD.status IS 'active')
  OR (NEW.status IS 'active' AND (NEW.price_minor IS NOT OLD.price_minor OR NEW.quantity IS NOT OLD.quantity
    OR NEW.order_interval_unit IS NOT OLD.order_interval_unit
    OR NEW.charge_interval_frequency IS NOT OLD.charge_interval_frequency
    OR NEW.order_interval_frequency IS NOT OLD.order_interval_frequency))
BEGIN
  INSERT INTO subscription_mrr_history
  SELECT 'recharge', NEW.id,
    CASE WHEN NEW.status IN ('cancelled', 'expired') THEN coalesce(NEW.cancelled_at, NEW.updated_at) ELSE NEW.updated_at END,
    NEW.status IS 'active', NEW.price_minor * coalesce(NEW.quantity, 1), NEW.order_interval_unit,
    coalesce(NEW.charge_interval_frequency, NEW.order_interval_frequency, 1)
  WHERE NEW.created_at IS NOT NULL
  ON CONFLICT (source, subscription_id, effective_at) DO UPDATE SET paying = excluded.paying,
    amount_minor = excluded.amount_minor, interval_unit = excluded.interval_unit, interval_count = excluded.interval_count;
END;

CREATE TRIGGER subscription_mrr_stripe_insert AFTER INSERT ON stripe_subscriptions
WHEN NEW.status IN ('active', 'past_due', 'canceled') AND coalesce(NEW.start_date, NEW.created_at) IS NOT NULL
  AND (NEW.status IS NOT 'canceled' OR coalesce(NEW.ended_at, NEW.canceled_at) > coalesce(NEW.trial_end, ''))
BEGIN
  INSERT INTO subscription_mrr_history
  SELECT 'stripe', NEW.id, max(coalesce(NEW.start_date, NEW.created_at), coalesce(NEW.trial_end, '')), 1,
    NEW.unit_amount_minor * coalesce(NEW.quantity, 1), NEW.price_interval, coalesce(NEW.price_interval_count, 1)
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
  OR (NEW.status IN ('active', 'past_due') AND (NEW.unit_amount_minor IS NOT OLD.unit_amount_minor
    OR NEW.quantity IS NOT OLD.quantity OR NEW.price_interval IS NOT OLD.price_interval
    OR NEW.price_interval_count IS NOT OLD.price_interval_count))
BEGIN
  INSERT INTO subscription_mrr_history
  SELECT 'stripe', NEW.id,
    CASE WHEN NEW.status = 'canceled' THEN coalesce(NEW.ended_at, NEW.canceled_at, NEW.updated_at) ELSE NEW.updated_at END,
    coalesce(NEW.status IN ('active', 'past_due'), 0), NEW.unit_amount_minor * coalesce(NEW.quantity, 1),
    NEW.price_interval, coalesce(NEW.price_interval_count, 1)
  WHERE 1
  ON CONFLICT (source, subscription_id, effective_at) DO UPDATE SET paying = excluded.paying,
    amount_minor = excluded.amount_minor, interval_unit = excluded.interval_unit, interval_count = excluded.interval_count;
END;
