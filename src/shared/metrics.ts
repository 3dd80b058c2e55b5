/**
 * Workers Analytics Engine data points (`METRICS`, dataset `commerce_pipeline`).
 * Layout: blob1 stage, blob2 source, blob3 topic, blob4 origin; double1 count,
 * double2 lag in ms (event time → this stage). Writing a data point never throws
 * into the pipeline: metrics are best-effort, the ledger is the record.
 */
export interface MetricPoint {
  stage: "accepted" | "archived" | "applied" | "quarantined" | "retried" | "dead_lettered";
  source: string;
  topic: string;
  origin: string;
  lagMs?: number;
}

export function recordMetric(env: Env, p: MetricPoint): void {
  try {
    env.METRICS?.writeDataPoint({
      indexes: [p.source],
      blobs: [p.stage, p.source, p.topic, p.origin],
      doubles: [1, p.lagMs ?? 0],
    });
  } catch {
    // Analytics Engine unavailable: nothing to recover, the ledger still records the event.
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

export function recordDqMetric(env: Env, m: { check: string; subject: string; outcome: string; value: number }): void {
  write(env, m.subject, ["dq_check", m.subject, m.check, m.outcome], [1, 0, m.value]);
}

export function recordAlertMetric(env: Env, m: { source: string | null; rule: string; outcome: string }): void {
  write(env, m.source ?? "", ["alert", m.source ?? "", m.rule, m.outcome], [1, 0]);
}

function write(env: Env, index: string, blobs: string[], doubles: number[]): void {
  try {
    env.METRICS?.writeDataPoint({ indexes: [index.slice(0, 96)], blobs, doubles });
  } catch {
    // Best effort, as above: the D1 tables hold the record of every run.
  }
}
