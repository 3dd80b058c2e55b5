/**
 * Where scheduled runs leave their record: a JSON document per run in R2
 * (`metadata/{job}/dt=YYYY-MM-DD/{runId}.json`, the contract's layout, partitioned by
 * the run's own time so a day's runs are one prefix) and rows in D1 for queries. The R2
 * write comes first: a D1 row never points at a report that does not exist.
 */
import { drizzle } from "drizzle-orm/d1";
import { recordReconcileMetric } from "../shared/metrics";
import { reconcileRuns } from "../shared/schema/cron";
import { partitionOf } from "../shared/time";
import { sharedDatabase } from "../tables/database";
import { type ScopeReport, totals } from "./reconcile/types";

export function reconcileReportKey(runId: string, startedAt: string): string {
  return `metadata/reconcile/dt=${partitionOf(startedAt).dt}/${runId}.json`;
}

export function dataQualityReportKey(runId: string, startedAt: string): string {
  return `metadata/data_quality/dt=${partitionOf(startedAt).dt}/${runId}.json`;
}

/** A run id usable in an R2 key: `{job}-{YYYYMMDDTHHMMSSZ}-{random}`. */
export function newRunId(job: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  return `${job}-${stamp}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function putJson(bucket: R2Bucket, key: string, doc: unknown): Promise<void> {
  await bucket.put(key, JSON.stringify(doc, null, 2), { httpMetadata: { contentType: "application/json" } });
}

export async function storeReconcileReport(
  env: Env,
  run: { runId: string; startedAt: string; finishedAt: string },
  scopes: readonly ScopeReport[],
): Promise<string> {
  const key = reconcileReportKey(run.runId, run.startedAt);
  await putJson(env.LAKE, key, {
    run_id: run.runId,
    job: "reconcile",
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    scopes: scopes.map((s) => ({ ...s, totals: totals(s) })),
  });
  if (scopes.length > 0) {
    const rows = scopes.map((s) => {
      const t = totals(s);
      return {
        runId: run.runId,
        source: s.source,
        scope: s.scope,
        status: s.status,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        windowFrom: s.windowFrom,
        windowTo: s.windowTo,
        lookedAt: t.lookedAt,
        missing: t.missing,
        stale: t.stale,
        repaired: t.repaired,
        apiCalls: s.apiCalls,
        apiCost: s.apiCost,
        error: s.error ?? s.note,
        reportKey: key,
        pages: s.pages,
        stoppedBy: s.stoppedBy,
        lagSeconds: s.lagSeconds,
      };
    });
    // Small rows (19 columns): five per statement keeps each under D1's 100 bound parameters.
    const db = drizzle(sharedDatabase(env));
    for (let i = 0; i < rows.length; i += 5) {
      await db
        .insert(reconcileRuns)
        .values(rows.slice(i, i + 5))
        .onConflictDoNothing();
    }
  }
  // One point per source and resource, summed over scopes: a run over hundreds of shops would
  // otherwise pass the 250 Analytics Engine points an invocation may write.
  const points = new Map<string, Parameters<typeof recordReconcileMetric>[1]>();
  for (const s of scopes) {
    for (const [resource, t] of Object.entries(s.resources)) {
      const k = `${s.source}\u0000${resource}`;
      const p = points.get(k) ?? {
        source: s.source,
        resource,
        lookedAt: 0,
        missing: 0,
        stale: 0,
        repaired: 0,
        apiCost: 0,
      };
      p.lookedAt += t.lookedAt;
      p.missing += t.missing;
      p.stale += t.stale;
      p.repaired += t.repaired;
      p.apiCost += s.apiCost;
      points.set(k, p);
    }
  }
  for (const p of points.values()) recordReconcileMetric(env, p);
  return key;
}
