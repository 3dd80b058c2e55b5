/**
 * What the `/ops` page shows, read in one go: per source and shop the last event, freshness
 * against its limit, events per hour over the last 24 h and ledger counts by status; the newest
 * dead letters and quarantined events; the latest data-quality run (failing checks first);
 * backfills; reconcile runs; open alerts. Every query is bounded (LIMIT or the 24 h window) but the
 * ledger counts by status, which are over the whole ledger (as in GET /admin/status).
 */
import { SOURCES, type Source } from "../../shared/envelope";
import { cronSettings } from "../../shared/settings";
import { everyDatabase, sharedDatabase } from "../../tables/database";
import { type HeldWithLedger, listHeldBackWithLedger } from "./held-back";
import { HOURLY_COUNTS_SQL } from "./ledger-sql";
import { type PipelineStatus, pipelineStatus } from "./status";

export interface StreamSummary {
  source: Source;
  /** '' for Stripe and Recharge, which carry no shop. */
  shop: string;
  lastReceivedAt: string | null;
  lastEventAt: string | null;
  limitMinutes: number;
  /** Minutes since the last received event, null when none ever arrived. */
  silentMinutes: number | null;
  fresh: boolean;
  byStatus: Record<string, number>;
  /** 24 counts, oldest hour first, the last one being the current hour. */
  perHour: number[];
}

export interface OpsData {
  now: string;
  status: PipelineStatus;
  streams: StreamSummary[];
  deadLetters: { objects: HeldWithLedger[]; truncated: boolean };
  quarantined: { objects: HeldWithLedger[]; truncated: boolean };
  dq: {
    run: { runId: string; finishedAt: string; passCount: number; warnCount: number; failCount: number } | null;
    results: Array<{ checkName: string; subject: string; outcome: string; message: string }>;
  };
  backfills: Array<{
    backfillId: string;
    shop: string;
    resource: string;
    status: string;
    linesRead: number;
    objectCount: number | null;
    rowsApplied: number;
    requestedAt: string;
    finishedAt: string | null;
    error: string | null;
  }>;
  /** Stripe and Recharge history backfills (rows of `backfills`), newest first. */
  apiBackfills: Array<{
    backfillId: string;
    source: string;
    resource: string;
    status: string;
    since: string | null;
    listed: number;
    sent: number;
    requestedAt: string;
    finishedAt: string | null;
    error: string | null;
    /** What the source did not let the backfill load (Recharge charges older than 90 days). */
    note: string | null;
  }>;
  reconcileRuns: Array<{
    runId: string;
    source: string;
    scope: string;
    status: string;
    finishedAt: string;
    lookedAt: number;
    missing: number;
    stale: number;
    repaired: number;
    pages: number;
    stoppedBy: string | null;
    lagSeconds: number | null;
    error: string | null;
  }>;
  alerts: Array<{
    id: string;
    rule: string;
    severity: string;
    title: string;
    status: string;
    lastSeenAt: string;
    occurrences: number;
  }>;
}

const HOUR = 3_600_000;

export async function opsData(env: Env, now = new Date()): Promise<OpsData> {
  const since = new Date(now.getTime() - 23 * HOUR).toISOString().slice(0, 13);
  const db = sharedDatabase(env);
  const [status, counts, hourly, deadLetters, quarantined, dqRun, backfills, apiBackfills, reconcile, alerts] =
    await Promise.all([
      pipelineStatus(env),
      // A routed shop's ledger rows are in its own database (its compliance webhooks stay in DB):
      // every database is counted and streams() adds the counts up. These are counts over the whole
      // ledger (its retention), and each stream's last event: the page's status columns and its
      // held-back tiles show them so. It reads every row; only a smaller meaning could seek.
      fromEveryDatabase(env, (d) =>
        d
          .prepare(
            `SELECT source, coalesce(shop, '') AS shop, status, count(*) AS n, max(received_at) AS lastReceivedAt, max(event_at) AS lastEventAt
           FROM webhook_events GROUP BY source, coalesce(shop, ''), status`,
          )
          .all<StatusCount>(),
      ),
      fromEveryDatabase(env, (d) =>
        d.prepare(HOURLY_COUNTS_SQL).bind(since).all<{ source: Source; shop: string; hour: string; n: number }>(),
      ),
      listHeldBackWithLedger(env, "dead-letter", { limit: "10" }),
      listHeldBackWithLedger(env, "quarantine", { limit: "10" }),
      db
        .prepare(
          `SELECT run_id AS runId, finished_at AS finishedAt, pass_count AS passCount, warn_count AS warnCount, fail_count AS failCount
         FROM dq_runs ORDER BY started_at DESC LIMIT 1`,
        )
        .first<NonNullable<OpsData["dq"]["run"]>>(),
      db
        .prepare(
          `SELECT backfill_id AS backfillId, shop, resource, status, lines_read AS linesRead, object_count AS objectCount,
           rows_applied AS rowsApplied, requested_at AS requestedAt, finished_at AS finishedAt, error
         FROM bulk_operations ORDER BY requested_at DESC, resource LIMIT 20`,
        )
        .all<OpsData["backfills"][number]>(),
      db
        .prepare(
          `SELECT backfill_id AS backfillId, source, resource, status, since, listed, sent, requested_at AS requestedAt,
           finished_at AS finishedAt, error, note
         FROM backfills ORDER BY requested_at DESC, resource LIMIT 20`,
        )
        .all<OpsData["apiBackfills"][number]>(),
      db
        .prepare(
          `SELECT run_id AS runId, source, scope, status, finished_at AS finishedAt, looked_at AS lookedAt, missing, stale, repaired,
           pages, stopped_by AS stoppedBy, lag_seconds AS lagSeconds, error
         FROM reconcile_runs ORDER BY started_at DESC LIMIT 15`,
        )
        .all<OpsData["reconcileRuns"][number]>(),
      db
        .prepare(
          `SELECT id, rule, severity, title, status, last_seen_at AS lastSeenAt, occurrences FROM alerts
         WHERE status IN ('pending', 'sending', 'failed') OR last_seen_at >= ?1
         ORDER BY last_seen_at DESC LIMIT 20`,
        )
        .bind(new Date(now.getTime() - 24 * HOUR).toISOString())
        .all<OpsData["alerts"][number]>(),
    ]);
  const results = dqRun
    ? (
        await db
          .prepare(
            `SELECT check_name AS checkName, subject, outcome, message FROM dq_results WHERE run_id = ?1
             ORDER BY CASE outcome WHEN 'FAIL' THEN 0 WHEN 'WARN' THEN 1 ELSE 2 END, check_name, subject LIMIT 200`,
          )
          .bind(dqRun.runId)
          .all<OpsData["dq"]["results"][number]>()
      ).results
    : [];
  return {
    now: now.toISOString(),
    status,
    streams: streams(env, now, counts.results, hourly.results),
    deadLetters,
    quarantined,
    dq: { run: dqRun, results },
    backfills: backfills.results,
    apiBackfills: apiBackfills.results,
    reconcileRuns: reconcile.results,
    alerts: alerts.results,
  };
}

/** Ledger rows of one stream and status: how many, and the newest. */
interface StatusCount {
  source: Source;
  shop: string;
  status: string;
  n: number;
  lastReceivedAt: string;
  lastEventAt: string;
}

/** One read on every database with shop data, the rows together. */
async function fromEveryDatabase<T>(
  env: Env,
  read: (db: D1Database) => Promise<D1Result<T>>,
): Promise<{ results: T[] }> {
  const all = await Promise.all(everyDatabase(env).map(({ db }) => read(db)));
  return { results: all.flatMap((r) => r.results) };
}

function streams(
  env: Env,
  now: Date,
  counts: StatusCount[],
  hourly: Array<{ source: Source; shop: string; hour: string; n: number }>,
): StreamSummary[] {
  const limits = cronSettings(env).freshnessLimitMs;
  const byKey = new Map<string, StreamSummary>();
  const get = (source: Source, shop: string) => {
    const key = `${source}\u0000${shop}`;
    let s = byKey.get(key);
    if (!s) {
      s = {
        source,
        shop,
        lastReceivedAt: null,
        lastEventAt: null,
        limitMinutes: Math.round(limits[source] / 60_000),
        silentMinutes: null,
        fresh: false,
        byStatus: {},
        perHour: new Array<number>(24).fill(0),
      };
      byKey.set(key, s);
    }
    return s;
  };
  for (const r of counts) {
    const s = get(r.source, r.shop);
    s.byStatus[r.status] = (s.byStatus[r.status] ?? 0) + r.n;
    if (!s.lastReceivedAt || r.lastReceivedAt > s.lastReceivedAt) s.lastReceivedAt = r.lastReceivedAt;
    if (!s.lastEventAt || r.lastEventAt > s.lastEventAt) s.lastEventAt = r.lastEventAt;
  }
  const currentHour = Math.floor(now.getTime() / HOUR);
  for (const r of hourly) {
    const index = 23 - (currentHour - Math.floor(Date.parse(`${r.hour}:00:00Z`) / HOUR));
    if (index < 0 || index >= 24) continue;
    const perHour = get(r.source, r.shop).perHour;
    perHour[index] = (perHour[index] ?? 0) + r.n;
  }
  // A source that never sent anything still gets a row: silence is what the page is for.
  for (const source of SOURCES) if (![...byKey.values()].some((s) => s.source === source)) get(source, "");
  const out = [...byKey.values()];
  for (const s of out) {
    if (s.lastReceivedAt) {
      s.silentMinutes = Math.max(0, Math.floor((now.getTime() - Date.parse(s.lastReceivedAt)) / 60_000));
      s.fresh = s.silentMinutes <= s.limitMinutes;
    }
  }
  return out.sort((a, b) => a.source.localeCompare(b.source) || a.shop.localeCompare(b.shop));
}
