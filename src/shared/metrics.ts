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
