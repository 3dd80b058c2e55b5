import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runJob } from "../src/cron/jobs";
import { SNAPSHOT_PART_BYTES } from "../src/cron/privacy/rewrite";
import { partKey } from "../src/durable/bulk/parts";
import worker from "../src/index";
import type { Envelope } from "../src/shared/envelope";
import { indexObjects } from "../src/tables/subject-index";
import { hashSubjects } from "../src/tables/subjects";
import { allKeys, scanD1, scanR2, snapshotObjects } from "./helpers/privacy-scan";
import { ADMIN_TOKEN, adminRequest } from "./helpers/requests";
import { forgetIndexed, indexEntries } from "./helpers/subject-index";

// Tests share one local D1 and R2: every id, e-mail and name carries this run's stamp.
const run = `${Date.now()}`;
let seq = 0;
const next = () => ++seq;
const shopifyId = () => `8${run.slice(-9)}${String(next()).padStart(8, "0")}`;
const newShop = () => `pv-${run}-${next()}.myshopify.com`;

interface Person {
  email: string;
  phone: string;
  first: string;
  last: string;
  address: string;
}
function person(tag: string): Person {
  const n = next();
  return {
    email: `${tag}.${run}.${n}@Example.com`,
    phone: `+1555${run.slice(-6)}${String(n).padStart(2, "0")}`,
    first: `Zelda${tag}${n}x${run.slice(-5)}`,
    last: `Quixote${tag}${n}y${run.slice(-5)}`,
    address: `${n}${run.slice(-4)} Privet Drive ${tag}`,
  };
}
const needles = (p: Person) => [p.email, p.phone, p.first, p.last, p.address];

function envelope(
  source: Envelope["source"],
  topic: string,
  body: string,
  shop: string | null,
  at: string,
  origin: Envelope["origin"] = "webhook",
): Envelope {
  return {
    v: 1,
    source,
    topic,
    eventId: `${source}-pv-${run}-${next()}`,
    shop,
    receivedAt: at,
    eventAt: at,
    apiVersion: null,
    origin,
    body,
  };
}

/** A `customers/redact` webhook for one customer of `shop`, naming no orders. */
function customerRedact(shop: string, id: string, email: string, at: string, shopId = 1): Envelope {
  return envelope(
    "shopify",
    "customers/redact",
    `{"shop_id":${shopId},"shop_domain":"${shop}","customer":{"id":${id},"email":"${email}","phone":null},"orders_to_redact":[]}`,
    shop,
    at,
  );
}

const address = (p: Person) =>
  JSON.stringify({
    first_name: p.first,
    last_name: p.last,
    name: `${p.first} ${p.last}`,
    address1: p.address,
    address2: "Flat 2",
    city: "Springfield",
    zip: "62704",
    province_code: "IL",
    country_code: "US",
    phone: p.phone,
  });

function shopifyCustomer(shop: string, id: string, p: Person, at = "2027-02-10T10:00:00Z") {
  const body = `{"id":${id},"email":${JSON.stringify(p.email)},"first_name":${JSON.stringify(p.first)},"last_name":${JSON.stringify(p.last)},"phone":${JSON.stringify(p.phone)},"note":"VIP ${p.first}","created_at":"2027-01-01T10:00:00Z","updated_at":"${at}","default_address":${address(p)},"addresses":[${address(p)}]}`;
  return envelope("shopify", "customers/create", body, shop, at);
}

function shopifyOrder(
  shop: string,
  id: string,
  customerId: string,
  p: Person,
  total: string,
  at = "2027-02-10T11:00:00Z",
  origin: Envelope["origin"] = "webhook",
) {
  const customer = `{"id":${customerId},"email":${JSON.stringify(p.email)},"first_name":${JSON.stringify(p.first)},"last_name":${JSON.stringify(p.last)},"phone":${JSON.stringify(p.phone)},"default_address":${address(p)}}`;
  const body = `{"id":${id},"name":"#${id.slice(-4)}","email":${JSON.stringify(p.email)},"phone":${JSON.stringify(p.phone)},"customer":${customer},"currency":"USD","total_price":"${total}","subtotal_price":"${total}","financial_status":"paid","source_name":"web","note":"Gift for ${p.first}","browser_ip":"203.0.113.9","client_details":{"browser_ip":"203.0.113.9","user_agent":"Mozilla/5.0 ${p.last}"},"created_at":"2027-02-10T11:00:00Z","updated_at":"${at}","shipping_address":${address(p)},"billing_address":${address(p)},"line_items":[{"id":${shopifyId()},"title":"Coffee","name":"Coffee - 1kg","quantity":1,"price":"${total}","sku":"COF-1"}]}`;
  return envelope("shopify", "orders/create", body, shop, at, origin);
}

async function deliver(...envelopes: Envelope[]) {
  const batch = createMessageBatch(
    "commerce-events",
    envelopes.map((body, i) => ({ id: `pv-${run}-${next()}-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  const result = await getQueueResult(batch, ctx);
  expect(result.retryMessages).toEqual([]);
  expect(result.explicitAcks).toHaveLength(envelopes.length);
}

/** A person's Shopify customer and one order of `total`, delivered; the keys of their raw objects. */
async function deliverCustomerAndOrder(shop: string, pId: string, p: Person, total: string): Promise<string[]> {
  const events = [shopifyCustomer(shop, pId, p), shopifyOrder(shop, shopifyId(), pId, p, total)];
  await deliver(...events);
  return Promise.all(events.map(async (e) => (await ledger(e))?.r2_key as string));
}

async function deadLetter(e: Envelope) {
  const batch = createMessageBatch("commerce-events-dlq", [
    { id: `dlq-${run}-${next()}`, timestamp: new Date(), attempts: 9, body: e },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  const result = await getQueueResult(batch, ctx);
  expect(result.explicitAcks).toHaveLength(1);
}

async function ledger(e: Envelope) {
  return env.DB.prepare("SELECT status, r2_key, note FROM webhook_events WHERE source = ? AND event_id = ?")
    .bind(e.source, e.eventId)
    .first<{ status: string; r2_key: string; note: string | null }>();
}

interface Tombstone {
  request_id: string;
  kind: string;
  shop: string | null;
  subject_hash: string | null;
  status: string;
  stage: string;
  completed_at: string | null;
  objects_rewritten: number;
  objects_deleted: number;
  rows_changed: number;
  objects_total: number | null;
  error: string | null;
}

/**
 * Runs the privacy job (a few objects per run, so requests resume) until the request completes;
 * the compact job re-compacts the erased days' Parquet, as its hourly run does.
 */
async function runPrivacyUntilDone(requestId: string, batchObjects = 3): Promise<Tombstone> {
  for (let i = 0; i < 60; i++) {
    await runJob(env, "privacy", { now: new Date(), options: { batchObjects } });
    const stage = await env.DB.prepare("SELECT stage FROM privacy_requests WHERE request_id = ?")
      .bind(requestId)
      .first<{ stage: string }>();
    // The dispatcher commits the erased days (stage compact); lake-upkeep then rebuilds the tables
    // and deletes the files that still held the person (stage lake).
    if (stage?.stage === "compact") await runJob(env, "compact", { now: new Date() });
    if (stage?.stage === "lake") await runJob(env, "lake-upkeep", { now: new Date() });
    const row = await env.DB.prepare("SELECT * FROM privacy_requests WHERE request_id = ?")
      .bind(requestId)
      .first<Tombstone>();
    expect(row?.error ?? null).toBeNull();
    if (row?.status === "completed") return row;
  }
  throw new Error(`privacy request ${requestId} did not complete`);
}

async function revenue(shop: string) {
  return (
    await env.DB.prepare(
      "SELECT source_name, currency, orders, revenue_minor FROM analytics_revenue_by_source WHERE shop = ? ORDER BY source_name, currency",
    )
      .bind(shop)
      .all()
  ).results;
}

async function gzip(text: string): Promise<ArrayBuffer> {
  return new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
}

/**
 * A bulk snapshot of customers, stored and indexed line by line as the bulk apply stage does;
 * `filler` lines of other customers' random notes (gzip cannot shrink them) follow them.
 */
async function storeSnapshot(shop: string, lines: Array<{ id: string; p: Person }>, filler = 0) {
  const key = `raw/shopify/customers/snapshots/dt=2027-02-10/${run}${next()}.jsonl.gz`;
  const noise = new Uint8Array(768);
  const text = [
    ...lines.map(
      ({ id, p }) =>
        `{"id":"gid://shopify/Customer/${id}","email":${JSON.stringify(p.email)},"firstName":${JSON.stringify(p.first)},"lastName":${JSON.stringify(p.last)},"phone":${JSON.stringify(p.phone)},"defaultAddress":{"address1":${JSON.stringify(p.address)},"countryCodeV2":"US"}}`,
    ),
    ...Array.from({ length: filler }, (_, n) => {
      crypto.getRandomValues(noise);
      return `{"id":"gid://shopify/Customer/9${n}","note":"${btoa(String.fromCharCode(...noise))}"}`;
    }),
  ].join("\n");
  await env.LAKE.put(key, await gzip(text), {
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: { shop, resource: "customers" },
  });
  for (const { id, p } of lines) {
    const subjects = await hashSubjects(env, "shopify", shop, [
      { kind: "shopify_customer", id },
      { kind: "email", id: p.email.toLowerCase() },
    ]);
    await indexObjects(env, [{ r2Key: key, subjects, redacted: false }], new Date().toISOString());
  }
  return key;
}

async function snapshotLines(key: string): Promise<string[]> {
  const obj = await env.LAKE.get(key);
  if (!obj) throw new Error(`${key} missing`);
  return (await new Response(obj.body.pipeThrough(new DecompressionStream("gzip"))).text()).split("\n");
}

describe("customers/redact", () => {
  it("erases the person from every R2 object and D1 row of that shop, leaves the rest byte for byte", async () => {
    const shop = newShop();
    const p = person("ann");
    const q = person("bob");
    const pId = shopifyId();
    const qId = shopifyId();
    const pEvents = [
      shopifyCustomer(shop, pId, p),
      shopifyOrder(shop, shopifyId(), pId, p, "50.00"),
      shopifyOrder(shop, shopifyId(), pId, p, "20.00", "2027-02-10T12:00:00Z"),
    ];
    const qEvents = [shopifyCustomer(shop, qId, q), shopifyOrder(shop, shopifyId(), qId, q, "30.00")];
    await deliver(...pEvents, ...qEvents);
    // A quarantined event (unknown topic) and a dead letter about the person are indexed too.
    const quarantined = envelope(
      "shopify",
      "loyalty/points",
      `{"customer":{"id":${pId},"email":"${p.email}","phone":"${p.phone}"}}`,
      shop,
      "2027-02-10T13:00:00Z",
    );
    await deliver(quarantined);
    expect((await ledger(quarantined))?.status).toBe("quarantined");
    await deadLetter(shopifyOrder(shop, shopifyId(), pId, p, "5.00"));
    const snapshot = await storeSnapshot(shop, [
      { id: pId, p },
      { id: qId, p: q },
    ]);
    // Parquet of that day holds the person before the erasure.
    await runJob(env, "compact", { now: new Date("2027-02-11T03:30:00Z"), options: { day: "2027-02-10" } });

    expect((await scanR2(needles(p))).length).toBeGreaterThan(10);
    expect((await scanD1(needles(p))).length).toBeGreaterThan(3);
    expect((await allKeys("processed/shopify/shopify_orders/data/")).length).toBeGreaterThan(0);
    const qKeys = await Promise.all(qEvents.map(async (e) => (await ledger(e))?.r2_key as string));
    const qBefore = await snapshotObjects(qKeys);
    const revenueBefore = await revenue(shop);
    expect(revenueBefore).toEqual([{ source_name: "web", currency: "USD", orders: 3, revenue_minor: 10000 }]);

    const redact = envelope(
      "shopify",
      "customers/redact",
      `{"shop_id":954889,"shop_domain":"${shop}","customer":{"id":${pId},"email":"${p.email}","phone":"${p.phone}"},"orders_to_redact":[]}`,
      shop,
      "2027-03-01T00:00:00Z",
    );
    await deliver(redact);
    expect((await ledger(redact))?.status).toBe("applied");
    const tombstone = await runPrivacyUntilDone(`pr-${redact.eventId}`);

    expect(await scanR2(needles(p))).toEqual([]);
    expect(await scanD1(needles(p))).toEqual([]);
    // The other customer's objects are untouched, and so is their line of the snapshot.
    expect(await snapshotObjects(qKeys)).toEqual(qBefore);
    const lines = await snapshotLines(snapshot);
    expect(lines[1]).toContain(q.email);
    expect(lines[0]).toContain(`gid://shopify/Customer/${pId}`);
    expect((await scanR2(needles(q))).length).toBeGreaterThan(0);
    // Money, ids and statuses stay: the revenue view does not move.
    expect(await revenue(shop)).toEqual(revenueBefore);
    const order = await env.DB.prepare(
      "SELECT id, email, total_price_minor, financial_status, shipping_country_code FROM shopify_orders WHERE shop = ? AND customer_id = ? ORDER BY id",
    )
      .bind(shop, pId)
      .all();
    expect(order.results).toHaveLength(2);
    expect(order.results[0]).toMatchObject({ email: null, financial_status: "paid", shipping_country_code: "US" });
    // Rewritten objects say so.
    const raw = await env.LAKE.head((await ledger(pEvents[1] as Envelope))?.r2_key as string);
    expect(raw?.customMetadata?.redacted_at).toMatch(/Z$/);
    // The tombstone proves it without keeping the person.
    expect(tombstone).toMatchObject({ kind: "customer_redact", shop, status: "completed", stage: "done" });
    expect(tombstone.rows_changed).toBeGreaterThan(3);
    expect(tombstone.objects_rewritten).toBeGreaterThanOrEqual(6);
    expect(tombstone.subject_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(tombstone).toLowerCase()).not.toContain(p.email.toLowerCase());
    const work = await env.DB.prepare("SELECT count(*) AS n FROM privacy_work WHERE request_id = ?")
      .bind(tombstone.request_id)
      .first<{ n: number }>();
    expect(work?.n).toBe(0);

    // Later events about the person (a late webhook, a reconcile repair) are stored redacted.
    const late = shopifyOrder(shop, shopifyId(), pId, p, "7.00", "2027-03-02T10:00:00Z");
    const repair = shopifyOrder(shop, shopifyId(), pId, p, "8.00", "2027-03-02T11:00:00Z", "reconcile");
    await deliver(late, repair);
    expect((await ledger(late))?.status).toBe("applied");
    expect(await scanR2(needles(p))).toEqual([]);
    expect(await scanD1(needles(p))).toEqual([]);
    const lateRaw = await env.LAKE.get((await ledger(late))?.r2_key as string);
    expect(lateRaw?.customMetadata?.redacted_at).toBeDefined();
    expect(await lateRaw?.text()).toContain('"total_price":"7.00"');
  }, 60_000);

  it("an unknown customer completes with no rows changed; a malformed request is quarantined", async () => {
    const shop = newShop();
    const ghost = person("ghost");
    const redact = envelope(
      "shopify",
      "customers/redact",
      `{"shop_id":1,"shop_domain":"${shop}","customer":{"id":${shopifyId()},"email":"${ghost.email}","phone":null},"orders_to_redact":[]}`,
      shop,
      "2027-03-01T00:00:00Z",
    );
    await deliver(redact);
    const tombstone = await runPrivacyUntilDone(`pr-${redact.eventId}`);
    expect(tombstone).toMatchObject({ status: "completed", rows_changed: 0 });
    // Only the request's own webhook object named them, and it no longer does.
    expect(tombstone.objects_rewritten).toBe(1);
    expect(await scanR2([ghost.email])).toEqual([]);

    const malformed = envelope(
      "shopify",
      "customers/redact",
      `{"shop_domain":"${shop}","customer":{"email":"x@y.z"}}`,
      shop,
      "2027-03-01T00:00:00Z",
    );
    const wrongShop = envelope(
      "shopify",
      "shop/redact",
      `{"shop_domain":"other-${shop}"}`,
      shop,
      "2027-03-01T00:00:00Z",
    );
    await deliver(malformed, wrongShop);
    for (const e of [malformed, wrongShop]) {
      expect((await ledger(e))?.status).toBe("quarantined");
      const recorded = await env.DB.prepare("SELECT count(*) AS n FROM privacy_requests WHERE request_id = ?")
        .bind(`pr-${e.eventId}`)
        .first<{ n: number }>();
      expect(recorded?.n).toBe(0);
    }
  });
});

describe("customers/redact naming many orders", () => {
  // D1 refuses a statement over 100 bound parameters: the lists go as one JSON value each.
  for (const n of [49, 100, 1000]) {
    it(`redacts ${n} named orders in one request`, async () => {
      const shop = newShop();
      const guest = person(`many${n}`);
      const ids = Array.from({ length: n }, () => shopifyId());
      // Guest orders (no customer): only the order ids Shopify names tie them to the person.
      const insert = (id: string) =>
        env.DB.prepare(
          `INSERT INTO shopify_orders (shop, id, email, phone, note, shipping_city, shipping_zip, currency, total_price_minor,
             created_at, updated_at, last_event_id, event_at, origin)
           VALUES (?1, ?2, ?3, ?4, ?5, 'Springfield', '62704', 'USD', 1000, '2027-03-02T00:00:00Z', '2027-03-02T00:00:00Z', 'seed', '2027-03-02T00:00:00Z', 'webhook')`,
        ).bind(shop, id, `o${id}@${guest.email.split("@")[1]}`, guest.phone, `for ${guest.first}`);
      for (let i = 0; i < ids.length; i += 100) await env.DB.batch(ids.slice(i, i + 100).map(insert));
      const other = shopifyId();
      await env.DB.batch([insert(other)]);
      const redact = envelope(
        "shopify",
        "customers/redact",
        `{"shop_id":1,"shop_domain":"${shop}","customer":{"id":${shopifyId()},"email":"${guest.email}","phone":null},"orders_to_redact":[${ids.join(",")}]}`,
        shop,
        "2027-03-02T00:00:00Z",
      );
      await deliver(redact);
      const tombstone = await runPrivacyUntilDone(`pr-${redact.eventId}`, 500);
      expect(tombstone.status).toBe("completed");
      const left = await env.DB.prepare(
        `SELECT count(*) AS n FROM shopify_orders WHERE shop = ?1 AND id != ?2
           AND (email IS NOT NULL OR phone IS NOT NULL OR note IS NOT NULL OR shipping_city IS NOT NULL)`,
      )
        .bind(shop, other)
        .first<{ n: number }>();
      expect(left?.n).toBe(0);
      const kept = await env.DB.prepare(
        "SELECT count(*) AS n FROM shopify_orders WHERE shop = ?1 AND total_price_minor = 1000 AND currency = 'USD'",
      )
        .bind(shop)
        .first<{ n: number }>();
      expect(kept?.n).toBe(n + 1);
      // The order the request did not name keeps its values.
      const untouched = await env.DB.prepare("SELECT phone, note FROM shopify_orders WHERE shop = ?1 AND id = ?2")
        .bind(shop, other)
        .first();
      expect(untouched).toEqual({ phone: guest.phone, note: `for ${guest.first}` });
    }, 60_000);
  }
});

describe("an object a privacy request cannot rewrite", () => {
  it("is set aside with an alert while the rest is rewritten, and retried last until it can be", async () => {
    const shop = newShop();
    const p = person("held");
    const pId = shopifyId();
    const keys = await deliverCustomerAndOrder(shop, pId, p, "9.00");
    const snapshot = await storeSnapshot(shop, [{ id: pId, p }]);
    // Broken: what a refused (or corrupt) object does to the rewrite.
    const good = await env.LAKE.get(snapshot);
    const goodBytes = await good?.arrayBuffer();
    await env.LAKE.put(snapshot, "not gzip at all", { customMetadata: { shop, resource: "customers" } });
    const redact = customerRedact(shop, pId, p.email, "2027-03-06T00:00:00Z", 1);
    await deliver(redact);
    const requestId = `pr-${redact.eventId}`;
    for (let i = 0; i < 3; i++) await runJob(env, "privacy", { now: new Date(), options: { batchObjects: 2 } });
    const row = await env.DB.prepare(
      "SELECT status, stage, error, objects_rewritten FROM privacy_requests WHERE request_id = ?1",
    )
      .bind(requestId)
      .first<{ status: string; stage: string; error: string | null; objects_rewritten: number }>();
    expect(row).toMatchObject({ status: "running", stage: "objects" });
    expect(row?.error).toContain(`1 object(s) set aside: ${snapshot}`);
    // Everything else was rewritten: the webhook objects no longer name the person.
    for (const text of (await snapshotObjects(keys)).values())
      for (const n of needles(p)) expect(text.toLowerCase()).not.toContain(n.toLowerCase());
    const alert = await env.DB.prepare("SELECT severity, title FROM alerts WHERE alert_key = ?1")
      .bind(`privacy_object_set_aside:${requestId}:${snapshot}`)
      .first<{ severity: string; title: string }>();
    expect(alert?.severity).toBe("critical");

    // Fixed (the object readable again), the next run rewrites it and the request completes.
    await env.LAKE.put(snapshot, goodBytes as ArrayBuffer, { customMetadata: { shop, resource: "customers" } });
    const done = await runPrivacyUntilDone(requestId);
    expect(done.status).toBe("completed");
    expect((await snapshotLines(snapshot)).join("\n")).not.toContain(p.last);
  });
});

describe("a snapshot larger than one upload part", () => {
  it("is rewritten as a stream into a multipart upload, every other line byte for byte", async () => {
    const shop = newShop();
    const p = person("large");
    const pId = shopifyId();
    await deliver(shopifyCustomer(shop, pId, p));
    // ~12 MB of incompressible lines: the rewrite takes two parts of SNAPSHOT_PART_BYTES.
    const snapshot = await storeSnapshot(shop, [{ id: pId, p }], 12_000);
    const before = await env.LAKE.head(snapshot);
    expect(before?.size).toBeGreaterThan(SNAPSHOT_PART_BYTES);
    const linesBefore = await snapshotLines(snapshot);
    const redact = customerRedact(shop, pId, p.email, "2027-03-07T00:00:00Z", 1);
    await deliver(redact);
    expect((await runPrivacyUntilDone(`pr-${redact.eventId}`)).status).toBe("completed");
    const after = await snapshotLines(snapshot);
    expect(after).toHaveLength(linesBefore.length);
    expect(after[0]).toContain(`gid://shopify/Customer/${pId}`);
    for (const n of needles(p)) expect(after[0]?.toLowerCase()).not.toContain(n.toLowerCase());
    expect(after.slice(1)).toEqual(linesBefore.slice(1));
    expect((await env.LAKE.head(snapshot))?.customMetadata?.redacted_at).toEqual(expect.any(String));
  }, 60_000);
});

describe("a privacy request that stops moving", () => {
  it("shows as stalled on the status page and raises privacy_stalled, with the days left", async () => {
    const shop = newShop();
    const redact = envelope(
      "shopify",
      "customers/redact",
      `{"shop_id":1,"shop_domain":"${shop}","customer":{"id":${shopifyId()},"email":"stall.${run}@example.com","phone":null},"orders_to_redact":[]}`,
      shop,
      "2027-03-03T00:00:00Z",
    );
    await deliver(redact);
    const requestId = `pr-${redact.eventId}`;
    // Every run fails the same way: the work row the job reads is unreadable.
    await env.DB.prepare("UPDATE privacy_work SET subject = '{' WHERE request_id = ?1").bind(requestId).run();
    await runJob(env, "privacy", { now: new Date() });
    await runJob(env, "privacy", { now: new Date() });
    const row = await env.DB.prepare("SELECT status, error, progressed_at FROM privacy_requests WHERE request_id = ?1")
      .bind(requestId)
      .first<{ status: string; error: string | null; progressed_at: string }>();
    expect(row?.status).toBe("running");
    expect(row?.error).toBeTruthy();
    const status = async () => {
      const res = await worker.fetch(adminRequest("/admin/status"), env, createExecutionContext());
      const body = (await res.json()) as { privacy: { open: number; requests: Array<Record<string, unknown>> } };
      return body.privacy.requests.find((r) => r.requestId === requestId);
    };
    expect(await status()).toMatchObject({ stalled: false, stage: "start", status: "running" });
    // A day and an hour later, still where it was.
    await env.DB.prepare("UPDATE privacy_requests SET progressed_at = ?2, received_at = ?2 WHERE request_id = ?1")
      .bind(requestId, new Date(Date.now() - 25 * 3600_000).toISOString())
      .run();
    expect(Number.isFinite(Date.parse(row?.progressed_at ?? ""))).toBe(true);
    expect(await status()).toMatchObject({ stalled: true, error: expect.any(String) });
    await runJob(env, "health", { now: new Date() });
    const alert = await env.DB.prepare("SELECT severity, title, fields FROM alerts WHERE alert_key = ?1")
      .bind(`privacy_stalled:${requestId}`)
      .first<{ severity: string; title: string; fields: string }>();
    expect(alert?.severity).toBe("critical");
    expect(alert?.title).toContain("has not moved for 25 h: 28 days left");
    expect(alert?.fields).toContain("POST /admin/jobs/privacy");
    // Leaves the shared database as other tests expect it: no request every privacy run fails on.
    await env.DB.prepare("DELETE FROM privacy_requests WHERE request_id = ?1").bind(requestId).run();
    await env.DB.prepare("DELETE FROM privacy_work WHERE request_id = ?1").bind(requestId).run();
  });
});

describe("the consumer's erased-subject check at scale", () => {
  it("asks D1 once per batch about the batch's own subjects, however many were erased", async () => {
    const shop = newShop();
    // 6,000 other people erased before: the check must not read them.
    const now = new Date().toISOString();
    const seed = Array.from({ length: 6000 }, (_, i) => [`many-${run}-${i}`]);
    for (let i = 0; i < seed.length; i += 1000) {
      await env.DB.prepare(
        `INSERT INTO erased_subjects (subject_kind, subject_id, shop, request_id, erased_at)
         SELECT 'email', json_extract(value, '$[0]'), '*', 'pr-seed', ?2 FROM json_each(?1)`,
      )
        .bind(JSON.stringify(seed.slice(i, i + 1000)), now)
        .run();
    }
    const p = person("late");
    const [hashed] = await hashSubjects(env, "shopify", shop, [{ kind: "email", id: p.email.toLowerCase() }]);
    await env.DB.prepare(
      "INSERT INTO erased_subjects (subject_kind, subject_id, shop, request_id, erased_at) VALUES ('email', ?1, '*', 'pr-late', ?2)",
    )
      .bind(hashed?.id, now)
      .run();
    const others = Array.from({ length: 40 }, (_, i) => person(`ok${i}`));
    const late = shopifyOrder(shop, shopifyId(), shopifyId(), p, "12.00");
    const fine = others.map((o) => shopifyOrder(shop, shopifyId(), shopifyId(), o, "8.00"));

    const reads: string[] = [];
    const counting = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare")
          return (sql: string) => {
            if (sql.includes("FROM erased_subjects")) reads.push(sql);
            return target.prepare(sql);
          };
        const v: unknown = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const batch = createMessageBatch(
      "commerce-events",
      [late, ...fine].map((body, i) => ({ id: `er-${run}-${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, DB: counting });
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    expect(reads).toHaveLength(1);
    // The late order is stored redacted, in R2 and D1; the others as they came.
    expect(await scanR2([p.email, p.phone])).toEqual([]);
    expect(await scanD1([p.email, p.phone])).toEqual([]);
    expect((await scanD1([others[0]?.email as string])).length).toBeGreaterThan(0);
  }, 60_000);
});

describe("the privacy sweep", () => {
  it("rewrites an object indexed for an erased person after the erasure completed", async () => {
    const shop = newShop();
    const p = person("swe");
    const q = person("kept");
    const pId = shopifyId();
    const qId = shopifyId();
    await deliver(shopifyCustomer(shop, pId, p));
    const redact = envelope(
      "shopify",
      "customers/redact",
      `{"shop_id":954889,"shop_domain":"${shop}","customer":{"id":${pId},"email":"${p.email}"},"orders_to_redact":[]}`,
      shop,
      "2027-03-01T00:00:00Z",
    );
    await deliver(redact);
    await runPrivacyUntilDone(`pr-${redact.eventId}`);
    // A batch that checked the erased subjects before the erasure stored this afterwards, unredacted.
    const late = await storeSnapshot(shop, [
      { id: pId, p },
      { id: qId, p: q },
    ]);
    expect((await snapshotLines(late))[0]).toContain(p.email);

    await runJob(env, "privacy", { now: new Date() });
    const lines = await snapshotLines(late);
    for (const needle of needles(p)) expect(lines.join("\n")).not.toContain(needle);
    expect(lines[1]).toContain(q.email);
    const [pSubject] = await hashSubjects(env, "shopify", shop, [{ kind: "shopify_customer", id: pId }]);
    const rows = await indexEntries({ key: late, kind: "shopify_customer" });
    expect(rows.find((r) => r.id === pSubject?.id)?.redacted).toBe(1);
    expect(rows.find((r) => r.id !== pSubject?.id)?.redacted).toBe(0);
  }, 60_000);
});

describe("shop/redact", () => {
  it("removes every object and row of the shop and leaves other shops untouched", async () => {
    const shop = newShop();
    const other = newShop();
    const p = person("cat");
    const o = person("dan");
    const pId = shopifyId();
    const oId = shopifyId();
    const product = envelope(
      "shopify",
      "products/create",
      `{"id":${shopifyId()},"title":"Beans ${run}","status":"active","created_at":"2027-02-12T10:00:00Z","updated_at":"2027-02-12T10:00:00Z","variants":[]}`,
      shop,
      "2027-02-12T10:00:00Z",
    );
    const shopEvents = [
      shopifyCustomer(shop, pId, p, "2027-02-12T10:00:00Z"),
      shopifyOrder(shop, shopifyId(), pId, p, "40.00", "2027-02-12T11:00:00Z"),
      product,
    ];
    const otherEvents = [
      shopifyCustomer(other, oId, o, "2027-02-12T10:00:00Z"),
      shopifyOrder(other, shopifyId(), oId, o, "60.00", "2027-02-12T11:00:00Z"),
    ];
    await deliver(...shopEvents, ...otherEvents);
    await runJob(env, "compact", { now: new Date("2027-02-13T03:30:00Z"), options: { day: "2027-02-12" } });
    const shopKeys = await Promise.all(shopEvents.map(async (e) => (await ledger(e))?.r2_key as string));
    const otherKeys = await Promise.all(otherEvents.map(async (e) => (await ledger(e))?.r2_key as string));
    const otherBefore = await snapshotObjects(otherKeys);
    const otherRevenue = await revenue(other);
    // A bulk export archived as a folder of parts, none of whose lines names a person.
    const folder = `raw/shopify/products/snapshots/dt=2027-02-12/${run}${next()}/`;
    const parts = [0, 1, 2].map((i) => partKey(folder, i));
    for (const key of parts) await env.LAKE.put(key, `{"id":"gid://shopify/Product/${run}","title":"Beans ${run}"}\n`);
    await env.DB.prepare(
      `INSERT INTO bulk_operations (id, backfill_id, shop, resource, status, r2_key, requested_at, updated_at)
       VALUES (?1, 'bf', ?2, 'products', 'completed', ?3, 'now', 'now')`,
    )
      .bind(`bo_${run}${next()}`, shop, folder)
      .run();

    const redact = envelope(
      "shopify",
      "shop/redact",
      `{"shop_id":2,"shop_domain":"${shop}"}`,
      shop,
      "2027-04-01T00:00:00Z",
    );
    await deliver(redact);
    const tombstone = await runPrivacyUntilDone(`pr-${redact.eventId}`, 2);

    expect(tombstone).toMatchObject({ kind: "shop_redact", status: "completed" });
    expect(tombstone.objects_deleted).toBeGreaterThanOrEqual(shopKeys.length);
    for (const k of [...shopKeys, ...parts]) expect(await env.LAKE.head(k)).toBeNull();
    expect(await scanR2([...needles(p), `Beans ${run}`])).toEqual([]);
    expect(await scanD1([...needles(p), `Beans ${run}`])).toEqual([]);
    // No row of any table but the privacy proof names the shop.
    const left = (await scanD1([shop])).filter((h) => !/^(privacy_requests|erased_subjects):/.test(h.where));
    expect(left).toEqual([]);
    expect(await snapshotObjects(otherKeys)).toEqual(otherBefore);
    expect(await revenue(other)).toEqual(otherRevenue);
    expect((await scanD1(needles(o))).length).toBeGreaterThan(0);
  });
});

describe("shop/redact of a large shop", () => {
  it("deletes its rows in chunks across runs, each run going on from what is left", async () => {
    const shop = newShop();
    const other = newShop();
    const ids = Array.from({ length: 30 }, () => shopifyId());
    const orderRow = (s: string, id: string) =>
      env.DB.prepare(
        `INSERT INTO shopify_orders (shop, id, email, currency, total_price_minor, created_at, updated_at, last_event_id, event_at, origin)
         VALUES (?1, ?2, 'x@example.com', 'USD', 500, '2027-03-04T00:00:00Z', '2027-03-04T00:00:00Z', 'seed', '2027-03-04T00:00:00Z', 'webhook')`,
      ).bind(s, id);
    const itemRow = (s: string, order: string, i: number) =>
      env.DB.prepare(
        `INSERT INTO shopify_order_line_items (shop, id, order_id, position, quantity, currency, updated_at, last_event_id, event_at, origin)
         VALUES (?1, ?2, ?3, ?4, 1, 'USD', '2027-03-04T00:00:00Z', 'seed', '2027-03-04T00:00:00Z', 'webhook')`,
      ).bind(s, `${order}${i}`, order, i);
    await env.DB.batch([
      ...ids.flatMap((id) => [orderRow(shop, id), itemRow(shop, id, 1), itemRow(shop, id, 2)]),
      orderRow(other, ids[0] as string),
    ]);
    const redact = envelope(
      "shopify",
      "shop/redact",
      `{"shop_id":1,"shop_domain":"${shop}"}`,
      shop,
      "2027-03-05T00:00:00Z",
    );
    await deliver(redact);
    const requestId = `pr-${redact.eventId}`;
    const left = async () =>
      (
        await env.DB.prepare(
          `SELECT (SELECT count(*) FROM shopify_orders WHERE shop = ?1) + (SELECT count(*) FROM shopify_order_line_items WHERE shop = ?1) AS n`,
        )
          .bind(shop)
          .first<{ n: number }>()
      )?.n;
    // 4 rows per table and statement, 2 chunks per run: 8 orders and 8 line items a run.
    const options = { batchObjects: 50, rowsPerStatement: 4, rowChunksPerRun: 2 };
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) {
      await runJob(env, "privacy", { now: new Date(), options });
      const row = await env.DB.prepare("SELECT status, stage, error FROM privacy_requests WHERE request_id = ?1")
        .bind(requestId)
        .first<{ status: string; stage: string; error: string | null }>();
      expect(row?.error ?? null).toBeNull();
      seen.push((await left()) as number);
      if (row?.status === "completed") break;
    }
    // 90 rows, 16 fewer a run (8 orders and 8 line items), never more, and none at the end.
    expect(seen.filter((n) => n > 0 && n < 90).length).toBeGreaterThanOrEqual(4);
    expect(seen.at(-1)).toBe(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThanOrEqual(seen[i - 1] as number);
    const kept = await env.DB.prepare("SELECT count(*) AS n FROM shopify_orders WHERE shop = ?1")
      .bind(other)
      .first<{ n: number }>();
    expect(kept?.n).toBe(1);
  });

  it("walks the ledger and the identities by rowid windows across runs, among another shop's rows", async () => {
    const shop = newShop();
    const other = newShop();
    // Ledger rows and identities of both shops, interleaved, and objects for the ledger rows that have keys.
    const ledgerRow = (s: string, i: number, key: string | null) =>
      env.DB.prepare(
        `INSERT INTO webhook_events (source, event_id, topic, resource, shop, received_at, event_at, origin, r2_key,
           status, attempts, deliveries, first_seen_at, updated_at)
         VALUES ('shopify', ?1, 'products/update', 'products', ?2, '2027-03-04T00:00:00Z', '2027-03-04T00:00:00Z',
           'webhook', ?3, 'applied', 1, 1, '2027-03-04T00:00:00Z', '2027-03-04T00:00:00Z')`,
      ).bind(`walk-${s}-${i}`, s, key);
    const identity = (s: string, i: number) =>
      env.DB.prepare(
        `INSERT INTO customer_identities (source, external_id, shop, profile_id, email, matched_by, created_at, updated_at,
           last_event_id)
         VALUES ('shopify', ?1, ?2, ?3, NULL, 'email', '2027-03-0${1 + (i % 3)}T00:00:00Z', '2027-03-0${1 + (i % 3)}T00:00:00Z', 'seed')`,
      ).bind(`c${i}`, s, `cp_walk_${s}_${i}`);
    const key = (s: string, i: number) => `raw/shopify/products/events/dt=2027-03-04/hour=00/walk-${s}-${i}.json`;
    const statements = [];
    for (let i = 0; i < 24; i++) {
      for (const s of [shop, other]) {
        const k = i % 4 === 3 ? null : key(s, i);
        if (k) await env.LAKE.put(k, `{"shop":"${s}"}`);
        statements.push(ledgerRow(s, i, k), identity(s, i));
      }
    }
    await env.DB.batch(statements);
    const redact = envelope(
      "shopify",
      "shop/redact",
      `{"shop_id":3,"shop_domain":"${shop}"}`,
      shop,
      "2027-03-05T00:00:00Z",
    );
    await deliver(redact);
    const requestId = `pr-${redact.eventId}`;
    const count = async (table: string, s: string) =>
      (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE shop = ?1`).bind(s).first<{ n: number }>())?.n;

    // Windows of 5 rowids, 2 a call: several calls and runs, each going on from the saved cursor.
    const options = { batchObjects: 1, rowsPerStatement: 4, rowChunksPerRun: 2, walk: { rowids: 5, windows: 2 } };
    const identitiesLeft: number[] = [];
    let runs = 0;
    let late = false;
    for (; runs < 80; runs++) {
      await runJob(env, "privacy", { now: new Date(), options });
      identitiesLeft.push((await count("customer_identities", shop)) as number);
      const row = await env.DB.prepare("SELECT status, stage, error FROM privacy_requests WHERE request_id = ?1")
        .bind(requestId)
        .first<{ status: string; stage: string; error: string | null }>();
      expect(row?.error ?? null).toBeNull();
      if (row?.stage === "rows" && !late) {
        // A late event of the shop, after the objects' walk passed: the rows' walk goes on and finds it.
        await ledgerRow(shop, 99, null).run();
        late = true;
      }
      if (row?.status === "completed") break;
    }
    expect(late).toBe(true);
    expect(runs).toBeGreaterThan(2);
    // The identities went a few a run (2 chunks of at most 2 windows), never coming back; the objects are gone.
    expect(identitiesLeft.filter((n) => n > 0 && n < 24).length).toBeGreaterThan(1);
    for (let i = 1; i < identitiesLeft.length; i++)
      expect(identitiesLeft[i]).toBeLessThanOrEqual(identitiesLeft[i - 1] as number);
    expect(await count("webhook_events", shop)).toBe(0);
    expect(await count("customer_identities", shop)).toBe(0);
    for (let i = 0; i < 24; i++) if (i % 4 !== 3) expect(await env.LAKE.head(key(shop, i))).toBeNull();
    // The identities' days reached the request (its lake partitions to rewrite).
    const work = await env.DB.prepare("SELECT days FROM privacy_work WHERE request_id = ?1")
      .bind(requestId)
      .first<{ days: string }>();
    expect(JSON.parse(work?.days ?? "[]")).toEqual(expect.arrayContaining(["2027-03-01", "2027-03-02", "2027-03-03"]));
    // The other shop keeps every row and object.
    expect(await count("webhook_events", other)).toBe(24);
    expect(await count("customer_identities", other)).toBe(24);
    for (let i = 0; i < 24; i++) if (i % 4 !== 3) expect(await env.LAKE.head(key(other, i))).not.toBeNull();
  });
});

describe("POST /admin/privacy/erase", () => {
  it("erases one person across Shopify, Stripe and Recharge through the identity graph", async () => {
    const shop = newShop();
    const p = person("eve");
    const q = person("fay");
    const pId = shopifyId();
    const stripeCustomer = `cus_pv${run}${next()}`;
    const rcCustomer = `${run.slice(-8)}${next()}`;
    const failedCharge = `ch_pvf${run}${next()}`;
    const T = 1_802_000_000; // 2027-02-07T11:33:20Z
    const stripe = (type: string, object: Record<string, unknown>) => {
      const id = `evt_pv${run}${next()}`;
      const body = JSON.stringify({ id, object: "event", type, created: T, livemode: true, data: { object } });
      return { ...envelope("stripe", type, body, null, new Date(T * 1000).toISOString()), eventId: id };
    };
    const stripeAddress = {
      line1: p.address,
      line2: null,
      city: "Springfield",
      postal_code: "62704",
      state: "IL",
      country: "US",
    };
    const events = [
      shopifyCustomer(shop, pId, p),
      shopifyOrder(shop, shopifyId(), pId, p, "25.00"),
      stripe("customer.created", {
        id: stripeCustomer,
        object: "customer",
        email: p.email,
        name: `${p.first} ${p.last}`,
        phone: p.phone,
        address: stripeAddress,
        shipping: { name: `${p.first} ${p.last}`, phone: p.phone, address: stripeAddress },
        livemode: true,
        created: T,
      }),
      stripe("charge.succeeded", {
        id: `ch_pv${run}${next()}`,
        object: "charge",
        customer: stripeCustomer,
        billing_details: { email: p.email, name: `${p.first} ${p.last}`, phone: p.phone, address: stripeAddress },
        receipt_email: p.email,
        description: `Order for ${p.email}`,
        amount: 2500,
        currency: "usd",
        status: "succeeded",
        paid: true,
        livemode: true,
        created: T,
      }),
      // A checkout session carries the shipping address's street lines.
      stripe("checkout.session.completed", {
        id: `cs_pv${run}${next()}`,
        object: "checkout.session",
        mode: "payment",
        status: "complete",
        payment_status: "paid",
        customer: stripeCustomer,
        customer_details: { email: p.email, name: `${p.first} ${p.last}`, phone: p.phone, address: stripeAddress },
        collected_information: {
          shipping_details: {
            name: `${p.first} ${p.last}`,
            address: { ...stripeAddress, line2: `Suite ${p.last}` },
          },
        },
        amount_total: 2500,
        currency: "usd",
        livemode: true,
        created: T,
      }),
      // A failed high-value charge raises an alert that names the customer by e-mail.
      stripe("charge.failed", {
        id: failedCharge,
        object: "charge",
        customer: stripeCustomer,
        billing_details: { email: p.email, name: `${p.first} ${p.last}`, phone: p.phone, address: stripeAddress },
        receipt_email: p.email,
        amount: 25000,
        currency: "usd",
        status: "failed",
        paid: false,
        failure_code: "card_declined",
        failure_message: "Your card was declined.",
        livemode: true,
        created: T,
      }),
      envelope(
        "recharge",
        "customer/created",
        JSON.stringify({
          customer: {
            id: rcCustomer,
            email: p.email,
            first_name: p.first,
            last_name: p.last,
            phone: p.phone,
            billing_address1: p.address,
            created_at: "2027-02-09T10:00:00",
            updated_at: "2027-02-09T10:00:00",
          },
        }),
        null,
        "2027-02-09T10:00:00Z",
      ),
      envelope(
        "recharge",
        "subscription/created",
        JSON.stringify({
          subscription: {
            id: `${run.slice(-7)}${next()}`,
            customer_id: rcCustomer,
            email: p.email,
            status: "ACTIVE",
            sku: "COF-1",
            price: "20.00",
            currency: "USD",
            quantity: 1,
            created_at: "2027-02-09T11:00:00",
            updated_at: "2027-02-09T11:00:00",
          },
        }),
        null,
        "2027-02-09T11:00:00Z",
      ),
      shopifyCustomer(shop, shopifyId(), q),
    ];
    await deliver(...events);
    const profile = await env.DB.prepare("SELECT profile_id FROM customer_profile_emails WHERE email = ?")
      .bind(p.email.toLowerCase())
      .first<{ profile_id: string }>();
    const linked = await env.DB.prepare("SELECT source FROM customer_identities WHERE profile_id = ? ORDER BY source")
      .bind(profile?.profile_id)
      .all<{ source: string }>();
    expect(linked.results.map((r) => r.source)).toEqual(["recharge", "shopify", "stripe"]);
    // The lake holds the session's street lines before the erasure (a data file of the Iceberg table).
    await runJob(env, "compact", { now: new Date("2027-02-08T03:30:00Z"), options: { day: "2027-02-07" } });
    const lake = (await scanR2([p.address])).filter((h) =>
      h.where.startsWith("processed/stripe/stripe_checkout_sessions/"),
    );
    expect(lake.map((h) => h.where.includes("/data/"))).toContain(true);
    expect((await scanR2(needles(p))).length).toBeGreaterThan(4);
    const alertOf = () =>
      env.DB.prepare("SELECT title, fields FROM alerts WHERE alert_key = ?")
        .bind(`stripe_charge_failed:${failedCharge}`)
        .first<{ title: string; fields: string }>();
    expect((await alertOf())?.fields.toLowerCase()).toContain(p.email.toLowerCase());

    const bad = await worker.fetch(
      adminRequest("/admin/privacy/erase", ADMIN_TOKEN, { method: "POST", body: '{"email":"not-an-email"}' }),
      env,
      createExecutionContext(),
    );
    expect(bad.status).toBe(400);
    const res = await worker.fetch(
      adminRequest("/admin/privacy/erase", ADMIN_TOKEN, {
        method: "POST",
        body: JSON.stringify({ email: p.email.toUpperCase() }),
      }),
      env,
      createExecutionContext(),
    );
    expect(res.status).toBe(202);
    const { requestId } = (await res.json()) as { requestId: string };
    const pending = await worker.fetch(adminRequest(`/admin/privacy/${requestId}`), env, createExecutionContext());
    expect(((await pending.json()) as { request: { status: string } }).request.status).toBe("pending");

    const tombstone = await runPrivacyUntilDone(requestId);
    expect(tombstone).toMatchObject({ kind: "erase", status: "completed" });
    expect(tombstone.rows_changed).toBeGreaterThan(5);
    // How far it was, as the status page showed it: every object it found, rewritten.
    expect(tombstone.objects_total).toBeGreaterThan(4);
    expect(tombstone.objects_rewritten).toBe(tombstone.objects_total);
    expect(await scanR2(needles(p))).toEqual([]);
    expect(await scanD1(needles(p))).toEqual([]);
    expect((await scanD1(needles(q))).length).toBeGreaterThan(0);
    // The alert keeps its charge id and amount; only the e-mail became the marker.
    const alert = await alertOf();
    expect(alert?.fields).toContain("[erased]");
    expect(alert?.fields).toContain(failedCharge);
    const identities = await env.DB.prepare("SELECT count(*) AS n FROM customer_identities WHERE profile_id = ?")
      .bind(profile?.profile_id)
      .first<{ n: number }>();
    expect(identities?.n).toBe(0);
    const charge = await env.DB.prepare(
      "SELECT amount_minor, currency, status, email FROM stripe_charges WHERE customer_id = ?",
    )
      .bind(stripeCustomer)
      .first();
    expect(charge).toEqual({ amount_minor: 2500, currency: "USD", status: "succeeded", email: null });
    // The street lines are gone from the session; its money and status stay.
    const session = await env.DB.prepare(
      `SELECT shipping_line1, shipping_line2, shipping_name, shipping_country, amount_total_minor, payment_status
       FROM stripe_checkout_sessions WHERE customer_id = ?`,
    )
      .bind(stripeCustomer)
      .first();
    expect(session).toEqual({
      shipping_line1: null,
      shipping_line2: null,
      shipping_name: null,
      shipping_country: "US",
      amount_total_minor: 2500,
      payment_status: "paid",
    });

    // A replayed Stripe event for the erased person stores no PII either.
    const replayed = { ...(events[3] as Envelope), origin: "replay" as const };
    await deliver(replayed);
    expect(await scanR2(needles(p))).toEqual([]);
    expect(await scanD1(needles(p))).toEqual([]);
  }, 60_000);
});

describe("customers/data_request", () => {
  it("writes an export of the person's rows and objects, and raises an alert for the operator", async () => {
    const shop = newShop();
    const p = person("gus");
    const pId = shopifyId();
    const keys = await deliverCustomerAndOrder(shop, pId, p, "12.00");
    const request = envelope(
      "shopify",
      "customers/data_request",
      `{"shop_id":3,"shop_domain":"${shop}","customer":{"id":${pId},"email":"${p.email}","phone":null},"orders_requested":[],"data_request":{"id":9}}`,
      shop,
      "2027-03-01T00:00:00Z",
    );
    await deliver(request);
    const requestId = `pr-${request.eventId}`;
    const tombstone = await runPrivacyUntilDone(requestId);
    expect(tombstone).toMatchObject({ kind: "data_request", status: "completed" });
    const key = `exports/${shop}/${requestId}.json`;
    const doc = (await (await env.LAKE.get(key))?.json()) as {
      tables: Record<string, Array<Record<string, unknown>>>;
      raw_objects: string[];
      profiles: unknown[];
    };
    expect(doc.tables.shopify_customers?.[0]).toMatchObject({
      id: pId,
      email: p.email.toLowerCase(),
      first_name: p.first,
    });
    expect(doc.tables.shopify_orders).toHaveLength(1);
    expect(doc.profiles).toHaveLength(1);
    for (const k of keys) expect(doc.raw_objects).toContain(k);
    const alert = await env.DB.prepare("SELECT rule, status, fields FROM alerts WHERE alert_key = ?")
      .bind(`privacy_data_request:${requestId}`)
      .first<{ rule: string; fields: string }>();
    expect(alert?.rule).toBe("privacy_data_request");
    expect(alert?.fields).toContain(key);
    // Nothing was erased: the data request only reads.
    expect((await scanD1([p.email])).length).toBeGreaterThan(0);

    // The operator downloads it to send to the merchant; an erasure has no export.
    const served = await worker.fetch(
      adminRequest(`/admin/privacy/${requestId}/export`),
      env,
      createExecutionContext(),
    );
    expect(served.status).toBe(200);
    expect(await served.json()).toEqual(doc);
    const other = await worker.fetch(
      adminRequest("/admin/privacy/erase", ADMIN_TOKEN, { method: "POST", body: '{"email":"nobody@example.com"}' }),
      env,
      createExecutionContext(),
    );
    const { requestId: eraseId } = (await other.json()) as { requestId: string };
    const none = await worker.fetch(adminRequest(`/admin/privacy/${eraseId}/export`), env, createExecutionContext());
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { message: string } }).error.message).toContain("only a data request");
    await env.LAKE.delete(key);
    const gone = await worker.fetch(adminRequest(`/admin/privacy/${requestId}/export`), env, createExecutionContext());
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { message: string } }).error.message).toContain("was deleted");
  });
});

describe("the subject index backfill", () => {
  it("enters objects stored before the index existed, so an erasure finds them", async () => {
    const shop = newShop();
    const p = person("hal");
    const pId = shopifyId();
    const keys = await deliverCustomerAndOrder(shop, pId, p, "9.00");
    // As if stored before the index: no rows for these objects, and the ledger walk still ahead.
    await forgetIndexed(keys);
    await env.DB.prepare(
      "UPDATE subject_index_backfill SET after_rowid = 0, until_rowid = (SELECT max(rowid) FROM webhook_events) WHERE id = 1",
    ).run();
    for (let i = 0; i < 30; i++) {
      const state = await env.DB.prepare("SELECT after_rowid < until_rowid AS left FROM subject_index_backfill").first<{
        left: number;
      }>();
      if (state?.left === 0) break;
      await runJob(env, "privacy", { now: new Date(), options: { batchObjects: 50 } });
    }
    for (const k of keys) expect((await indexEntries({ key: k })).length, k).toBeGreaterThanOrEqual(2);
    const redact = customerRedact(shop, pId, p.email, "2027-03-01T00:00:00Z", 5);
    await deliver(redact);
    await runPrivacyUntilDone(`pr-${redact.eventId}`, 50);
    expect(await scanR2(needles(p))).toEqual([]);
  });
});

describe("the subject index move out of D1", () => {
  it("moves what D1 kept to the shards with its state, across runs, while requests wait", async () => {
    const shop = newShop();
    const p = person("ivy");
    const pId = shopifyId();
    const keys = await deliverCustomerAndOrder(shop, pId, p, "12.00");
    // As an earlier version left them: the person's entries in D1, not in the shards, beside other
    // objects' entries already done (1) or set aside (2); and a subject erased before the move.
    const moved = (await Promise.all(keys.map((key) => indexEntries({ key })))).flat();
    expect(moved.length).toBeGreaterThanOrEqual(4);
    await forgetIndexed(keys);
    const filler = Array.from({ length: 45 }, (_, i) => ({
      kind: "shopify_customer",
      id: `77${run.slice(-6)}${i}`,
      shop,
      key: `raw/shopify/customers/events/dt=2027-01-01/hour=00/legacy-${run}-${i}.json`,
      redacted: 1 + (i % 2),
    }));
    const legacy = [...moved, ...filler];
    await env.DB.prepare(
      `INSERT INTO archive_subjects (subject_kind, subject_id, shop, r2_key, source, indexed_at, redacted)
       SELECT json_extract(value, '$.kind'), json_extract(value, '$.id'), json_extract(value, '$.shop'),
         json_extract(value, '$.key'), 'shopify', '2027-01-01T00:00:00.000Z', json_extract(value, '$.redacted')
       FROM json_each(?1)`,
    )
      .bind(JSON.stringify(legacy))
      .run();
    const erasedEarlier = { kind: "email" as const, id: `hash-${run}-early`, shop: "*" };
    await env.DB.prepare(
      "INSERT INTO erased_subjects (subject_kind, subject_id, shop, request_id, erased_at) VALUES (?1, ?2, ?3, 'pr-early', '2027-01-01T00:00:00.000Z')",
    )
      .bind(erasedEarlier.kind, erasedEarlier.id, erasedEarlier.shop)
      .run();
    const redact = customerRedact(shop, pId, p.email, "2027-03-01T00:00:00Z", 5);
    await deliver(redact);
    const requestId = `pr-${redact.eventId}`;
    const d1Rows = async () =>
      (await env.DB.prepare("SELECT count(*) AS n FROM archive_subjects").first<{ n: number }>())?.n ?? -1;

    // Ten rows a page, three pages a run.
    const move = { rowsPerPage: 10, pagesPerRun: 3 };
    let runs = 0;
    while ((await d1Rows()) > 0) {
      const before = await d1Rows();
      await runJob(env, "privacy", { now: new Date(), options: { move } });
      runs++;
      expect(await d1Rows()).toBeLessThan(before);
      if ((await d1Rows()) > 0) {
        const request = await env.DB.prepare("SELECT status, stage FROM privacy_requests WHERE request_id = ?1")
          .bind(requestId)
          .first<{ status: string; stage: string }>();
        expect(request).toEqual({ status: "pending", stage: "start" });
      }
      expect(runs).toBeLessThan(10);
    }
    expect(runs).toBeGreaterThanOrEqual(2);

    // Every row is in its shard with the state it had.
    const here = await indexEntries({ shop });
    for (const f of filler) {
      expect(here.find((e) => e.key === f.key && e.id === f.id)?.redacted, f.key).toBe(f.redacted);
    }
    // The request then runs on the moved entries: the person's objects are rewritten.
    await runPrivacyUntilDone(requestId, 50);
    expect(await scanR2(needles(p))).toEqual([]);
    for (const k of keys) {
      for (const e of await indexEntries({ key: k })) if (e.shop === shop) expect(e.redacted, k).toBe(1);
    }
    // An object indexed unredacted for the subject erased before is recorded for the sweep.
    const lateKey = `raw/shopify/customers/events/dt=2027-03-02/hour=00/late-${run}.json`;
    await indexObjects(env, [{ r2Key: lateKey, subjects: [erasedEarlier], redacted: false }], new Date().toISOString());
    const late = await env.DB.prepare("SELECT subject_id FROM privacy_late_objects WHERE r2_key = ?1")
      .bind(lateKey)
      .all<{ subject_id: string }>();
    expect(late.results).toEqual([{ subject_id: erasedEarlier.id }]);
  }, 120_000);
});
