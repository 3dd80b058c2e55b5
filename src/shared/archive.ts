/**
 * The immutable objects in `LAKE`. Ingress (for bodies too big for a queue
 * message) and the consumer both write through here, so an event has one key
 * and one shape whoever writes it first. Objects are never overwritten: a
 * redelivery finds its key taken and leaves the first copy alone.
 */
import { sha256, toBase64, toHex, utf8 } from "./crypto";
import type { Envelope } from "./envelope";
import { quarantineKey, rawEventKey } from "./keys";

type EventHead = Omit<Envelope, "v" | "body" | "bodyKey">;

export interface ArchiveObject {
  key: string;
  body: string;
  customMetadata: Record<string, string>;
}

function wrapperHead(e: EventHead) {
  return {
    event_id: e.eventId,
    source: e.source,
    topic: e.topic,
    shop: e.shop,
    received_at: e.receivedAt,
    event_at: e.eventAt,
    api_version: e.apiVersion,
    origin: e.origin,
  };
}

async function metadata(e: EventHead, payload: Uint8Array): Promise<Record<string, string>> {
  return {
    source: e.source,
    topic: e.topic,
    event_id: e.eventId,
    shop: e.shop ?? "",
    origin: e.origin,
    received_at: e.receivedAt,
    event_at: e.eventAt,
    api_version: e.apiVersion ?? "",
    payload_sha256: toHex(await sha256(payload)),
  };
}

/**
 * `raw/{source}/{resource}/events/…/{eventId}.json`: the contract's wrapper with the
 * verbatim JSON body spliced in as `payload`, byte for byte (no re-serialisation,
 * so 18-digit ids and number formatting survive). `payload_offset` in the metadata
 * is where the verbatim text starts.
 */
export async function rawEventObject(e: EventHead, resource: string, payloadJson: string): Promise<ArchiveObject> {
  const head = `${JSON.stringify(wrapperHead(e)).slice(0, -1)},"payload":`;
  const customMetadata = await metadata(e, utf8(payloadJson));
  customMetadata.payload_offset = String(head.length);
  return {
    key: rawEventKey(e.source, resource, e.eventAt, e.eventId),
    body: `${head}${payloadJson}}`,
    customMetadata,
  };
}

/** The verbatim payload text of a raw event object written by `rawEventObject`. */
export function payloadOfRawObject(text: string, customMetadata: Record<string, string> | undefined): string {
  const offset = Number(customMetadata?.payload_offset);
  const start = Number.isInteger(offset) && offset > 0 ? offset : text.indexOf(',"payload":') + 11;
  return text.slice(start, -1);
}

export type QuarantineReason =
  | "invalid_json"
  | "unknown_topic"
  | "not_utf8"
  | "invalid_payload"
  | "unsupported_version";

/** `quarantine/{source}/dt=…/{eventId}.json`: the body kept exactly (as text, or base64 when not UTF-8). */
export async function quarantineObject(
  e: EventHead,
  reason: QuarantineReason,
  payload: Uint8Array,
  payloadText: string | null,
  detail?: string,
): Promise<ArchiveObject> {
  const body = {
    ...wrapperHead(e),
    reason,
    detail: detail ?? null,
    ...(payloadText === null ? { payload_base64: toBase64(payload) } : { payload_text: payloadText }),
  };
  return {
    key: quarantineKey(e.source, e.eventAt, e.eventId),
    body: JSON.stringify(body),
    customMetadata: { ...(await metadata(e, payload)), reason },
  };
}

/** The body a quarantine object kept as text, or null when it kept bytes (not UTF-8) or is not one. */
export function payloadOfQuarantineObject(text: string): string | null {
  try {
    const stored: unknown = JSON.parse(text);
    const payload =
      typeof stored === "object" && stored !== null ? (stored as { payload_text?: unknown }).payload_text : null;
    return typeof payload === "string" ? payload : null;
  } catch {
    return null;
  }
}

/**
 * Writes the object unless its key already exists, in one conditional put
 * (`If-None-Match: *`), so two concurrent redeliveries cannot both write.
 * Returns true when this call wrote it.
 */
export async function putOnce(bucket: R2Bucket, obj: ArchiveObject): Promise<boolean> {
  const written = await bucket.put(obj.key, obj.body, {
    onlyIf: new Headers({ "If-None-Match": "*" }),
    httpMetadata: { contentType: "application/json" },
    customMetadata: obj.customMetadata,
  });
  return written !== null;
}

/**
 * Writes (or overwrites) an object whose personal data was removed, marked with `redacted_at`:
 * the one exception to "never overwritten", for an erased person (docs/privacy.md).
 */
export async function putRedacted(bucket: R2Bucket, obj: ArchiveObject, at: string): Promise<void> {
  await bucket.put(obj.key, obj.body, {
    httpMetadata: { contentType: "application/json" },
    customMetadata: { ...obj.customMetadata, redacted_at: at },
  });
}

/** Whether a verified body is a JSON document (numbers are not kept: this only checks syntax). */
export function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
