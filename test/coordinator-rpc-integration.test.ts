import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AdminGraphqlResult } from "../src/durable/admin-graphql";
import { shopAdminGraphql } from "../src/durable/coordinator-client";
import {
  adminRequest,
  allFinished,
  count,
  drive,
  fakeShop,
  useFakeShopify,
  withSetting,
} from "./fakes/coordinator-harness";

useFakeShopify();

const ORDERS =
  "query Orders($n: Int!) { orders(first: $n) { nodes { id name totalPriceSet { shopMoney { amount } } } } }";

describe("ShopCoordinator.adminGraphql", { timeout: 30_000 }, () => {
  it("shares one budget between concurrent callers and a running bulk export: THROTTLED never happens", async () => {
    const { shop, fake, stub } = fakeShop(
      "rpc-shared",
      { orders: 80, customers: 20 },
      { bucketSize: 300, restoreRate: 1500 },
    );
    const res = await adminRequest("POST", "/admin/backfill", { shop, resources: ["customers"] });
    expect(res.status).toBe(202);

    const callers = Array.from({ length: 5 }, async (_, c) => {
      const answers: AdminGraphqlResult[] = [];
      for (let i = 0; i < 5; i++) {
        answers.push(await shopAdminGraphql(env, shop, ORDERS, { n: 20 + ((c + i) % 3) * 10 }));
      }
      return answers;
    });
    const [answers] = await Promise.all([Promise.all(callers), drive(stub, () => allFinished(shop, 1))]);

    const flat = answers.flat();
    expect(flat).toHaveLength(25);
    expect(flat.every((a) => a.ok)).toBe(true);
    const first = flat[0];
    expect(first?.ok && (first.data.orders as { nodes: unknown[] }).nodes).toHaveLength(20);
    expect(fake.stats.throttled).toBe(0);
    expect(fake.stats.minAvailable).toBeGreaterThanOrEqual(0);
    expect(await count("shopify_customers", shop)).toBe(20);
    const budget = await stub.budgetStatus();
    expect(budget).toMatchObject({ known: true, maximum: 300, restoreRate: 1500, inFlight: 0, waiting: 0 });
  });

  it("makes a caller wait (not fail) when someone else drained the bucket", async () => {
    const { shop, fake } = fakeShop("rpc-drained", { orders: 5 }, { bucketSize: 100, restoreRate: 500 });
    expect((await shopAdminGraphql(env, shop, ORDERS, { n: 5 })).ok).toBe(true);
    fake.drain(100);
    const answer = await shopAdminGraphql(env, shop, ORDERS, { n: 5 });
    expect(answer).toMatchObject({ ok: true, attempts: 2 });
    expect(fake.stats.throttled).toBe(1);
  });

  it("calls the endpoint from the SHOPIFY_ADMIN_URL template with the shop's token", async () => {
    const { shop, fake } = fakeShop("rpc-template", { orders: 1 });
    await withSetting("SHOPIFY_ADMIN_URL", "https://{shop}/proxy/{version}/graphql.json", async () => {
      expect((await shopAdminGraphql(env, shop, ORDERS, { n: 1 }, { estimatedCost: 12 })).ok).toBe(true);
    });
    expect(fake.requestUrls.at(-1)).toBe(`https://${shop}/proxy/2026-01/graphql.json`);
  });

  it("answers a shop without a token with an error naming the shop and the secret", async () => {
    const answer = await shopAdminGraphql(env, "rpc-no-token.myshopify.com", ORDERS, { n: 1 });
    expect(answer.ok).toBe(false);
    expect(!answer.ok && answer.error.kind).toBe("config");
    expect(!answer.ok && answer.error.message).toContain("rpc-no-token.myshopify.com");
    expect(!answer.ok && answer.error.message).toContain("SHOPIFY_ACCESS_TOKENS");
  });
});
