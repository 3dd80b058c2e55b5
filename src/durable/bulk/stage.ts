/**
 * Stage 2 of ingest: stream the archived result back from R2 (gunzip, split lines) and
 * write every line into the coordinator's `staged` table with its id and parent id, in
 * chunks whose rows commit together with the job's `linesRead`. A resumed run re-reads
 * the archive and skips the lines already staged: gzip cannot be entered mid-stream, so
 * resuming costs a re-decompression of the prefix (cheap next to parsing), and no line is
 * staged twice or skipped. Lines are not parsed here — only their ids are read — so the
 * full parse happens once, in the apply stage.
 */

import type { Job } from "../job";
import type { JobStore, StagedLine } from "../job-store";
import { gunzipIfNeeded, jsonlLines, lineIds } from "./stream";

/** A DO SQLite value is at most 2 MB; longer lines are counted invalid rather than failing the export. */
const MAX_LINE_CHARS = 1_900_000;

export interface StageDeps {
  bucket: R2Bucket;
  store: JobStore;
  chunkLines: number;
  now: () => string;
  /** Called after each committed chunk (e.g. to mirror progress to D1, throttled by the caller). */
  progress?: (job: Job) => Promise<void>;
  fault?: (point: "stage:beforeCommit", job: Job) => void;
}

export type StageOutcome = { kind: "done"; job: Job } | { kind: "missing"; job: Job };

export async function stageArchive(deps: StageDeps, start: Job): Promise<StageOutcome> {
  const key = start.r2Key;
  if (!key) throw new Error(`bulk job ${start.id} has no archive key`);
  const object = await deps.bucket.get(key);
  if (!object) return { kind: "missing", job: start };

  let job = start;
  const skip = job.linesRead;
  let line = 0;
  let { parents, children, invalid, firstInvalid } = job;
  let pending: StagedLine[] = [];

  const commit = async () => {
    const next: Job = { ...job, linesRead: line, parents, children, invalid, firstInvalid, updatedAt: deps.now() };
    deps.store.stage(next, pending, () => deps.fault?.("stage:beforeCommit", next));
    job = next;
    pending = [];
    await deps.progress?.(job);
  };

  const text = await gunzipIfNeeded(object.body);
  for await (const batch of jsonlLines(text)) {
    for (const body of batch.lines) {
      if (line < skip) {
        line++;
        continue;
      }
      const ids = body.length <= MAX_LINE_CHARS ? lineIds(body) : null;
      if (ids === null) {
        invalid++;
        firstInvalid ??= `line ${line + 1}: ${body.length > MAX_LINE_CHARS ? "line too long" : "not a JSON object with an id"}`;
      } else {
        pending.push({ line, id: ids.id, parentId: ids.parentId, body });
        if (ids.parentId === null) parents++;
        else children++;
      }
      line++;
      if (pending.length >= deps.chunkLines) await commit();
    }
  }
  await commit();
  return { kind: "done", job: { ...job, status: "applying", ingestStartedAt: job.ingestStartedAt ?? deps.now() } };
}
