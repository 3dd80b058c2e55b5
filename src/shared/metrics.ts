/**
 * Workers Analytics Engine data points (`METRICS`, dataset `commerce_pipeline`).
 * Layout: blob1 stage, blob2 source, blob3 topic, blob4 origin; double1 count,
 * double2 lag in ms summed over the counted events (event time → this stage; average lag is
 * sum(double2) / sum(double1)). An invocation may write at most 250 points: a job that sends
 * thousands of events writes one point per stage, source, topic and origin (`recordMetrics`),
 * not one per event. Writing a data point never throws into the pipeline: metrics are
 * best-effort, the ledger is the record; a refused write is logged, not hidden.
 */
import { describeError, log } from "./log";

export interface MetricPoint {
  stage: "accepted" | "archived" | "applied" | "quarantined" | "retried" | "dead_lettered";
  source: string;
  topic: string;
  origin: string;
  lagMs?: number;
}

export function recordMetric(env: Env, p: MetricPoint): void {
  write(env, p.source, [p.stage, p.source, p.topic, p.origin], [1, p.lagMs ?? 0]);
}

/** Many events as one point per stage, source, topic and origin (count and summed lag). */
export function recordMetrics(env: Env, points: Iterable<MetricPoint>): void {
  const groups = new Map<string, { p: MetricPoint; n: number; lag: number }>();
  for (const p of points) {
    const key = `${p.stage}\u0000${p.source}\u0000${p.topic}\u0000${p.origin}`;
    const g = groups.get(key);
    if (g) {
      g.n++;
      g.lag += p.lagMs ?? 0;
    } else groups.set(key, { p, n: 1, lag: p.lagMs ?? 0 });
  }
  for (const { p, n, lag } of groups.values()) {
    write(env, p.source, [p.stage, p.source, p.topic, p.origin], [n, lag]);
  }
}

/*
 * Scheduled-job points share the dataset, told apart by blob1:
 * - `reconciled`: blob2 source, blob3 resource, blob4 "reconcile"; double1 repaired, double3 looked at,
 *   double4 missing, double5 stale, double6 API cost (Shopify points, else requests).
 * - `dq_check`: blob2 subject (a source, source/resource, shop or "all"), blob3 check, blob4 outcome
 *   (PASS/WARN/FAIL); double1 1, double3 the check's measured value.
 * - `alert`: blob2 source ("" when none), blob3 rule, blob4 delivery outcome (sent/retry/failed/expired); double1 1.
 */
export interface ReconcileMetric {
  source: string;
  resource: string;
  lookedAt: number;
  missing: number;
  stale: number;
  repaired: number;
  apiCost: number;
}

export function recordReconcileMetric(env: Env, m: ReconcileMetric): void {
  write(
    env,
    m.source,
    ["reconciled", m.source, m.resource, "reconcile"],
    [m.repaired, 0, m.lookedAt, m.missing, m.stale, m.apiCost],
  );
}

interface DqMetric {
  check: string;
  subject: string;
  outcome: string;
  value: number;
}

/** Per-subject points of a run beyond which passing results are counted per check instead. */
const DQ_POINTS = 150;

/**
 * A data-quality run's results: one point each while they are few; past DQ_POINTS (a run over
 * hundreds of shops), WARN and FAIL results keep theirs and passing ones become one point per
 * check with subject `*` and double1 their count, so a run stays under 250 points.
 */
export function recordDqMetrics(env: Env, results: readonly DqMetric[]): void {
  const each = results.length <= DQ_POINTS ? results : results.filter((r) => r.outcome !== "PASS").slice(0, DQ_POINTS);
  for (const m of each) write(env, m.subject, ["dq_check", m.subject, m.check, m.outcome], [1, 0, m.value]);
  if (each.length === results.length) return;
  const kept = new Set(each);
  const rest = new Map<string, { check: string; outcome: string; n: number }>();
  for (const r of results) {
    if (kept.has(r)) continue;
    const key = `${r.check}\u0000${r.outcome}`;
    const g = rest.get(key) ?? { check: r.check, outcome: r.outcome, n: 0 };
    g.n++;
    rest.set(key, g);
  }
  for (const g of rest.values()) write(env, "*", ["dq_check", "*", g.check, g.outcome], [g.n, 0, 0]);
}

export function recordAlertMetric(env: Env, m: { source: string | null; rule: string; outcome: string }): void {
  write(env, m.source ?? "", ["alert", m.source ?? "", m.rule, m.outcome], [1, 0]);
}

function write(env: Env, index: string, blobs: string[], doubles: number[]): void {
  try {
    env.METRICS?.writeDataPoint({ indexes: [index.slice(0, 96)], blobs, doubles });
  } catch (err) {
    // Best effort, as above: the D1 tables hold the record of every run. Logged, so a lost
    // point (Analytics Engine down, or past the 250 points of an invocation) is seen.
    log.warn("analytics engine point not written", { stage: blobs[0], error: describeError(err) });
  }
}
