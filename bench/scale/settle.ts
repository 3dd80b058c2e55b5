/**
 * Between two jobs of the scale run: what a failed job left behind is cleared, so the next job is
 * measured on its own and not through the previous one's failure. A run that died holding its
 * lease keeps it for 16 minutes (src/cron/lease.ts), which production waits out and the run does
 * not; compaction that could not finish leaves its marks, which every later run (the privacy
 * job's re-compaction too) would meet first; a bulk export that failed keeps its coordinator's
 * alarm, which would fire during later jobs. Each clearing is printed, so the table says so.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { type JobLine, passed, print } from "./meter";
import { SHOP } from "./world";

async function count(sql: string): Promise<number> {
  return (await env.DB.prepare(sql).first<{ n: number }>())?.n ?? 0;
}

export async function settle(line: JobLine): Promise<void> {
  const leases = await count("SELECT count(*) AS n FROM job_leases");
  if (leases > 0) {
    await env.DB.prepare("DELETE FROM job_leases").run();
    print(`    harness: released ${leases} lease(s) a failed run still held`);
  }
  const marks =
    line.name.startsWith("compact") && !passed(line)
      ? await count("SELECT count(*) AS n FROM lake_changes WHERE dt <> 'snapshot'")
      : 0;
  if (marks > 0) {
    await env.DB.prepare("DELETE FROM lake_changes WHERE dt <> 'snapshot'").run();
    print(`    harness: cleared ${marks} table-day marks compaction left, so later jobs start from a compacted lake`);
  }
  const coordinator = env.SHOP.getByName(SHOP);
  if (line.name.startsWith("bulk") && !passed(line)) {
    const { canceled } = await coordinator.stopJobs();
    print(`    harness: canceled ${canceled.length} export(s) the failed run left running`);
  }
  await runInDurableObject(coordinator, (_, state) => state.storage.deleteAlarm());
}
