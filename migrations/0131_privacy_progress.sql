-- When a privacy request last moved (a stage, a status or a count changed), so the status page and
-- the `privacy_stalled` health rule can show one that has not moved for a day, well before Shopify's
-- 30-day deadline passes. A run that fails leaves it where it was. objects_total: the R2 objects the
-- request found to rewrite or delete when it started, so the status page says how far it is.
ALTER TABLE privacy_requests ADD COLUMN progressed_at TEXT;
ALTER TABLE privacy_requests ADD COLUMN objects_total INTEGER;
UPDATE privacy_requests SET progressed_at = coalesce(completed_at, received_at);
CREATE INDEX privacy_requests_open_by_progress ON privacy_requests (progressed_at) WHERE status IN ('pending', 'running');
