/**
 * Streaming primitives for bulk results: gunzip when the bytes are gzip (sniffed from
 * the magic number, because signed storage URLs do not label it reliably), split into
 * JSONL lines, and read each line's `id` and `__parentId` without parsing it. Only one
 * decoded chunk and one partial line are held at a time. The id scan relies on how
 * Shopify writes bulk lines (`{"id":…` first, `"__parentId":…` last); any other layout
 * falls back to JSON.parse, so the shortcut is a speed-up, never a different answer.
 */

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Peeks at the first bytes: the same bytes again as a stream, and whether they are gzip. */
export async function sniffGzip(
  body: ReadableStream<Uint8Array>,
): Promise<{ stream: ReadableStream<Uint8Array>; gzip: boolean }> {
  const reader = body.getReader();
  const first = await reader.read();
  const head = first.done ? new Uint8Array(0) : first.value;
  const gzip = head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.length > 0) controller.enqueue(head);
      if (first.done) controller.close();
    },
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { stream, gzip };
}

/** The stream's bytes, decompressed when they are gzip. */
export async function gunzipIfNeeded(body: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const { stream, gzip } = await sniffGzip(body);
  return gzip ? stream.pipeThrough(new DecompressionStream("gzip")) : stream;
}

/** Drops the first `n` bytes (a server that ignored a Range request sent them again). */
export function skipBytes(body: ReadableStream<Uint8Array>, n: number): ReadableStream<Uint8Array> {
  let left = n;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (left >= chunk.byteLength) {
          left -= chunk.byteLength;
          return;
        }
        controller.enqueue(left > 0 ? chunk.subarray(left) : chunk);
        left = 0;
      },
    }),
  );
}

/**
 * Yields the non-empty lines of a UTF-8 JSONL stream in batches (one batch per chunk),
 * with the number of bytes of text they covered. Invalid UTF-8 throws.
 */
export async function* jsonlLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<{ lines: string[]; bytes: number }, void, undefined> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let carry = "";
  for await (const chunk of stream) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    carry = lines.pop() ?? "";
    yield { lines: nonEmpty(lines), bytes: chunk.byteLength };
  }
  const rest = carry + decoder.decode();
  if (rest.trim() !== "") yield { lines: [rest.replace(/\r$/, "")], bytes: 0 };
}

function nonEmpty(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const t = l.endsWith("\r") ? l.slice(0, -1) : l;
    if (t.length > 0) out.push(t);
  }
  return out;
}

const ID_HEAD = '{"id":"';
const PARENT_KEY = '"__parentId":"';

/** A line's own id and its parent's, or null when the line is not a JSON object with a string id. */
export function lineIds(line: string): { id: string; parentId: string | null } | null {
  if (line.startsWith(ID_HEAD)) {
    const end = line.indexOf('"', ID_HEAD.length);
    const id = line.slice(ID_HEAD.length, end);
    if (end > ID_HEAD.length && !id.includes("\\")) {
      if (!line.endsWith('"}')) return { id, parentId: null };
      const at = line.lastIndexOf(PARENT_KEY);
      if (at < 0) return { id, parentId: null };
      const parentId = line.slice(at + PARENT_KEY.length, -2);
      if (!parentId.includes('"') && !parentId.includes("\\")) return { id, parentId };
    }
  }
  return parsedIds(line);
}

function parsedIds(line: string): { id: string; parentId: string | null } | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { id, __parentId } = value as { id?: unknown; __parentId?: unknown };
  if (typeof id !== "string" || id === "") return null;
  return { id, parentId: typeof __parentId === "string" ? __parentId : null };
}
