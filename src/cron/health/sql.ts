/**
 * The health rules' reads of the ledger, kept apart so their query plans are checked
 * (test/node/indexes.test.ts): they run every five minutes over a table of millions of rows.
 */

import { SOURCES_SQL } from "../../shared/envelope";

/**
 * Events stored in the window (`first_seen_at`, which no index holds) are found among those received
 * in the six hours before it, by the (source, received_at) index: without a source and a time range the
 * rules read the whole ledger every five minutes. An event stored more than six hours after it was
 * received is not counted here; a backlog that long leaves its sources with nothing received in the
 * last hour, which `silentInActiveHours` reports.
 */
const RECEIVED_NEAR = `source IN (${SOURCES_SQL}) AND received_at > ?4 AND received_at <= ?2`;

/** Per source: the window's events, those that needed a retry or failed, a sample. ?1..?2 window, ?3 minimum, ?4 received from. */
export const ERROR_RATE = `SELECT source, count(*) AS total,
         count(*) FILTER (WHERE status IN ('retrying', 'failed') OR attempts > 1) AS errors,
         max(CASE WHEN status IN ('retrying', 'failed') OR attempts > 1 THEN event_id END) AS sample,
         max(CASE WHEN status IN ('retrying', 'failed') OR attempts > 1 THEN topic END) AS topic,
         max(CASE WHEN status IN ('retrying', 'failed') OR attempts > 1 THEN error END) AS error
       FROM webhook_events WHERE ${RECEIVED_NEAR} AND first_seen_at > ?1 AND first_seen_at <= ?2
       GROUP BY source HAVING count(*) >= ?3`;

/** Per source: the window's webhooks and those stored later than ?3 ms after their event. */
export const PIPELINE_LAG = `SELECT source, count(*) AS total,
         count(*) FILTER (WHERE (julianday(first_seen_at) - julianday(event_at)) * 86400000 > ?3) AS late,
         max(CASE WHEN (julianday(first_seen_at) - julianday(event_at)) * 86400000 > ?3 THEN event_id END) AS sample,
         max(CASE WHEN (julianday(first_seen_at) - julianday(event_at)) * 86400000 > ?3 THEN topic END) AS topic,
         CAST(max((julianday(first_seen_at) - julianday(event_at)) * 1440) AS INTEGER) AS worst_minutes
       FROM webhook_events WHERE ${RECEIVED_NEAR} AND origin = 'webhook' AND first_seen_at > ?1 AND first_seen_at <= ?2
       GROUP BY source`;
