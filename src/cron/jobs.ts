/**
 * Scheduled jobs, dispatched on `controller.cron`. The schedules are declared in
 * wrangler.toml; the jobs behind them (reconciliation, data quality, compaction)
 * are not built yet, so each run only logs that it found nothing to do.
 */
import { log } from "../shared/log";

export const SCHEDULES: Record<string, string> = {
  "*/15 * * * *": "reconcile",
  "5 * * * *": "data-quality",
  "30 3 * * *": "compact",
};

export async function runScheduled(controller: ScheduledController, _env: Env): Promise<void> {
  const job = SCHEDULES[controller.cron];
  if (!job) {
    log.warn("no job for cron schedule", { cron: controller.cron });
    return;
  }
  log.info("scheduled job has no work yet", { job, cron: controller.cron });
}
