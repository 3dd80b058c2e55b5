-- No query needs it once 0163 (the link triggers seek by payment intent) and 0165 (a person's charges
-- found by id) stand: its only users walked every succeeded charge to skip a sort. A row written per
-- Stripe charge event less.
DROP INDEX IF EXISTS stripe_charges_by_status;
