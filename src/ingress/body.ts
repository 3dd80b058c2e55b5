/**
 * Reads a request body up to a byte limit. A declared `Content-Length` over the
 * limit is refused before a byte is read; an undeclared length is refused as soon
 * as the stream passes the limit, so memory stays bounded. A body
 * that breaks off (the client went away, or sent less than it declared) is a 400:
 * nothing was verified, so nothing is stored.
 */
import { AppError } from "../shared/errors";

export async function readBodyLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  // A declared length within the limit bounds the body (HTTP framing ends it there), so it is read
  // whole, which costs a fraction of reading it chunk by chunk; the check after is for a length
  // that lied anyway.
  if (declared !== null && /^\d+$/.test(declared)) {
    let whole: ArrayBuffer;
    try {
      whole = await request.arrayBuffer();
    } catch {
      throw new AppError(400, "bad_request", "The request body ended before it was complete.");
    }
    if (whole.byteLength > limit) throw tooLarge(limit);
    return new Uint8Array(whole);
  }

  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      throw new AppError(400, "bad_request", "The request body ended before it was complete.");
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function tooLarge(limit: number): AppError {
  return new AppError(413, "payload_too_large", `Body exceeds the ${limit}-byte limit (MAX_BODY_BYTES).`);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The body as text when it is valid UTF-8 (byte-exact round trip), else null. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}
