-- Browser sessions of /ops (README, "The ops page"; src/ingress/admin/session.ts): one row per
-- signed-in browser, keyed by the SHA-256 of the random session id its signed cookie carries, so a
-- read of this table cannot be turned into a cookie. A cookie opens the page only while its row
-- exists and has not expired: sign-out deletes the row, "sign out everywhere" deletes them all.
-- Expired rows are deleted whenever a session is written (sign-in, sign-out), so the table holds
-- at most the sessions of the last 8 hours.
CREATE TABLE ops_sessions (
  id_hash TEXT PRIMARY KEY NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX ops_sessions_by_expiry ON ops_sessions (expires_at);
