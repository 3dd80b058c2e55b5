/**
 * Rewrites one stored R2 object without a person's PII, by its kind (the key prefix): a raw
 * event keeps its wrapper byte for byte and gets its payload redacted; a bulk snapshot is
 * re-gzipped with only the lines that name the person redacted; quarantine and dead-letter
 * objects get their embedded body redacted (or dropped when it is not JSON). Every rewritten
 * object carries `redacted_at`. A snapshot (a bulk export, gigabytes for a large shop) is streamed:
 * gunzipped, its lines redacted one at a time and re-gzipped into a multipart upload to the same
 * key, a part of SNAPSHOT_PART_BYTES held at a time, so its size is bounded by time, not memory. The
 * upload completes (replacing the object at once) only when a line changed, and is aborted otherwise.
 * Trade-off: gzip cannot be entered mid-stream, so a rewrite is not resumable across invocations:
 * about 4 GB of export a run fits an hourly invocation's CPU.
 */
import { redactJson } from "../../mapping/redact";
import { subjectsOf } from "../../mapping/subjects";
import { payloadOfRawObject } from "../../shared/archive";
import { sha256, toHex, utf8 } from "../../shared/crypto";
import { SOURCES, type Source } from "../../shared/envelope";
import { type LosslessJson, parseLossless } from "../../shared/json";
import { hashSubjects } from "../../tables/subjects";

/** Parts of a rewritten snapshot (R2: every part but the last of one size, at least 5 MiB). */
export const SNAPSHOT_PART_BYTES = 8 * 1024 * 1024;

export type LineMatcher = (kind: string, id: string, shop: string) => boolean;

export type RewriteOutcome = "rewritten" | "unchanged" | "missing";

const sourceOfKey = (key: string): Source | null => {
  const s = key.split("/")[1] as Source;
  return (SOURCES as readonly string[]).includes(s) ? s : null;
};

/** The day partition of a key (`dt=YYYY-MM-DD`), for re-compaction. */
export function dayOfKey(key: string): string | null {
  return /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1] ?? null;
}

function redactText(text: string, stripe: boolean): string | null {
  try {
    return redactJson(text, { stripe }).text;
  } catch {
    return null;
  }
}

export async function rewriteObject(env: Env, key: string, matches: LineMatcher, now: string): Promise<RewriteOutcome> {
  const obj = await env.LAKE.get(key);
  if (obj === null) return "missing";
  const meta: Record<string, string> = { ...(obj.customMetadata ?? {}), redacted_at: now };
  const source = sourceOfKey(key);
  const stripe = source === "stripe";
  const put = async (body: string | Uint8Array, contentType: string) => {
    await env.LAKE.put(key, body, { httpMetadata: { contentType }, customMetadata: meta });
    return "rewritten" as const;
  };

  if (key.startsWith("raw/") && key.includes("/snapshots/")) {
    return rewriteSnapshot(env, key, obj, matches, meta);
  }
  const text = await obj.text();
  if (key.startsWith("raw/")) {
    const payload = payloadOfRawObject(text, obj.customMetadata);
    const head = text.slice(0, text.length - payload.length - 1);
    const redacted = redactText(payload, stripe) ?? "null";
    if (redacted === payload) return "unchanged";
    meta.payload_sha256 = toHex(await sha256(utf8(redacted)));
    return put(`${head}${redacted}}`, "application/json");
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return put("null", "application/json");
  }
  if (key.startsWith("quarantine/")) {
    if (typeof doc.payload_text === "string") doc.payload_text = redactText(doc.payload_text, stripe);
    if ("payload_base64" in doc) doc.payload_base64 = null;
    return put(JSON.stringify(doc), "application/json");
  }
  if (key.startsWith("dead-letter/")) {
    const envelope = doc.envelope as Record<string, unknown> | undefined;
    if (envelope && typeof envelope.body === "string") envelope.body = redactText(envelope.body, stripe) ?? "null";
    if ("message" in doc) doc.message = null;
    return put(JSON.stringify(doc), "application/json");
  }
  return "unchanged";
}

async function rewriteSnapshot(
  env: Env,
  key: string,
  obj: R2ObjectBody,
  matches: LineMatcher,
  meta: Record<string, string>,
): Promise<RewriteOutcome> {
  const shop = obj.customMetadata?.shop ?? "";
  const resource = key.split("/")[2] ?? "";
  let changed = 0;
  /** The line redacted when it names the person; any other line (unparsable ones too) as it was. */
  const lineOut = async (line: string): Promise<string> => {
    if (line.trim() === "") return line;
    let doc: LosslessJson;
    try {
      doc = parseLossless(line);
    } catch {
      return line;
    }
    const subjects = await hashSubjects(env, "shopify", shop, subjectsOf("shopify", resource, doc));
    if (!subjects.some((s) => matches(s.kind, s.id, s.shop))) return line;
    const redacted = redactText(line, false);
    if (redacted === null || redacted === line) return line;
    changed++;
    return redacted;
  };

  const upload = await env.LAKE.createMultipartUpload(key, {
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: meta,
  });
  try {
    const gzip = new CompressionStream("gzip");
    const parts = uploadParts(gzip.readable, upload);
    const writer = gzip.writable.getWriter();
    // A failed part upload fails the write waiting on it, instead of leaving it waiting.
    parts.catch((err) => writer.abort(err).catch(() => undefined));
    const encoder = new TextEncoder();
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    // Lines split on "\n" and joined again: every byte of an unchanged line stays as it was.
    let carry = "";
    for await (const chunk of obj.body.pipeThrough(new DecompressionStream("gzip"))) {
      const lines = (carry + decoder.decode(chunk, { stream: true })).split("\n");
      carry = lines.pop() ?? "";
      let out = "";
      for (const line of lines) out += `${await lineOut(line)}\n`;
      if (out !== "") await writer.write(encoder.encode(out));
    }
    const last = carry + decoder.decode();
    if (last !== "") await writer.write(encoder.encode(await lineOut(last)));
    await writer.close();
    const uploaded = await parts;
    if (changed === 0) {
      await upload.abort();
      return "unchanged";
    }
    await upload.complete(uploaded);
    return "rewritten";
  } catch (err) {
    await upload.abort().catch(() => undefined);
    throw err;
  }
}

/** Uploads a stream as parts of SNAPSHOT_PART_BYTES (the last one shorter), one part held at a time. */
async function uploadParts(stream: ReadableStream<Uint8Array>, upload: R2MultipartUpload): Promise<R2UploadedPart[]> {
  const parts: R2UploadedPart[] = [];
  const buffer = new Uint8Array(SNAPSHOT_PART_BYTES);
  let fill = 0;
  const send = async (bytes: Uint8Array) => {
    parts.push(await upload.uploadPart(parts.length + 1, bytes));
  };
  for await (const chunk of stream) {
    let at = 0;
    while (at < chunk.byteLength) {
      const n = Math.min(SNAPSHOT_PART_BYTES - fill, chunk.byteLength - at);
      buffer.set(chunk.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === SNAPSHOT_PART_BYTES) {
        await send(buffer.slice());
        fill = 0;
      }
    }
  }
  if (fill > 0 || parts.length === 0) await send(buffer.slice(0, fill));
  return parts;
}
