/**
 * Cross-source identity: after an event's source rows are written, link the customer it names to
 * a person (`customer_profiles`) through `customer_identities`. The statements are plain
 * INSERT … SELECT / UPDATE over the rows *as stored*, appended to the event's own D1 batch: the
 * link commits with the rows, and a late or repeated event re-derives it from the newest stored
 * state instead of from its own payload, so out-of-order delivery cannot create a second profile.
 * The price is 4 to 9 small statements per customer-bearing event (a batch's Shopify orders send
 * theirs as one: `LinkBatcher`; none for an order whose customer another event linked:
 * `knownIdentities`), and rules limited to what one batch of SQL can decide; merging two profiles
 * that both hold identities is never automatic.
 *
 * Rules (emails are compared normalized: trimmed and lower-cased, as the mappers store them):
 * 1. Each email belongs to at most one profile (`customer_profile_emails`). A profile is created
 *    for an email nobody has, and is keyed by it for good.
 * 2. A new identity joins, in this order: the profile of an identity with the same Shopify
 *    customer id (a Recharge customer carrying it, or the Shopify customer itself: the link wins
 *    over email); else the profile owning its email, so identities with one email share a
 *    profile, whatever their source; else a new profile. With neither email nor link, no identity
 *    is recorded until an event brings one.
 * 3. An identity keeps its profile when its email changes. The new email is added to the profile
 *    when nobody owns it; when another profile owns it, the identity stays, the email stays, and
 *    an `email_in_other_profile` conflict is recorded. Old emails stay with the profile. An email
 *    removed at the source changes nothing.
 * 4. A Recharge customer whose Shopify customer id points at another profile moves there
 *    (`moved_by_shopify_link` is recorded). If it was alone on its old profile, that profile's
 *    emails move with it and the emptied profile is deleted; otherwise they stay.
 * 5. Only the customer object's own events (Shopify customers/*, Recharge customer/*, Stripe
 *    customer.*) move an identity's email. Events that only reference a customer (orders,
 *    subscriptions, charges, payment intents, invoices, checkout sessions) create its identity
 *    when it is missing (with the stored customer's email, else their own) and may attach a
 *    Recharge link; they never re-email it.
 * 6. Orders and charges with no customer object get no identity: `customer_activity` attributes
 *    them at read time to the profile owning their email.
 */

import { type ShopifyRows, shopifyFamily } from "../mapping/shopify";
import { parseLossless } from "../shared/json";
import type {
  ApplyPlan,
  ArchivedEvent,
  IdentityKey,
  IdentityLink,
  IdentityTarget,
  LinkInput,
  ResolverName,
} from "./plan";

export type { IdentityTarget, ResolverName };

/**
 * How to find the customer an event names in the stored rows: a SELECT yielding at most one row
 * `(source, shop, ext, email, link)` from `$shop` (the shop, '' outside Shopify) and `$id` (the
 * object id). `owner`: the row is the customer itself (rule 5). `relink`: the link may move it (rule 4).
 */
interface Resolver {
  candidate: string;
  owner: boolean;
  relink: boolean;
}

/** A Recharge object that references a customer: the customer row's email and Shopify link, else its own. */
const rechargeReference = (table: string): Resolver => ({
  candidate: `SELECT 'recharge' AS source, $shop AS shop, s.customer_id AS ext, coalesce(k.email, s.email) AS email,
      coalesce(k.shopify_customer_id, s.shopify_customer_id) AS link
    FROM ${table} s LEFT JOIN recharge_customers k ON k.id = s.customer_id
    WHERE s.id = $id AND s.customer_id IS NOT NULL`,
  owner: false,
  relink: true,
});

/** A Stripe object that references a customer: the customer row's email, else the object's own. */
const stripeReference = (table: string): Resolver => ({
  candidate: `SELECT 'stripe' AS source, $shop AS shop, s.customer_id AS ext, coalesce(k.email, s.email) AS email,
      NULL AS link
    FROM ${table} s LEFT JOIN stripe_customers k ON k.id = s.customer_id
    WHERE s.id = $id AND s.customer_id IS NOT NULL`,
  owner: false,
  relink: false,
});

const RESOLVERS = {
  shopifyCustomer: {
    candidate: `SELECT 'shopify' AS source, shop, id AS ext, email, id AS link
      FROM shopify_customers WHERE shop = $shop AND id = $id`,
    owner: true,
    relink: false,
  },
  shopifyOrder: {
    candidate: `SELECT 'shopify' AS source, o.shop, o.customer_id AS ext, coalesce(k.email, o.email) AS email,
        o.customer_id AS link
      FROM shopify_orders o LEFT JOIN shopify_customers k ON k.shop = o.shop AND k.id = o.customer_id
      WHERE o.shop = $shop AND o.id = $id AND o.customer_id IS NOT NULL`,
    owner: false,
    relink: false,
  },
  rechargeCustomer: {
    candidate: `SELECT 'recharge' AS source, $shop AS shop, id AS ext, email, shopify_customer_id AS link
      FROM recharge_customers WHERE id = $id`,
    owner: true,
    relink: true,
  },
  rechargeSubscription: rechargeReference("recharge_subscriptions"),
  rechargeCharge: rechargeReference("recharge_charges"),
  stripeCustomer: {
    candidate: `SELECT 'stripe' AS source, $shop AS shop, id AS ext, email, NULL AS link
      FROM stripe_customers WHERE id = $id`,
    owner: true,
    relink: false,
  },
  stripeCharge: stripeReference("stripe_charges"),
  stripePaymentIntent: stripeReference("stripe_payment_intents"),
  stripeInvoice: stripeReference("stripe_invoices"),
  stripeCheckoutSession: stripeReference("stripe_checkout_sessions"),
} as const satisfies Record<ResolverName, Resolver>;

/**
 * Which row to resolve for an applied event, or null when it names no customer. Pure. Deletes
 * are skipped: a soft-deleted customer keeps its identity, and a tombstone teaches nothing.
 */
export function identityTarget(event: ArchivedEvent): IdentityTarget | null {
  const { source, topic, shop } = event.envelope;
  switch (source) {
    case "shopify": {
      const family = shopifyFamily(topic);
      if (shop === null || (family !== "customer" && family !== "order")) return null;
      const [id, customerId] = readIds(event.payload, (doc) => [field(doc, "id"), field(field(doc, "customer"), "id")]);
      const objectId = shopifyId(id);
      if (objectId === null) return null;
      if (family === "customer") return { resolver: "shopifyCustomer", shop, id: objectId };
      // A guest order (no customer object) is attributed by email at read time (rule 6).
      const customer = shopifyId(customerId);
      return customer === null ? null : shopifyOrderTarget(shop, objectId, customer);
    }
    case "recharge": {
      const [family = "", action = ""] = topic.split("/");
      const resolver = RECHARGE_FAMILIES[family];
      if (resolver === undefined || action === "deleted") return null;
      const [id] = readIds(event.payload, (doc) => [field(field(doc, family), "id")]);
      return id === null || id === undefined ? null : { resolver, shop: "", id };
    }
    case "stripe": {
      if (topic.endsWith(".deleted")) return null;
      const [kind, id] = readIds(event.payload, (doc) => {
        const object = field(field(doc, "data"), "object");
        return [field(object, "object"), field(object, "id")];
      });
      const resolver = kind === null || kind === undefined ? undefined : STRIPE_OBJECTS[kind];
      return resolver === undefined || id === null || id === undefined ? null : { resolver, shop: "", id };
    }
  }
}

/**
 * The Shopify order or customer row an event writes (deletes too), which an order link waiting in
 * `LinkBatcher` may read; null for any other event. `id` is null when the payload hides it.
 */
export function linkInput(event: ArchivedEvent): LinkInput | null {
  const { source, topic, shop } = event.envelope;
  if (source !== "shopify" || shop === null) return null;
  const family = shopifyFamily(topic);
  const table =
    family === "order" || family === "delete:orders"
      ? "order"
      : family === "customer" || family === "delete:customers"
        ? "customer"
        : null;
  if (table === null) return null;
  const [id] = readIds(event.payload, (doc) => [field(doc, "id")]);
  return { table, shop, id: shopifyId(id) };
}

/**
 * An applied plan with its identity link (run after the source rows it reads, by `LinkBatcher`)
 * and, for a Shopify order or customer event, the row it writes that waiting order links read.
 */
export function withIdentity(event: ArchivedEvent, plan: ApplyPlan): ApplyPlan {
  if (plan.kind !== "apply") return plan;
  const input = linkInput(event);
  const target = identityTarget(event);
  const out = input === null ? plan : { ...plan, linkInput: input };
  if (target === null) return out;
  const eventId = event.envelope.eventId;
  return { ...out, identity: { target, eventId } };
}

/**
 * Which links' statements would change nothing: the identity they reference exists and another
 * event made it (an identity's own event acts on it again, rule 5). One read for all of them, so a
 * batch of orders from known customers skips 4 statements each; the answer holds unless the
 * identity is deleted (an erasure) before the batch writes, and then the next event of that
 * customer links it again.
 */
export async function knownIdentities(db: D1Database, links: readonly IdentityLink[]): Promise<boolean[]> {
  const read = knownIdentitiesRead(
    db,
    links.map((l) => ({ eventId: l.eventId, referenced: l.target.referenced })),
  );
  return read.known(read.statement === null ? [] : (await read.statement.all<KnownRow>()).results);
}

type KnownRow = { i: number };

/**
 * The read behind `knownIdentities`, for a caller that sends it in a batch with its other reads:
 * the statement (null when no link references an identity) and what its rows say, per link.
 */
export function knownIdentitiesRead(
  db: D1Database,
  links: readonly { eventId: string; referenced?: IdentityKey }[],
): { statement: D1PreparedStatement | null; known: (rows: readonly unknown[]) => boolean[] } {
  const asked = links.flatMap((l, i) =>
    l.referenced ? [[i, l.referenced.source, l.referenced.externalId, l.referenced.shop, l.eventId]] : [],
  );
  const known = (rows: readonly unknown[]) => {
    const out = links.map(() => false);
    for (const r of rows as KnownRow[]) out[r.i] = true;
    return out;
  };
  if (asked.length === 0) return { statement: null, known };
  const statement = db
    .prepare(
      `SELECT json_extract(j.value, '$[0]') AS i FROM json_each(?1) j JOIN customer_identities c
        ON c.source = json_extract(j.value, '$[1]') AND c.external_id = json_extract(j.value, '$[2]')
          AND c.shop = json_extract(j.value, '$[3]')
      WHERE c.last_event_id IS NOT json_extract(j.value, '$[4]')`,
    )
    .bind(JSON.stringify(asked));
  return { statement, known };
}

/** The statements that link the customer an applied event names; empty when it names none. */
export function identityStatements(db: D1Database, event: ArchivedEvent): D1PreparedStatement[] {
  const target = identityTarget(event);
  return target === null ? [] : linkStatements(db, target, event.envelope.eventId);
}

/** The statements that link one stored row's customer; `eventId` is the row's `last_event_id`. */
export function linkStatements(db: D1Database, target: IdentityTarget, eventId: string): D1PreparedStatement[] {
  return statementsFor(RESOLVERS[target.resolver]).map((text) =>
    db.prepare(text).bind(target.shop, target.id, eventId),
  );
}

/**
 * The identity links of one D1 batch, kept in event order while sending few statements. A Shopify
 * order's link waits, and the waiting ones go as one statement into `identity_order_links`, whose
 * trigger runs the order resolver's statements once per row, in order: the statements a link
 * sent on its own runs, compiled once for the batch instead of once per order. Every other link
 * runs in place. Waiting links are sent first whenever something could change what they read: an
 * in-place link (identity rows change in event order), a write of a waiting order's row, or a
 * write of any customer row of its shop (an order's stored customer may differ from its payload's).
 */
export class LinkBatcher {
  readonly #db: D1Database;
  #waiting: Array<{ shop: string; id: string; eventId: string }> = [];

  constructor(db: D1Database) {
    this.#db = db;
  }

  /** The statements to run before an event whose writes touch `input`. */
  before(input: LinkInput | null | undefined): D1PreparedStatement[] {
    if (input === null || input === undefined || this.#waiting.length === 0) return [];
    const touched = this.#waiting.some(
      (w) => w.shop === input.shop && (input.table === "customer" || input.id === null || input.id === w.id),
    );
    return touched ? this.flush() : [];
  }

  /** An event's link, once its own statements are placed: what to run now (nothing when it waits). */
  link(target: IdentityTarget, eventId: string): D1PreparedStatement[] {
    if (target.resolver === "shopifyOrder") {
      this.#waiting.push({ shop: target.shop, id: target.id, eventId });
      return [];
    }
    return [...this.flush(), ...linkStatements(this.#db, target, eventId)];
  }

  /** The waiting links, as one statement (none when nothing waits). */
  flush(): D1PreparedStatement[] {
    if (this.#waiting.length === 0) return [];
    const rows = this.#waiting.map((w) => [w.shop, w.id, w.eventId]);
    this.#waiting = [];
    return [
      this.#db
        .prepare(
          `INSERT INTO ${ORDER_LINKS} (shop, id, event_id) SELECT json_extract(value, '$[0]'),
            json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?1) WHERE 1 ORDER BY key`,
        )
        .bind(JSON.stringify(rows)),
    ];
  }
}

/** The view whose INSTEAD OF INSERT trigger links Shopify orders (migrations/0120_identity_order_links.sql). */
const ORDER_LINKS = "identity_order_links";

/**
 * The DDL of `identity_order_links`: a view that holds nothing, and the trigger that runs the order
 * resolver's statements for each row inserted into it. migrations/0120_identity_order_links.sql
 * holds this text (a test compares them); when the rules change, a new migration drops and
 * creates both again.
 */
export function orderLinksSql(): string {
  const body = buildStatements(RESOLVERS.shopifyOrder)
    .map((t) => `  ${render(t, "trigger")};`)
    .join("\n");
  return `CREATE VIEW ${ORDER_LINKS} (shop, id, event_id) AS SELECT NULL, NULL, NULL WHERE 0;
CREATE TRIGGER ${ORDER_LINKS}_apply INSTEAD OF INSERT ON ${ORDER_LINKS} BEGIN
${body}
END;
`;
}

/** The identity target of mapped Shopify rows (bulk exports, which have no webhook event to read). */
export function shopifyRowsTarget(rows: ShopifyRows): IdentityTarget | null {
  if (rows.kind === "customer") return { resolver: "shopifyCustomer", shop: rows.customer.shop, id: rows.customer.id };
  if (rows.kind === "order" && rows.order.customerId) {
    return shopifyOrderTarget(rows.order.shop, rows.order.id, rows.order.customerId);
  }
  return null;
}

/** The Shopify order or customer row mapped rows write (see `linkInput`). */
export function shopifyRowsInput(rows: ShopifyRows): LinkInput | null {
  if (rows.kind === "order") return { table: "order", shop: rows.order.shop, id: rows.order.id };
  if (rows.kind === "customer") return { table: "customer", shop: rows.customer.shop, id: rows.customer.id };
  if (rows.kind === "delete" && (rows.entity === "orders" || rows.entity === "customers")) {
    return { table: rows.entity === "orders" ? "order" : "customer", shop: rows.meta.shop, id: rows.id };
  }
  return null;
}

/** An order's target: the order row, which references its Shopify customer's identity. */
function shopifyOrderTarget(shop: string, orderId: string, customerId: string): IdentityTarget {
  return {
    resolver: "shopifyOrder",
    shop,
    id: orderId,
    referenced: { source: "shopify", externalId: customerId, shop },
  };
}

const RECHARGE_FAMILIES: Partial<Record<string, ResolverName>> = {
  customer: "rechargeCustomer",
  subscription: "rechargeSubscription",
  charge: "rechargeCharge",
};

/** Keyed by `data.object.object`, as the Stripe mapper picks its table. */
const STRIPE_OBJECTS: Partial<Record<string, ResolverName>> = {
  customer: "stripeCustomer",
  charge: "stripeCharge",
  payment_intent: "stripePaymentIntent",
  invoice: "stripeInvoice",
  "checkout.session": "stripeCheckoutSession",
};

// ---- payload reading ------------------------------------------------------------------------

function field(doc: unknown, key: string): unknown {
  return typeof doc === "object" && doc !== null && !Array.isArray(doc)
    ? (doc as Record<string, unknown>)[key]
    : undefined;
}

/** A few values of a payload the mapper already accepted (and parsed: the parse is reused), as text. */
function readIds(payload: string, pick: (doc: unknown) => unknown[]): Array<string | null | undefined> {
  const values = pick(parseLossless(payload));
  return values.map((v) => {
    if (typeof v === "string") return v.trim() === "" ? null : v;
    if (typeof v === "number") return String(v);
    return v === null ? null : undefined;
  });
}

const GID = /^gid:\/\/shopify\/\w+\/(\d+)$/;
/** Digits, as the Shopify mapper stores ids (a GraphQL gid is reduced to its number). */
function shopifyId(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return /^\d{1,32}$/.test(value) ? value : (GID.exec(value)?.[1] ?? null);
}

// ---- statements -----------------------------------------------------------------------------

/**
 * The statements are written once, with `$shop`, `$id` and `$event` where a link's values go, and
 * without WITH clauses (SQLite refuses them in trigger bodies): `render` binds them as ?1..?3 for a
 * link sent on its own, or as the `NEW` row of a trigger (`identityTriggerSql`) for links sent
 * together. Either way the same text runs, so the two cannot drift.
 */
const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
/** `i` is the identity the candidate `c` names. */
const IS_C = "i.source = c.source AND i.external_id = c.ext AND i.shop = c.shop";
/** The profile the candidate's Shopify link points at (another identity's), Shopify's own first. */
const LINK_PROFILE = `(SELECT l.profile_id FROM customer_identities l
  WHERE l.shopify_customer_id = c.link AND NOT (l.source = c.source AND l.external_id = c.ext AND l.shop = c.shop)
  ORDER BY l.source = 'shopify' DESC, l.created_at, l.external_id LIMIT 1)`;
const CONFLICT_COLUMNS =
  "(source, external_id, shop, kind, other_profile_id, profile_id, email, first_seen_at, last_seen_at, last_event_id)";
const ON_CONFLICT_SEEN_AGAIN = `ON CONFLICT (source, external_id, shop, kind, other_profile_id) DO UPDATE SET
  profile_id = excluded.profile_id, email = excluded.email, last_seen_at = excluded.last_seen_at,
  last_event_id = excluded.last_event_id`;

type Render = "bound" | "trigger";
const PLACEHOLDERS: Record<Render, Record<string, string>> = {
  bound: { $shop: "?1", $id: "?2", $event: "?3" },
  trigger: { $shop: "NEW.shop", $id: "NEW.id", $event: "NEW.event_id" },
};

function render(text: string, how: Render): string {
  return text.replace(/\$(shop|id|event)\b/g, (p) => PLACEHOLDERS[how][p] as string);
}

const cache = new Map<Resolver, string[]>();

/** The SQL texts for a resolver, in order, bound as ?1..?3; built once per isolate. */
function statementsFor(r: Resolver): string[] {
  let texts = cache.get(r);
  if (texts === undefined) {
    texts = buildStatements(r).map((t) => render(t, "bound"));
    cache.set(r, texts);
  }
  return texts;
}

function buildStatements(r: Resolver): string[] {
  /** The candidate: at most one row. */
  const c = `(${r.candidate}) c`;
  /** The candidate with `link_profile`, the profile its Shopify link points at. */
  const cl = `(SELECT c.*, ${LINK_PROFILE} AS link_profile FROM (${r.candidate}) c) c`;
  const linkProfile = `(SELECT link_profile FROM ${cl})`;
  const cKey = `(source, external_id, shop) IN (SELECT source, ext, shop FROM ${c})`;
  const cValue = (column: string) => `(SELECT ${column} FROM ${c})`;
  // Reference events act on an identity only when this event created or moved it (rule 5).
  const mine = r.owner ? "" : "AND i.last_event_id = $event";
  const out = [
    // Rule 1: a profile for an email nobody owns, unless the identity exists or a link decides.
    `INSERT INTO customer_profiles (id, email, created_at, updated_at, last_event_id)
    SELECT 'cp_' || lower(hex(randomblob(8))), c.email, ${NOW}, ${NOW}, $event FROM ${cl}
    WHERE c.email IS NOT NULL AND c.link_profile IS NULL
      AND NOT EXISTS (SELECT 1 FROM customer_profile_emails e WHERE e.email = c.email)
      AND NOT EXISTS (SELECT 1 FROM customer_identities i WHERE ${IS_C})
    ON CONFLICT (email) DO NOTHING`,
    // Rule 2: link first, then email (a profile just made for it owns its email from the last statement on).
    `INSERT INTO customer_identities (source, external_id, shop, profile_id, email, shopify_customer_id, matched_by,
      created_at, updated_at, last_event_id)
    SELECT c.source, c.ext, c.shop, coalesce(c.link_profile, e.profile_id, p.id), c.email, c.link,
      CASE WHEN c.link_profile IS NULL THEN 'email' ELSE 'shopify_customer_id' END, ${NOW}, ${NOW}, $event
    FROM ${cl} LEFT JOIN customer_profile_emails e ON e.email = c.email
      LEFT JOIN customer_profiles p ON p.email = c.email
    WHERE coalesce(c.link_profile, e.profile_id, p.id) IS NOT NULL
    ON CONFLICT (source, external_id, shop) DO NOTHING`,
  ];
  if (r.relink) out.push(...relinkStatements(c, cl, linkProfile, cKey));
  if (r.owner) {
    const email = cValue("email");
    const link = cValue("link");
    out.push(`UPDATE customer_identities SET email = coalesce(${email}, email),
      shopify_customer_id = coalesce(${link}, shopify_customer_id), updated_at = ${NOW}, last_event_id = $event
    WHERE ${cKey} AND (email IS NOT coalesce(${email}, email)
      OR shopify_customer_id IS NOT coalesce(${link}, shopify_customer_id))`);
  } else if (r.relink) {
    // A subscription or charge may carry the Recharge link its customer row lacked (rule 5).
    const link = cValue("link");
    out.push(`UPDATE customer_identities SET shopify_customer_id = ${link}, updated_at = ${NOW}, last_event_id = $event
    WHERE ${cKey} AND ${link} IS NOT NULL AND shopify_customer_id IS NOT ${link}`);
  }
  out.push(
    // Rule 3: an email another profile owns is a conflict, never a merge.
    `INSERT INTO customer_identity_conflicts ${CONFLICT_COLUMNS}
    SELECT c.source, c.ext, c.shop, 'email_in_other_profile', e.profile_id, i.profile_id, c.email, ${NOW}, ${NOW}, $event
    FROM ${c} JOIN customer_identities i ON ${IS_C} JOIN customer_profile_emails e ON e.email = c.email
    WHERE e.profile_id <> i.profile_id ${mine}
    ${ON_CONFLICT_SEEN_AGAIN}`,
    // Rule 3: an email nobody owns joins the identity's profile; so does a new profile's key email.
    `INSERT INTO customer_profile_emails (email, profile_id, created_at, last_event_id)
    SELECT c.email, i.profile_id, ${NOW}, $event FROM ${c} JOIN customer_identities i ON ${IS_C}
    WHERE c.email IS NOT NULL ${mine}
    ON CONFLICT (email) DO NOTHING`,
  );
  return out;
}

/** Rule 4, in order: record the move, carry a lone identity's emails, move it, drop what it left empty. */
function relinkStatements(c: string, cl: string, linkProfile: string, cKey: string): string[] {
  const cur = `(SELECT i.profile_id FROM ${c} JOIN customer_identities i ON ${IS_C})`;
  return [
    `INSERT INTO customer_identity_conflicts ${CONFLICT_COLUMNS}
    SELECT c.source, c.ext, c.shop, 'moved_by_shopify_link', i.profile_id, c.link_profile, c.email, ${NOW}, ${NOW}, $event
    FROM ${cl} JOIN customer_identities i ON ${IS_C}
    WHERE c.link_profile IS NOT NULL AND c.link_profile <> i.profile_id
    ${ON_CONFLICT_SEEN_AGAIN}`,
    `UPDATE customer_profile_emails SET profile_id = ${linkProfile}, last_event_id = $event
    WHERE profile_id = ${cur} AND ${linkProfile} <> ${cur}
      AND NOT EXISTS (SELECT 1 FROM ${c}, customer_identities x WHERE x.profile_id = ${cur}
        AND NOT (x.source = c.source AND x.external_id = c.ext AND x.shop = c.shop))`,
    `UPDATE customer_identities SET profile_id = ${linkProfile}, matched_by = 'shopify_customer_id',
      updated_at = ${NOW}, last_event_id = $event
    WHERE ${cKey} AND ${linkProfile} IS NOT NULL AND profile_id <> ${linkProfile}`,
    `DELETE FROM customer_profiles WHERE id IN (
      SELECT k.other_profile_id FROM ${c} JOIN customer_identity_conflicts k
        ON k.source = c.source AND k.external_id = c.ext AND k.shop = c.shop AND k.kind = 'moved_by_shopify_link'
      WHERE k.last_event_id = $event)
    AND NOT EXISTS (SELECT 1 FROM customer_identities x WHERE x.profile_id = customer_profiles.id)
    AND NOT EXISTS (SELECT 1 FROM customer_profile_emails e WHERE e.profile_id = customer_profiles.id)`,
  ];
}
