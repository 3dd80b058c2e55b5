import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyBatch } from "../src/durable/bulk/apply";
import { stageArchive } from "../src/durable/bulk/stage";
import { type Job, newJob } from "../src/durable/job";
import { durableSql, JobStore } from "../src/durable/job-store";
import { parseSubscriptionRules } from "../src/mapping/shopify";

// Staging with a window: children that follow their parent within a chunk ride in the parent's
// row; the others get rows of their own. Either way the applied line items are the file's, in
// file order, whatever chunk size cuts the file.

const money = (amount: string) => ({ shopMoney: { amount, currencyCode: "USD" } });
const orderLine = (n: number) =>
  JSON.stringify({
    id: `gid://shopify/Order/${9_000_000 + n}`,
    name: `#${n}`,
    createdAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
    currencyCode: "USD",
    totalPriceSet: money("10.00"),
  });
const itemLine = (order: number, n: number) =>
  JSON.stringify({
    id: `gid://shopify/LineItem/${8_000_000 + n}`,
    sku: `SKU-${n}`,
    quantity: 1,
    originalUnitPriceSet: money("5.00"),
    __parentId: `gid://shopify/Order/${9_000_000 + order}`,
  });

/** Three orders; order 1's items sit before it, right after it, and far after it. */
const FILE = [
  itemLine(1, 10), // before its parent
  orderLine(1),
  itemLine(1, 11),
  itemLine(1, 12),
  orderLine(2),
  itemLine(2, 20),
  orderLine(3),
  itemLine(3, 30),
  itemLine(1, 13), // far from its parent
  itemLine(2, 21),
].join("\n");

let seq = 0;

describe("bulk staging window", () => {
  for (const chunkLines of [1000, 3, 1]) {
    it(`stages ${chunkLines}-line chunks and applies every line item once, in file order`, async () => {
      const shop = `stage-${Date.now()}-${++seq}.myshopify.com`;
      const key = `test/stage/${shop}.jsonl`;
      await env.LAKE.put(key, FILE);
      const stub = env.SHOP.get(env.SHOP.idFromName(shop));
      const { job, stagedRows } = await runInDurableObject(stub, async (_instance, state) => {
        const store = new JobStore(durableSql(state.storage));
        const now = () => new Date().toISOString();
        const init = { id: `bo_stage_${seq}`, backfillId: "bf_stage", shop, resource: "orders" as const, since: null };
        let j: Job = { ...newJob(init, now()), status: "staging", r2Key: key };
        j = (await stageArchive({ bucket: env.LAKE, store, chunkLines, now }, j)).job;
        const rows = store.stagedCount(j.id);
        const mapContext = { subscriptions: parseSubscriptionRules("", ""), shopCurrency: "USD" };
        for (;;) {
          const out = await applyBatch(
            { db: env.DB, store, mapContext, parentsPerBatch: 2, maxStatements: 400, now, privacyKey: "test-key" },
            j,
          );
          j = out.job;
          if (out.kind === "done") break;
        }
        return { job: j, stagedRows: rows };
      });
      expect(job).toMatchObject({ linesRead: 10, parents: 3, children: 7, childrenJoined: 7, entitiesApplied: 3 });
      // In one whole-file chunk only the item before its parent needs a row of its own.
      if (chunkLines === 1000) expect(stagedRows).toBe(3 + 1);
      if (chunkLines === 1) expect(stagedRows).toBe(10);
      const lines = await env.DB.prepare(
        "SELECT order_id, position, id FROM shopify_order_line_items WHERE shop = ? ORDER BY order_id, position",
      )
        .bind(shop)
        .all<{ order_id: string; position: number; id: string }>();
      expect(lines.results.map((l) => [l.order_id.slice(-1), l.position, l.id.slice(-2)])).toEqual([
        ["1", 1, "10"],
        ["1", 2, "11"],
        ["1", 3, "12"],
        ["1", 4, "13"],
        ["2", 1, "20"],
        ["2", 2, "21"],
        ["3", 1, "30"],
      ]);
    });
  }
});
