/**
 * Stripe thin events (`object: "v2.core.event"`): a signed notice that names an object
 * (`related_object: {id, type, url}`) and carries none of it. For an object with a table, the
 * consumer fetches it (`GET {STRIPE_API_BASE}{related_object.url}`, e.g. `/v1/charges/ch_…`, with
 * the pinned `Stripe-Version` and `STRIPE_API_KEY`, plus `Stripe-Context` when the event names a
 * connected account) and applies it exactly as a snapshot event of the same type: the object is
 * wrapped in an event `{id, object: "event", api_version: <pinned>, type: <type without "v1.">,
 * created, data: {object}}` and goes through the Stripe mapper, the alert rules and the identity
 * linker like any webhook. The archive keeps the thin event verbatim.
 *
 * Ordering: the fetched object is the truth when Stripe read it, so the wrapping event is dated the
 * way a backfill listing is (`stripeListingCreated`: Stripe's `Date` less the round trip and one
 * second). The stored rows are ordered by that `created` (`upsertNotOlder`), so an older snapshot
 * never overwrites a newer row, and a change made after the read always wins.
 *
 * Outcomes: a fetch that fails (network, 429, 5xx, an answer that is not the object) throws, and
 * the message retries with backoff like any failed write; 404 (the object is gone, or belongs to the
 * other mode) cannot be fixed by retrying and ends `archived` with a note that says so; without
 * `STRIPE_API_KEY` nothing can be fetched and the note says that; a `related_object` of a type
 * without a table (meters, v2 objects) or none is archived like other unlisted Stripe types.
 */
import { z } from "zod";
import { describeIssues } from "../mapping/common";
import { STRIPE_TABLE_OBJECTS } from "../mapping/stripe";
import { parseLossless } from "../shared/json";
import { stripeListingCreated } from "../shared/stripe-clock";
import { STRIPE_API_VERSION } from "../shared/stripe-version";
import { stripeSnapshotType } from "../shared/topics";
import type { ApplyPlan, ArchivedEvent } from "../tables/plan";
import { protectPayload } from "./subjects";

const FETCH_TIMEOUT_MS = 15_000;

/** What the pipeline reads of a thin event; the rest is archived as sent. */
const thinEventSchema = z.object({
  id: z.string().min(1).max(128),
  object: z.literal("v2.core.event"),
  type: z.string().regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/),
  context: z
    .string()
    .regex(/^[A-Za-z0-9_/-]{1,255}$/)
    .nullish(),
  related_object: z
    .object({
      id: z.string().regex(/^[A-Za-z0-9_]{1,255}$/),
      type: z.string().min(1).max(64),
      // A path on the Stripe API, never another host.
      url: z.string().regex(/^\/v1\/[A-Za-z0-9_/]+$/),
    })
    .nullish(),
});

/** The fetched object: what ties it to the event that named it. */
const fetchedSchema = z.object({ id: z.string(), object: z.string() });

export type ThinResolution =
  /** Not a thin event: plan it as it is. */
  | { kind: "snapshot" }
  /** A thin event whose object was fetched: plan this snapshot event instead. */
  | { kind: "fetched"; event: ArchivedEvent; note: string }
  /** A thin event that ends here (archived with a note, or quarantined). */
  | { kind: "done"; plan: ApplyPlan };

/** Whether a Stripe payload is a thin event, cheaply (most are not), then for certain. */
function isThin(payload: string): boolean {
  if (!payload.includes('"v2.core.event"')) return false;
  const doc = parseLossless(payload);
  return typeof doc === "object" && doc !== null && !Array.isArray(doc) && doc.object === "v2.core.event";
}

export async function resolveStripeThin(env: Env, event: ArchivedEvent): Promise<ThinResolution> {
  if (event.envelope.source !== "stripe" || !isThin(event.payload)) return { kind: "snapshot" };
  const parsed = thinEventSchema.safeParse(parseLossless(event.payload));
  if (!parsed.success) {
    return {
      kind: "done",
      plan: { kind: "quarantine", reason: "invalid_payload", detail: describeIssues(parsed.error) },
    };
  }
  const thin = parsed.data;
  const related = thin.related_object ?? null;
  if (related === null) return archived(`thin event ${thin.type} names no object`);
  if (!STRIPE_TABLE_OBJECTS.has(related.type)) return archived(`no table for Stripe object ${related.type}`);

  const key = env.STRIPE_API_KEY?.trim() ?? "";
  if (key === "") return archived(`object not fetched: STRIPE_API_KEY not set (${related.url})`);
  const base = (env.STRIPE_API_BASE || "https://api.stripe.com").replace(/\/+$/, "");
  const headers: Record<string, string> = { Authorization: `Bearer ${key}`, "Stripe-Version": STRIPE_API_VERSION };
  if (thin.context) headers["Stripe-Context"] = thin.context;
  const sentAt = Date.now();
  const res = await fetch(`${base}${related.url}`, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  const answeredAt = Date.now();
  const text = await res.text();
  if (res.status === 404) {
    return archived(`object not fetched: Stripe answered 404 for ${related.url}${stripeMessage(text)}`);
  }
  if (!res.ok) throw new Error(`Stripe thin event ${thin.id}: GET ${related.url} answered HTTP ${res.status}`);

  let object: unknown;
  try {
    object = parseLossless(text);
  } catch {
    throw new Error(`Stripe thin event ${thin.id}: GET ${related.url} answered a body that is not JSON`);
  }
  const head = fetchedSchema.safeParse(object);
  if (!head.success || head.data.id !== related.id || head.data.object !== related.type) {
    throw new Error(
      `Stripe thin event ${thin.id}: GET ${related.url} answered ${head.success ? `${head.data.object} ${head.data.id}` : "no object"}, not ${related.type} ${related.id}`,
    );
  }

  const date = Date.parse(res.headers.get("date") ?? "");
  const created = stripeListingCreated({ date: Number.isNaN(date) ? null : new Date(date), sentAt, answeredAt });
  const type = stripeSnapshotType(thin.type);
  // The object's text goes in verbatim: ids and amounts never pass through a double.
  const wrapped = `{"id":${JSON.stringify(event.envelope.eventId)},"object":"event","api_version":${JSON.stringify(STRIPE_API_VERSION)},"type":${JSON.stringify(type)},"created":${created},"data":{"object":${text.trim()}}}`;
  const envelope = { ...event.envelope, topic: type, apiVersion: STRIPE_API_VERSION };
  // An erased person's data is redacted before it is applied, as for every payload (docs/privacy.md).
  const prot = await protectPayload(env, envelope, event.resource, wrapped);
  return {
    kind: "fetched",
    event: { ...event, envelope, payload: prot.payload },
    note: `thin event: ${related.type} ${related.id} fetched from ${related.url} in ${STRIPE_API_VERSION}`,
  };
}

const archived = (note: string): ThinResolution => ({ kind: "done", plan: { kind: "archive-only", note } });

/** Stripe's own words for an error answer, when it gave them. */
function stripeMessage(text: string): string {
  try {
    const m = z.object({ error: z.object({ message: z.string() }) }).safeParse(JSON.parse(text));
    return m.success ? `: ${m.data.error.message.slice(0, 200)}` : "";
  } catch {
    return "";
  }
}
