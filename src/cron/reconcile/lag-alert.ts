/**
 * `reconcile_lag_growing`: a scope that ends run after run behind, and further behind each time,
 * is one reconciliation will not catch up with at its current budget (a shop changing faster than
 * its rate limit or its share of a run lets it be read, a source throttling every run). The rule
 * reads each scope's latest runs from `reconcile_runs` (the run that just stored its rows
 * included, those that deferred it left out): it fires when the last `runs` of them all left the
 * scope unfinished (not `done`) and each one's lag was larger than the one before. Raised like the health rules (src/shared/alerts.ts),
 * one alert per scope within `ALERT_DEDUP_MINUTES`, repeats counted as occurrences.
 */
import { type AlertDraft, raiseAlert } from "../../shared/alerts";
import type { Source } from "../../shared/envelope";

interface RunRow {
  source: Source;
  scope: string;
  stoppedBy: string | null;
  lagSeconds: number | null;
  pages: number;
  startedAt: string;
}

/**
 * A run that caught up, or one whose scope was not reconciled for another reason, breaks the streak.
 * Runs that deferred the scope are left out: waiting its turn among many shops is not falling behind
 * (its lag shows it), failing to catch up when served is.
 */
const BEHIND = new Set(["share", "wall_time", "subrequests", "d1_queries", "max_pages", "throttled"]);
/** Alerts one run raises at most (two D1 statements each, from the run's reserve); the rest come next run. */
const MAX_ALERTS = 20;

const duration = (s: number) =>
  s >= 86_400
    ? `${(s / 86_400).toFixed(1)} days`
    : s >= 3_600
      ? `${(s / 3_600).toFixed(1)} h`
      : `${Math.round(s / 60)} min`;

/** The alerts for scopes whose lag grew over each of their last `runs` runs. */
export async function lagGrowing(
  db: D1Database,
  scopes: ReadonlyArray<{ source: Source; scope: string }>,
  runs: number,
): Promise<AlertDraft[]> {
  if (scopes.length === 0) return [];
  // The latest `runs` rows of each scope the run reported: one query, an index range per scope.
  const { results } = await db
    .prepare(
      `SELECT r.source, r.scope, r.stopped_by AS stoppedBy, r.lag_seconds AS lagSeconds, r.pages,
         r.started_at AS startedAt
       FROM json_each(?1) s
       JOIN reconcile_runs r ON r.source = s.value ->> '$[0]' AND r.scope = s.value ->> '$[1]'
         AND r.started_at IN (SELECT started_at FROM reconcile_runs
           WHERE source = r.source AND scope = r.scope AND coalesce(stopped_by, '') <> 'deferred'
           ORDER BY started_at DESC LIMIT ?2)
       ORDER BY r.source, r.scope, r.started_at DESC`,
    )
    .bind(JSON.stringify(scopes.map((s) => [s.source, s.scope])), runs)
    .all<RunRow>();
  const byScope = new Map<string, RunRow[]>();
  for (const row of results) {
    const k = `${row.source}\u0000${row.scope}`;
    byScope.set(k, [...(byScope.get(k) ?? []), row]);
  }
  const drafts: AlertDraft[] = [];
  for (const rows of byScope.values()) {
    if (rows.length < runs) continue;
    // Newest first: each run's lag must be above the next older one's.
    const growing = rows.every(
      (r, i) =>
        BEHIND.has(r.stoppedBy ?? "") &&
        r.lagSeconds !== null &&
        (i === rows.length - 1 || r.lagSeconds > (rows[i + 1]?.lagSeconds ?? Number.POSITIVE_INFINITY)),
    );
    if (!growing) continue;
    if (drafts.length >= MAX_ALERTS) break;
    const newest = rows[0] as RunRow;
    const oldest = rows.at(-1) as RunRow;
    const lag = newest.lagSeconds ?? 0;
    drafts.push({
      rule: "reconcile_lag_growing",
      key: `reconcile_lag_growing:${newest.source}:${newest.scope}`,
      severity: "warning",
      title: `Reconciliation of ${newest.source} ${newest.scope} is ${duration(lag)} behind and falling further behind`,
      fields: [
        {
          name: "lag",
          value: `${duration(oldest.lagSeconds ?? 0)} → ${duration(lag)} over the last ${rows.length} runs`,
        },
        { name: "stopped by", value: [...new Set(rows.map((r) => r.stoppedBy))].join(", ") },
        { name: "pages per run", value: rows.map((r) => String(r.pages)).join(", ") },
        {
          name: "what to do",
          value:
            newest.stoppedBy === "throttled"
              ? "the source's rate limit stops every run: look for other clients spending it (bulk exports, apps)"
              : "each run's budget is spent before the scope catches up: raise RECONCILE_RUN_SECONDS or " +
                "RECONCILE_MAX_PAGES if it is the cap, or run a backfill for the gap",
        },
      ],
      source: newest.source,
      eventId: null,
    });
  }
  return drafts;
}

/** The statements raising `drafts` at `now`, deduplicated like every alert. */
export function raiseLagAlerts(db: D1Database, drafts: readonly AlertDraft[], now: string, dedupMs: number) {
  return drafts.flatMap((d) => raiseAlert(db, d, now, dedupMs));
}
