-- subscription_mrr_history joins the lake (docs/lake.md): like every compacted
-- table, each write marks the UTC day it touched in lake_changes, in the same transaction, so the
-- hourly compact job rewrites exactly that day of processed/kpi/subscription_mrr_history/ and
-- rebuilds the KPI snapshots that read it. A state's day is its effective_at (the table has no
-- updated_at: a state, once recorded, only ever changes by a replacement at the same key).
CREATE TRIGGER subscription_mrr_history_lake_insert AFTER INSERT ON subscription_mrr_history BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('subscription_mrr_history', substr(NEW.effective_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER subscription_mrr_history_lake_update AFTER UPDATE ON subscription_mrr_history BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('subscription_mrr_history', substr(NEW.effective_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  SELECT 'subscription_mrr_history', substr(OLD.effective_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE substr(OLD.effective_at, 1, 10) <> substr(NEW.effective_at, 1, 10)
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
CREATE TRIGGER subscription_mrr_history_lake_delete AFTER DELETE ON subscription_mrr_history BEGIN
  INSERT INTO lake_changes (table_name, dt, seq, changed_at)
  VALUES ('subscription_mrr_history', substr(OLD.effective_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  ON CONFLICT (table_name, dt) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at;
END;
INSERT OR IGNORE INTO lake_changes (table_name, dt, seq, changed_at)
SELECT DISTINCT 'subscription_mrr_history', substr(effective_at, 1, 10), 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM subscription_mrr_history;
