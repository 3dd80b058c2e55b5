/**
 * Stage 2 of ingest: stream the archived result back from R2 (gunzip, split lines) and
 * write every line into the coordinator's `staged` table with its id and parent id, in
 * chunks whose rows commit together with the job's `linesRead`. A resumed run re-reads
 * the archive and skips the lines already staged: gzip cannot be entered mid-stream, so
 * resuming costs a re-decompression of the prefix (cheap next to parsing), and no line is
 * staged twice or skipped. Lines are not parsed here — only their ids are read — so the
 * full parse happens once, in the apply stage.
 *
 * Most children follow their parent within a few lines, so a child whose parent is still in the
 * chunk being staged (a bounded window: what one commit holds) is appended to the parent's row
 * (`body` = parent line + "\n" + child lines, which JSONL lines can never contain), and only
 * children whose parent already left the window (or is not seen yet) get rows of their own, to
 * be joined at apply. Each line is still staged exactly once, in the same transaction as the
 * progress that counts it; a file of parents followed by their children writes one row per parent.
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
  /** Parents staged in this chunk, by id: their children can ride in their row. Null: id seen twice. */
  let window = new Map<string, StagedLine | null>();

  const commit = async () => {
    const next: Job = { ...job, linesRead: line, parents, children, invalid, firstInvalid, updatedAt: deps.now() };
    deps.store.stage(next, pending, () => deps.fault?.("stage:beforeCommit", next));
    job = next;
    pending = [];
    window = new Map();
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
      } else if (ids.parentId === null) {
        const staged: StagedLine = { line, id: ids.id, parentId: null, body };
        pending.push(staged);
        // Two parents with one id keep the join's rule (children go to both): neither takes riders.
        window.set(ids.id, window.has(ids.id) ? null : staged);
        parents++;
      } else {
        const parent = window.get(ids.parentId);
        if (parent && parent.body.length + 1 + body.length <= MAX_LINE_CHARS) parent.body += `\n${body}`;
        else {
          // A full row takes no more riders, so its riders stay ahead of its staged children.
          if (parent) window.set(ids.parentId, null);
          pending.push({ line, id: ids.id, parentId: ids.parentId, body });
        }
        children++;
      }
      line++;
      // A chunk is `chunkLines` lines of the file, however few rows its riders left.
      if (line - job.linesRead >= deps.chunkLines) await commit();
    }
  }
  await commit();
  return { kind: "done", job: { ...job, status: "applying", ingestStartedAt: job.ingestStartedAt ?? deps.now() } };
}
