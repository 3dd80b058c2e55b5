/**
 * Rewrites one stored R2 object without a person's PII, by its kind (the key prefix): a raw
 * event keeps its wrapper byte for byte and gets its payload redacted; a bulk snapshot is
 * re-gzipped with only the lines that name the person redacted; quarantine and dead-letter
 * objects get their embedded body redacted (or dropped when it is not JSON). Every rewritten
 * object carries `redacted_at`. Trade-off: a snapshot is rewritten in memory, so one above
 * MAX_SNAPSHOT_BYTES throws; the privacy job sets it aside with an alert and goes on with the
 * rest (src/cron/privacy/privacy.ts), instead of being streamed.
 */
import { redactJson } from "../../mapping/redact";
import { subjectsOf } from "../../mapping/subjects";
import { payloadOfRawObject } from "../../shared/archive";
import { sha256, toHex, utf8 } from "../../shared/crypto";
import { SOURCES, type Source } from "../../shared/envelope";
import { type LosslessJson, parseLossless } from "../../shared/json";
import { hashSubjects } from "../../tables/subjects";

const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;

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
    if (obj.size > MAX_SNAPSHOT_BYTES) throw new Error(`${key}: snapshot over ${MAX_SNAPSHOT_BYTES} bytes`);
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
  const text = await new Response(obj.body.pipeThrough(new DecompressionStream("gzip"))).text();
  const lines = text.split("\n");
  let changed = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === "") continue;
    let doc: LosslessJson;
    try {
      doc = parseLossless(line);
    } catch {
      continue;
    }
    const subjects = await hashSubjects(env, "shopify", shop, subjectsOf("shopify", resource, doc));
    if (!subjects.some((s) => matches(s.kind, s.id, s.shop))) continue;
    const redacted = redactText(line, false);
    if (redacted !== null && redacted !== line) {
      lines[i] = redacted;
      changed++;
    }
  }
  if (changed === 0) return "unchanged";
  const gz = await new Response(
    new Blob([lines.join("\n")]).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer();
  await env.LAKE.put(key, gz, {
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: meta,
  });
  return "rewritten";
}
