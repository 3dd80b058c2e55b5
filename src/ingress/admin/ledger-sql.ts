/**
 * The admin reads of the ledger (`webhook_events`), kept apart so their query plans are checked
 * (test/node/admin-plans.test.ts). At a large brand the ledger holds about a million rows a day, 90
 * million at the default retention, and its only index by time is (source, received_at): a read
 * that does not name the source has nothing to seek by and reads the whole ledger. So each read
 * names the source, one seek per source where it covers them all.
 */
import { SOURCES, SOURCES_SQL, type Source } from "../../shared/envelope";
import { HELD_STATUS_SQL, HELD_STATUSES, type LedgerStatus } from "../../shared/ledger-status";

export { LEDGER_STATUSES, type LedgerStatus } from "../../shared/ledger-status";

/**
 * Statuses few rows hold (events held back or not yet through; the partial index of HELD_STATUS_SQL):
 * a read of one seeks them by (status, source) and sorts them, instead of walking the source's
 * newest rows until enough match, which for a status with few or no rows is every row of the source.
 */
const HELD: ReadonlySet<LedgerStatus> = new Set(HELD_STATUSES);

const EVENT_COLUMNS = `source, event_id, topic, shop, status, r2_key, received_at, event_at, deliveries, attempts, error,
  note, updated_at`;
const NEWEST_FIRST = "ORDER BY received_at DESC, event_id";

export interface RecentEventsFilter {
  source?: Source;
  status?: LedgerStatus;
  eventId?: string;
  limit: number;
}

/**
 * `GET /admin/events`: the ledger rows matching the filters present, newest first (received_at
 * DESC, event_id), at most `limit`. One event (source and eventId) is a primary key read. Otherwise
 * each source is read newest first from (source, received_at), stopping at `limit`, or for a held
 * status its rows by (status, source); without a source the three sources' reads are one UNION ALL
 * ordered and cut to `limit` again: the newest `limit` rows overall are among each source's newest
 * `limit`. An eventId needs a source (the caller refuses it alone): event ids are unique per source.
 */
export function recentEventsQuery(f: RecentEventsFilter): { sql: string; params: Array<string | number> } {
  if (f.eventId !== undefined) {
    if (f.source === undefined) throw new Error("recentEventsQuery: eventId needs a source");
    return f.status === undefined
      ? {
          sql: `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE source = ?1 AND event_id = ?2`,
          params: [f.source, f.eventId],
        }
      : {
          sql: `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE source = ?1 AND event_id = ?2 AND status = ?3`,
          params: [f.source, f.eventId, f.status],
        };
  }
  // ?1 the limit; with a source ?2 the source and ?3 the status, without one ?2 the status.
  const held = f.status !== undefined && HELD.has(f.status);
  const statusParam = f.source === undefined ? "?2" : "?3";
  const oneSource = (source: string) =>
    f.status === undefined
      ? `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE source = ${source} ${NEWEST_FIRST} LIMIT ?1`
      : held
        ? // `+received_at`: sort the status's rows; the planner must not walk (source, received_at) for the order.
          `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE status = ${statusParam} AND source = ${source}
           AND ${HELD_STATUS_SQL} ORDER BY +received_at DESC, event_id LIMIT ?1`
        : // `+status`: walk (source, received_at) newest first; most rows have this status, so LIMIT stops it soon.
          `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE source = ${source} AND +status = ${statusParam}
           ${NEWEST_FIRST} LIMIT ?1`;
  const status = f.status === undefined ? [] : [f.status];
  if (f.source !== undefined) return { sql: oneSource("?2"), params: [f.limit, f.source, ...status] };
  const arms = SOURCES.map((s) => `SELECT * FROM (${oneSource(`'${s}'`)})`).join("\n  UNION ALL ");
  return { sql: `SELECT * FROM (${arms}) ${NEWEST_FIRST} LIMIT ?1`, params: [f.limit, ...status] };
}

const SOURCE_LIST = JSON.stringify([...SOURCES].sort());

/**
 * `GET /admin/status` (lastEvents, per database): per source with ledger rows, the newest
 * received_at (the end of (source, received_at)) and the event time (event_at) of that newest
 * received event; of events received at the same instant, the latest event time. Not the latest
 * event time of any row (max(event_at)): no index has event_at after the source, so that read every
 * row of the source. Sorted by source.
 */
export const LAST_EVENTS_SQL = `SELECT source, lastReceivedAt, lastEventAt FROM (
  SELECT s.value AS source,
    (SELECT max(received_at) FROM webhook_events WHERE source = s.value) AS lastReceivedAt,
    (SELECT event_at FROM webhook_events WHERE source = s.value ORDER BY received_at DESC, event_at DESC LIMIT 1)
      AS lastEventAt
  FROM json_each('${SOURCE_LIST}') s
) WHERE lastReceivedAt IS NOT NULL ORDER BY source`;

/**
 * `/ops` (events per hour): ledger rows received since `?1` (an ISO hour prefix) per source, shop
 * and hour. Every source is named, so each is a range of (source, received_at).
 */
export const HOURLY_COUNTS_SQL = `SELECT source, coalesce(shop, '') AS shop, substr(received_at, 1, 13) AS hour, count(*) AS n
  FROM webhook_events WHERE source IN (${SOURCES_SQL}) AND received_at >= ?1
  GROUP BY source, coalesce(shop, ''), hour`;
