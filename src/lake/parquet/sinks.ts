/**
 * Where a Parquet file's bytes go. `R2MultipartSink` streams them to R2 in parts of one fixed size
 * (R2 requires every part but the last to be the same size, at least 5 MiB), so a file of any size
 * costs one part of memory; a file smaller than a part is one plain `put`. `MemorySink` keeps the
 * chunks, for small files and tests. Trade-off: a part is uploaded while the writer waits (no
 * second part in flight), which halves the memory a faster overlapped upload would need.
 */
import { ByteBuffer } from "./bytes";
import type { ParquetSink } from "./types";

const MIN_PART_BYTES = 5 * 1024 * 1024;

export class MemorySink implements ParquetSink {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  async write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Everything written, as one array. */
  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export interface R2MultipartSinkOptions {
  /** Every part but the last is this size: 8 MiB unless told otherwise, at least 5 MiB. */
  partBytes?: number;
  /** Passed to `createMultipartUpload`, or to `put` for a file smaller than a part. */
  upload?: R2MultipartOptions;
}

export class R2MultipartSink implements ParquetSink {
  private readonly part = new ByteBuffer(1 << 16);
  private upload: R2MultipartUpload | null = null;
  private readonly uploaded: R2UploadedPart[] = [];
  private done = false;

  private readonly partBytes: number;

  constructor(
    private readonly bucket: R2Bucket,
    readonly key: string,
    private readonly options: R2MultipartSinkOptions = {},
  ) {
    this.partBytes = options.partBytes ?? 8 * 1024 * 1024;
    if (this.partBytes < MIN_PART_BYTES) throw new Error("r2 sink: parts must be at least 5 MiB");
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error(`r2 sink: ${this.key} is already closed or aborted`);
    try {
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(this.partBytes - this.part.length, chunk.length - at);
        this.part.append(chunk.subarray(at, at + n));
        at += n;
        if (this.part.length === this.partBytes) await this.uploadPart();
      }
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Completes the upload (or puts a file smaller than a part); aborts it if that fails. */
  async close(): Promise<R2Object> {
    if (this.done) throw new Error(`r2 sink: ${this.key} is already closed or aborted`);
    try {
      if (this.upload === null) {
        const object = await this.bucket.put(this.key, this.part.view(), this.options.upload);
        if (object === null) throw new Error(`r2 sink: put of ${this.key} was refused`);
        this.done = true;
        return object;
      }
      if (this.part.length > 0) await this.uploadPart();
      const object = await this.upload.complete(this.uploaded);
      this.done = true;
      return object;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Drops the upload and its parts; safe to call more than once, and after a failure. */
  async abort(): Promise<void> {
    this.done = true;
    const upload = this.upload;
    this.upload = null;
    this.part.clear();
    // The abort's own failure is not the error worth reporting; R2 also expires unfinished uploads.
    if (upload !== null) await upload.abort().catch(() => undefined);
  }

  private async uploadPart(): Promise<void> {
    this.upload ??= await this.bucket.createMultipartUpload(this.key, this.options.upload);
    // The part's buffer is reused only after the upload has taken it (the await).
    this.uploaded.push(await this.upload.uploadPart(this.uploaded.length + 1, this.part.view()));
    this.part.clear();
  }
}
