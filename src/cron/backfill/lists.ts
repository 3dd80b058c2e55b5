/**
 * The list endpoints a backfill pages through and how one listed object becomes an event.
 * Stripe: `GET /v1/{path}?limit=100&created[gte]&created[lte]&starting_after`, newest first
 * (subscriptions with `status=all`, or canceled ones are left out; checkout sessions with their
 * line items expanded, so the consumer need not fetch them one by one). Recharge (2021-11):
 * `GET /{resource}?limit=250&updated_at_min&sort_by=id-asc`, then `cursor` alone.
 * Stripe is asked in the pinned API version (`Stripe-Version`, src/shared/stripe-version.ts), which
 * the wrapping event records as its `api_version`, so the mapper reads each object by its rules.
 * Events carry origin `bulk` and an id derived from the backfill and the object, so a page queued
 * again after a restart is a duplicate the ledger absorbs. A Stripe object is wrapped in an event
 * whose `created` is `stripeListingCreated` (src/shared/stripe-clock.ts): the latest second, on Stripe's clock, that is surely
 * before Stripe read the page, so it wins over the webhooks of earlier changes still in flight and
 * always loses to any change made after it was read. Recharge objects carry their own `updated_at`,
 * which orders them. The type is the object's prefix plus `.backfill` (e.g. `charge.backfill`),
 * which no alert rule matches: history raises no alerts.
 */
import { z } from "zod";
import type { ApiBackfillSource } from "../../shared/schema/backfills";
import { STRIPE_API_VERSION } from "../../shared/stripe-version";
import { fromUnixSeconds, toUtcIso } from "../../shared/time";
import { losslessView, parseRaw, type RawJson, rawArray, stringifyRaw } from "../raw-json";
import type { OutgoingEvent } from "../send-events";

export const RECHARGE_API_VERSION = "2021-11";

interface StripeList {
  path: string;
  type: string;
  extra?: Record<string, string>;
}
const STRIPE: Record<string, StripeList> = {
  customers: { path: "customers", type: "customer.backfill" },
  charges: { path: "charges", type: "charge.backfill" },
  payment_intents: { path: "payment_intents", type: "payment_intent.backfill" },
  invoices: { path: "invoices", type: "invoice.backfill" },
  invoice_payments: { path: "invoice_payments", type: "invoice_payment.backfill" },
  subscriptions: { path: "subscriptions", type: "customer.subscription.backfill", extra: { status: "all" } },
  disputes: { path: "disputes", type: "charge.dispute.backfill" },
  refunds: { path: "refunds", type: "refund.backfill" },
  checkout_sessions: {
    path: "checkout/sessions",
    type: "checkout.session.backfill",
    extra: { "expand[]": "data.line_items" },
  },
};
const RECHARGE_WRAPPER: Record<string, string> = {
  customers: "customer",
  subscriptions: "subscription",
  charges: "charge",
  orders: "order",
};

export interface ListTarget {
  source: ApiBackfillSource;
  resource: string;
  backfillId: string;
  since: string | null;
  until: string | null;
  cursor: string | null;
}

export interface Page {
  items: number;
  /** Each listed object as a snapshot line, verbatim values. */
  lines: string[];
  events: OutgoingEvent[];
  /** Where the next page starts; null when this was the last. */
  next: string | null;
}

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export function firstUrl(base: string, t: ListTarget): URL {
  if (t.source === "stripe") {
    const spec = STRIPE[t.resource];
    if (!spec) throw new Error(`no Stripe list for ${t.resource}`);
    const url = new URL(`${base}/v1/${spec.path}`);
    url.searchParams.set("limit", "100");
    for (const [k, v] of Object.entries(spec.extra ?? {})) url.searchParams.set(k, v);
    if (t.since) url.searchParams.set("created[gte]", String(seconds(t.since)));
    if (t.until) url.searchParams.set("created[lte]", String(seconds(t.until)));
    if (t.cursor) url.searchParams.set("starting_after", t.cursor);
    return url;
  }
  const url = new URL(`${base}/${t.resource}`);
  url.searchParams.set("limit", "250");
  if (t.cursor) {
    // With a cursor Recharge accepts only `limit` beside it: the filters ride inside the cursor.
    url.searchParams.set("cursor", t.cursor);
    return url;
  }
  url.searchParams.set("sort_by", "id-asc");
  if (t.since) url.searchParams.set("updated_at_min", t.since.slice(0, 19));
  return url;
}

const stripeItem = z.object({ id: z.string().min(1).max(255) });
const stripePage = z.object({ object: z.literal("list"), data: z.array(stripeItem), has_more: z.boolean() });
const rechargeItem = z.object({ id: z.string().regex(/^\d{1,24}$/), updated_at: z.string().min(10).max(40) });

/** Recharge writes `+00:00` (2021-11) or no zone (meaning UTC). */
const rechargeIso = (v: string) => toUtcIso(v) ?? toUtcIso(`${v}Z`);

export function eventIdFor(t: ListTarget, objectId: string): string | null {
  const id = `backfill:${t.resource}:${objectId}:${t.backfillId.slice(3).replaceAll("-", "").slice(0, 12)}`;
  return /^[A-Za-z0-9._:-]{1,128}$/.test(id) ? id : null;
}

/**
 * Reads one list page (throws on a body that is not the list it should be). `created` dates a
 * Stripe page's events (`stripeListingCreated`); Recharge objects are dated by their `updated_at`.
 */
export function readPage(text: string, t: ListTarget, created: number): Page {
  const raw = parseRaw(text);
  if (t.source === "stripe") {
    const spec = STRIPE[t.resource];
    if (!spec) throw new Error(`no Stripe list for ${t.resource}`);
    const page = stripePage.parse(losslessView(raw));
    const items = rawArray(raw, "data") ?? [];
    const eventAt = fromUnixSeconds(created);
    if (eventAt === null) throw new Error("the listing time is not a valid time");
    const events: OutgoingEvent[] = [];
    const lines: string[] = [];
    page.data.forEach((item, i) => {
      const object = items[i] as RawJson;
      const objectText = stringifyRaw(object);
      lines.push(objectText);
      const eventId = eventIdFor(t, item.id);
      if (eventId === null) return;
      const body = `{"id":${JSON.stringify(eventId)},"object":"event","api_version":${JSON.stringify(STRIPE_API_VERSION)},"type":${JSON.stringify(spec.type)},"created":${created},"data":{"object":${objectText}}}`;
      events.push({
        source: "stripe",
        topic: spec.type,
        eventId,
        shop: null,
        eventAt,
        apiVersion: STRIPE_API_VERSION,
        body,
      });
    });
    const last = page.data.at(-1);
    return { items: page.data.length, lines, events, next: page.has_more && last ? last.id : null };
  }
  const wrapper = RECHARGE_WRAPPER[t.resource];
  if (!wrapper) throw new Error(`no Recharge list for ${t.resource}`);
  const view = losslessView(raw) as Record<string, unknown>;
  const list = z.array(rechargeItem).parse(view[t.resource]);
  const next = z.string().min(1).max(4096).nullish().parse(view.next_cursor) ?? null;
  const items = rawArray(raw, t.resource) ?? [];
  const topic = `${wrapper}/backfill`;
  const events: OutgoingEvent[] = [];
  const lines: string[] = [];
  list.forEach((item, i) => {
    const objectText = stringifyRaw(items[i] as RawJson);
    lines.push(objectText);
    const eventId = eventIdFor(t, item.id);
    const eventAt = rechargeIso(item.updated_at);
    if (eventId === null || eventAt === null) return;
    events.push({
      source: "recharge",
      topic,
      eventId,
      shop: null,
      eventAt,
      apiVersion: RECHARGE_API_VERSION,
      body: `{${JSON.stringify(wrapper)}:${objectText}}`,
    });
  });
  return { items: list.length, lines, events, next };
}
