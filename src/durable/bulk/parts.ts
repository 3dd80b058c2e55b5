/**
 * The layout of an archived bulk result: a folder of parts, each an independent gzip file of whole
 * JSONL lines (`raw/shopify/{resource}/snapshots/dt=…/{operation}/00001.jsonl.gz`, …), with the
 * count of lines each part ends in the job's checkpoint. Concatenated in order, the parts' text is the
 * result byte for byte. Why parts and not one gzip file: gzip cannot be entered mid-stream, so a pass
 * resumed at line 3,000,000 of one file would decompress the 2,999,999 before it again, and a pass's
 * cost would grow with its offset; with parts it starts at the part that holds its line. Independent
 * files rather than gzip members of one object, because the Workers runtime's DecompressionStream
 * refuses bytes after a first member (as the Compression Streams standard says), and every reader
 * (DuckDB, the privacy rewrite, a person with `zcat`) reads a plain gzip file. A part also bounds what
 * an erasure rewrites: the parts that hold the person's lines, not the whole export.
 *
 * Jobs archived by an older deploy hold one object (`r2Key` ending in `.jsonl.gz`, no parts); they
 * are read whole as before.
 */
import type { Job } from "../job";

export type ArchivePart = NonNullable<Job["archiveParts"]>[number];

/** The folder of a job's parts: `r2Key` of the parts layout ends with `/`. */
export function isPartsLayout(job: Pick<Job, "r2Key" | "archiveParts">): boolean {
  return job.archiveParts !== null && (job.r2Key?.endsWith("/") ?? false);
}

/** The key of part `index` (0-based) under the job's folder. */
export function partKey(folder: string, index: number): string {
  return `${folder}${String(index + 1).padStart(5, "0")}.jsonl.gz`;
}

/**
 * The part a read from line `line` starts at, and the number of its first line: the last part that
 * begins at or before `line` on a line boundary (a part cut inside an over-long line is read from
 * the part before it).
 */
export function startPart(parts: readonly ArchivePart[], line: number): { index: number; firstLine: number } {
  let best = { index: 0, firstLine: 0 };
  let first = 0;
  for (let i = 0; i < parts.length; i++) {
    if (first > line) break;
    const prev = parts[i - 1];
    if (!prev?.cut) best = { index: i, firstLine: first };
    first += (parts[i] as ArchivePart).lines;
  }
  return best;
}

/** The key of the part holding line `line` (where its subject index rows point), or null without parts. */
export function partOfLine(job: Pick<Job, "r2Key" | "archiveParts">, line: number): string | null {
  if (!isPartsLayout(job) || !job.r2Key || !job.archiveParts) return null;
  let first = 0;
  const parts = job.archiveParts;
  for (let i = 0; i < parts.length; i++) {
    first += (parts[i] as ArchivePart).lines;
    if (line < first) return partKey(job.r2Key, i);
  }
  return partKey(job.r2Key, Math.max(0, parts.length - 1));
}

export class PartMissing extends Error {}

/**
 * The decompressed text of parts `from`… in order, one part's object open at a time; throws
 * PartMissing when one is gone.
 */
export function readParts(bucket: R2Bucket, folder: string, count: number, from: number): ReadableStream<Uint8Array> {
  let index = from;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (!reader) {
          if (index >= count) {
            controller.close();
            return;
          }
          const key = partKey(folder, index++);
          const object = await bucket.get(key);
          if (!object) throw new PartMissing(`${key} is missing`);
          reader = object.body.pipeThrough(new DecompressionStream("gzip")).getReader();
        }
        const next = await reader.read();
        if (!next.done) {
          controller.enqueue(next.value);
          return;
        }
        reader = null;
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Counts the lines the stage's reader counts (./stream.ts `jsonlLines`: lines with something other
 * than a trailing `\r`) in bytes fed in order, so a part's line count matches the reader's numbering.
 */
export class LineCounter {
  /** Bytes of the current line so far (0: at a line start), and whether its last byte was `\r`. */
  private length = 0;
  private lastCr = false;
  lines = 0;

  feed(bytes: Uint8Array): void {
    let at = 0;
    for (;;) {
      const nl = bytes.indexOf(NEWLINE, at);
      const end = nl < 0 ? bytes.length : nl;
      if (end > at) {
        this.length += end - at;
        this.lastCr = bytes[end - 1] === CR;
      }
      if (nl < 0) return;
      if (this.length > 1 || (this.length === 1 && !this.lastCr)) this.lines++;
      this.length = 0;
      this.lastCr = false;
      at = nl + 1;
    }
  }

  /** At the end of the text: a last line without a newline counts too. */
  finish(): void {
    if (this.length > 1 || (this.length === 1 && !this.lastCr)) this.lines++;
    this.length = 0;
  }
}
