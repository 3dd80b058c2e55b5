/**
 * The `compact` job (daily): compaction of the raw archive into
 * `processed/{source}/{table}/dt=…/part-*.parquet` is not built. The job exists so the
 * schedule, the on-demand route and the logs are in place; it writes nothing and says
 * so, rather than producing files that look like Parquet output and are not.
 */
import { log } from "../shared/log";

export interface CompactResult {
  implemented: false;
  message: string;
}

export async function runCompact(run: { runId: string }): Promise<CompactResult> {
  const message = "Compaction to Parquet is not implemented; nothing was written.";
  log.warn("compact job not implemented", { runId: run.runId });
  return { implemented: false, message };
}
