/**
 * Ingest of an archived bulk result, streamed back from R2 (gunzip, split lines):
 *
 * Pass 1 (`streamArchive`, status `staging`): each parent line is held in a bounded in-memory
 * window (the last 1,000 parents) with the children that follow it, and applied (./apply.ts) when
 * it leaves the window. Shopify writes a parent's children after it, nearly always close by, so
 * nearly every child joins its parent in memory and nothing is written to local storage. A child
 * whose parent is not in the window (it came first, or far later) is a stray: it is staged in the
 * coordinator's SQLite with its id and parent id. Every `chunkLines` lines the chunk commits its
 * strays and the window's parents (with the children that joined them) together with the job's
 * `linesRead` and counts, after the D1 batches of the parents that left the window: a crash re-reads
 * from the last commit with the window it kept, re-applies what the lost chunk applied (same
 * version, same rows), and no line is counted twice.
 * A resumed run starts at the archive part that holds its line (./parts.ts), so its cost does not
 * grow with its offset. The parent ids read so far (a 2 MB Bloom filter, below) are kept with the
 * line they cover whenever a pass stops and every FILTER_EVERY_LINES lines; a pass resumed after a
 * crash reads the lines between that line and its checkpoint again only to add their ids.
 *
 * Pass 2 (`collectStrays`, status `applying`, only when there are strays): the archive is read
 * again and the parents the strays name are staged with their other children; ./apply.ts
 * `applyBatch` then applies each of them again with every child in file order. A parent id on more
 * than one line (versions of one order) goes to pass 2 the same way, with a mark in place of a stray:
 * each of its lines takes every child with that id, as a join would give them.
 */

import type { Job } from "../job";
import type { JobStore, StagedLine } from "../job-store";
import { type ApplyDeps, applyParents, type ParentLines } from "./apply";
import { IdFilter } from "./id-filter";
import { isPartsLayout, PartMissing, readParts, startPart } from "./parts";
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
  /** Parents the streaming window holds at most (default 1,000). */
  windowParents?: number;
  /** Called after each D1 batch the pass writes (a run's batches are capped: each is a subrequest). */
  countBatch?: () => void;
  /** True when the pass should stop at the next chunk boundary and resume at the next run. */
  yieldNow?: () => boolean;
  /** True when the chunk should be committed now, before its `chunkLines` (a pass out of budget). */
  commitNow?: () => boolean;
  fault?: (point: "stage:beforeCommit", job: Job) => void;
}

/** `done`: the pass read the whole archive; `more`: it stopped at a chunk boundary; `missing`: no archive. */
export type StageOutcome = { kind: "done" | "more" | "missing"; job: Job };

/**
 * The lines of the archive from `skip` on, with their line numbers; the lines from `from` (≤ `skip`)
 * to `skip` go to `skipped`, if given. A parts archive (./parts.ts) is read from the part that holds
 * line `from`; an older deploy's single object from its first line. Throws ArchiveMissing when the
 * archive (or one of its parts) is gone.
 */
async function* archiveLines(
  bucket: R2Bucket,
  job: Job,
  from: number,
  skip: number,
  skipped?: (body: string) => void,
): AsyncGenerator<{ line: number; body: string }, void, undefined> {
  const key = job.r2Key;
  if (!key) throw new Error(`bulk job ${job.id} has no archive key`);
  let line = 0;
  let text: ReadableStream<Uint8Array>;
  if (isPartsLayout(job) && job.archiveParts) {
    const start = startPart(job.archiveParts, from);
    line = start.firstLine;
    text = readParts(bucket, key, job.archiveParts.length, start.index);
  } else {
    const object = await bucket.get(key);
    if (!object) throw new ArchiveMissing();
    text = await gunzipIfNeeded(object.body);
  }
  try {
    for await (const batch of jsonlLines(text)) {
      for (const body of batch.lines) {
        if (line >= skip) yield { line, body };
        else if (line >= from) skipped?.(body);
        line++;
      }
    }
  } catch (err) {
    if (err instanceof PartMissing) throw new ArchiveMissing();
    throw err;
  }
}

class ArchiveMissing extends Error {}

/**
 * A copy of a line (or of an id read from it) that does not keep the decoded chunk it was split from
 * alive (a split line is a slice of it): text held until the next commit would otherwise hold a chunk each.
 */
function detach<T extends string | null>(text: T): T {
  return (text === null ? null : JSON.parse(JSON.stringify(text))) as T;
}

function ids(body: string): ReturnType<typeof lineIds> {
  return body.length <= MAX_LINE_CHARS ? lineIds(body) : null;
}

/** Parents held in the window at most, and the text they may hold: what bounds pass 1's memory. */
const WINDOW_PARENTS = 1000;
const WINDOW_CHARS = 4_000_000;
/** Lines between two keepings of the id filter: what a pass resumed after a crash reads again at most. */
const FILTER_EVERY_LINES = 500_000;
/** Text to stage held until the next commit at most (strays, or the second pass's lines): a commit comes sooner then. */
const STRAY_CHARS = 4_000_000;

/**
 * Pass 1: read; hold each parent in a window (the last WINDOW_PARENTS parents) where the children
 * that follow it join it; apply parents as they leave the window; stage children whose parent is
 * not in it. Every `chunkLines` lines the chunk is committed: its strays, the window, `linesRead`
 * and counts in one local transaction, after the D1 batches of the parents it applied.
 */
export async function streamArchive(deps: StageDeps & { apply: ApplyDeps }, start: Job): Promise<StageOutcome> {
  /** The committed checkpoint, and the chunk's progress on top of it (committed at the next commit). */
  let job = start;
  let cur = start;
  let { parents, children, invalid, firstInvalid } = job;
  let line = job.linesRead;
  const windowParents = deps.windowParents ?? WINDOW_PARENTS;
  /** The window in file order from `head`, and by id. Null: the id was seen twice. */
  let queue: WindowParent[] = [];
  let head = 0;
  const window = new Map<string, WindowParent | null>();
  let windowChars = 0;
  // The window as the last commit left it (a resumed pass starts where that one stood).
  for (const h of deps.store.held(job.id)) {
    const [parentLine = "", ...kids] = h.body.split("\n");
    const parent: WindowParent = { line: h.line, id: h.id, parentLine, kids, chars: h.body.length };
    queue.push(parent);
    windowChars += parent.chars;
    window.set(h.id, h.open ? parent : null);
  }
  let ready: ParentLines[] = [];
  let strays: StagedLine[] = [];
  let strayChars = 0;
  // Every parent id read so far, the resumed prefix's included: a parent whose id was read before is
  // another version of an order already applied (or held), and the second pass must join every line
  // with that id, as a stray's parent is.
  const archive = job.r2Key ?? "";
  const kept = deps.store.loadFilter(job.id, archive);
  const keptFilter = kept && kept.line <= job.linesRead ? IdFilter.from(kept.bits) : null;
  const seen = keptFilter ?? new IdFilter();
  /** The line the filter covers up to: the lines from there to the checkpoint are read for their ids. */
  let filterLine = keptFilter && kept ? kept.line : 0;
  const keepFilter = () => {
    deps.store.saveFilter(job.id, archive, job.linesRead, seen.bytes());
    filterLine = job.linesRead;
  };
  const seenParent = (body: string) => {
    const found = ids(body);
    if (found !== null && found.parentId === null) seen.add(found.id);
  };

  const applyReady = async (all: boolean) => {
    while (ready.length > 0 && (all || ready.length >= deps.apply.parentsPerBatch)) {
      cur = { ...cur, parents, children, invalid, firstInvalid };
      const out = await applyParents(deps.apply, cur, ready.slice(0, deps.apply.parentsPerBatch), false);
      deps.countBatch?.();
      cur = out.job;
      // Lines that map to no rows are invalid too.
      ({ invalid, firstInvalid } = cur);
      ready = ready.slice(out.taken);
    }
  };
  const evict = () => {
    const p = queue[head++] as WindowParent;
    // Drop the evicted from the queue now and then: it would hold the chunk's text.
    if (head >= 1024) {
      queue = queue.slice(head);
      head = 0;
    }
    windowChars -= p.chars;
    const kept = window.get(p.id);
    // A closed id (seen twice, or full) stays closed while another parent with it is in the window.
    if (kept === p || (kept === null && !queue.some((q, i) => i >= head && q.id === p.id))) window.delete(p.id);
    ready.push(p);
  };
  /** Commits the chunk: the parents that left the window are applied, the others kept with it (all applied at the end). */
  const commit = async (end: boolean) => {
    if (end) while (head < queue.length) evict();
    await applyReady(true);
    const next: Job = { ...cur, parents, children, invalid, firstInvalid, linesRead: line, updatedAt: deps.now() };
    const held = queue.slice(head).map((p) => ({
      line: p.line,
      id: p.id,
      body: [p.parentLine, ...p.kids].join("\n"),
      open: window.get(p.id) === p,
    }));
    deps.store.stage(next, strays, held, () => deps.fault?.("stage:beforeCommit", next));
    job = next;
    cur = next;
    strays = [];
    strayChars = 0;
    await deps.progress?.(job);
  };

  try {
    for await (const { line: at, body } of archiveLines(deps.bucket, job, filterLine, job.linesRead, seenParent)) {
      const found = ids(body);
      if (found === null) {
        invalid++;
        firstInvalid ??= `line ${at + 1}: ${body.length > MAX_LINE_CHARS ? "line too long" : "not a JSON object with an id"}`;
      } else if (found.parentId === null) {
        const parent: WindowParent = { line: at, id: found.id, parentLine: body, kids: [], chars: body.length };
        queue.push(parent);
        windowChars += body.length;
        // Two parents with one id keep the join's rule (each takes every child with that id, wherever it
        // is): neither takes riders, and a mark sends the id to the second pass, even with no stray.
        const again = window.has(found.id) || seen.has(found.id);
        window.set(found.id, again ? null : parent);
        seen.add(found.id);
        if (again) {
          const id = detach(found.id);
          strays.push({ line: -1 - at, id, parentId: id, body: "", stray: false, revisit: true });
        }
        parents++;
        while (queue.length - head > windowParents || (windowChars > WINDOW_CHARS && head < queue.length - 1)) evict();
        await applyReady(false);
      } else {
        const parent = window.get(found.parentId);
        // A parent kept at a commit is one stored value: a full one takes no more children.
        if (parent && parent.chars + 1 + body.length > MAX_LINE_CHARS) window.set(found.parentId, null);
        if (parent && window.get(found.parentId) === parent) {
          parent.kids.push(body);
          parent.chars += 1 + body.length;
          windowChars += 1 + body.length;
        } else {
          strays.push({
            line: at,
            id: detach(found.id),
            parentId: detach(found.parentId),
            body: detach(body),
            stray: true,
          });
          strayChars += body.length;
        }
        children++;
      }
      line = at + 1;
      // A pass past its budget (time, D1 queries) commits at once, not at the chunk's end: the
      // parents that leave the window between two commits cost D1 batches of their own.
      if (line - job.linesRead >= deps.chunkLines || strayChars > STRAY_CHARS || deps.commitNow?.()) {
        await commit(false);
        if (deps.yieldNow?.()) {
          keepFilter();
          return { kind: "more", job };
        }
        if (job.linesRead - filterLine >= FILTER_EVERY_LINES) keepFilter();
      }
    }
  } catch (err) {
    if (err instanceof ArchiveMissing) return { kind: "missing", job: start };
    throw err;
  }
  await commit(true);
  return { kind: "done", job: { ...job, ingestStartedAt: job.ingestStartedAt ?? deps.now() } };
}

/** A parent in the window: its id, and the text it holds with its children so far. */
interface WindowParent extends ParentLines {
  id: string;
  chars: number;
}

/**
 * Pass 2: read the archive again from `collectedLines` and stage the parents that strays name, with
 * their children that rode with them in pass 1 (a stray keeps its row), chunk by chunk with progress.
 */
export async function collectStrays(deps: StageDeps, start: Job): Promise<StageOutcome> {
  let job = start;
  let line = job.collectedLines;
  let pending: StagedLine[] = [];
  let pendingChars = 0;
  // The last answer is kept: a parent's children mostly follow it.
  let last: { id: string; needed: boolean } | null = null;
  const isNeeded = (id: string) => {
    if (last?.id !== id) last = { id: detach(id), needed: deps.store.hasStrays(job.id, id) };
    return last.needed;
  };
  const commit = async () => {
    const next: Job = { ...job, collectedLines: line, updatedAt: deps.now() };
    deps.store.collect(next, pending, () => deps.fault?.("stage:beforeCommit", next));
    job = next;
    pending = [];
    pendingChars = 0;
    await deps.progress?.(job);
  };
  try {
    for await (const { line: at, body } of archiveLines(deps.bucket, job, job.collectedLines, job.collectedLines)) {
      const found = ids(body);
      if (found !== null && isNeeded(found.parentId ?? found.id)) {
        pending.push({
          line: at,
          id: detach(found.id),
          parentId: detach(found.parentId),
          body: detach(body),
          stray: false,
        });
        pendingChars += body.length;
      }
      line = at + 1;
      if (line - job.collectedLines >= deps.chunkLines || pendingChars > STRAY_CHARS) {
        await commit();
        if (deps.yieldNow?.()) return { kind: "more", job };
      }
    }
  } catch (err) {
    if (err instanceof ArchiveMissing) return { kind: "missing", job: start };
    throw err;
  }
  await commit();
  return { kind: "done", job };
}
