import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { app } from "../src/ingress/app";
import type { Envelope } from "../src/shared/envelope";
import orderFixture from "./fixtures/shopify/orders__create.json?raw";
import { adminRequest, rechargeRequest, shopifyRequest, stripeEvent, stripeRequest } from "./helpers/requests";
import { keysFor, ledgerRow, waitFor } from "./helpers/storage";

let send: MockInstance<Queue["send"]>;
const sent = (): Envelope[] => send.mock.calls.map((c) => c[0] as Envelope);

beforeEach(() => {
  // Capture what ingress queues without delivering it, so each test sees exactly its own messages.
  send = vi.spyOn(env.EVENTS, "send").mockResolvedValue(undefined as never);
});
afterEach(() => vi.restoreAllMocks());

const errorOf = async (res: Response) => (await res.json()) as { ok: false; error: { code: string; message: string } };

describe("POST /webhooks/shopify", () => {
  it("accepts a signed order and queues the verbatim body with the contract's envelope", async () => {
    const eventId = crypto.randomUUID();
    const res = await exports.default.fetch(
      await shopifyRequest(orderFixture, { eventId, triggeredAt: "2026-11-20T10:04:05.123456789-05:00" }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, source: "shopify", eventId, claimCheck: false });
    expect(sent()).toHaveLength(1);
    const e = sent()[0] as Envelope;
    expect(e).toMatchObject({
      v: 1,
      source: "shopify",
      topic: "orders/create",
      eventId,
      shop: "demo-shop.myshopify.com",
      eventAt: "2026-11-20T15:04:05.123Z",
      apiVersion: "2026-01",
      origin: "webhook",
    });
    expect(e.body).toBe(orderFixture);
    expect(e.body).toContain("820982911946154508");
    expect(e.bodyKey).toBeUndefined();
    expect(Date.parse(e.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("reads headers case-insensitively and falls back to X-Shopify-Webhook-Id", async () => {
    const webhookId = crypto.randomUUID();
    const req = await shopifyRequest('{"id":1}', {
      eventId: null,
      webhookId,
      triggeredAt: null,
      topic: null,
      shop: null,
      headers: { "x-shopify-topic": "customers/update", "X-SHOPIFY-SHOP-DOMAIN": "Other-Shop.myshopify.com" },
    });
    const res = await exports.default.fetch(req);
    expect(res.status).toBe(200);
    const e = sent()[0] as Envelope;
    expect(e.eventId).toBe(webhookId);
    expect(e.topic).toBe("customers/update");
    expect(e.shop).toBe("other-shop.myshopify.com");
    expect(e.eventAt).toBe(e.receivedAt); // no triggered-at: the receive time stands in
  });

  it.each([
    ["missing", { hmac: null }],
    ["wrong secret", { secret: "shpss_wrong" }],
    ["garbled", { hmac: "%%%" }],
  ])("refuses a %s signature with 401 and queues nothing", async (_name, opts) => {
    const eventId = crypto.randomUUID();
    const res = await exports.default.fetch(await shopifyRequest('{"id":1}', { eventId, ...opts }));
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ ok: false, error: { code: "invalid_signature" } });
    expect(send).not.toHaveBeenCalled();
    expect(await keysFor(eventId)).toEqual([]);
  });

  it("refuses a body changed after signing", async () => {
    const req = await shopifyRequest('{"id":1}');
    const tampered = new Request(req.url, { method: "POST", headers: req.headers, body: '{"id":2}' });
    expect((await exports.default.fetch(tampered)).status).toBe(401);
    expect(send).not.toHaveBeenCalled();
  });

  it.each([
    ["X-Shopify-Topic", { topic: null }],
    ["X-Shopify-Shop-Domain", { shop: null }],
    ["X-Shopify-Event-Id", { eventId: null }],
  ])("answers 400 when %s is missing, naming it", async (header, opts) => {
    const res = await exports.default.fetch(await shopifyRequest('{"id":1}', opts));
    expect(res.status).toBe(400);
    const body = await errorOf(res);
    expect(body.error.code).toBe("missing_header");
    expect(body.error.message).toContain(header);
    expect(send).not.toHaveBeenCalled();
  });

  it("answers 400 for headers of absurd length or alphabet", async () => {
    for (const opts of [
      { topic: "orders/".repeat(5000) },
      { shop: `${"a".repeat(9000)}.myshopify.com` },
      { eventId: "../../etc/passwd" },
      { eventId: "x".repeat(129) },
      { apiVersion: "2026-01<script>" },
    ]) {
      const res = await exports.default.fetch(await shopifyRequest('{"id":1}', opts));
      expect(res.status, JSON.stringify(opts).slice(0, 80)).toBe(400);
    }
    expect(send).not.toHaveBeenCalled();
  });

  it("answers 413 from Content-Length before reading, and while reading an undeclared body", async () => {
    const declared = await shopifyRequest('{"id":1}', { headers: { "Content-Length": String(2 * 1024 * 1024) } });
    expect((await exports.default.fetch(declared)).status).toBe(413);

    const big = new Uint8Array(1024 * 1024 + 1).fill(0x20);
    const sig = (await shopifyRequest(big)).headers;
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= big.length) return controller.close();
        controller.enqueue(big.subarray(pulled, pulled + 65536));
        pulled += 65536;
      },
    });
    const res = await exports.default.fetch(
      new Request("https://pipeline.test/webhooks/shopify", { method: "POST", headers: sig, body: stream }),
    );
    expect(res.status).toBe(413);
    expect((await errorOf(res)).error.code).toBe("payload_too_large");
    expect(send).not.toHaveBeenCalled();
  });

  it("answers 400 for a body that breaks off before its end, storing and queueing nothing", async () => {
    const eventId = crypto.randomUUID();
    const signed = await shopifyRequest('{"id":1}', { eventId });
    let sent = false;
    const broken = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent) return c.error(new Error("connection reset by peer"));
        sent = true;
        c.enqueue(new TextEncoder().encode('{"id":'));
      },
    });
    // In-process, so the stream error reaches the handler (across a connection workerd ends the body early).
    const res = await app.fetch(
      new Request(signed.url, { method: "POST", headers: signed.headers, body: broken }),
      env,
    );
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ ok: false, error: { code: "bad_request" } });
    expect(send).not.toHaveBeenCalled();
    expect(await keysFor(eventId)).toEqual([]);
  });

  it("reads a body with a declared length whole, and still refuses one that outgrows a lying length", async () => {
    // A declared length is read in one piece; a body past the limit under a small declared length
    // (HTTP framing prevents it, an in-process request can do it) is still a 413.
    const big = new Uint8Array(1024 * 1024 + 1).fill(0x20);
    const signed = await shopifyRequest(big);
    const headers = new Headers(signed.headers);
    headers.set("Content-Length", "10");
    const res = await app.fetch(new Request(signed.url, { method: "POST", headers, body: big }), env);
    expect(res.status).toBe(413);
    expect(send).not.toHaveBeenCalled();

    // A declared body that breaks off is a 400, as an undeclared one.
    const eventId = crypto.randomUUID();
    const small = await shopifyRequest('{"id":1}', { eventId });
    const declared = new Headers(small.headers);
    declared.set("Content-Length", "8");
    const broken = new ReadableStream<Uint8Array>({
      pull(c) {
        c.error(new Error("connection reset by peer"));
      },
    });
    const cut = await app.fetch(new Request(small.url, { method: "POST", headers: declared, body: broken }), env);
    expect(cut.status).toBe(400);
    expect(await errorOf(cut)).toMatchObject({ ok: false, error: { code: "bad_request" } });
    expect(await keysFor(eventId)).toEqual([]);

    // And a declared, signed body within the limit is accepted as it arrived.
    const ok = await shopifyRequest('{"id":2}', { headers: { "Content-Length": "8" } });
    expect((await exports.default.fetch(ok)).status).toBe(200);
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0]?.[0]).toMatchObject({ body: '{"id":2}' });
  });

  it("answers 405 with Allow: POST for other methods", async () => {
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await exports.default.fetch(new Request("https://pipeline.test/webhooks/shopify", { method }));
      expect(res.status).toBe(405);
      expect(res.headers.get("Allow")).toBe("POST");
    }
  });

  it("answers 503 when the queue refuses the message, so Shopify retries", async () => {
    send.mockRejectedValueOnce(new Error("queue unavailable"));
    const eventId = crypto.randomUUID();
    const res = await exports.default.fetch(await shopifyRequest('{"id":1}', { eventId }));
    expect(res.status).toBe(503);
    expect((await errorOf(res)).error.code).toBe("unavailable");
    expect(await keysFor(eventId)).toEqual([]);
  });

  it("answers 503 naming the secret when it is not configured", async () => {
    const res = await app.fetch(await shopifyRequest('{"id":1}'), { ...env, SHOPIFY_WEBHOOK_SECRET: "" });
    expect(res.status).toBe(503);
    const body = await errorOf(res);
    expect(body.error).toMatchObject({ code: "not_configured" });
    expect(body.error.message).toContain("SHOPIFY_WEBHOOK_SECRET");
    expect(JSON.stringify(body)).not.toContain("shpss_");
    expect(send).not.toHaveBeenCalled();
  });

  it("accepts a verified body of random bytes and quarantines it at ingress (claim check)", async () => {
    const random = crypto.getRandomValues(new Uint8Array(4096));
    random[0] = 0xff; // never valid UTF-8
    const eventId = crypto.randomUUID();
    const res = await exports.default.fetch(await shopifyRequest(random, { eventId }));
    expect(res.status).toBe(200);
    const e = sent()[0] as Envelope;
    expect(e.body).toBeUndefined();
    expect(e.bodyKey).toBe(`quarantine/shopify/dt=2026-11-20/${eventId}.json`);
    const stored = (await (await env.LAKE.get(e.bodyKey as string))?.json()) as {
      reason: string;
      payload_base64: string;
    };
    expect(stored.reason).toBe("not_utf8");
    const roundTrip = Uint8Array.from(atob(stored.payload_base64), (c) => c.charCodeAt(0));
    expect(roundTrip).toEqual(random);
  });

  it("writes a 300 KB order to its final raw key before answering, and queues only the key", async () => {
    const order = JSON.parse(orderFixture) as { line_items: unknown[] };
    const big = JSON.stringify({ ...order, note: "x".repeat(300 * 1024) });
    const body = big.replace('"id":820982911946154500', '"id":820982911946154508');
    const eventId = crypto.randomUUID();
    const res = await exports.default.fetch(await shopifyRequest(body, { eventId }));
    expect(res.status).toBe(200);
    expect((await res.json()) as { claimCheck: boolean }).toMatchObject({ claimCheck: true });
    const e = sent()[0] as Envelope;
    const key = `raw/shopify/orders/events/dt=2026-11-20/hour=15/${eventId}.json`;
    expect(e.bodyKey).toBe(key);
    expect(e.body).toBeUndefined();
    expect(new TextEncoder().encode(JSON.stringify(e)).byteLength).toBeLessThan(1024);
    const obj = await env.LAKE.get(key);
    const text = (await obj?.text()) ?? "";
    expect(text.endsWith(`"payload":${body}}`)).toBe(true);
    expect(obj?.customMetadata?.event_id).toBe(eventId);
  });
});

describe("POST /webhooks/stripe", () => {
  it("accepts a signed event: id, type and created come from the event", async () => {
    const body = stripeEvent(
      { id: "ch_1", object: "charge", amount: 2000 },
      "charge.succeeded",
      "evt_ingress_1",
      1_763_650_000,
    );
    const res = await exports.default.fetch(await stripeRequest(body));
    expect(res.status).toBe(200);
    expect(sent()[0]).toMatchObject({
      source: "stripe",
      topic: "charge.succeeded",
      eventId: "evt_ingress_1",
      shop: null,
      eventAt: "2025-11-20T14:46:40.000Z",
      apiVersion: "2026-01-28.clover",
      body,
    });
  });

  it("accepts event times past year 9999 or before year 0 with the receive time in their place", async () => {
    for (const [source, request] of [
      [
        "stripe",
        await stripeRequest(stripeEvent({ id: "ch_far" }, "charge.succeeded", "evt_far_future", 300_000_000_000)),
      ],
      ["shopify", await shopifyRequest('{"id":1}', { triggeredAt: "9999-12-31T23:59:59-05:00" })],
      ["shopify", await shopifyRequest('{"id":1}', { triggeredAt: "0000-01-01T00:00:00+01:00" })],
      [
        "recharge",
        await rechargeRequest('{"subscription":{"id":1,"updated_at":"9999-12-31T23:30:00-01:00"}}', {
          topic: "subscription/updated",
        }),
      ],
    ] as const) {
      send.mockClear();
      const res = await exports.default.fetch(request);
      expect(res.status, source).toBe(200);
      const e = sent()[0] as Envelope;
      expect(e.eventAt, source).toBe(e.receivedAt);
    }
  });

  it("refuses a stale timestamp and a wrong secret with 401", async () => {
    const body = stripeEvent({ id: "ch_2" }, "charge.succeeded");
    const stale = await stripeRequest(body, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect((await exports.default.fetch(stale)).status).toBe(401);
    expect((await exports.default.fetch(await stripeRequest(body, { secret: "whsec_wrong" }))).status).toBe(401);
    expect((await exports.default.fetch(await stripeRequest(body, { signature: null }))).status).toBe(401);
    expect(send).not.toHaveBeenCalled();
  });

  it("accepts a previous secret during rotation", async () => {
    const body = stripeEvent({ id: "ch_3" }, "charge.succeeded");
    expect((await exports.default.fetch(await stripeRequest(body, { secret: "whsec_test_previous" }))).status).toBe(
      200,
    );
  });

  it("accepts a verified body that is not JSON (it is quarantined downstream)", async () => {
    const res = await exports.default.fetch(await stripeRequest("<html>not json</html>"));
    expect(res.status).toBe(200);
    const e = sent()[0] as Envelope;
    expect(e.topic).toBe("unknown");
    expect(e.eventId).toMatch(/^unparsed_[0-9a-f]{40}$/);
    expect(e.body).toBe("<html>not json</html>");
  });
});

describe("POST /webhooks/recharge", () => {
  const body = '{"subscription":{"id":1111111,"status":"active","updated_at":"2022-03-10T12:13:28+02:00"}}';

  it("accepts the legacy and the timestamped signature, with a stable id from topic + body", async () => {
    const a = await exports.default.fetch(await rechargeRequest(body, { scheme: "legacy" }));
    const b = await exports.default.fetch(await rechargeRequest(body, { scheme: "timestamped" }));
    expect([a.status, b.status]).toEqual([200, 200]);
    const [ea, eb] = sent() as [Envelope, Envelope];
    expect(ea.eventId).toMatch(/^rc_[0-9a-f]{40}$/);
    expect(eb.eventId).toBe(ea.eventId);
    expect(ea.eventAt).toBe("2022-03-10T10:13:28.000Z");
    expect(ea.topic).toBe("subscription/created");
    const other = await exports.default.fetch(await rechargeRequest(body, { topic: "subscription/updated" }));
    expect(other.status).toBe(200);
    expect((sent()[2] as Envelope).eventId).not.toBe(ea.eventId);
  });

  it("answers 400 without X-Recharge-Topic and 401 with a wrong secret", async () => {
    expect((await exports.default.fetch(await rechargeRequest(body, { topic: null }))).status).toBe(400);
    expect((await exports.default.fetch(await rechargeRequest(body, { secret: "nope" }))).status).toBe(401);
    const stale = await rechargeRequest(body, {
      scheme: "timestamped",
      timestamp: Math.floor(Date.now() / 1000) - 3 * 86400,
    });
    expect((await exports.default.fetch(stale)).status).toBe(401);
    expect(send).not.toHaveBeenCalled();
  });
});

describe("health, routing and the operator surface", () => {
  it("GET /health answers without touching storage", async () => {
    const res = await exports.default.fetch(new Request("https://pipeline.test/health"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("answers unknown routes with the error body", async () => {
    const res = await exports.default.fetch(new Request("https://pipeline.test/webhooks/paypal", { method: "POST" }));
    expect(res.status).toBe(404);
    expect((await errorOf(res)).error.code).toBe("not_found");
  });

  it("refuses /admin/status and /ops without the right bearer token", async () => {
    for (const token of [null, "wrong-token", ""]) {
      for (const path of ["/admin/status", "/ops"]) {
        const res = await exports.default.fetch(adminRequest(path, token));
        expect(res.status).toBe(401);
        expect((await errorOf(res)).error.code).toBe("unauthorized");
      }
    }
  });

  it("reports ledger counts, last events and held-back objects", async () => {
    await env.LAKE.put("quarantine/stripe/dt=2026-01-01/status-probe.json", "{}");
    await env.DB.prepare(
      `INSERT OR IGNORE INTO webhook_events (source, event_id, topic, received_at, event_at, origin, status, first_seen_at, updated_at)
       VALUES ('stripe', 'evt_status_probe', 'charge.succeeded', '2026-11-20T00:00:00.000Z', '2026-11-19T00:00:00.000Z', 'webhook', 'archived', '2026-11-20T00:00:00.000Z', '2026-11-20T00:00:00.000Z')`,
    ).run();
    const res = await exports.default.fetch(adminRequest("/admin/status"));
    expect(res.status).toBe(200);
    const s = (await res.json()) as {
      ledger: Array<{ source: string; status: string; count: number }>;
      lastEvents: Array<{ source: string }>;
      quarantine: { objects: number };
      deadLetter: { objects: number };
    };
    expect(s.ledger.find((r) => r.source === "stripe" && r.status === "archived")?.count).toBeGreaterThanOrEqual(1);
    expect(s.lastEvents.map((r) => r.source)).toContain("stripe");
    expect(s.quarantine.objects).toBeGreaterThanOrEqual(1);
    expect(s.deadLetter.objects).toBeGreaterThanOrEqual(0);

    const page = await exports.default.fetch(adminRequest("/ops"));
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("quarantine/");
  });
});

describe("end to end through the real local queue", () => {
  it("a Shopify order lands once in R2 and the ledger, even when delivered twice", async () => {
    vi.restoreAllMocks();
    const eventId = crypto.randomUUID();
    for (let i = 0; i < 2; i++) {
      const res = await exports.default.fetch(await shopifyRequest(orderFixture, { eventId }));
      expect(res.status).toBe(200);
    }
    const row = await waitFor(async () => {
      const r = await ledgerRow("shopify", eventId);
      return r && r.deliveries === 2 ? r : null;
    });
    expect(row).toMatchObject({ status: expect.stringMatching(/^(archived|applied)$/), resource: "orders" });
    const key = `raw/shopify/orders/events/dt=2026-11-20/hour=15/${eventId}.json`;
    expect(row.r2_key).toBe(key);
    expect(await keysFor(eventId)).toEqual([key]);
    const text = (await (await env.LAKE.get(key))?.text()) ?? "";
    expect(text.endsWith(`"payload":${orderFixture}}`)).toBe(true);
  });
});
