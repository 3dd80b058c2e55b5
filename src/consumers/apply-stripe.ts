/**
 * Applies Stripe events to the `stripe_*` tables: map (pure), then one conditional
 * upsert per object, plus its checkout line items. A session event rarely carries
 * its line items, so the consumer fetches them from the Stripe API: that costs an
 * upstream call per session event (never on the ingress hot path) and makes the
 * event retry while Stripe is unreachable, which beats storing an order snapshot
 * that silently lacks its lines. Without STRIPE_API_KEY the lines are skipped
 * and the ledger row says so.
 *
 * The statement builders at the bottom are shared with apply-recharge.
 */
import { and, eq, exists, getTableColumns, type SQL, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import type { SQLiteColumn, SQLiteTable, SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import {
  stripeCharges,
  stripeCheckoutSessionLineItems,
  stripeCheckoutSessions,
  stripeCustomers,
  stripeDisputes,
  stripeInvoices,
  stripePaymentIntents,
  stripeRefunds,
  stripeSubscriptions,
} from "../shared/schema/stripe";
import type { ApplyPlan, Planner } from "./apply";
import { lineItemRows, mapStripeEvent, parseLineItemsPage, type StripeLineItem, type StripeRows } from "./map/stripe";

export const planStripe: Planner = async (env, event) => {
  const mapped = mapStripeEvent(event.payload, event.envelope.eventId);
  if (!mapped.ok) return { kind: "quarantine", reason: mapped.reason, detail: mapped.detail };
  if (mapped.value.kind === "skip") return { kind: "archive-only", note: mapped.value.note };
  const { rows } = mapped.value;
  const db = env.DB;
  const deleted = rows.row.deletedAt !== null;
  switch (rows.table) {
    case "customers":
      return applied([upsertNotOlder(db, stripeCustomers, rows.row, stripeCustomers.eventCreated, deleted)]);
    case "charges":
      return applied([upsertNotOlder(db, stripeCharges, rows.row, stripeCharges.eventCreated, deleted)]);
    case "payment_intents":
      return applied([upsertNotOlder(db, stripePaymentIntents, rows.row, stripePaymentIntents.eventCreated, deleted)]);
    case "invoices":
      return applied([upsertNotOlder(db, stripeInvoices, rows.row, stripeInvoices.eventCreated, deleted)]);
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
    upsertNotOlder(env.DB, stripeCheckoutSessions, row, stripeCheckoutSessions.eventCreated, deleted),
  ];
  if (lineItems !== null) {
    statements.push(
      ...replaceChildren(env.DB, {
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
      headers: { Authorization: `Bearer ${key}` },
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

// ---- Statement builders (drizzle → D1), shared with apply-recharge ----

/** D1 refuses a statement with more than 100 bound parameters. */
export const MAX_BOUND_PARAMETERS = 100;

const orms = new WeakMap<D1Database, DrizzleD1Database>();
function orm(db: D1Database): DrizzleD1Database {
  let d = orms.get(db);
  if (d === undefined) {
    d = drizzle(db);
    orms.set(db, d);
  }
  return d;
}

/** A drizzle query as a raw D1 statement, so the consumer can batch it with the ledger row. */
export function toD1(db: D1Database, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql: text, params } = query.toSQL();
  return db.prepare(text).bind(...params);
}

/**
 * `INSERT … ON CONFLICT (pk) DO UPDATE … WHERE excluded.<order> >= <table>.<order>`:
 * the row is written unless what is stored is newer; ties apply, so a redelivery
 * rewrites the same values. `deleted_at` is sticky (the first deletion is kept).
 * `keepOnNull` columns keep their stored value when the event has none; with
 * `true` every column does (a delete event may carry only a stub of the object).
 */
export function upsertNotOlder<T extends SQLiteTable>(
  db: D1Database,
  table: T,
  row: T["$inferInsert"],
  order: SQLiteColumn,
  keepOnNull: boolean | readonly SQLiteColumn[] = false,
): D1PreparedStatement {
  const columns: Record<string, SQLiteColumn> = getTableColumns(table);
  const excluded = (c: SQLiteColumn) => sql`excluded.${sql.identifier(c.name)}`;
  const target = Object.values(columns).filter((c) => c.primary);
  const set: Record<string, SQL> = {};
  for (const [key, column] of Object.entries(columns)) {
    if (column.primary) continue;
    const keep = keepOnNull === true || (Array.isArray(keepOnNull) && keepOnNull.includes(column));
    if (column.name === "deleted_at") set[key] = sql`coalesce(${column}, ${excluded(column)})`;
    else if (keep) set[key] = sql`coalesce(${excluded(column)}, ${column})`;
    else set[key] = excluded(column);
  }
  const query = orm(db)
    .insert(table)
    .values(row)
    .onConflictDoUpdate({
      target,
      set: set as SQLiteUpdateSetSource<T>,
      setWhere: sql`${excluded(order)} >= ${order}`,
    });
  return toD1(db, query);
}

export interface ChildReplacement<C extends SQLiteTable> {
  child: C;
  /** The child column holding the parent's id. */
  childParentId: SQLiteColumn;
  parent: SQLiteTable;
  parentId: SQLiteColumn;
  parentLastEventId: SQLiteColumn;
  id: string;
  eventId: string;
  rows: ReadonlyArray<C["$inferInsert"]>;
}

/**
 * Replaces a parent's child rows, guarded by `EXISTS (parent row whose
 * last_event_id is this event)`: when the parent upsert did not apply (an older
 * event), the children stay as they are. Inserts are chunked below D1's
 * bound-parameter limit; all statements go in the parent's batch.
 */
export function replaceChildren<C extends SQLiteTable>(db: D1Database, r: ChildReplacement<C>): D1PreparedStatement[] {
  const d = orm(db);
  const parentApplied = exists(
    d
      .select({ one: sql`1` })
      .from(r.parent)
      .where(and(eq(r.parentId, r.id), eq(r.parentLastEventId, r.eventId))),
  );
  const statements = [toD1(db, d.delete(r.child).where(and(eq(r.childParentId, r.id), parentApplied)))];

  // Insert-select takes every column in table order, so each tuple is built in that order.
  const columns = Object.entries(getTableColumns(r.child) as Record<string, SQLiteColumn>);
  const guardParams = 2;
  const perStatement = Math.max(1, Math.floor((MAX_BOUND_PARAMETERS - guardParams) / columns.length));
  for (let i = 0; i < r.rows.length; i += perStatement) {
    const tuples = r.rows.slice(i, i + perStatement).map((row) => {
      const values = row as Record<string, unknown>;
      return sql`(${sql.join(
        columns.map(([key, column]) => sql.param(values[key] ?? null, column)),
        sql`, `,
      )})`;
    });
    const select = sql`select * from (values ${sql.join(tuples, sql`, `)}) where ${parentApplied}`;
    statements.push(toD1(db, d.insert(r.child).select(select)));
  }
  return statements;
}
