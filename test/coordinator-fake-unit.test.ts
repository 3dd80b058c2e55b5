import { describe, expect, it } from "vitest";
import { FakeShopifyAdmin } from "./fakes/shopify-admin";
import { makeShopData } from "./fakes/shopify-data";

const shop = "fake-unit.myshopify.com";

async function gql(
  fake: FakeShopifyAdmin,
  query: string,
  variables: Record<string, unknown> = {},
  version = "2026-01",
) {
  const res = await fake.handle(
    new Request(`https://${shop}/admin/api/${version}/graphql.json`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-shopify-access-token": fake.token },
      body: JSON.stringify({ query, variables }),
    }),
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("fake Shopify Admin API", () => {
  it("charges Shopify's calculated cost: requested by first, actual by what came back", async () => {
    const fake = new FakeShopifyAdmin(shop, makeShopData(shop, { orders: 3 }));
    const { body } = await gql(
      fake,
      "{ orders(first: 10) { edges { node { id totalPriceSet { shopMoney { amount } } } } } }",
    );
    // requested: 2 + 10 × (1 + 2); actual: 2 + 3 × (1 + 2)
    expect(body.extensions).toEqual({
      cost: {
        requestedQueryCost: 32,
        actualQueryCost: 11,
        throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 1989, restoreRate: 100 },
      },
    });
  });

  it("pages with cursors", async () => {
    const fake = new FakeShopifyAdmin(shop, makeShopData(shop, { customers: 5 }));
    const q =
      "query($after: String) { customers(first: 2, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }";
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 5; i++) {
      const { body } = await gql(fake, q, { after });
      const page = (
        body.data as unknown as {
          customers: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string } };
        }
      ).customers;
      seen.push(...page.nodes.map((n) => n.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });

  it("answers THROTTLED (HTTP 200) when a query asks for more than is left", async () => {
    const fake = new FakeShopifyAdmin(shop, makeShopData(shop, { orders: 1 }), { bucketSize: 50, restoreRate: 1 });
    const { status, body } = await gql(fake, "{ orders(first: 60) { nodes { id } } }"); // 62 > 50
    expect(status).toBe(200);
    expect(body.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: "THROTTLED" }) }),
    ]);
    expect(fake.stats.throttled).toBe(1);
  });

  it("runs a bulk operation CREATED → RUNNING → COMPLETED with plain JSONL as Shopify serves it, children out of order", async () => {
    const fake = new FakeShopifyAdmin(shop, makeShopData(shop, { products: 30, variantsPerProduct: 3 }));
    const run = await gql(
      fake,
      "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { message } } }",
      { q: "{ products { edges { node { id title variants { edges { node { id price } } } } } } }" },
    );
    const op = (
      run.body.data as unknown as { bulkOperationRunQuery: { bulkOperation: { id: string; status: string } } }
    ).bulkOperationRunQuery.bulkOperation;
    expect(op.status).toBe("CREATED");
    const read = async () =>
      (
        (
          await gql(fake, "query($id: ID!) { bulkOperation(id: $id) { status url objectCount fileSize } }", {
            id: op.id,
          })
        ).body.data as { bulkOperation: { status: string; url: string | null; objectCount: string; fileSize: string } }
      ).bulkOperation;
    expect((await read()).status).toBe("RUNNING");
    const done = await read();
    expect(done).toMatchObject({ status: "COMPLETED", objectCount: "120" });
    const file = await fake.handle(new Request(done.url ?? ""));
    const bytes = new Uint8Array(await file.arrayBuffer());
    expect(String.fromCharCode(bytes[0] as number)).toBe("{");
    expect(String(bytes.byteLength)).toBe(done.fileSize);

    const lines = (await fake.resultLines(op.id)).map((l) => JSON.parse(l) as { id: string; __parentId?: string });
    const position = new Map(lines.map((l, i) => [l.id, i]));
    const far = lines.filter((l) => l.__parentId && (position.get(l.id) ?? 0) - (position.get(l.__parentId) ?? 0) > 10);
    expect(far.length).toBeGreaterThan(0); // some children sit far from their parent

    const webhook = JSON.parse(fake.finishWebhook(op.id).body);
    expect(webhook).toMatchObject({
      admin_graphql_api_id: op.id,
      status: "completed",
      error_code: null,
      type: "query",
    });
  });

  it("allows one bulk query at a time before 2026-01 and five from 2026-01", async () => {
    const fake = new FakeShopifyAdmin(shop, makeShopData(shop, { orders: 1 }), { bulkAutoAdvance: false });
    const run = (v: string) =>
      gql(
        fake,
        'mutation { bulkOperationRunQuery(query: "{ orders { edges { node { id } } } }") { bulkOperation { id } userErrors { code } } }',
        {},
        v,
      );
    expect(JSON.stringify((await run("2025-10")).body)).not.toContain("OPERATION_IN_PROGRESS");
    expect(JSON.stringify((await run("2025-10")).body)).toContain("OPERATION_IN_PROGRESS");
    for (let i = 0; i < 4; i++) expect(JSON.stringify((await run("2026-01")).body)).not.toContain("LIMIT_REACHED");
    expect(JSON.stringify((await run("2026-01")).body)).toContain("LIMIT_REACHED");
  });

  it("answers bulkOperation(id:) from 2026-01 only, and node(id:) with the operation in every version", async () => {
    const fake = new FakeShopifyAdmin(shop, makeShopData(shop, { orders: 1 }), { bulkAutoAdvance: false });
    const started = await gql(
      fake,
      'mutation { bulkOperationRunQuery(query: "{ orders { edges { node { id } } } }") { bulkOperation { id } userErrors { code } } }',
      {},
      "2025-10",
    );
    const id = (started.body.data as { bulkOperationRunQuery: { bulkOperation: { id: string } } }).bulkOperationRunQuery
      .bulkOperation.id;
    const byField = "query($id: ID!) { bulkOperation(id: $id) { id status } }";
    const byNode = "query($id: ID!) { node(id: $id) { ... on BulkOperation { id status } } }";

    const refused = await gql(fake, byField, { id }, "2025-10");
    expect(refused.body.data).toBeUndefined();
    expect(refused.body.errors).toEqual([
      expect.objectContaining({ message: "Field 'bulkOperation' doesn't exist on type 'QueryRoot'" }),
    ]);
    for (const version of ["2025-10", "2026-01"]) {
      expect((await gql(fake, byNode, { id }, version)).body.data).toEqual({ node: { id, status: "CREATED" } });
    }
    expect((await gql(fake, byField, { id }, "2026-01")).body.data).toEqual({
      bulkOperation: { id, status: "CREATED" },
    });
  });
});
