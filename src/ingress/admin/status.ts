/**
 * The operator's view of the pipeline: ledger counts per source and status, the
 * last event per source, and how many objects sit in quarantine and dead-letter.
 */
import { DEAD_LETTER_PREFIX, QUARANTINE_PREFIX } from "../../shared/keys";

export interface PipelineStatus {
  ledger: Array<{ source: string; status: string; count: number }>;
  lastEvents: Array<{ source: string; lastReceivedAt: string; lastEventAt: string }>;
  quarantine: ObjectCount;
  deadLetter: ObjectCount;
}

interface ObjectCount {
  objects: number;
  /** True when counting stopped at the cap: there are at least `objects`. */
  truncated: boolean;
}

const MAX_LIST_PAGES = 10;

export async function pipelineStatus(env: Env): Promise<PipelineStatus> {
  const [ledger, last, quarantine, deadLetter] = await Promise.all([
    env.DB.prepare(
      "SELECT source, status, count(*) AS count FROM webhook_events GROUP BY source, status ORDER BY source, status",
    ).all<{ source: string; status: string; count: number }>(),
    env.DB.prepare(
      "SELECT source, max(received_at) AS lastReceivedAt, max(event_at) AS lastEventAt FROM webhook_events GROUP BY source ORDER BY source",
    ).all<{ source: string; lastReceivedAt: string; lastEventAt: string }>(),
    countObjects(env.LAKE, QUARANTINE_PREFIX),
    countObjects(env.LAKE, DEAD_LETTER_PREFIX),
  ]);
  return { ledger: ledger.results, lastEvents: last.results, quarantine, deadLetter };
}

async function countObjects(bucket: R2Bucket, prefix: string): Promise<ObjectCount> {
  let objects = 0;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const listed = await bucket.list({ prefix, cursor, limit: 1000 });
    objects += listed.objects.length;
    if (!listed.truncated) return { objects, truncated: false };
    cursor = listed.cursor;
  }
  return { objects, truncated: true };
}
