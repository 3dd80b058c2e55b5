/**
 * The data-quality checks' reads of the ledger, kept apart so their query plans are checked
 * (test/node/indexes.test.ts): the ledger holds millions of rows, and the only index by time is
 * (source, received_at), so every read names the sources to seek by it.
 */

import { SOURCES, SOURCES_SQL } from "../../shared/envelope";

/** Webhooks per source, resource and hour received in [?1, ?2). */
export const HOURLY_COUNTS = `SELECT source, coalesce(resource, 'unknown') AS resource, substr(received_at, 1, 13) AS hour, COUNT(*) AS n
  FROM webhook_events WHERE source IN (${SOURCES_SQL}) AND received_at >= ?1 AND received_at < ?2 AND origin = 'webhook'
  GROUP BY source, resource, hour`;

/** Each source's newest webhook received in (?1, ?2]: one newest-first probe per source. */
export const LAST_WEBHOOKS = `SELECT s.value AS source, (SELECT received_at FROM webhook_events
    WHERE source = s.value AND origin = 'webhook' AND received_at > ?1 AND received_at <= ?2
    ORDER BY received_at DESC LIMIT 1) AS last
  FROM json_each('${JSON.stringify(SOURCES)}') s`;

/** Events and extra deliveries per source received in (?1, ?2]. */
export const DUPLICATE_DELIVERIES = `SELECT source, COUNT(*) AS events, SUM(deliveries - 1) AS extra FROM webhook_events
  WHERE source IN (${SOURCES_SQL}) AND received_at > ?1 AND received_at <= ?2 GROUP BY source`;
