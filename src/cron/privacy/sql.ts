/**
 * Statements of the privacy sweep, kept apart so their query plans are checked
 * (test/node/indexes.test.ts): the subject index is the largest table D1 holds, and a plan that
 * scans it instead of seeking by subject reads all of it every run.
 */

/**
 * Objects indexed for an erased subject since its erasure (or up to 15 minutes before) and not yet
 * redacted. CROSS JOIN keeps erased_subjects (a few rows per erasure) the outer loop, each seeking the
 * index by its primary key (subject_kind, subject_id): planned freely, SQLite scanned the whole index
 * in r2_key order for DISTINCT.
 */
export const SWEEP_KEYS = `SELECT DISTINCT a.r2_key FROM erased_subjects e
  JOIN privacy_requests r ON r.request_id = e.request_id AND r.status = 'completed'
  CROSS JOIN archive_subjects a
    ON a.subject_kind = e.subject_kind AND a.subject_id = e.subject_id AND (e.shop = '*' OR a.shop = e.shop)
  WHERE a.redacted = 0 AND a.indexed_at >= strftime('%Y-%m-%dT%H:%M:%fZ', e.erased_at, '-15 minutes') LIMIT ?1`;

/** The erased subjects an object names (found by the index on r2_key). */
export const ERASED_IN_KEY = `SELECT a.subject_kind AS kind, a.subject_id AS id, a.shop AS shop FROM archive_subjects a
  JOIN erased_subjects e ON e.subject_kind = a.subject_kind AND e.subject_id = a.subject_id AND (e.shop = a.shop OR e.shop = '*')
  WHERE a.r2_key = ?1`;
