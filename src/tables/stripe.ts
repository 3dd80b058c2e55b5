/**
 * Applies Stripe events to the `stripe_*` tables: map (pure), then one conditional
 * upsert per object, plus its checkout line items. A session event rarely carries
 * its line items, so the consumer fetches them from the Stripe API: that costs an
 * upstream call per session event (never on the ingress hot path) and makes the
 * event retry while Stripe is unreachable, which beats storing an order snapshot
 * that silently lacks its lines. Without STRIPE_API_KEY the lines are skipped
 * and the ledger row says so.
 */

import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import {
  lineItemRows,
  mapStripeEvent,
  parseLineItemsPage,
  type StripeLineItem,
  type StripeRows,
} from "../mapping/stripe";
import {
  stripeCharges,
  stripeCheckoutSessionLineItems,
  stripeCheckoutSessions,
  stripeCustomers,
  stripeDisputes,
  stripeInvoicePayments,
  stripeInvoices,
  stripePaymentIntents,
  stripeRefunds,
  stripeSubscriptions,
} from "../shared/schema/stripe";
import { STRIPE_API_VERSION } from "../shared/stripe-version";
import { replaceChildren, upsertNotOlder } from "./d1";
import { sharedDatabase } from "./database";
import type { ApplyPlan, Planner } from "./plan";

export const planStripe: Planner = async (env, event) => {
  const mapped = mapStripeEvent(event.payload, event.envelope.eventId);
  if (!mapped.ok) return { kind: "quarantine", reason: mapped.reason, detail: mapped.detail };
  if (mapped.value.kind === "skip") return { kind: "archive-only", note: mapped.value.note };
  const { rows } = mapped.value;
  const db = sharedDatabase(env);
  const deleted = rows.row.deletedAt !== null;
  switch (rows.table) {
    case "customers":
      return applied([upsertNotOlder(db, stripeCustomers, rows.row, stripeCustomers.eventCreated, deleted)]);
    case "charges":
      return applied([
        upsertNotOlder(db, stripeCharges, rows.row, stripeCharges.eventCreated, keep(deleted, stripeCharges.invoiceId)),
      ]);
    case "payment_intents":
      return applied([
        upsertNotOlder(
          db,
          stripePaymentIntents,
          rows.row,
          stripePaymentIntents.eventCreated,
          keep(deleted, stripePaymentIntents.invoiceId),
        ),
      ]);
    case "invoices":
      return applied([
        upsertNotOlder(
          db,
          stripeInvoices,
          rows.row,
          stripeInvoices.eventCreated,
          keep(deleted, stripeInvoices.paymentIntentId, stripeInvoices.chargeId),
        ),
      ]);
    case "invoice_payments":
      return applied([
        upsertNotOlder(db, stripeInvoicePayments, rows.row, stripeInvoicePayments.eventCreated, deleted),
      ]);
    case "disputes":
      return applied([upsertNotOlder(db, stripeDisputes, rows.row, stripeDisputes.eventCreated, deleted)]);
    case "refunds":
      return applied([upsertNotOlder(db, stripeRefunds, rows.row, stripeRefunds.eventCreated, deleted)]);
    case "subscriptions":
      return applied([upsertNotOlder(db, stripeSubscriptions, rows.row, stripeSubscriptions.eventCreated, deleted)]);
    case "checkout_sessions":
      return planCheckoutSession(env, rows, deleted);
  }
};

/**
 * The columns an event keeps when it has no value for them: every column for a delete (its object
 * may be a stub), else the invoice ↔ payment links. Since API 2025-03-31 the objects no longer carry
 * those links, which come from invoice payments (migrations/0152); a link is never unmade, so a
 * basil copy of an object must not erase what an older copy or an invoice payment linked.
 */
const keep = (deleted: boolean, ...links: SQLiteColumn[]): true | SQLiteColumn[] => (deleted ? true : links);

const applied = (statements: D1PreparedStatement[], note?: string): ApplyPlan =>
  note === undefined ? { kind: "apply", statements } : { kind: "apply", statements, note };

async function planCheckoutSession(
  env: Env,
  rows: Extract<StripeRows, { table: "checkout_sessions" }>,
  deleted: boolean,
): Promise<ApplyPlan> {
  const { row } = rows;
  let lineItems = rows.lineItems;
  let note: string | undefined;
  if (lineItems === null) {
    const key = env.STRIPE_API_KEY?.trim() ?? "";
    if (key === "") {
      note = "line items not fetched: STRIPE_API_KEY not set";
    } else {
      const fetched = await fetchLineItems(env.STRIPE_API_BASE, key, row.id);
      if (fetched === null) note = "line items not fetched: Stripe answered 404 for the session";
      else lineItems = lineItemRows(row.id, fetched, { eventId: row.lastEventId, at: row.updatedAt });
    }
  }
  const statements = [
    upsertNotOlder(sharedDatabase(env), stripeCheckoutSessions, row, stripeCheckoutSessions.eventCreated, deleted),
  ];
  if (lineItems !== null) {
    statements.push(
      ...replaceChildren(sharedDatabase(env), {
        child: stripeCheckoutSessionLineItems,
        childParentId: stripeCheckoutSessionLineItems.sessionId,
        parent: stripeCheckoutSessions,
        parentId: stripeCheckoutSessions.id,
        parentLastEventId: stripeCheckoutSessions.lastEventId,
        id: row.id,
        eventId: row.lastEventId,
        rows: lineItems,
      }),
    );
  }
  return applied(statements, note);
}

const MAX_PAGES = 50;
const FETCH_TIMEOUT_MS = 15_000;

/**
 * Every line item of a session, following `has_more`/`starting_after`. Null when
 * Stripe does not know the session (404: e.g. a test-mode event seen with a live
 * key), which retrying cannot fix; any other failure throws so the message retries.
 */
async function fetchLineItems(apiBase: string, key: string, sessionId: string): Promise<StripeLineItem[] | null> {
  const base = apiBase.replace(/\/+$/, "") || "https://api.stripe.com";
  const items: StripeLineItem[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const url = new URL(`${base}/v1/checkout/sessions/${encodeURIComponent(sessionId)}/line_items`);
    url.searchParams.set("limit", "100");
    if (after !== null) url.searchParams.set("starting_after", after);
    const res = await fetch(url, {
      headers: { Authorization: `Bearer ${key}`, "Stripe-Version": STRIPE_API_VERSION },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (res.status === 404 && page === 0) return null;
    if (!res.ok) throw new Error(`Stripe line items of ${sessionId}: HTTP ${res.status}`);
    const parsed = parseLineItemsPage(await res.text());
    if (!parsed.ok) throw new Error(`Stripe line items of ${sessionId}: invalid response (${parsed.detail})`);
    items.push(...parsed.value.items);
    if (!parsed.value.hasMore) return items;
    after = parsed.value.items.at(-1)?.id ?? null;
    if (after === null) throw new Error(`Stripe line items of ${sessionId}: has_more without an id to continue from`);
  }
  throw new Error(`Stripe line items of ${sessionId}: more than ${MAX_PAGES} pages`);
}
