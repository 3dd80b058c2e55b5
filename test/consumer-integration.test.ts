import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { rawEventObject } from "../src/shared/archive";
import type { Envelope } from "../src/shared/envelope";
import orderFixture from "./fixtures/shopify/orders__create.json?raw";
import { keysFor, ledgerRow, ledgerRows } from "./helpers/storage";

afterEach(() => vi.restoreAllMocks());

let seq = 0;
function envelope(over: Partial<Envelope> = {}): Envelope {
  return {
    v: 1,
    source: "shopify",
    topic: "carts/create",
    eventId: `consumer-${Date.now()}-${++seq}`,
    shop: "consumer-shop.myshopify.com",
    receivedAt: "2026-11-20T12:00:01.000Z",
    eventAt: "2026-11-20T11:59:59.500Z",
    apiVersion: "2026-01",
    origin: "webhook",
    body: '{"id":"cart-1","token":"abc","line_items":[],"big":820982911946154508}',
    ...over,
  };
}

async function consume(bodies: unknown[], queue = "commerce-events", attempts = 1) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `msg-${seq}-${i}`, timestamp: new Date(), attempts, body })),
  );
  // getQueueResult reports which messages were retried; the spies record the delay asked for.
  const delays = new Map<string, number | undefined>();
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    vi.spyOn(m, "retry").mockImplementation((o) => {
      delays.set(m.id, o?.delaySeconds);
      retry(o);
    });
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  const result = await getQueueResult(batch, ctx);
  return {
    ...result,
    retryMessages: result.retryMessages.map((r) => ({ msgId: r.msgId, delaySeconds: delays.get(r.msgId) })),
  };
}

describe("events consumer", () => {
  it("archives the verbatim body under its raw key and records the ledger row", async () => {
    const e = envelope();
    const result = await consume([e]);
    expect(result.explicitAcks).toEqual([`msg-${seq}-0`]);
    expect(result.retryMessages).toEqual([]);

    const key = `raw/shopify/carts/events/dt=2026-11-20/hour=11/${e.eventId}.json`;
    const obj = await env.LAKE.get(key);
    const text = (await obj?.text()) ?? "";
    expect(JSON.parse(text.replace(e.body as string, "null"))).toEqual({
      event_id: e.eventId,
      source: "shopify",
      topic: "carts/create",
      shop: "consumer-shop.myshopify.com",
      received_at: "2026-11-20T12:00:01.000Z",
      event_at: "2026-11-20T11:59:59.500Z",
      api_version: "2026-01",
      origin: "webhook",
      payload: null,
    });
    expect(text).toContain('"payload":{"id":"cart-1","token":"abc","line_items":[],"big":820982911946154508}}');
    expect(obj?.customMetadata).toMatchObject({ source: "shopify", event_id: e.eventId, topic: "carts/create" });
    expect(obj?.customMetadata?.payload_sha256).toMatch(/^[0-9a-f]{64}$/);

    expect(await ledgerRow("shopify", e.eventId)).toMatchObject({
      topic: "carts/create",
      resource: "carts",
      shop: "consumer-shop.myshopify.com",
      received_at: e.receivedAt,
      event_at: e.eventAt,
      api_version: "2026-01",
      origin: "webhook",
      r2_key: key,
      status: "archived",
      attempts: 1,
      deliveries: 1,
      error: null,
    });
  });

  it("stores a redelivered event once: one object, one ledger row, the first copy kept", async () => {
    const first = envelope();
    await consume([first]);
    const again = { ...first, receivedAt: "2026-11-20T12:30:00.000Z" };
    const result = await consume([again, again]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(await keysFor(first.eventId)).toHaveLength(1);
    const rows = await ledgerRows("shopify", first.eventId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ deliveries: 3, received_at: first.receivedAt, status: "archived" });
    const text = await (await env.LAKE.get(rows[0]?.r2_key ?? ""))?.text();
    expect(text).toContain(`"received_at":"${first.receivedAt}"`);
  });

  it("quarantines an unknown topic and a body that is not JSON", async () => {
    const unknown = envelope({ topic: "collections/create" });
    const notJson = envelope({ source: "stripe", topic: "charge.succeeded", body: "{not json", shop: null });
    const result = await consume([unknown, notJson]);
    expect(result.explicitAcks).toHaveLength(2);

    const q1 = `quarantine/shopify/dt=2026-11-20/${unknown.eventId}.json`;
    expect(await keysFor(unknown.eventId)).toEqual([q1]);
    expect(await ledgerRow("shopify", unknown.eventId)).toMatchObject({
      status: "quarantined",
      resource: null,
      r2_key: q1,
      note: "unknown_topic",
    });
    const stored = (await (await env.LAKE.get(q1))?.json()) as { reason: string; payload_text: string };
    expect(stored).toMatchObject({ reason: "unknown_topic", payload_text: unknown.body });

    const q2 = `quarantine/stripe/dt=2026-11-20/${notJson.eventId}.json`;
    expect(await ledgerRow("stripe", notJson.eventId)).toMatchObject({
      status: "quarantined",
      r2_key: q2,
      note: "invalid_json",
    });
    const q2Stored = (await (await env.LAKE.get(q2))?.json()) as { payload_text: string } | undefined;
    expect(q2Stored?.payload_text).toBe("{not json");
  });

  it("uses the claim-checked raw object ingress wrote, without writing another", async () => {
    const e = envelope({ topic: "carts/update" });
    const payload = JSON.stringify({ id: "cart-2", note: "y".repeat(200_000) });
    const obj = await rawEventObject(e, "carts", payload);
    await env.LAKE.put(obj.key, obj.body, { customMetadata: obj.customMetadata });
    const { body: _omit, ...rest } = e;
    const result = await consume([{ ...rest, bodyKey: obj.key }]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await keysFor(e.eventId)).toEqual([obj.key]);
    expect(await ledgerRow("shopify", e.eventId)).toMatchObject({ status: "archived", r2_key: obj.key });
  });

  it("retries with exponential backoff when a claim-checked body is missing, recording the error", async () => {
    const e = envelope();
    const { body: _omit, ...rest } = e;
    const missing = { ...rest, bodyKey: `raw/shopify/carts/events/dt=2026-11-20/hour=11/${e.eventId}.json` };
    const first = await consume([missing], "commerce-events", 1);
    expect(first.retryMessages).toEqual([{ msgId: `msg-${seq}-0`, delaySeconds: 10 }]);
    expect(first.explicitAcks).toEqual([]);
    const third = await consume([missing], "commerce-events", 3);
    expect(third.retryMessages[0]?.delaySeconds).toBe(40);
    const late = await consume([missing], "commerce-events", 12);
    expect(late.retryMessages[0]?.delaySeconds).toBe(3600);
    expect(await ledgerRow("shopify", e.eventId)).toMatchObject({
      status: "retrying",
      attempts: 12,
      error: expect.stringContaining("missing from R2"),
    });
  });

  it("retries only the message whose R2 write failed; the rest of the batch is stored", async () => {
    const good = envelope();
    const poison = envelope();
    const put = env.LAKE.put.bind(env.LAKE);
    vi.spyOn(env.LAKE, "put").mockImplementation((key, value, options) => {
      if (key.includes(poison.eventId)) return Promise.reject(new Error("R2 unavailable"));
      return put(key, value, options);
    });
    const result = await consume([good, poison]);
    expect(result.explicitAcks).toEqual([`msg-${seq}-0`]);
    expect(result.retryMessages).toEqual([{ msgId: `msg-${seq}-1`, delaySeconds: 10 }]);
    expect((await ledgerRow("shopify", good.eventId))?.status).toBe("archived");
    expect(await ledgerRow("shopify", poison.eventId)).toMatchObject({
      status: "retrying",
      error: expect.stringContaining("R2 unavailable"),
    });
    expect(await keysFor(poison.eventId)).toEqual([]);
  });

  it("falls back to one D1 batch per message when the batch write fails", async () => {
    const a = envelope();
    const b = envelope();
    const batch = env.DB.batch.bind(env.DB);
    vi.spyOn(env.DB, "batch").mockRejectedValueOnce(new Error("D1 overloaded")).mockImplementation(batch);
    const result = await consume([a, b]);
    expect(result.explicitAcks).toHaveLength(2);
    expect((await ledgerRow("shopify", a.eventId))?.status).toBe("archived");
    expect((await ledgerRow("shopify", b.eventId))?.status).toBe("archived");
  });

  it("retries every message when D1 is down, leaving R2 objects for the retry to reuse", async () => {
    const e = envelope();
    vi.spyOn(env.DB, "batch").mockRejectedValue(new Error("D1 down"));
    const result = await consume([e], "commerce-events", 2);
    expect(result.retryMessages).toEqual([{ msgId: `msg-${seq}-0`, delaySeconds: 20 }]);
    vi.restoreAllMocks();
    const retried = await consume([e], "commerce-events", 3);
    expect(retried.explicitAcks).toHaveLength(1);
    expect(await keysFor(e.eventId)).toHaveLength(1);
    expect(await ledgerRow("shopify", e.eventId)).toMatchObject({ status: "archived", error: null, attempts: 3 });
  });

  it("sends a message that is not a valid envelope straight to dead-letter/, without retrying", async () => {
    const result = await consume([{ v: 2, hello: "world" }]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    const keys = await keysFor(`msg-${seq}-0`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^dead-letter\/unknown\/dt=\d{4}-\d{2}-\d{2}\/msg-/);
    const stored = (await (await env.LAKE.get(keys[0] ?? ""))?.json()) as { message: unknown; last_error: string };
    expect(stored.message).toEqual({ v: 2, hello: "world" });
    expect(stored.last_error).toContain("invalid envelope");
  });
});

describe("dead-letter consumer", () => {
  it("archives the message with its last error and marks the ledger row failed", async () => {
    const e = envelope();
    const { body: _omit, ...rest } = e;
    const missing = { ...rest, bodyKey: "raw/shopify/carts/events/dt=2026-11-20/hour=11/never-written.json" };
    await consume([missing], "commerce-events", 9);
    const result = await consume([missing], "commerce-events-dlq", 1);
    expect(result.explicitAcks).toHaveLength(1);

    const today = new Date().toISOString().slice(0, 10);
    const key = `dead-letter/shopify/dt=${today}/${e.eventId}.json`;
    const stored = (await (await env.LAKE.get(key))?.json()) as Record<string, unknown>;
    expect(stored).toMatchObject({ attempts: 9, envelope: missing });
    expect(stored.last_error).toContain("missing from R2");
    expect(await ledgerRow("shopify", e.eventId)).toMatchObject({ status: "failed", r2_key: key, attempts: 9 });
  });

  it("retries the dead letter itself when R2 cannot take it", async () => {
    const e = envelope();
    vi.spyOn(env.LAKE, "put").mockRejectedValue(new Error("R2 down"));
    const result = await consume([e], "commerce-events-dlq", 1);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
  });
});

describe("putOnce", () => {
  it("writes a key once and leaves the first copy when asked again, even concurrently", async () => {
    const { putOnce } = await import("../src/shared/archive");
    const key = `raw/test/put-once/${crypto.randomUUID()}.json`;
    const results = await Promise.all(
      ["first", "second", "third"].map((body) => putOnce(env.LAKE, { key, body, customMetadata: {} })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await putOnce(env.LAKE, { key, body: "later", customMetadata: {} })).toBe(false);
    expect(["first", "second", "third"]).toContain(await (await env.LAKE.get(key))?.text());
  });
});

describe("POST /admin/replay", () => {
  it("sends a dead-lettered event back through the queue and it lands", async () => {
    const { exports } = await import("cloudflare:workers");
    const { adminRequest } = await import("./helpers/requests");
    const e = envelope();
    await consume([e], "commerce-events-dlq", 1);
    const today = new Date().toISOString().slice(0, 10);
    const key = `dead-letter/shopify/dt=${today}/${e.eventId}.json`;
    expect((await ledgerRow("shopify", e.eventId))?.status).toBe("failed");

    const send = vi.spyOn(env.EVENTS, "send");
    const res = await exports.default.fetch(
      adminRequest("/admin/replay", undefined, { method: "POST", body: JSON.stringify({ key }) }),
    );
    expect(res.status).toBe(200);
    const replayed = send.mock.calls[0]?.[0] as Envelope;
    expect(replayed).toEqual({ ...e, origin: "replay" });

    await consume([replayed]);
    expect(await ledgerRow("shopify", e.eventId)).toMatchObject({ status: "archived", error: null });
    expect((await keysFor(e.eventId)).filter((k) => k.startsWith("raw/"))).toHaveLength(1);
  });

  it("refuses a key outside dead-letter/ and a missing object", async () => {
    const { exports } = await import("cloudflare:workers");
    const { adminRequest } = await import("./helpers/requests");
    const post = (body: string) =>
      exports.default.fetch(adminRequest("/admin/replay", undefined, { method: "POST", body }));
    expect((await post('{"key":"raw/shopify/x.json"}')).status).toBe(400);
    expect((await post("not json")).status).toBe(400);
    expect((await post('{"key":"dead-letter/shopify/dt=2026-01-01/none.json"}')).status).toBe(404);
  });
});

/** The order fixture as order `id` of `shop` at `updatedAt`, its 5 line items given ids of its own (from its last 4 digits). */
function orderVersion(shop: string, id: string, updatedAt: string, extra = "", note: string | null = null): Envelope {
  const lineIds = [
    "487817672276298554",
    "789012345678901234",
    "890123456789012345",
    "976318377106520349",
    "315789986012684393",
  ];
  return envelope({
    topic: "orders/updated",
    shop,
    body: lineIds
      .reduce((text, line) => text.replaceAll(line, `9${id.slice(-4)}${line.slice(5)}`), orderFixture)
      .replace('"id": 820982911946154508', `"id": ${id}`)
      .replace('"note": null,', `"note": ${JSON.stringify(note)},`)
      .replace('"updated_at": "2021-12-31T19:00:00-05:00"', `"updated_at": "${updatedAt}"${extra}`),
  });
}

describe("versioned writes", () => {
  it("notes in the ledger when an event was older than the stored row and changed nothing", async () => {
    const shop = `superseded-${seq}.myshopify.com`;
    const version = (updatedAt: string) =>
      envelope({
        topic: "orders/updated",
        shop,
        body: orderFixture.replace('"updated_at": "2021-12-31T19:00:00-05:00"', `"updated_at": "${updatedAt}"`),
      });
    const newer = version("2026-11-20T12:00:00Z");
    const older = version("2026-11-20T11:00:00Z");
    await consume([newer]);
    await consume([older]);
    expect(await ledgerRow("shopify", newer.eventId)).toMatchObject({ status: "applied", note: null });
    expect(await ledgerRow("shopify", older.eventId)).toMatchObject({
      status: "applied",
      note: "superseded: the stored row was already newer",
    });
    const row = await env.DB.prepare("SELECT updated_at, last_event_id FROM shopify_orders WHERE shop = ? AND id = ?")
      .bind(shop, "820982911946154508")
      .first();
    expect(row).toEqual({ updated_at: "2026-11-20T12:00:00.000Z", last_event_id: newer.eventId });

    await consume([newer]); // a redelivery of the stored version applies again (a tie), with no note
    expect((await ledgerRow("shopify", newer.eventId))?.note).toBeNull();
  });

  it("writes a batch of orders as stored one by one: newest wins per order, and every older version is noted", async () => {
    const shop = `orders-batch-${seq}.myshopify.com`;
    const order = (id: string, updatedAt: string, extra = "") => orderVersion(shop, id, updatedAt, extra);
    const [a, b, c] = ["9100000000000000001", "9100000000000000002", "9100000000000000003"];
    const storedA = order(a, "2026-11-20T12:00:00Z");
    await consume([storedA]);
    const batch = [
      order(a, "2026-11-20T11:00:00Z"), // older than the stored A: noted
      order(b, "2026-11-20T10:00:00Z"),
      order(c, "2026-11-20T10:00:00Z", ', "note_attributes": []'),
      order(b, "2026-11-20T13:00:00Z"), // B again, newer: a new run
      order(b, "2026-11-20T12:30:00Z"), // and older than that: noted
      order(c, "2026-11-20T09:00:00Z"), // older than C in this batch: noted
    ];
    await consume(batch);
    const notes = await Promise.all(batch.map(async (e) => (await ledgerRow("shopify", e.eventId))?.note ?? null));
    const superseded = "superseded: the stored row was already newer";
    expect(notes).toEqual([superseded, null, null, null, superseded, superseded]);
    const rows = await env.DB.prepare(
      "SELECT id, updated_at, last_event_id FROM shopify_orders WHERE shop = ? ORDER BY id",
    )
      .bind(shop)
      .all();
    expect(rows.results).toEqual([
      { id: a, updated_at: "2026-11-20T12:00:00.000Z", last_event_id: storedA.eventId },
      { id: b, updated_at: "2026-11-20T13:00:00.000Z", last_event_id: batch[3]?.eventId },
      { id: c, updated_at: "2026-11-20T10:00:00.000Z", last_event_id: batch[2]?.eventId },
    ]);
    // Each order's line items are those of the version stored.
    const lines = await env.DB.prepare(
      "SELECT order_id, count(*) AS n, min(last_event_id) AS e FROM shopify_order_line_items WHERE shop = ? GROUP BY order_id ORDER BY order_id",
    )
      .bind(shop)
      .all();
    expect(lines.results).toEqual([
      { order_id: a, n: 5, e: storedA.eventId },
      { order_id: b, n: 5, e: batch[3]?.eventId },
      { order_id: c, n: 5, e: batch[2]?.eventId },
    ]);
  });

  it("splits a run of large orders over statements within D1's value limit, and still notes the older versions", async () => {
    const shop = `orders-large-${seq}.myshopify.com`;
    // 60 orders with 12 KB notes: more JSON than one statement carries (512 KB), so two statements.
    const ids = Array.from({ length: 60 }, (_, i) => `92000000000000${String(i).padStart(5, "0")}`);
    const note = (i: number) => `${i}:`.padEnd(12_000, "x");
    const stored = orderVersion(shop, ids[59] as string, "2026-11-20T12:00:00Z");
    await consume([stored]);
    const batch = ids.map((id, i) => orderVersion(shop, id, "2026-11-20T11:00:00Z", "", note(i)));
    await consume(batch);
    const notes = await Promise.all(batch.map(async (e) => (await ledgerRow("shopify", e.eventId))?.note ?? null));
    expect(notes.slice(0, 59)).toEqual(Array(59).fill(null));
    expect(notes[59]).toBe("superseded: the stored row was already newer");
    const rows = await env.DB.prepare("SELECT id, note, last_event_id FROM shopify_orders WHERE shop = ? ORDER BY id")
      .bind(shop)
      .all<{ id: string; note: string | null; last_event_id: string }>();
    expect(rows.results).toHaveLength(60);
    rows.results.slice(0, 59).forEach((r, i) => {
      expect(r).toEqual({ id: ids[i], note: note(i), last_event_id: batch[i]?.eventId });
    });
    expect(rows.results[59]).toEqual({ id: ids[59], note: null, last_event_id: stored.eventId });
  });
});
