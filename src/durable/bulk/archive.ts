/**
 * Stage 1 of ingest: copy a finished operation's result from Shopify's signed URL to R2 as a folder
 * of parts (./parts.ts): `raw/shopify/{resource}/snapshots/dt=…/{operation}/00001.jsonl.gz`, … Each
 * part holds about `partBytes` of the result's text, ended at a line break and gzipped on its own;
 * after every part the job's checkpoint records it (its lines and bytes), so a copy stopped anywhere
 * resumes after its last part, asking the source for the rest with an HTTP Range. A source that sent
 * gzip (Shopify sends plain JSONL; a signed URL may not) is decompressed on the way and, resumed, read
 * again from its start to skip what the parts hold: gzip cannot be entered mid-stream. Archiving
 * first means the later stages read R2, not the URL that expires after seven days.
 */
import { toUtcIso } from "../../shared/time";
import type { Job } from "../job";
import { LineCounter, partKey } from "./parts";
import { skipBytes, sniffGzip } from "./stream";

/** Text per part by default: a resumed pass decompresses at most this much again. */
export const DEFAULT_PART_BYTES = 16 * 1024 * 1024;
/** Below this a part costs more in requests than it saves. */
export const MIN_PART_BYTES = 64 * 1024;
/** A line longer than this many parts' worth is cut between parts (the next part goes on with it). */
const MAX_PART_FACTOR = 4;

/** Statuses a signed storage URL answers with once it has expired or been revoked. */
const EXPIRED_STATUS = new Set([400, 401, 403, 404, 410]);

/** The folder a job's result is archived in. */
export function snapshotFolder(job: Pick<Job, "resource" | "shopifyId" | "shopifyCreatedAt" | "partial">): string {
  const id = job.shopifyId ?? "unknown";
  const number = /\/(\d+)$/.exec(id)?.[1] ?? id.replace(/[^A-Za-z0-9_-]/g, "_");
  const dt = (toUtcIso(job.shopifyCreatedAt ?? "") ?? new Date().toISOString()).slice(0, 10);
  return `raw/shopify/${job.resource}/snapshots/dt=${dt}/${number}${job.partial ? ".partial" : ""}/`;
}

export type ArchiveOutcome = { kind: "done" | "more"; job: Job } | { kind: "expired"; job: Job; detail: string };

export interface ArchiveDeps {
  bucket: R2Bucket;
  fetch: typeof fetch;
  /** Text per part (the last part may hold less, a part ending in an over-long line more). */
  partBytes: number;
  /** Parts per call before yielding (keeps one invocation under the subrequest limit). */
  maxParts: number;
  /** True when the pass's budget is spent: the copy stops after the part it is writing. */
  yieldNow?: () => boolean;
  /** Persists the checkpoint (synchronous storage). */
  save: (job: Job) => void;
  now: () => string;
  fault?: (point: "archive:afterPart", job: Job) => void;
}

export async function archiveResult(deps: ArchiveDeps, start: Job): Promise<ArchiveOutcome> {
  const url = start.resultUrl;
  if (!start.r2Key || !url) throw new Error(`bulk job ${start.id} has no result to archive`);
  let job = start;
  const checkpoint = (patch: Partial<Job>) => {
    job = { ...job, ...patch, updatedAt: deps.now() };
    deps.save(job);
  };
  // A copy an older deploy began as one multipart object starts again as parts.
  if (job.upload || job.archiveParts === null || !job.r2Key?.endsWith("/")) {
    if (job.upload) await deps.bucket.resumeMultipartUpload(job.r2Key ?? "", job.upload.uploadId).abort();
    checkpoint({ upload: null, r2Key: snapshotFolder(job), archiveParts: [], bytesArchived: 0, sourceGzip: null });
  }
  const folder = job.r2Key as string;
  const parts = job.archiveParts ?? [];
  if (parts.length === 0) {
    // The folder must not hold another export's parts (two operations with one number?).
    const existing = await deps.bucket.head(partKey(folder, 0));
    const meta = existing?.customMetadata ?? {};
    if (existing && (meta.shop !== job.shop || meta.bulk_operation_id !== job.shopifyId)) {
      throw new Error(
        `${folder} already holds another export (${meta.shop} ${meta.bulk_operation_id}); not overwriting it`,
      );
    }
  }

  const offset = job.bytesArchived;
  const ranged = offset > 0 && job.sourceGzip === false;
  const res = await deps.fetch(url, ranged ? { headers: { range: `bytes=${offset}-` } } : undefined);
  if (EXPIRED_STATUS.has(res.status)) {
    await res.body?.cancel();
    return { kind: "expired", job, detail: `result URL answered HTTP ${res.status}` };
  }
  if (!res.ok || !res.body) throw new Error(`bulk result download failed: HTTP ${res.status}`);
  let raw: ReadableStream<Uint8Array> = res.body;
  let gzip = job.sourceGzip;
  if (gzip === null || offset === 0) {
    const sniffed = await sniffGzip(raw);
    raw = sniffed.stream;
    gzip = sniffed.gzip;
    if (gzip !== job.sourceGzip) checkpoint({ sourceGzip: gzip });
  }
  let text = gzip ? raw.pipeThrough(new DecompressionStream("gzip")) : raw;
  // What the parts hold already: skipped when the source could not start after it.
  if (offset > 0 && !(ranged && res.status === 206)) text = skipBytes(text, offset);

  const metadata = (index: number, sourceOffset: number): R2PutOptions => ({
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: {
      shop: job.shop,
      resource: job.resource,
      bulk_operation_id: job.shopifyId ?? "",
      created_at: job.shopifyCreatedAt ?? "",
      partial: String(job.partial),
      part: String(index + 1),
      source_offset: String(sourceOffset),
    },
  });
  const partBytes = Math.max(MIN_PART_BYTES, deps.partBytes);
  let part = new PartWriter();
  let partsThisRun = 0;
  const finishPart = async (cut: boolean) => {
    const index = (job.archiveParts ?? []).length;
    const written = await part.close(cut);
    await deps.bucket.put(partKey(folder, index), written.gzip, metadata(index, job.bytesArchived));
    checkpoint({
      archiveParts: [...(job.archiveParts ?? []), { lines: written.lines, bytes: written.bytes, cut }],
      bytesArchived: job.bytesArchived + written.bytes,
    });
    deps.fault?.("archive:afterPart", job);
    part = new PartWriter();
    partsThisRun++;
  };

  const reader = text.getReader();
  for (;;) {
    const next = await reader.read();
    if (next.done) break;
    const chunk = next.value;
    let at = 0;
    while (at < chunk.byteLength) {
      if (part.bytes < partBytes) {
        const n = Math.min(chunk.byteLength - at, partBytes - part.bytes);
        await part.write(chunk.subarray(at, at + n));
        at += n;
        continue;
      }
      // The part is full: it ends at the next line break, or is cut inside a line past the cap.
      const room = partBytes * MAX_PART_FACTOR - part.bytes;
      const nl = chunk.indexOf(0x0a, at);
      if (nl < 0 && chunk.byteLength - at < room) {
        await part.write(chunk.subarray(at));
        at = chunk.byteLength;
        continue;
      }
      const cut = nl < 0 || nl - at >= room;
      const end = cut ? at + room : nl + 1;
      await part.write(chunk.subarray(at, end));
      at = end;
      await finishPart(cut);
      if (partsThisRun >= deps.maxParts || deps.yieldNow?.()) {
        // The rest of this chunk is not in any part: the resumed copy reads it again from its offset.
        await reader.cancel();
        await part.discard();
        return { kind: "more", job };
      }
    }
  }
  // The last part (the only one, empty, for an empty result: the folder always holds one).
  if (part.bytes > 0 || (job.archiveParts ?? []).length === 0) await finishPart(false);
  else await part.discard();
  return { kind: "done", job: finished(job) };
}

function finished(job: Job): Job {
  return { ...job, upload: null, status: "staging" };
}

/**
 * One part being written: its text gzipped as it comes, and its lines counted. The compressor is
 * made at the first write (or at close, for an empty part): one left open with nothing written
 * would keep a read pending when the copy stops.
 */
class PartWriter {
  bytes = 0;
  private readonly counter = new LineCounter();
  private gzip: { writer: WritableStreamDefaultWriter<Uint8Array>; out: Uint8Array[]; drained: Promise<void> } | null =
    null;

  private open() {
    if (this.gzip) return this.gzip;
    const stream = new CompressionStream("gzip");
    const out: Uint8Array[] = [];
    // Read while writing: the compressor stops taking input once its output is not read.
    const drained = (async () => {
      for await (const c of stream.readable) out.push(c);
    })();
    this.gzip = { writer: stream.writable.getWriter(), out, drained };
    return this.gzip;
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.bytes += bytes.byteLength;
    this.counter.feed(bytes);
    await this.open().writer.write(bytes);
  }

  /** The gzip file, and the lines that end in the part (a cut part's last line ends in the next). */
  async close(cut: boolean): Promise<{ gzip: Blob; lines: number; bytes: number }> {
    const gzip = this.open();
    await gzip.writer.close();
    await gzip.drained;
    if (!cut) this.counter.finish();
    return { gzip: new Blob(gzip.out), lines: this.counter.lines, bytes: this.bytes };
  }

  async discard(): Promise<void> {
    if (!this.gzip) return;
    await this.gzip.writer.abort().catch(() => {});
    await this.gzip.drained.catch(() => {});
  }
}
