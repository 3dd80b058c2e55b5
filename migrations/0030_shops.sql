-- Shops onboarded at runtime (`npm run ops -- shops add`), with their Admin API token sealed
-- with AES-256-GCM under a key of the CREDENTIALS_KEY secret. `key_id` names that key, so the
-- secret can hold a new key beside the old one while rows are re-sealed. A removed shop keeps
-- its row (status `removed`, token erased) so its jobs stop and its data stays until shop/redact.
CREATE TABLE shops (
  shop TEXT PRIMARY KEY NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'removed')),
  name TEXT,
  key_id TEXT,
  iv TEXT,
  token_sealed TEXT,
  added_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  removed_at TEXT,
  CHECK ((status = 'active') = (token_sealed IS NOT NULL))
);
