/**
 * Stage 1 of ingest: copy a finished operation's result from Shopify's signed URL to
 * `raw/shopify/{resource}/snapshots/dt=…/{bulkOperationId}.jsonl.gz`, byte for byte when
 * Shopify sent gzip, gzipped on the way otherwise. Large files go up as an R2 multipart
 * upload of equal parts (R2's rule), held one part at a time; after every part the
 * upload id and finished parts are checkpointed, and a resumed copy asks for the rest
 * with an HTTP Range. Archiving first means the later stages read R2, not the URL that
 * expires after seven days. Trade-off: a plain-text source cannot resume mid-compression,
 * so its copy restarts from the beginning (it is network-bound and short next to ingest).
 */
import { toUtcIso } from "../../shared/time";
import type { Job } from "../job";
import { skipBytes, sniffGzip } from "./stream";

export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

/** Statuses a signed storage URL answers with once it has expired or been revoked. */
const EXPIRED_STATUS = new Set([400, 401, 403, 404, 410]);

export function snapshotKey(job: Pick<Job, "resource" | "shopifyId" | "shopifyCreatedAt" | "partial">): string {
  const id = job.shopifyId ?? "unknown";
  const number = /\/(\d+)$/.exec(id)?.[1] ?? id.replace(/[^A-Za-z0-9_-]/g, "_");
  const dt = (toUtcIso(job.shopifyCreatedAt ?? "") ?? new Date().toISOString()).slice(0, 10);
  return `raw/shopify/${job.resource}/snapshots/dt=${dt}/${number}${job.partial ? ".partial" : ""}.jsonl.gz`;
}

export type ArchiveOutcome = { kind: "done" | "more"; job: Job } | { kind: "expired"; job: Job; detail: string };

export interface ArchiveDeps {
  bucket: R2Bucket;
  fetch: typeof fetch;
  partBytes: number;
  /** Parts per call before yielding (keeps one invocation under the subrequest limit). */
  maxParts: number;
  /** Persists the checkpoint (synchronous storage). */
  save: (job: Job) => void;
  now: () => string;
  fault?: (point: "archive:afterPart", job: Job) => void;
}

export async function archiveResult(deps: ArchiveDeps, start: Job): Promise<ArchiveOutcome> {
  const key = start.r2Key;
  const url = start.resultUrl;
  if (!key || !url) throw new Error(`bulk job ${start.id} has no result to archive`);
  let job = start;
  const checkpoint = (patch: Partial<Job>) => {
    job = { ...job, ...patch, updatedAt: deps.now() };
    deps.save(job);
  };
  // complete() or put() ran but the checkpoint after it did not: the copy is whole.
  const existing = await deps.bucket.head(key);
  if (existing) {
    const meta = existing.customMetadata ?? {};
    if (meta.shop !== job.shop || meta.bulk_operation_id !== job.shopifyId) {
      throw new Error(
        `${key} already holds another export (${meta.shop} ${meta.bulk_operation_id}); not overwriting it`,
      );
    }
    return { kind: "done", job: finished(job) };
  }

  if (job.upload && job.sourceGzip === false) {
    await deps.bucket.resumeMultipartUpload(key, job.upload.uploadId).abort();
    checkpoint({ upload: null, bytesArchived: 0 });
  }
  const offset = job.bytesArchived;
  const res = await deps.fetch(url, offset > 0 ? { headers: { range: `bytes=${offset}-` } } : undefined);
  if (EXPIRED_STATUS.has(res.status)) {
    await res.body?.cancel();
    return { kind: "expired", job, detail: `result URL answered HTTP ${res.status}` };
  }
  if (!res.ok || !res.body) throw new Error(`bulk result download failed: HTTP ${res.status}`);

  let raw: ReadableStream<Uint8Array> = res.body;
  if (offset > 0 && res.status !== 206) raw = skipBytes(raw, offset);
  let gzip = job.sourceGzip;
  if (gzip === null || offset === 0) {
    const sniffed = await sniffGzip(raw);
    raw = sniffed.stream;
    gzip = sniffed.gzip;
    checkpoint({ sourceGzip: gzip });
  }
  const source = gzip ? raw : raw.pipeThrough(new CompressionStream("gzip"));
  const partBytes = job.upload?.partBytes ?? Math.max(MIN_PART_BYTES, deps.partBytes);
  const metadata = {
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: {
      shop: job.shop,
      resource: job.resource,
      bulk_operation_id: job.shopifyId ?? "",
      created_at: job.shopifyCreatedAt ?? "",
      partial: String(job.partial),
      source_gzip: String(gzip),
    },
  };

  const buffer = new Uint8Array(partBytes);
  let fill = 0;
  let partsThisRun = 0;
  const uploadFull = async (bytes: Uint8Array) => {
    let upload = job.upload;
    if (!upload) {
      const created = await deps.bucket.createMultipartUpload(key, metadata);
      upload = { uploadId: created.uploadId, partBytes, parts: [] };
      checkpoint({ upload });
    }
    const partNumber = upload.parts.length + 1;
    const part = await deps.bucket.resumeMultipartUpload(key, upload.uploadId).uploadPart(partNumber, bytes);
    checkpoint({
      upload: { ...upload, parts: [...upload.parts, { partNumber, etag: part.etag }] },
      bytesArchived: job.bytesArchived + bytes.byteLength,
    });
    deps.fault?.("archive:afterPart", job);
  };

  const reader = source.getReader();
  for (;;) {
    const next = await reader.read();
    if (next.done) break;
    const chunk = next.value;
    let at = 0;
    while (at < chunk.byteLength) {
      const n = Math.min(partBytes - fill, chunk.byteLength - at);
      buffer.set(chunk.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === partBytes) {
        await uploadFull(buffer.slice());
        fill = 0;
        partsThisRun++;
      }
    }
    // Only a gzip source can stop and resume by byte offset.
    if (gzip && partsThisRun >= deps.maxParts && fill === 0) {
      await reader.cancel();
      return { kind: "more", job };
    }
  }

  if (!job.upload) {
    await deps.bucket.put(key, buffer.subarray(0, fill), metadata);
  } else {
    if (fill > 0) await uploadFull(buffer.slice(0, fill));
    const upload = job.upload;
    await deps.bucket.resumeMultipartUpload(key, upload.uploadId).complete(upload.parts);
  }
  checkpoint({ bytesArchived: job.bytesArchived + (job.upload ? 0 : fill) });
  return { kind: "done", job: finished(job) };
}

function finished(job: Job): Job {
  return { ...job, upload: null, status: "staging" };
}
