/**
 * The `health` job (every 5 minutes): evaluates the pipeline-health rules (./rules.ts) and raises
 * what they find as alerts, deduplicated like every other alert (`ALERT_DEDUP_MINUTES` per key).
 * A failed export or backfill is one alert for good (its key is the operation), never a repeat
 * every run. One lease (`health`), so overlapping runs skip. Delivery follows, as for every job.
 */
import { type AlertDraft, raiseAlert } from "../../shared/alerts";
import { log } from "../../shared/log";
import { cronSettings } from "../../shared/settings";
import { sharedDatabase } from "../../tables/database";
import { withLease } from "../lease";
import {
  errorRate,
  failedLoads,
  type HealthContext,
  pipelineLag,
  privacyStalled,
  rechargeWebhookFailing,
  retryBacklog,
  silentInActiveHours,
} from "./rules";
import { healthSettings } from "./settings";

export interface HealthResult {
  skipped: boolean;
  raised: Array<{ rule: string; key: string; title: string }>;
}

const ONCE_MS = 7 * 24 * 3600 * 1000;

export async function runHealth(env: Env, run: { runId: string; now: Date }): Promise<HealthResult> {
  const outcome = await withLease(sharedDatabase(env), "health", run.runId, run.now, async () => {
    const ctx: HealthContext = { db: sharedDatabase(env), now: run.now, settings: healthSettings(env) };
    const recurring = [
      ...(await retryBacklog(ctx)),
      ...(await errorRate(ctx)),
      ...(await pipelineLag(ctx)),
      ...(await silentInActiveHours(ctx)),
      ...(await rechargeWebhookFailing(ctx)),
      ...(await privacyStalled(ctx)),
    ];
    const once = await failedLoads(ctx);
    const now = run.now.toISOString();
    const dedupMs = cronSettings(env).alertDedupMs;
    const statements = [
      ...recurring.flatMap((d) => raiseAlert(sharedDatabase(env), d, now, dedupMs)),
      // Insert only (no occurrence bump): the same failure is seen by every run for a day.
      ...once.flatMap((d) => raiseAlert(sharedDatabase(env), d, now, ONCE_MS).slice(1)),
    ];
    if (statements.length > 0) await sharedDatabase(env).batch(statements);
    const raised = [...recurring, ...once].map((d: AlertDraft) => ({ rule: d.rule, key: d.key, title: d.title }));
    if (raised.length > 0)
      log.warn("pipeline health", { runId: run.runId, raised: raised.map((r) => r.key).join(", ") });
    return raised;
  });
  if (outcome.skipped) return { skipped: true, raised: [] };
  return { skipped: false, raised: outcome.value };
}
