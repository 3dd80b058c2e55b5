/**
 * The operator's view of the pipeline: ledger counts per source and status, the
 * last event per source, how many objects sit in quarantine and dead-letter, and how
 * much of D1's database size limit is used (the retention job keeps that in check).
 */
import { lagSeconds, readPositions } from "../../cron/reconcile/positions";
import { DEAD_LETTER_PREFIX, QUARANTINE_PREFIX } from "../../shared/keys";
import { everyDatabase, sharedDatabase } from "../../tables/database";
import { LAST_EVENTS_SQL } from "./ledger-sql";

export interface PipelineStatus {
  ledger: Array<{ source: string; status: string; count: number }>;
  /** Per source: the newest received_at, and the event time (event_at) of that newest received event. */
  lastEvents: Array<{ source: string; lastReceivedAt: string; lastEventAt: string }>;
  quarantine: ObjectCount;
  deadLetter: ObjectCount;
  /** The size of DB, the database of every shop not routed elsewhere and of all shared data. */
  d1: D1Size;
  /** Every database's size, DB first, then each one SHOP_DATABASES routes a shop to. */
  databases: Array<D1Size & { binding: string }>;
  /** Shops that uninstalled the app (`app/uninstalled`): reconciliation, backfills and data quality skip them. */
  uninstalledShops: Array<{ shop: string; since: string }>;
  /** Privacy requests not yet completed, oldest first, each with how far it is and whether it is stuck. */
  privacy: PrivacyStatus;
  /** How far behind each reconciliation scope is, furthest first. */
  reconcile: ReconcileLag[];
}

export interface ReconcileLag {
  source: string;
  /** `events`, `subscriptions+charges`, or a shop domain. */
  scope: string;
  /** The oldest change not yet reconciled (the scope's most-behind resource). */
  position: string | null;
  /** Seconds from `position` to now: about 2 minutes when caught up. */
  lagSeconds: number | null;
  /** Resources with a window still unfinished (their runs stopped at the budget or a rate limit). */
  unfinished: string[];
  /** When a run last committed any of the scope's cursors. */
  servedAt: string;
}

const MAX_RECONCILE_ROWS = 100;

/** Every reconciliation scope with a cursor, most behind first (one read of `sync_cursors`). */
export async function reconcileLag(db: D1Database, now: Date): Promise<ReconcileLag[]> {
  const positions = await readPositions(db);
  return [...positions.values()]
    .map((p) => ({
      source: p.source,
      scope: p.scope,
      position: p.position,
      lagSeconds: lagSeconds(p.position, now),
      unfinished: p.resources.filter((r) => r.unfinished).map((r) => r.resource),
      servedAt: p.servedAt,
    }))
    .sort((a, b) => (b.lagSeconds ?? 0) - (a.lagSeconds ?? 0) || (a.scope < b.scope ? -1 : 1))
    .slice(0, MAX_RECONCILE_ROWS);
}

export interface PrivacyStatus {
  open: number;
  requests: Array<{
    requestId: string;
    kind: string;
    shop: string | null;
    status: string;
    stage: string;
    objectsRewritten: number;
    objectsDeleted: number;
    /** Objects the request found to do when it started (null before); done = rewritten + deleted. */
    objectsTotal: number | null;
    rowsChanged: number;
    receivedAt: string;
    progressedAt: string | null;
    /** No stage, status or count changed for a day: the `privacy_stalled` alert fires too. */
    stalled: boolean;
    /** Shopify's 30 days from receipt. */
    deadline: string;
    error: string | null;
  }>;
}

export interface D1Size {
  /** The database's size as D1 reports it after a query (`meta.size_after`); null when not reported. */
  bytes: number | null;
  limitBytes: number;
  /** bytes / limitBytes, 4 decimals. */
  share: number | null;
}

/** D1's maximum database size (Workers Paid): 10 GB. */
export const D1_LIMIT_BYTES = 10_000_000_000;

interface ObjectCount {
  objects: number;
  /** True when counting stopped at the cap: there are at least `objects`. */
  truncated: boolean;
}

const MAX_LIST_PAGES = 10;

export async function pipelineStatus(env: Env): Promise<PipelineStatus> {
  // Every database holds shops' ledgers (DB, and each one SHOP_DATABASES routes a shop to).
  const [perDatabase, quarantine, deadLetter, privacy, reconcile] = await Promise.all([
    Promise.all(everyDatabase(env).map(({ name, db }) => databaseStatus(name, db))),
    countObjects(env.LAKE, QUARANTINE_PREFIX),
    countObjects(env.LAKE, DEAD_LETTER_PREFIX),
    privacyStatus(sharedDatabase(env), new Date()),
    reconcileLag(sharedDatabase(env), new Date()),
  ]);
  const ledger = new Map<string, { source: string; status: string; count: number }>();
  const last = new Map<string, { source: string; lastReceivedAt: string; lastEventAt: string }>();
  for (const d of perDatabase) {
    for (const row of d.ledger) {
      const key = `${row.source}\u0000${row.status}`;
      const seen = ledger.get(key);
      if (seen) seen.count += row.count;
      else ledger.set(key, { ...row });
    }
    for (const row of d.lastEvents) {
      const seen = last.get(row.source);
      // The newest received event over every database, with its event time (LAST_EVENTS_SQL).
      if (!seen || row.lastReceivedAt > seen.lastReceivedAt) last.set(row.source, { ...row });
      else if (row.lastReceivedAt === seen.lastReceivedAt && row.lastEventAt > seen.lastEventAt)
        seen.lastEventAt = row.lastEventAt;
    }
  }
  const byKey = <T>(m: Map<string, T>) =>
    [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  return {
    ledger: byKey(ledger),
    lastEvents: byKey(last),
    quarantine,
    deadLetter,
    d1: (perDatabase[0] as DatabaseStatus).size,
    databases: perDatabase.map((d) => ({ binding: d.name, ...d.size })),
    uninstalledShops: perDatabase
      .flatMap((d) => d.uninstalled)
      .sort((a, b) => (a.shop < b.shop ? -1 : a.shop > b.shop ? 1 : 0))
      .slice(0, 500),
    privacy,
    reconcile,
  };
}

const DAY_MS = 24 * 3600 * 1000;
const MAX_PRIVACY_ROWS = 50;

async function privacyStatus(db: D1Database, now: Date): Promise<PrivacyStatus> {
  const [count, rows] = await db.batch<Record<string, unknown>>([
    db.prepare("SELECT count(*) AS n FROM privacy_requests WHERE status IN ('pending', 'running')"),
    db
      .prepare(
        `SELECT request_id AS requestId, kind, shop, status, stage, objects_rewritten AS objectsRewritten,
           objects_deleted AS objectsDeleted, objects_total AS objectsTotal, rows_changed AS rowsChanged,
           received_at AS receivedAt,
           progressed_at AS progressedAt, error
         FROM privacy_requests WHERE status IN ('pending', 'running') ORDER BY received_at, request_id LIMIT ?1`,
      )
      .bind(MAX_PRIVACY_ROWS),
  ]);
  type Row = Omit<PrivacyStatus["requests"][number], "stalled" | "deadline">;
  return {
    open: Number(count?.results[0]?.n ?? 0),
    requests: ((rows?.results ?? []) as unknown as Row[]).map((r) => ({
      ...r,
      stalled: now.getTime() - Date.parse(r.progressedAt ?? r.receivedAt) >= DAY_MS,
      deadline: new Date(Date.parse(r.receivedAt) + 30 * DAY_MS).toISOString(),
    })),
  };
}

interface DatabaseStatus {
  name: string;
  ledger: Array<{ source: string; status: string; count: number }>;
  lastEvents: Array<{ source: string; lastReceivedAt: string; lastEventAt: string }>;
  size: D1Size;
  uninstalled: Array<{ shop: string; since: string }>;
}

async function databaseStatus(name: string, db: D1Database): Promise<DatabaseStatus> {
  const [ledger, last, size, uninstalled] = await Promise.all([
    // Counts over the whole ledger (its retention), as this endpoint and `ops status` answer them: a
    // window would drop older held-back events from `failed` and `quarantined`. It reads every row
    // (no index can bound a count of everything); the other ledger reads here seek (ledger-sql.ts).
    db
      .prepare(
        "SELECT source, status, count(*) AS count FROM webhook_events GROUP BY source, status ORDER BY source, status",
      )
      .all<{ source: string; status: string; count: number }>(),
    db.prepare(LAST_EVENTS_SQL).all<{ source: string; lastReceivedAt: string; lastEventAt: string }>(),
    d1Size(db),
    db
      .prepare(
        "SELECT shop, changed_at AS since FROM shop_installs WHERE status = 'uninstalled' ORDER BY shop LIMIT 500",
      )
      .all<{ shop: string; since: string }>(),
  ]);
  return { name, ledger: ledger.results, lastEvents: last.results, size, uninstalled: uninstalled.results };
}

async function d1Size(db: D1Database): Promise<D1Size> {
  const { meta } = await db.prepare("SELECT 1").run();
  const bytes = typeof meta.size_after === "number" && meta.size_after > 0 ? meta.size_after : null;
  return {
    bytes,
    limitBytes: D1_LIMIT_BYTES,
    share: bytes === null ? null : Math.round((bytes / D1_LIMIT_BYTES) * 10_000) / 10_000,
  };
}

async function countObjects(bucket: R2Bucket, prefix: string): Promise<ObjectCount> {
  let objects = 0;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const listed = await bucket.list({ prefix, cursor, limit: 1000 });
    objects += listed.objects.length;
    if (!listed.truncated) return { objects, truncated: false };
    cursor = listed.cursor;
  }
  return { objects, truncated: true };
}
