/**
 * The consumer's part in privacy: find the data subjects a payload names (for the subject
 * index, written in the event's own D1 batch) and, when one of them was erased, redact the
 * payload before it is archived or applied, so a late webhook, a reconcile repair or a replay
 * never brings an erased person's PII back. Costs one indexed D1 read per event that names a
 * subject.
 */
import { redactJson } from "../mapping/redact";
import { subjectsOf } from "../mapping/subjects";
import type { Envelope } from "../shared/envelope";
import { type LosslessJson, parseLossless } from "../shared/json";
import { hashSubjects, type IndexedSubject, isErased } from "../tables/subjects";

export interface Protected {
  payload: string;
  subjects: IndexedSubject[];
  /** The payload was redacted (the stored object must carry `redacted_at`). */
  redacted: boolean;
}

const EMAILS_IN_TEXT = /[^\s@"<>\\,;:]+@[^\s@"<>\\,;:]+\.[a-z]{2,}/gi;

/** Subjects of a payload; for text that is not JSON (quarantine), the e-mail addresses it contains. */
export async function payloadSubjects(env: Env, e: Envelope, resource: string, payload: string) {
  let doc: LosslessJson | undefined;
  try {
    doc = parseLossless(payload);
  } catch {
    const emails = [...new Set(payload.match(EMAILS_IN_TEXT) ?? [])].slice(0, 50);
    return hashSubjects(
      env,
      e.source,
      e.shop,
      emails.map((id) => ({ kind: "email" as const, id })),
    );
  }
  return hashSubjects(env, e.source, e.shop, subjectsOf(e.source, resource, doc));
}

/** The payload as it may be stored: redacted when it names an erased subject or an erased shop. */
export async function protectPayload(env: Env, e: Envelope, resource: string, payload: string): Promise<Protected> {
  const subjects = await payloadSubjects(env, e, resource, payload);
  const shop = e.source === "shopify" ? e.shop : null;
  if (!(await isErased(env.DB, shop, subjects))) return { payload, subjects, redacted: false };
  try {
    return { payload: redactJson(payload, { stripe: e.source === "stripe" }).text, subjects, redacted: true };
  } catch {
    // Not JSON: nothing of it can be kept for an erased person.
    return { payload: "null", subjects, redacted: true };
  }
}
