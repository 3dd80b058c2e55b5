/**
 * The consumer's part in privacy: find the data subjects a payload names (for the subject
 * index, entered before the event's D1 batch) and, when one of them was erased, redact the
 * payload before it is archived or applied, so a late webhook, a reconcile repair or a replay
 * never brings an erased person's PII back. Costs one indexed D1 read per queue batch, which
 * asks about the batch's own subjects only (src/tables/subjects.ts `loadErasedFor`); an event
 * whose body the read could not see (claim-checked in R2) asks on its own.
 */
import { redactJson } from "../mapping/redact";
import type { Envelope } from "../shared/envelope";
import { sharedDatabase } from "../tables/database";
import { type ErasedView, type IndexedSubject, isErasedIn, subjectCacheKey, subjectsOfText } from "../tables/subjects";

export interface Protected {
  payload: string;
  subjects: IndexedSubject[];
  /** The payload was redacted (the stored object must carry `redacted_at`). */
  redacted: boolean;
}

/** Subjects of a payload; for text that is not JSON (quarantine), the e-mail addresses it contains. */
export function payloadSubjects(env: Env, e: Envelope, resource: string, payload: string): Promise<IndexedSubject[]> {
  return subjectsOfText(env, e.source, e.shop, resource, payload);
}

/**
 * The payload as it may be stored: redacted when it names an erased subject or an erased shop.
 * `cacheKey` is its `subjectCacheKey` when the caller has it: building one copies the payload.
 */
export async function protectPayload(
  env: Env,
  e: Envelope,
  resource: string,
  payload: string,
  erased?: ErasedView,
  cacheKey?: string,
): Promise<Protected> {
  const subjects =
    (erased === undefined
      ? undefined
      : erased.subjects.get(cacheKey ?? subjectCacheKey(e.source, e.shop, resource, payload))) ??
    (await payloadSubjects(env, e, resource, payload));
  const shop = e.source === "shopify" ? e.shop : null;
  if (!(await isErasedIn(erased, sharedDatabase(env), shop, subjects))) return { payload, subjects, redacted: false };
  try {
    return { payload: redactJson(payload, { stripe: e.source === "stripe" }).text, subjects, redacted: true };
  } catch {
    // Not JSON: nothing of it can be kept for an erased person.
    return { payload: "null", subjects, redacted: true };
  }
}
