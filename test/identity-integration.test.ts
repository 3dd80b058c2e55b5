import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import type { Envelope } from "../src/shared/envelope";
import { IDENTITY_TABLES } from "../src/shared/schema/identity";
import { orderLinksSql } from "../src/tables/identity";
import { expectMatchesMigration } from "./helpers/schema-match";

// Tests share one local D1: ids, emails and shops carry this run's stamp and a counter.
const run = `${Date.now()}`;
let seq = 0;
const next = () => ++seq;
/** Shopify ids are digits; 18 of them, beyond 2^53, like real ones. */
const shopifyId = () => `9${run.slice(-9)}${String(next()).padStart(8, "0")}`;
const email = (name: string) => `${name}-${run}-${next()}@example.com`;
const newShop = () => `id-${run}-${next()}.myshopify.com`;
/** Padded, so ids sort as text in the order they were made. */
const uid = (prefix: string) => `${prefix}${run}_${String(next()).padStart(6, "0")}`;

function envelope(source: Envelope["source"], topic: string, body: string, shop: string | null, at: string): Envelope {
  return {
    v: 1,
    source,
    topic,
    eventId: `${source}-idt-${run}-${next()}`,
    shop,
    receivedAt: at,
    eventAt: at,
    apiVersion: null,
    origin: "webhook",
    body,
  };
}

/** Shopify bodies are built as text so 18-digit ids stay digits (no JSON number rounding). */
function shopifyCustomer(shop: string, id: string, mail: string | null, updatedAt = "2026-11-01T10:00:00Z") {
  const body = `{"id":${id},"email":${JSON.stringify(mail)},"first_name":"Ann","created_at":"2026-10-01T10:00:00Z","updated_at":"${updatedAt}"}`;
  return envelope("shopify", "customers/update", body, shop, updatedAt);
}
function shopifyOrder(shop: string, id: string, customerId: string | null, mail: string, total = "50.00") {
  const customer = customerId === null ? "null" : `{"id":${customerId}}`;
  const body = `{"id":${id},"name":"#${id.slice(-4)}","email":"${mail}","customer":${customer},"currency":"USD","total_price":"${total}","financial_status":"paid","created_at":"2026-11-02T10:00:00Z","updated_at":"2026-11-02T10:00:00Z","line_items":[]}`;
  return envelope("shopify", "orders/create", body, shop, "2026-11-02T10:00:00Z");
}
function rechargeCustomer(
  id: string,
  mail: string,
  shopifyCustomerId: string | null,
  updatedAt = "2026-11-03T10:00:00",
) {
  const body = JSON.stringify({
    customer: {
      id,
      email: mail,
      external_customer_id: { ecommerce: shopifyCustomerId },
      created_at: "2026-10-03T10:00:00",
      updated_at: updatedAt,
    },
  });
  return envelope("recharge", "customer/updated", body, null, `${updatedAt}Z`);
}
function rechargeSubscription(id: string, customerId: string, mail: string) {
  const body = JSON.stringify({
    subscription: {
      id,
      customer_id: customerId,
      email: mail,
      status: "ACTIVE",
      sku: "COFFEE-1",
      price: "20.00",
      currency: "USD",
      quantity: 2,
      created_at: "2026-11-03T11:00:00",
      updated_at: "2026-11-03T11:00:00",
    },
  });
  return envelope("recharge", "subscription/created", body, null, "2026-11-03T11:00:00Z");
}
function rechargeCharge(id: string, customerId: string, mail: string) {
  const body = JSON.stringify({
    charge: {
      id,
      customer: { id: customerId, email: mail },
      status: "success",
      // Recharge always sends the key; the mapper refuses a charge without it.
      error: null,
      currency: "USD",
      total_price: "40.00",
      processed_at: "2026-11-04T10:00:00",
      created_at: "2026-11-04T10:00:00",
      updated_at: "2026-11-04T10:00:00",
    },
  });
  return envelope("recharge", "charge/paid", body, null, "2026-11-04T10:00:00Z");
}
const T0 = 1_793_000_000; // 2026-10-26T09:33:20Z
function stripe(type: string, object: Record<string, unknown>, created = T0) {
  const id = `evt_${run}_${next()}`;
  const body = JSON.stringify({ id, object: "event", type, created, livemode: true, data: { object } });
  return { ...envelope("stripe", type, body, null, new Date(created * 1000).toISOString()), eventId: id };
}
const stripeCustomer = (id: string, mail: string | null, created = T0) =>
  stripe("customer.updated", { id, object: "customer", email: mail, livemode: true, created: T0 }, created);
const stripeCharge = (id: string, customer: string | null, mail: string, amount = 1500) =>
  stripe("charge.succeeded", {
    id,
    object: "charge",
    customer,
    billing_details: { email: mail },
    amount,
    currency: "eur",
    status: "succeeded",
    paid: true,
    livemode: true,
    created: T0,
  });
const stripeSession = (id: string, customer: string, mail: string) =>
  stripe("checkout.session.completed", {
    id,
    object: "checkout.session",
    mode: "payment",
    status: "complete",
    payment_status: "paid",
    customer,
    customer_details: { email: mail },
    currency: "eur",
    amount_total: 2500,
    line_items: { object: "list", data: [], has_more: false },
    livemode: true,
    created: T0,
  });
const stripeDispute = (id: string, charge: string) =>
  stripe("charge.dispute.created", {
    id,
    object: "dispute",
    charge,
    amount: 1500,
    currency: "eur",
    reason: "fraudulent",
    status: "needs_response",
    livemode: true,
    created: T0,
  });

/** One queue batch through the worker's real consumer against local D1 and R2; every message acked. */
async function deliver(...envelopes: Envelope[]) {
  return deliverWith(env, ...envelopes);
}
async function deliverWith(withEnv: Env, ...envelopes: Envelope[]) {
  const batch = createMessageBatch(
    "commerce-events",
    envelopes.map((body, i) => ({ id: `m-${run}-${next()}-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, withEnv);
  const result = await getQueueResult(batch, ctx);
  expect(result.retryMessages).toEqual([]);
  expect(result.explicitAcks).toHaveLength(envelopes.length);
  for (const e of envelopes) {
    const row = await env.DB.prepare("SELECT status, note FROM webhook_events WHERE source = ? AND event_id = ?")
      .bind(e.source, e.eventId)
      .first<{ status: string }>();
    expect(row, `${e.source} ${e.topic}: ${JSON.stringify(row)}`).toMatchObject({ status: "applied" });
  }
}

interface Identity {
  source: string;
  external_id: string;
  shop: string;
  profile_id: string;
  email: string | null;
  shopify_customer_id: string | null;
  matched_by: string;
}
async function identity(source: string, externalId: string, shop = ""): Promise<Identity | null> {
  return env.DB.prepare("SELECT * FROM customer_identities WHERE source = ? AND external_id = ? AND shop = ?")
    .bind(source, externalId, shop)
    .first<Identity>();
}
async function ownerOf(mail: string): Promise<string | null> {
  const row = await env.DB.prepare("SELECT profile_id FROM customer_profile_emails WHERE email = ?")
    .bind(mail)
    .first<{ profile_id: string }>();
  return row?.profile_id ?? null;
}
async function emailsOf(profileId: string): Promise<string[]> {
  const r = await env.DB.prepare("SELECT email FROM customer_profile_emails WHERE profile_id = ? ORDER BY email")
    .bind(profileId)
    .all<{ email: string }>();
  return r.results.map((x) => x.email);
}
async function profile(id: string) {
  return env.DB.prepare("SELECT id, email FROM customer_profiles WHERE id = ?").bind(id).first<{ email: string }>();
}
async function profilesFor(...emails: string[]): Promise<number> {
  const marks = emails.map(() => "?").join(", ");
  const r = await env.DB.prepare(
    `SELECT count(DISTINCT id) AS n FROM customer_profiles WHERE email IN (${marks})
       OR id IN (SELECT profile_id FROM customer_profile_emails WHERE email IN (${marks}))`,
  )
    .bind(...emails, ...emails)
    .first<{ n: number }>();
  return r?.n ?? 0;
}
async function conflicts(source: string, externalId: string, shop = "") {
  const r = await env.DB.prepare(
    `SELECT kind, profile_id, other_profile_id, email FROM customer_identity_conflicts
     WHERE source = ? AND external_id = ? AND shop = ? ORDER BY kind`,
  )
    .bind(source, externalId, shop)
    .all<{ kind: string; profile_id: string; other_profile_id: string; email: string | null }>();
  return r.results;
}

/** The documented single query (README, "Cross-source identity"). */
async function activityByEmail(mail: string) {
  const r = await env.DB.prepare(
    `SELECT activity, source, id, status, currency, amount_minor, attributed_by FROM customer_activity
     WHERE profile_id = (SELECT profile_id FROM customer_profile_emails WHERE email = ?)
     ORDER BY activity, source, id`,
  )
    .bind(mail)
    .all<Record<string, unknown>>();
  return r.results;
}

describe("identity schema", () => {
  it("drizzle definitions match the migrated tables: columns, types, not-null, keys and indexes", async () => {
    for (const table of IDENTITY_TABLES) await expectMatchesMigration(table);
  });

  it("runs the order links sent together with the statements a link sent alone runs", async () => {
    // The view and trigger the migrations created are orderLinksSql()'s (migration 0120). When this
    // fails, the rules changed: a new migration drops both and creates them from orderLinksSql().
    const created = await env.DB.prepare(
      "SELECT sql FROM sqlite_master WHERE name IN ('identity_order_links', 'identity_order_links_apply') ORDER BY type DESC",
    ).all<{ sql: string }>();
    expect(created.results.map((r) => `${r.sql};\n`).join("")).toBe(orderLinksSql());
  });
});

/** One step of a random history: what a shop and Recharge may send about a few people. */
type Step =
  | { kind: "order"; order: number; customer: number | null; mail: number; version: number }
  | { kind: "customer"; customer: number; mail: number | null; version: number }
  | { kind: "customerDelete"; customer: number }
  | { kind: "recharge"; customer: number; mail: number; link: number | null; version: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("order" as const),
      order: fc.nat(4),
      customer: fc.option(fc.nat(3), { freq: 5 }),
      mail: fc.nat(3),
      version: fc.nat(3),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("customer" as const),
      customer: fc.nat(3),
      mail: fc.option(fc.nat(3), { freq: 4 }),
      version: fc.nat(3),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("customerDelete" as const), customer: fc.nat(3) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("recharge" as const),
      customer: fc.nat(2),
      mail: fc.nat(3),
      link: fc.option(fc.nat(3), { freq: 2 }),
      version: fc.nat(3),
    }),
  },
);

/**
 * A history's events under its own names (`tag`), so two deliveries of one history share no email,
 * id or shop. Numbers in the names let the graph be compared across tags.
 */
function historyEvents(tag: string, steps: readonly Step[]): { shop: string; events: Envelope[] } {
  const shop = `eq-${tag}.myshopify.com`;
  const id = (kind: number, n: number) => `${kind}${tag}${String(n).padStart(3, "0")}`;
  const mail = (n: number) => `p${n}-${tag}@example.com`;
  const at = (version: number) => `2026-11-0${version + 1}T10:00:00Z`;
  const events = steps.map(eventOf);
  return { shop, events };

  function eventOf(s: Step): Envelope {
    switch (s.kind) {
      case "order": {
        const customer = s.customer === null ? "null" : `{"id":${id(7, s.customer)}}`;
        const body = `{"id":${id(5, s.order)},"email":"${mail(s.mail)}","customer":${customer},"currency":"USD","total_price":"5.00","created_at":"2026-11-01T09:00:00Z","updated_at":"${at(s.version)}","line_items":[]}`;
        return envelope("shopify", "orders/updated", body, shop, at(s.version));
      }
      case "customer":
        return shopifyCustomer(shop, id(7, s.customer), s.mail === null ? null : mail(s.mail), at(s.version));
      case "customerDelete":
        return envelope("shopify", "customers/delete", `{"id":${id(7, s.customer)}}`, shop, at(3));
      case "recharge":
        return rechargeCustomer(
          id(3, s.customer),
          mail(s.mail),
          s.link === null ? null : id(7, s.link),
          at(s.version).slice(0, -1),
        );
    }
  }
}

/**
 * The identity graph of one history (its shop, its Recharge ids, its emails: every name holds
 * `tag`), as JSON with `tag` taken out and each profile named by its key email.
 */
async function graphOf(tag: string, shop: string): Promise<string> {
  const mails = `%-${tag}@example.com`;
  const recharge = `3${tag}%`;
  const profiles = await env.DB.prepare("SELECT id, email FROM customer_profiles WHERE email LIKE ?1")
    .bind(mails)
    .all<{ id: string; email: string }>();
  const name = new Map(profiles.results.map((p) => [p.id, p.email]));
  const rows = async (sql: string, ...binds: string[]) =>
    (
      await env.DB.prepare(sql)
        .bind(...binds)
        .all<Record<string, unknown>>()
    ).results.map((row) =>
      Object.entries(row).map(([k, v]) => (k.endsWith("profile_id") ? (name.get(String(v)) ?? `unknown ${v}`) : v)),
    );
  const graph = {
    profiles: [...name.values()].sort(),
    identities: await rows(
      `SELECT source, external_id, shop, profile_id, email, shopify_customer_id, matched_by FROM customer_identities
       WHERE shop = ?1 OR external_id LIKE ?2 ORDER BY source, external_id`,
      shop,
      recharge,
    ),
    emails: await rows(
      "SELECT email, profile_id FROM customer_profile_emails WHERE email LIKE ?1 ORDER BY email",
      mails,
    ),
    conflicts: await rows(
      `SELECT source, external_id, kind, other_profile_id, profile_id, email FROM customer_identity_conflicts
       WHERE shop = ?1 OR external_id LIKE ?2 ORDER BY source, external_id, kind, other_profile_id`,
      shop,
      recharge,
    ),
  };
  return JSON.stringify(graph).replaceAll(tag, "#");
}

describe("identity links sent together", () => {
  it("leave the same identity graph as each event delivered in a batch of its own, for any history", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 2, maxLength: 12 }), async (steps) => {
        // Digits (the tag is part of Shopify ids), all of one length (none is a prefix of another).
        const tag = `${run.slice(-6)}${String(++n).padStart(3, "0")}`;
        const alone = historyEvents(`${tag}1`, steps);
        for (const e of alone.events) await deliver(e);
        const together = historyEvents(`${tag}2`, steps);
        await deliver(...together.events);
        expect(await graphOf(`${tag}2`, together.shop)).toBe(await graphOf(`${tag}1`, alone.shop));
      }),
      { numRuns: 40, seed: 613 },
    );
  });
});

describe("cross-source identity through the consumer", () => {
  it("resolves the Shopify customer, the Recharge customer carrying its id and the Stripe customer to one profile", async () => {
    const shop = newShop();
    const shopifyCustomerId = shopifyId();
    const ann = email("ann");
    const annRecharge = email("ann-rc"); // Recharge has another address: the Shopify id link decides.
    const rc = uid("rc");
    const cus = uid("cus_");
    // Mixed case and blanks: the mappers normalize, so identity compares one form.
    await deliver(shopifyCustomer(shop, shopifyCustomerId, `  ${ann.toUpperCase()} `));
    await deliver(rechargeCustomer(rc, annRecharge, shopifyCustomerId), stripeCustomer(cus, ann));

    const s = await identity("shopify", shopifyCustomerId, shop);
    const r = await identity("recharge", rc);
    const t = await identity("stripe", cus);
    expect(s).toMatchObject({ email: ann, shopify_customer_id: shopifyCustomerId, matched_by: "email" });
    expect(r).toMatchObject({ profile_id: s?.profile_id, email: annRecharge, matched_by: "shopify_customer_id" });
    expect(t).toMatchObject({ profile_id: s?.profile_id, email: ann, matched_by: "email" });
    expect(s?.profile_id).toMatch(/^cp_[0-9a-f]{16}$/);
    expect(await profile(s?.profile_id ?? "")).toMatchObject({ email: ann });
    expect(await emailsOf(s?.profile_id ?? "")).toEqual([ann, annRecharge].sort());
    expect(await conflicts("recharge", rc)).toEqual([]);
  });

  it("returns a person's orders, subscriptions, charges and disputes in one query, guest rows by email", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const bo = email("bo");
    const boRecharge = email("bo-rc");
    const rc = uid("rc");
    const cus = uid("cus_");
    const [order1, order2, guestOrder, strangerOrder] = [shopifyId(), shopifyId(), shopifyId(), shopifyId()];
    const [sub, rcCharge] = [uid("sub"), uid("ch")];
    const [charge, guestCharge, dispute, session] = [uid("ch_"), uid("ch_"), uid("dp_"), uid("cs_")];

    await deliver(
      shopifyCustomer(shop, sc, bo),
      shopifyOrder(shop, order1, sc, bo, "50.00"),
      // The order's contact email differs from the customer's: it still belongs to the customer.
      shopifyOrder(shop, order2, sc, email("bo-work"), "12.34"),
      shopifyOrder(shop, guestOrder, null, bo, "7.00"),
      shopifyOrder(shop, strangerOrder, null, email("stranger"), "99.00"),
    );
    await deliver(
      rechargeCustomer(rc, boRecharge, sc),
      rechargeSubscription(sub, rc, boRecharge),
      rechargeCharge(rcCharge, rc, boRecharge),
      stripeCustomer(cus, bo),
      stripeCharge(charge, cus, bo, 1500),
      // A Stripe charge without a customer, paid with the Recharge address: attributed by email.
      stripeCharge(guestCharge, null, boRecharge, 800),
    );
    await deliver(stripeDispute(dispute, charge), stripeSession(session, cus, bo));

    const rows = await activityByEmail(boRecharge);
    expect(rows).toEqual([
      {
        activity: "charge",
        source: "recharge",
        id: rcCharge,
        status: "success",
        currency: "USD",
        amount_minor: 4000,
        attributed_by: "identity",
      },
      {
        activity: "charge",
        source: "stripe",
        id: charge,
        status: "succeeded",
        currency: "EUR",
        amount_minor: 1500,
        attributed_by: "identity",
      },
      {
        activity: "charge",
        source: "stripe",
        id: guestCharge,
        status: "succeeded",
        currency: "EUR",
        amount_minor: 800,
        attributed_by: "email",
      },
      {
        activity: "dispute",
        source: "stripe",
        id: dispute,
        status: "needs_response",
        currency: "EUR",
        amount_minor: 1500,
        attributed_by: "identity",
      },
      {
        activity: "order",
        source: "shopify",
        id: order1,
        status: "paid",
        currency: "USD",
        amount_minor: 5000,
        attributed_by: "identity",
      },
      {
        activity: "order",
        source: "shopify",
        id: order2,
        status: "paid",
        currency: "USD",
        amount_minor: 1234,
        attributed_by: "identity",
      },
      {
        activity: "order",
        source: "shopify",
        id: guestOrder,
        status: "paid",
        currency: "USD",
        amount_minor: 700,
        attributed_by: "email",
      },
      {
        activity: "order",
        source: "stripe",
        id: session,
        status: "paid",
        currency: "EUR",
        amount_minor: 2500,
        attributed_by: "identity",
      },
      {
        activity: "subscription",
        source: "recharge",
        id: sub,
        status: "active",
        currency: "USD",
        amount_minor: 4000,
        attributed_by: "identity",
      },
    ]);
    // The same person whichever email is asked; a guest order under another email is not theirs.
    expect(await activityByEmail(bo)).toEqual(rows);
    expect(rows.map((r) => r.id)).not.toContain(strangerOrder);
    // Guest rows create no profile of their own (rule 6).
    const stranger = await env.DB.prepare("SELECT email FROM shopify_orders WHERE shop = ? AND id = ?")
      .bind(shop, strangerOrder)
      .first<{ email: string }>();
    expect(await ownerOf(stranger?.email ?? "")).toBeNull();
  });

  it("creates the identity from an order when the customer object has not been seen, with the order email", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const cy = email("cy");
    await deliver(shopifyOrder(shop, shopifyId(), sc, cy));
    const fromOrder = await identity("shopify", sc, shop);
    expect(fromOrder).toMatchObject({ email: cy, matched_by: "email" });
    expect(await ownerOf(cy)).toBe(fromOrder?.profile_id);

    // A later order with another contact email does not re-email the customer (rule 5) ...
    const other = email("cy-other");
    await deliver(shopifyOrder(shop, shopifyId(), sc, other));
    expect(await identity("shopify", sc, shop)).toMatchObject({ email: cy, profile_id: fromOrder?.profile_id });
    expect(await ownerOf(other)).toBeNull();
    // ... the customer object itself does.
    await deliver(shopifyCustomer(shop, sc, other));
    expect(await identity("shopify", sc, shop)).toMatchObject({ email: other, profile_id: fromOrder?.profile_id });
    expect(await ownerOf(other)).toBe(fromOrder?.profile_id);
  });

  it("links the Stripe customer of a payment intent and of an invoice, by their email", async () => {
    const dee = email("dee");
    const [piCustomer, inCustomer] = [uid("cus_"), uid("cus_")];
    await deliver(
      stripe("payment_intent.succeeded", {
        id: uid("pi_"),
        object: "payment_intent",
        customer: piCustomer,
        receipt_email: dee,
        amount: 2500,
        currency: "usd",
        status: "succeeded",
        livemode: true,
        created: T0,
      }),
      stripe("invoice.paid", {
        id: uid("in_"),
        object: "invoice",
        customer: inCustomer,
        customer_email: ` ${dee.toUpperCase()}`,
        currency: "usd",
        amount_paid: 2500,
        status: "paid",
        livemode: true,
        created: T0,
      }),
    );
    const fromIntent = await identity("stripe", piCustomer);
    const fromInvoice = await identity("stripe", inCustomer);
    expect(fromIntent).toMatchObject({ email: dee, matched_by: "email" });
    expect(fromInvoice).toMatchObject({ email: dee, profile_id: fromIntent?.profile_id });
    expect(await ownerOf(dee)).toBe(fromIntent?.profile_id);
  });

  it("keeps the profile when an email changes: the new email joins it, the old one stays", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const [before, after] = [email("dee"), email("dee-new")];
    await deliver(shopifyCustomer(shop, sc, before, "2026-11-01T10:00:00Z"));
    const first = await identity("shopify", sc, shop);
    await deliver(shopifyCustomer(shop, sc, after, "2026-11-05T10:00:00Z"));

    const changed = await identity("shopify", sc, shop);
    expect(changed).toMatchObject({ profile_id: first?.profile_id, email: after });
    expect(await emailsOf(first?.profile_id ?? "")).toEqual([before, after].sort());
    expect(await profile(first?.profile_id ?? "")).toMatchObject({ email: before }); // the key never changes
    // Someone arriving later with either address is the same person.
    const cus = uid("cus_");
    await deliver(stripeCustomer(cus, after));
    expect(await identity("stripe", cus)).toMatchObject({ profile_id: first?.profile_id, matched_by: "email" });
    // An email removed at the source changes nothing.
    await deliver(shopifyCustomer(shop, sc, null, "2026-11-06T10:00:00Z"));
    expect(await identity("shopify", sc, shop)).toMatchObject({ profile_id: first?.profile_id, email: after });
    expect(await conflicts("shopify", sc, shop)).toEqual([]);
  });

  it("records a conflict instead of merging when the new email belongs to another person's profile", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const [eve, fay] = [email("eve"), email("fay")];
    const cus = uid("cus_");
    await deliver(shopifyCustomer(shop, sc, eve, "2026-11-01T10:00:00Z"), stripeCustomer(cus, fay));
    const evesProfile = (await identity("shopify", sc, shop))?.profile_id;
    const faysProfile = (await identity("stripe", cus))?.profile_id;
    expect(evesProfile).not.toBe(faysProfile);

    const changed = shopifyCustomer(shop, sc, fay, "2026-11-05T10:00:00Z");
    await deliver(changed);
    await deliver({ ...changed }); // a redelivery counts as the same conflict, not a second one
    await deliver(shopifyCustomer(shop, sc, fay, "2026-11-06T10:00:00Z"));

    expect(await identity("shopify", sc, shop)).toMatchObject({ profile_id: evesProfile, email: fay });
    expect(await ownerOf(fay)).toBe(faysProfile);
    expect(await emailsOf(evesProfile ?? "")).toEqual([eve]);
    expect(await conflicts("shopify", sc, shop)).toEqual([
      { kind: "email_in_other_profile", profile_id: evesProfile, other_profile_id: faysProfile, email: fay },
    ]);
    expect(await profilesFor(eve, fay)).toBe(2);
  });

  it("lets identities of one source with one email share a profile", async () => {
    const gus = email("gus");
    const [a, b] = [uid("cus_"), uid("cus_")];
    await deliver(stripeCustomer(a, gus));
    await deliver(stripeCustomer(b, gus));
    const [ia, ib] = [await identity("stripe", a), await identity("stripe", b)];
    expect(ia?.profile_id).toBeDefined();
    expect(ib?.profile_id).toBe(ia?.profile_id);
    expect(await profilesFor(gus)).toBe(1);
  });

  it("joins a Shopify customer seen after its Recharge customer to that profile, by the link, whatever its email", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const [rcMail, shopMail] = [email("hal-rc"), email("hal")];
    const rc = uid("rc");
    await deliver(rechargeCustomer(rc, rcMail, sc));
    const r = await identity("recharge", rc);
    expect(r).toMatchObject({ matched_by: "email", shopify_customer_id: sc });
    await deliver(shopifyCustomer(shop, sc, shopMail));
    expect(await identity("shopify", sc, shop)).toMatchObject({
      profile_id: r?.profile_id,
      matched_by: "shopify_customer_id",
    });
    expect(await emailsOf(r?.profile_id ?? "")).toEqual([rcMail, shopMail].sort());
  });

  it("moves a Recharge customer to its Shopify customer's profile when the link arrives late, and records it", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const [shopMail, rcMail] = [email("ivy"), email("ivy-rc")];
    const rc = uid("rc");
    await deliver(shopifyCustomer(shop, sc, shopMail));
    const target = (await identity("shopify", sc, shop))?.profile_id ?? "";
    // The first Recharge payload lacks the Shopify id: the email makes a profile of its own.
    await deliver(rechargeCustomer(rc, rcMail, null, "2026-11-03T10:00:00"));
    const provisional = (await identity("recharge", rc))?.profile_id ?? "";
    expect(provisional).not.toBe(target);

    const linked = rechargeCustomer(rc, rcMail, sc, "2026-11-04T10:00:00");
    await deliver(linked);
    await deliver({ ...linked });

    expect(await identity("recharge", rc)).toMatchObject({
      profile_id: target,
      shopify_customer_id: sc,
      matched_by: "shopify_customer_id",
    });
    expect(await conflicts("recharge", rc)).toEqual([
      { kind: "moved_by_shopify_link", profile_id: target, other_profile_id: provisional, email: rcMail },
    ]);
    // It was alone there: its email came along and the empty profile is gone.
    expect(await ownerOf(rcMail)).toBe(target);
    expect(await profile(provisional)).toBeNull();
    expect(await profilesFor(shopMail, rcMail)).toBe(1);
  });

  it("takes the link from a subscription when the Recharge customer row has none", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const [shopMail, rcMail] = [email("jo"), email("jo-rc")];
    const rc = uid("rc");
    await deliver(shopifyCustomer(shop, sc, shopMail), rechargeCustomer(rc, rcMail, null));
    const body = JSON.stringify({
      subscription: {
        id: uid("sub"),
        customer_id: rc,
        shopify_customer_id: sc,
        email: rcMail,
        status: "active",
        created_at: "2026-11-05T10:00:00",
        updated_at: "2026-11-05T10:00:00",
      },
    });
    await deliver(envelope("recharge", "subscription/created", body, null, "2026-11-05T10:00:00Z"));
    const target = (await identity("shopify", sc, shop))?.profile_id;
    expect(await identity("recharge", rc)).toMatchObject({ profile_id: target, shopify_customer_id: sc });
  });

  it("makes no extra profile for duplicates, one batch holding a customer and its order, or newest-first updates", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const [old, current] = [email("kim-old"), email("kim")];
    const newer = shopifyCustomer(shop, sc, current, "2026-11-09T10:00:00Z");
    const older = shopifyCustomer(shop, sc, old, "2026-11-02T10:00:00Z");
    // The newest version first, twice, with an order for the same customer in the same batch.
    await deliver(newer, { ...newer }, shopifyOrder(shop, shopifyId(), sc, current));
    await deliver(older);
    await deliver({ ...older }, { ...newer });

    const i = await identity("shopify", sc, shop);
    expect(i).toMatchObject({ email: current });
    // The stale version never reached the stored row, so its email was never linked.
    expect(await ownerOf(old)).toBeNull();
    expect(await emailsOf(i?.profile_id ?? "")).toEqual([current]);
    expect(await profilesFor(old, current)).toBe(1);
    const count = await env.DB.prepare("SELECT count(*) AS n FROM customer_identities WHERE external_id = ?")
      .bind(sc)
      .first<{ n: number }>();
    expect(count?.n).toBe(1);
  });

  it("skips the link of an order whose customer another event linked already, with the same outcome", async () => {
    const shop = newShop();
    const [known, fresh] = [shopifyId(), shopifyId()];
    const [kay, fay] = [email("kay"), email("fay")];
    const first = shopifyOrder(shop, shopifyId(), known, kay);
    await deliver(first);
    const before = await identity("shopify", known, shop);
    expect(before).toMatchObject({ email: kay, matched_by: "email" });

    /** The D1 statements of each batch the consumer writes, and whether the known-identity read may answer. */
    const batches: Array<Array<{ statement?: string; params?: unknown[] }>> = [];
    let readFails = false;
    const recording = (fail: boolean): D1Database =>
      new Proxy(env.DB, {
        get(target, prop) {
          if (prop === "batch") {
            return (statements: D1PreparedStatement[]) => {
              batches.push(statements.map((st) => st as unknown as { statement?: string; params?: unknown[] }));
              return target.batch(statements);
            };
          }
          if (prop === "prepare") {
            return (text: string) => {
              if (fail && text.includes("FROM json_each(?1) j JOIN customer_identities")) {
                readFails = true;
                throw new Error("D1 is down");
              }
              return target.prepare(text);
            };
          }
          const value: unknown = Reflect.get(target, prop);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    /** Orders linked by a batch: the rows of its statements into `identity_order_links`, one statement for all. */
    const linked = (b: Array<{ statement?: string; params?: unknown[] }>) => {
      const sent = b.filter((st) => st.statement?.includes("identity_order_links"));
      expect(sent.length).toBeLessThanOrEqual(1);
      expect(b.filter((st) => st.statement?.includes("INTO customer_identities"))).toEqual([]);
      return sent.flatMap((st) => JSON.parse(String(st.params?.[0])) as unknown[]).length;
    };

    // One batch: an order of the known customer (another email, which must not join its profile),
    // an order of a new customer, and the first order again (its own identity: its link runs again).
    await deliverWith(
      { ...env, DB: recording(false) },
      shopifyOrder(shop, shopifyId(), known, email("kay-other")),
      shopifyOrder(shop, shopifyId(), fresh, fay),
      { ...first },
    );
    const written = batches.at(-1) ?? [];
    // The new customer's and the redelivered order's links run (in one statement); the known
    // customer's order links nothing.
    expect(linked(written)).toBe(2);
    expect(await identity("shopify", known, shop)).toEqual(before);
    expect(await conflicts("shopify", known, shop)).toEqual([]);
    expect(await identity("shopify", fresh, shop)).toMatchObject({ email: fay, matched_by: "email" });
    expect(await profilesFor(kay, fay)).toBe(2);

    // When the read fails, every link is written, as without it.
    const other = shopifyId();
    await deliverWith(
      { ...env, DB: recording(true) },
      shopifyOrder(shop, shopifyId(), known, kay),
      shopifyOrder(shop, shopifyId(), other, email("oz")),
    );
    expect(readFails).toBe(true);
    expect(linked(batches.at(-1) ?? [])).toBe(2);
    expect(await identity("shopify", known, shop)).toEqual(before);
    expect(await identity("shopify", other, shop)).toMatchObject({ matched_by: "email" });
  });

  it("links nothing for a customer without email or link, until an event brings one", async () => {
    const cus = uid("cus_");
    await deliver(stripeCustomer(cus, null));
    expect(await identity("stripe", cus)).toBeNull();
    const late = email("lou");
    await deliver(stripeCustomer(cus, late, T0 + 60));
    expect(await identity("stripe", cus)).toMatchObject({ email: late, matched_by: "email" });
  });
});

describe("GET /admin/people and /ops/people", () => {
  const admin = (path: string) =>
    worker.fetch(
      new Request(`https://pipeline.test${path}`, { headers: { authorization: "Bearer test-admin-token" } }),
      env,
      createExecutionContext(),
    );

  it("returns the person's profile and their orders, charges and subscriptions across the sources", async () => {
    const shop = newShop();
    const sc = shopifyId();
    const order = shopifyId();
    const cy = email("cy");
    const rc = uid("rc");
    const sub = uid("sub");
    const cus = uid("cus_");
    const charge = uid("ch_");
    await deliver(shopifyCustomer(shop, sc, cy), shopifyOrder(shop, order, sc, cy, "50.00"));
    await deliver(rechargeCustomer(rc, cy, sc), rechargeSubscription(sub, rc, cy), stripeCustomer(cus, cy));
    await deliver(stripeCharge(charge, cus, cy, 1500));

    const res = await admin(`/admin/people?email=${encodeURIComponent(`  ${cy.toUpperCase()} `)}`);
    expect(res.status).toBe(200);
    const { person } = await res.json<{ person: Record<string, unknown> }>();
    expect(person).toMatchObject({ email: cy, emails: [cy] });
    expect(person.identities).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: "shopify", externalId: sc, shop }),
        expect.objectContaining({ source: "recharge", externalId: rc, shop: "" }),
        expect.objectContaining({ source: "stripe", externalId: cus, shop: "" }),
      ]),
    );
    expect(person.orders).toEqual([
      expect.objectContaining({
        source: "shopify",
        shop,
        id: order,
        currency: "USD",
        amountMinor: 5000,
        isTest: false,
      }),
    ]);
    expect(person.subscriptions).toEqual([
      expect.objectContaining({ source: "recharge", id: sub, amountMinor: 4000, attributedBy: "identity" }),
    ]);
    expect(person.charges).toEqual([
      expect.objectContaining({ source: "stripe", id: charge, currency: "EUR", amountMinor: 1500 }),
    ]);

    const page = await (await admin(`/ops/people?email=${encodeURIComponent(cy)}`)).text();
    expect(page).toContain(`data-id="${order}"`);
    expect(page).toContain(`data-id="${sub}"`);
    expect(page).toContain(`data-id="${charge}"`);

    expect((await admin(`/admin/people?email=${encodeURIComponent(email("nobody"))}`)).status).toBe(404);
    expect((await admin("/admin/people?email=not-an-email")).status).toBe(400);
    expect((await admin("/admin/people")).status).toBe(400);
    expect(await (await admin("/ops/people?email=not-an-email")).text()).toContain("Give ?email=");
  });
});
