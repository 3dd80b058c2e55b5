/**
 * Property tests of every route with hostile input: random bytes and headers, lying or huge
 * Content-Length, bodies that break off, non-UTF-8, deep JSON, bodies past the limit. The
 * promises: never a 5xx except the documented 503, always the JSON error shape, and not one
 * R2 write or queued message for a request whose signature did not verify. Signed bodies with
 * random content and header values are accepted (200) or refused with a 4xx, never a 5xx.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { app } from "../src/ingress/app";
import { FaultInjector, faultyEnv } from "./fakes/faulty-env";
import { bytesArb, fuzzParams } from "./helpers/fuzz";
import { ADMIN_TOKEN, RECHARGE_SECRET, SHOPIFY_SECRET, STRIPE_SECRET } from "./helpers/requests";
import { rechargeLegacySignature, shopifySignature, stripeSignature } from "./helpers/sign";

const BASE = "https://pipeline.test";
const WEBHOOKS = ["/webhooks/shopify", "/webhooks/stripe", "/webhooks/recharge"] as const;
const HEADER_NAMES = [
  "Content-Type",
  "X-Shopify-Hmac-Sha256",
  "X-Shopify-Topic",
  "X-Shopify-Shop-Domain",
  "X-Shopify-Event-Id",
  "X-Shopify-Webhook-Id",
  "X-Shopify-Triggered-At",
  "X-Shopify-API-Version",
  "Stripe-Signature",
  "X-Recharge-Hmac-Sha256",
  "X-Recharge-Webhook-Signature",
  "X-Recharge-Topic",
  "X-Recharge-Version",
  "Authorization",
];

/** Header values a Headers object accepts: printable ASCII, no surrounding blanks that it would trim differently. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
  fc.constantFrom("orders/create", "demo.myshopify.com", "2026-01", "t=1,v1=00", `Bearer ${ADMIN_TOKEN}`, ""),
);
const headersArb = fc.dictionary(fc.constantFrom(...HEADER_NAMES), headerValue, { maxKeys: 8 });

/** Deeply nested JSON, built as text (a recursive value would blow the generator's stack). */
const deepJson = fc.integer({ min: 1, max: 50_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`);
const bodyArb = fc.oneof(
  bytesArb(2048),
  fc.string({ maxLength: 2000 }).map((s) => new TextEncoder().encode(s)),
  fc.json().map((s) => new TextEncoder().encode(s)),
  deepJson.map((s) => new TextEncoder().encode(s)),
);

type BodyShape =
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "broken"; bytes: Uint8Array }
  | { kind: "huge"; size: number };
const shapeArb: fc.Arbitrary<BodyShape> = fc.oneof(
  { weight: 6, arbitrary: bodyArb.map((bytes) => ({ kind: "bytes" as const, bytes })) },
  { weight: 2, arbitrary: bodyArb.map((bytes) => ({ kind: "broken" as const, bytes })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1_048_577, max: 10 * 1024 * 1024 }).map((size) => ({ kind: "huge" as const, size })),
  },
);

function bodyOf(shape: BodyShape): BodyInit {
  if (shape.kind === "bytes") return shape.bytes;
  if (shape.kind === "huge") {
    // A 10 MB string arrives in 64 KiB chunks, as a real upload would.
    let left = shape.size;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        const n = Math.min(left, 65536);
        left -= n;
        if (n === 0) c.close();
        else c.enqueue(new Uint8Array(n).fill(0x61));
      },
    });
  }
  // The client goes away half-way: the body stream errors after its first half.
  const half = shape.bytes.slice(0, Math.ceil(shape.bytes.length / 2));
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(half);
      } else c.error(new Error("connection reset by peer"));
    },
  });
}

const lengthArb = fc.option(
  fc.oneof(fc.nat().map(String), fc.constantFrom("99999999999999999999", "-1", "abc", "1e9", "0", " 12 ")),
  { nil: undefined },
);

async function send(request: Request) {
  const f = new FaultInjector({ seed: 1, rate: 0 });
  const ctx = createExecutionContext();
  // Counted but not delivered: the consumer is not under test here.
  const queue = { send: async () => undefined, sendBatch: async () => undefined } as unknown as Queue;
  const response = await app.fetch(request, faultyEnv({ ...env, EVENTS: queue }, f), ctx);
  await waitOnExecutionContext(ctx);
  const stored = (f.calls.get("LAKE.put") ?? 0) + (f.calls.get("EVENTS.send") ?? 0);
  return { response, stored };
}

function makeRequest(method: string, path: string, headers: Record<string, string>, shape: BodyShape, length?: string) {
  const h = new Headers(headers);
  if (length !== undefined) h.set("Content-Length", length);
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(`${BASE}${path}`, {
    method,
    headers: h,
    body: hasBody ? bodyOf(shape) : undefined,
    // @ts-expect-error workerd needs duplex for stream bodies
    duplex: "half",
  });
}

async function expectDocumentedAnswer(response: Response) {
  expect(response.status === 503 || response.status < 500, `status ${response.status}`).toBe(true);
  if (response.status >= 400) {
    const body = (await response.json()) as { ok: boolean; error: { code: string; message: string } };
    expect(body.ok).toBe(false);
    expect(typeof body.error.code).toBe("string");
    expect(typeof body.error.message).toBe("string");
  } else await response.arrayBuffer();
}

describe("webhook routes under fuzzing", { timeout: 60_000 }, () => {
  it("unsigned or wrongly signed input: a documented 4xx, nothing stored, nothing queued", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...WEBHOOKS),
        fc.constantFrom("POST", "POST", "POST", "PUT", "GET", "DELETE"),
        headersArb,
        shapeArb,
        lengthArb,
        async (path, method, headers, shape, length) => {
          const { response, stored } = await send(makeRequest(method, path, headers, shape, length));
          await expectDocumentedAnswer(response);
          expect(response.status, "a made-up signature was accepted").not.toBe(200);
          expect(stored, "an unverified request reached R2 or the queue").toBe(0);
        },
      ),
      fuzzParams(250),
    );
  });

  const now = () => Math.floor(Date.now() / 1000);
  const isoish = fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: -14, max: 14 }), fc.constantFrom("", ".123456789"))
      .map(([y, off, frac]) => {
        const sign = off < 0 ? "-" : "+";
        return `${String(y).padStart(4, "0")}-12-31T23:59:59${frac}${sign}${String(Math.abs(off)).padStart(2, "0")}:00`;
      }),
    headerValue,
  );

  it("signed bodies with random content and header values: 200 or a 4xx, never a 5xx", async () => {
    const signed = fc.oneof(
      fc.record({ body: fc.string({ maxLength: 400 }), headers: headersArb, at: isoish }).map(async (r) => {
        const h: Record<string, string> = {
          ...r.headers,
          "X-Shopify-Triggered-At": r.at,
          "X-Shopify-Hmac-Sha256": await shopifySignature(r.body, SHOPIFY_SECRET),
        };
        return makeRequest("POST", "/webhooks/shopify", h, { kind: "bytes", bytes: new TextEncoder().encode(r.body) });
      }),
      fc
        .record({
          id: fc.oneof(fc.string({ maxLength: 200 }), fc.constant("evt_1")),
          type: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom("charge.succeeded", "customer.created")),
          created: fc.oneof(fc.integer(), fc.double(), fc.integer({ min: -1e13, max: 1e14 }), fc.string()),
          api_version: fc.option(fc.string()),
          data: fc.anything(),
        })
        .map(async (event) => {
          const body = JSON.stringify(event);
          const h = { "Stripe-Signature": await stripeSignature(body, STRIPE_SECRET, now()) };
          return makeRequest("POST", "/webhooks/stripe", h, { kind: "bytes", bytes: new TextEncoder().encode(body) });
        }),
      fc
        .record({ topic: headerValue, updated: isoish, inner: fc.jsonValue() })
        .map(async ({ topic, updated, inner }) => {
          const body = JSON.stringify({ subscription: { id: 1, updated_at: updated, inner } });
          const h = {
            "X-Recharge-Topic": topic,
            "X-Recharge-Hmac-Sha256": await rechargeLegacySignature(body, RECHARGE_SECRET),
          };
          return makeRequest("POST", "/webhooks/recharge", h, { kind: "bytes", bytes: new TextEncoder().encode(body) });
        }),
    );
    await fc.assert(
      fc.asyncProperty(signed, async (build) => {
        const { response } = await send(await build);
        const status = response.status;
        const text = await response.clone().text();
        expect([200, 400].includes(status), `status ${status}: ${text}`).toBe(true);
        await expectDocumentedAnswer(response);
      }),
      fuzzParams(250),
    );
  });
});

describe("admin routes under fuzzing", { timeout: 60_000 }, () => {
  const pathArb = fc.oneof(
    fc.constantFrom("/admin/status", "/admin/events", "/admin/replay", "/admin/backfill", "/ops", "/admin/jobs/nope"),
    fc.webPath().map((p) => `/admin${p}`),
    fc.string({ maxLength: 60 }).map((s) => `/admin/backfill/${encodeURIComponent(s)}`),
  );

  it("without the admin token: 401 (or 404 for no route), nothing stored", async () => {
    await fc.assert(
      fc.asyncProperty(
        pathArb,
        fc.constantFrom("GET", "POST"),
        headersArb,
        shapeArb,
        async (path, method, headers, shape) => {
          const h = { ...headers };
          if (h.Authorization === `Bearer ${ADMIN_TOKEN}`) delete h.Authorization;
          const { response, stored } = await send(makeRequest(method, path, h, shape));
          await expectDocumentedAnswer(response);
          expect([401, 404, 405]).toContain(response.status);
          expect(stored).toBe(0);
        },
      ),
      fuzzParams(150),
    );
  });

  it("with the token, random bodies on replay and backfill and random queries: never a 5xx", async () => {
    const keyish = fc.oneof(
      fc.string({ maxLength: 1100 }).map((s) => `dead-letter/${s}`),
      fc.string({ maxLength: 400, unit: "binary" }).map((s) => `dead-letter/${s}`),
      fc.string(),
    );
    const replayBody = fc.oneof(
      keyish.map((key) => JSON.stringify({ key })),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
    );
    const backfillBody = fc.oneof(
      fc
        .record({
          shop: fc.oneof(fc.string(), fc.domain()),
          resources: fc.array(fc.oneof(fc.string(), fc.constantFrom("orders", "customers", "products"))),
          since: fc.option(
            fc.oneof(
              fc.string(),
              fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            ),
          ),
        })
        .map((r) => JSON.stringify(r)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    const query = fc.dictionary(fc.constantFrom("source", "status", "limit", "x"), fc.string({ maxLength: 40 }), {
      maxKeys: 3,
    });
    const auth = { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" };
    const enc = (s: string) => ({ kind: "bytes" as const, bytes: new TextEncoder().encode(s) });
    await fc.assert(
      fc.asyncProperty(replayBody, backfillBody, query, async (replay, backfill, q) => {
        for (const request of [
          makeRequest("POST", "/admin/replay", auth, enc(replay)),
          makeRequest("POST", "/admin/backfill", auth, enc(backfill)),
          makeRequest("GET", `/admin/events?${new URLSearchParams(q)}`, auth, enc("")),
        ]) {
          const { response } = await send(request);
          const text = await response.clone().text();
          expect(response.status < 500, `${request.url} → ${response.status}: ${text}`).toBe(true);
          await expectDocumentedAnswer(response);
        }
      }),
      fuzzParams(120),
    );
  });
});
