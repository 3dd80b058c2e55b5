import { describe, expect, it } from "vitest";
import { ShopifyAdmin } from "../src/durable/admin-graphql";
import { type Clock, RateBudget } from "../src/durable/rate-budget";
import { adminUrl, bulkConcurrency, shopAccess } from "../src/durable/shop-access";
import { FakeShopifyAdmin } from "./fakes/shopify-admin";
import { makeShopData } from "./fakes/shopify-data";

/** A clock the test moves by hand; timers fire when their time is reached. */
class ManualClock implements Clock {
  t = 1_000_000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  async advance(ms: number) {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t);
      if (due.length === 0) break;
      this.timers = this.timers.filter((x) => x.at > this.t);
      for (const d of due) d.fn();
    }
    await Promise.resolve();
  }
}

const status = (currentlyAvailable: number, maximumAvailable = 100, restoreRate = 10) => ({
  maximumAvailable,
  currentlyAvailable,
  restoreRate,
});

async function settled<T>(p: Promise<T>): Promise<T | "pending"> {
  return Promise.race([p, new Promise<"pending">((r) => setTimeout(() => r("pending"), 0))]);
}

describe("RateBudget", () => {
  it("sends one probe call at a time until a response tells the bucket's size", async () => {
    const budget = new RateBudget(new ManualClock());
    const first = await budget.acquire(30);
    const second = budget.acquire(30);
    expect(await settled(second)).toBe("pending");
    budget.settle(first, 30, status(70));
    expect(await settled(second)).toEqual(expect.any(Number));
    expect(budget.snapshot()).toMatchObject({ known: true, maximum: 100, restoreRate: 10, available: 40 });
  });

  it("makes callers wait in order for the restore rate instead of failing", async () => {
    const clock = new ManualClock();
    const budget = new RateBudget(clock);
    budget.settle(await budget.acquire(0), 0, status(50));
    const big = budget.acquire(80);
    const small = budget.acquire(10);
    expect(await settled(big)).toBe("pending");
    await clock.advance(2_900);
    expect(await settled(big)).toBe("pending");
    await clock.advance(100); // 50 + 3 s × 10 = 80
    expect(await settled(big)).toEqual(expect.any(Number));
    expect(await settled(small)).toBe("pending"); // FIFO: the small one does not jump the queue
    await clock.advance(1_000);
    expect(await settled(small)).toEqual(expect.any(Number));
  });

  it("refunds requested minus actual through Shopify's throttle status, minus what others still hold", async () => {
    const budget = new RateBudget(new ManualClock());
    budget.settle(await budget.acquire(0), 0, status(100));
    const a = await budget.acquire(60);
    const b = await budget.acquire(30);
    expect(budget.snapshot().available).toBe(10);
    // Shopify charged a's actual 20 (60 requested, 40 refunded) and has not seen b yet.
    budget.settle(a, 20, status(80));
    expect(budget.snapshot().available).toBe(50); // 80 − b's 30 still in flight
    budget.settle(b, 5, status(75));
    expect(budget.snapshot().available).toBe(75);
  });

  it("puts a refused call back at the front with Shopify's count, and blocks everyone after a 429", async () => {
    const clock = new ManualClock();
    const budget = new RateBudget(clock);
    budget.settle(await budget.acquire(0), 0, status(100));
    const t = await budget.acquire(50);
    const waiting = budget.acquire(60); // queued: only 50 left
    budget.refuse(t, status(0), 1000); // another client had drained it
    const retry = budget.acquire(50, true);
    await clock.advance(4_900);
    expect(await settled(retry)).toBe("pending");
    await clock.advance(100);
    expect(await settled(retry)).toEqual(expect.any(Number));
    expect(await settled(waiting)).toBe("pending");

    const b2 = new RateBudget(clock);
    b2.settle(await b2.acquire(0), 0, status(100));
    const u = await b2.acquire(10);
    b2.refuse(u, null, 2_000);
    const after = b2.acquire(1);
    await clock.advance(1_999);
    expect(await settled(after)).toBe("pending");
    await clock.advance(1);
    expect(await settled(after)).toEqual(expect.any(Number));
  });
});

describe("ShopifyAdmin against the fake Admin API", () => {
  const shop = "budget-unit.myshopify.com";
  const data = makeShopData(shop, { orders: 60, customers: 30, products: 10 });
  const admin = (fake: FakeShopifyAdmin) =>
    new ShopifyAdmin({
      shop,
      token: fake.token,
      apiVersion: "2026-01",
      url: adminUrl({ SHOPIFY_ADMIN_URL: "https://{shop}/admin/api/{version}/graphql.json" }, shop, "2026-01"),
      fetch: (input, init) => fake.handle(new Request(input, init)),
    });
  const ORDERS = "query($n:Int!){orders(first:$n){nodes{id totalPriceSet{shopMoney{amount}}}}}";

  it("keeps several concurrent callers inside the bucket: no THROTTLED, every call answered", async () => {
    const fake = new FakeShopifyAdmin(shop, data, { bucketSize: 200, restoreRate: 1000 });
    const client = admin(fake);
    const results = await Promise.all(
      Array.from({ length: 4 }, async (_, caller) => {
        const out = [];
        for (let i = 0; i < 6; i++) out.push(await client.request(ORDERS, { n: 10 + ((caller + i) % 3) * 10 }));
        return out;
      }),
    );
    const flat = results.flat();
    expect(flat.every((r) => r.ok)).toBe(true);
    expect(fake.stats.requests).toBe(24);
    expect(fake.stats.throttled).toBe(0);
    expect(fake.stats.minAvailable).toBeGreaterThanOrEqual(0);
    const first = flat[0];
    expect(first?.ok && first.cost).toMatchObject({
      requestedQueryCost: expect.any(Number),
      actualQueryCost: expect.any(Number),
    });
  });

  it("waits out a THROTTLED answer when another client drained the bucket, then succeeds", async () => {
    const fake = new FakeShopifyAdmin(shop, data, { bucketSize: 100, restoreRate: 400 });
    const client = admin(fake);
    expect((await client.request(ORDERS, { n: 5 })).ok).toBe(true);
    fake.drain(100);
    const r = await client.request(ORDERS, { n: 5 });
    expect(r.ok).toBe(true);
    expect(r.attempts).toBe(2);
    expect(fake.stats.throttled).toBe(1);
    expect(client.counters.throttled).toBe(1);
  });

  it("waits out HTTP 429 (Retry-After) the same way", async () => {
    const fake = new FakeShopifyAdmin(shop, data, { bucketSize: 100, restoreRate: 400, throttleMode: "http429" });
    const client = admin(fake);
    expect((await client.request(ORDERS, { n: 5 })).ok).toBe(true);
    fake.drain(100);
    const started = Date.now();
    const r = await client.request(ORDERS, { n: 5 });
    expect(r.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(client.counters.http429).toBe(1);
  });

  it("returns GraphQL and HTTP errors as results, not throws", async () => {
    const fake = new FakeShopifyAdmin(shop, data);
    const client = admin(fake);
    const bad = await client.request("query { orders(first: 2) { nodes { id }", {});
    expect(bad).toMatchObject({ ok: false, error: { kind: "graphql", codes: ["PARSE_ERROR"] } });
    const wrongToken = new ShopifyAdmin({
      shop,
      token: "shpat_wrong",
      apiVersion: "2026-01",
      url: `https://${shop}/admin/api/2026-01/graphql.json`,
      fetch: (input, init) => fake.handle(new Request(input, init)),
    });
    expect(await wrongToken.request(ORDERS, { n: 1 })).toMatchObject({
      ok: false,
      error: { kind: "http", status: 401 },
    });
  });
});

describe("shop access", () => {
  it("names the shop and the secret when a token is missing", () => {
    const r = shopAccess({ SHOPIFY_ACCESS_TOKENS: '{"other.myshopify.com":"shpat_x"}' }, "missing.myshopify.com");
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain('"missing.myshopify.com"');
    expect(!r.ok && r.message).toContain("SHOPIFY_ACCESS_TOKENS");
    expect(shopAccess({ SHOPIFY_ACCESS_TOKENS: "not json" }, "a.myshopify.com")).toMatchObject({
      ok: false,
      reason: "secret_invalid",
    });
    expect(shopAccess({ SHOPIFY_ACCESS_TOKENS: '{"a.myshopify.com":42}' }, "a.myshopify.com")).toMatchObject({
      ok: false,
      reason: "secret_invalid",
    });
    expect(shopAccess({ SHOPIFY_ACCESS_TOKENS: '{"a.myshopify.com":"shpat_1"}' }, "a.myshopify.com")).toEqual({
      ok: true,
      token: "shpat_1",
    });
  });

  it("builds the endpoint from the template and allows 5 concurrent bulk queries from 2026-01", () => {
    expect(
      adminUrl({ SHOPIFY_ADMIN_URL: "http://fake.local/{shop}/api/{version}" }, "a.myshopify.com", "2025-10"),
    ).toBe("http://fake.local/a.myshopify.com/api/2025-10");
    expect(bulkConcurrency("2025-10")).toBe(1);
    expect(bulkConcurrency("2026-01")).toBe(5);
    expect(bulkConcurrency("2026-07")).toBe(5);
    expect(bulkConcurrency("unstable")).toBe(5);
  });
});
