import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyBatch } from "../src/durable/bulk/apply";
import { partKey } from "../src/durable/bulk/parts";
import { collectStrays, streamArchive } from "../src/durable/bulk/stage";
import { type Job, newJob } from "../src/durable/job";
import { durableSql, JobStore } from "../src/durable/job-store";
import { parseSubscriptionRules } from "../src/mapping/shopify";
import { type IndexEntry, indexObjects } from "../src/tables/subject-index";
import type { ErasedView } from "../src/tables/subjects";

// Streaming with a window: children that follow their parent within a chunk are applied with it;
// the others (strays) are staged, and a second pass applies their parents again with every child.
// Either way the applied line items are the file's, in file order, whatever chunk size cuts the file.

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
  // [chunk lines, window parents, strays]: only what comes before its parent, or after it left the window, strays.
  const cases: Array<[number, number, number]> = [
    [1000, 1000, 1],
    [3, 1000, 1],
    [1, 1000, 1],
    [1000, 1, 3],
    [1, 1, 3],
  ];
  for (const [chunkLines, windowParents, strayCount] of cases) {
    it(`streams ${chunkLines}-line chunks with a ${windowParents}-parent window and applies every line item once, in file order`, async () => {
      const { shop, job, strays } = await ingest({ chunkLines, windowParents });
      expect(job).toMatchObject(EXACT);
      expect(strays).toBe(strayCount);
      expect(await lineItems(shop)).toEqual(FILE_ORDER);
    });
  }

  it("resumes from the window its last commit kept, after a crash before a commit and after a stop on budget", async () => {
    // 2-line chunks: the crash loses the second chunk (lines 2-3, its D1 writes done); the stop follows its redo.
    const { shop, job, strays, outcomes } = await ingest({
      chunkLines: 2,
      windowParents: 1000,
      crashAtCommit: 2,
      yieldAtCommit: 3,
    });
    expect(outcomes).toEqual(["crashed at linesRead 2", "more at linesRead 4", "done"]);
    expect(job).toMatchObject(EXACT);
    expect(strays).toBe(1);
    expect(await lineItems(shop)).toEqual(FILE_ORDER);
  });

  it("counts a line invalid when a stray makes it fail, and keeps what the first pass applied", async () => {
    // The stray item (before its order) has a quantity that is not a number: the order with its
    // other item applied in the first pass, and fails as a whole in the second.
    const bad = JSON.stringify({ ...JSON.parse(itemLine(1, 10)), quantity: "lots" });
    const { shop, job } = await ingest({
      chunkLines: 1000,
      windowParents: 1000,
      file: [bad, orderLine(1), itemLine(1, 11)].join("\n"),
    });
    expect(job).toMatchObject({
      parents: 1,
      children: 2,
      childrenJoined: 2,
      entitiesApplied: 1,
      rowsApplied: 2,
      invalid: 1,
    });
    expect(job.firstInvalid).toMatch(/^line 2: /);
    expect(await lineItems(shop)).toEqual([["1", 1, "11"]]);
  });
});

describe("bulk staging window, one order id on several lines", () => {
  // Shopify writes each order once, but nothing here may depend on it: two lines with one id are two
  // versions of the order, and each takes every child that names the id, wherever it sits (the join's
  // rule), so the rows end the same whatever the window or the chunk. The newer version's row stays.
  const version = (name: string, updatedAt: string) => JSON.stringify({ ...JSON.parse(orderLine(1)), name, updatedAt });
  const DUPLICATES = [
    version("#old", "2026-01-01T00:00:00Z"),
    itemLine(1, 11),
    orderLine(2),
    itemLine(2, 20),
    version("#new", "2026-01-02T00:00:00Z"), // the same order id again
    itemLine(1, 12),
    orderLine(3),
    itemLine(3, 30),
    version("#new", "2026-01-02T00:00:00Z"), // and a third time, after the others left a 1-parent window
    itemLine(1, 13),
  ].join("\n");
  // [chunk lines, window parents, crash at commit, stop at commit]: a resumed pass must still know
  // the ids it read before (the first version is applied and committed before the crash).
  // The last: the archive in parts of 2 lines, where a resumed pass starts at the part of its line
  // and must still know the ids of the parts before it.
  const cases: Array<[number, number, number?, number?, number?]> = [
    [1000, 1000],
    [2, 1000],
    [1000, 1],
    [1, 1],
    [2, 1, 3, 4],
    [2, 1, 3, 4, 2],
  ];
  for (const [chunkLines, windowParents, crashAtCommit, yieldAtCommit, partLines] of cases) {
    const resumed = crashAtCommit ? ", resumed after a crash and a stop" : "";
    const parted = partLines ? `, from parts of ${partLines} lines` : "";
    it(`gives every version every child, with ${chunkLines}-line chunks and a ${windowParents}-parent window${resumed}${parted}`, async () => {
      const { shop, job, outcomes, reads } = await ingest({
        chunkLines,
        windowParents,
        crashAtCommit,
        yieldAtCommit,
        file: DUPLICATES,
        partLines,
      });
      if (crashAtCommit) expect(outcomes).toEqual(["crashed at linesRead 4", "more at linesRead 6", "done"]);
      if (partLines) {
        // The crash kept no ids (the pass read again from the first part); the stop kept them at
        // line 6, so the last pass started at the fourth part (lines 6-7).
        expect(reads[1]?.[0]).toMatch(/\/00001\.jsonl\.gz$/);
        expect(reads[2]?.[0]).toMatch(/\/00004\.jsonl\.gz$/);
        expect(reads[2]?.[1]).toMatch(/\/00005\.jsonl\.gz$/);
      }
      expect(job).toMatchObject({ linesRead: 10, parents: 5, children: 5, invalid: 0 });
      // No child is reported an orphan: every one joined a parent.
      expect(job.childrenJoined).toBeGreaterThanOrEqual(job.children);
      expect(await lineItems(shop)).toEqual([
        ["1", 1, "11"],
        ["1", 2, "12"],
        ["1", 3, "13"],
        ["2", 1, "20"],
        ["3", 1, "30"],
      ]);
      const order = await env.DB.prepare("SELECT name, line_item_count FROM shopify_orders WHERE shop = ? AND id = ?")
        .bind(shop, "9000001")
        .first<{ name: string; line_item_count: number }>();
      expect(order).toEqual({ name: "#new", line_item_count: 3 });
    });
  }

  it("gives a later version the children of an earlier one, when none follow it", async () => {
    for (const windowParents of [1000, 1]) {
      const file = [version("#old", "2026-01-01T00:00:00Z"), itemLine(1, 11), version("#new", "2026-01-02T00:00:00Z")];
      const { shop, job } = await ingest({ chunkLines: 1000, windowParents, file: file.join("\n") });
      expect(job).toMatchObject({ parents: 2, children: 1, invalid: 0 });
      expect(await lineItems(shop)).toEqual([["1", 1, "11"]]);
    }
  });
});

describe("bulk identity links", () => {
  const customerOrder = (n: number, customer: string, email: string) =>
    JSON.stringify({ ...JSON.parse(orderLine(n)), email, customer: { id: `gid://shopify/Customer/${customer}` } });

  it("skips the links of orders whose customer another export linked, with the same identities", async () => {
    const customer = `7${Date.now()}`;
    const email = `bulk-${customer}@example.com`;
    // The first export links the customer (its identity's last event is that export).
    const first = await ingest({
      chunkLines: 1000,
      windowParents: 1000,
      file: [customerOrder(1, customer, email), itemLine(1, 11)].join("\n"),
    });
    const identityOf = () =>
      env.DB.prepare("SELECT * FROM customer_identities WHERE source = 'shopify' AND external_id = ?1 AND shop = ?2")
        .bind(customer, first.shop)
        .first();
    const before = await identityOf();
    expect(before).toMatchObject({ email, matched_by: "email" });

    // A second export of the same shop (another operation) with two more orders of that customer.
    const linked: string[] = [];
    const recording = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return (statements: D1PreparedStatement[]) => {
            for (const st of statements) {
              const text = (st as unknown as { statement?: string }).statement ?? "";
              if (text.includes("INSERT INTO customer_identities")) linked.push(text);
            }
            return target.batch(statements);
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const second = await ingest({
      chunkLines: 1000,
      windowParents: 1000,
      shop: first.shop,
      db: recording,
      file: [customerOrder(2, customer, email), itemLine(2, 20), customerOrder(3, customer, "other@example.com")].join(
        "\n",
      ),
    });
    expect(second.job).toMatchObject({ entitiesApplied: 2, invalid: 0 });
    expect(linked).toEqual([]);
    expect(await identityOf()).toEqual(before);
    expect(await lineItems(first.shop)).toEqual([
      ["1", 1, "11"],
      ["2", 1, "20"],
    ]);
  });
});

const EXACT = {
  linesRead: 10,
  parents: 3,
  children: 7,
  childrenJoined: 7,
  entitiesApplied: 3,
  rowsApplied: 10,
  invalid: 0,
};
const FILE_ORDER = [
  ["1", 1, "10"],
  ["1", 2, "11"],
  ["1", 3, "12"],
  ["1", 4, "13"],
  ["2", 1, "20"],
  ["2", 2, "21"],
  ["3", 1, "30"],
];

async function lineItems(shop: string) {
  const lines = await env.DB.prepare(
    "SELECT order_id, position, id FROM shopify_order_line_items WHERE shop = ? ORDER BY order_id, position",
  )
    .bind(shop)
    .all<{ order_id: string; position: number; id: string }>();
  return lines.results.map((l) => [l.order_id.slice(-1), l.position, l.id.slice(-2)]);
}

/** The coordinator's passes over FILE (or another file), as its runner takes them: stream (resumed until done), then the strays' pass. */
async function ingest(opts: {
  chunkLines: number;
  windowParents: number;
  crashAtCommit?: number;
  yieldAtCommit?: number;
  file?: string;
  /** Archived as parts (./parts.ts) of this many lines, not as one object. */
  partLines?: number;
  /** Another run over a shop an earlier one loaded. */
  shop?: string;
  db?: D1Database;
}) {
  const shop = opts.shop ?? `stage-${Date.now()}-${++seq}.myshopify.com`;
  if (opts.shop) seq++;
  const file = opts.file ?? FILE;
  let key = `test/stage/${shop}-${seq}.jsonl`;
  let archiveParts: Job["archiveParts"] = null;
  if (opts.partLines) {
    // As the archive writes them: a folder of gzip files of whole lines.
    key = `test/stage/${shop}-${seq}/`;
    const lines = file.split("\n");
    archiveParts = [];
    for (let i = 0; i * opts.partLines < lines.length; i++) {
      const text = `${lines.slice(i * opts.partLines, (i + 1) * opts.partLines).join("\n")}\n`;
      const gzip = new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")));
      await env.LAKE.put(partKey(key, i), await gzip.arrayBuffer());
      archiveParts.push({
        lines: Math.min(opts.partLines, lines.length - i * opts.partLines),
        bytes: text.length,
        cut: false,
      });
    }
  } else {
    await env.LAKE.put(key, file);
  }
  /** The keys each streaming pass read, in order. */
  const reads: string[][] = [];
  const bucket = new Proxy(env.LAKE, {
    get(target, prop) {
      if (prop === "get") {
        return (k: string) => {
          reads.at(-1)?.push(k);
          return target.get(k);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const stub = env.SHOP.get(env.SHOP.idFromName(shop));
  const result = await runInDurableObject(stub, async (_instance, state) => {
    const store = new JobStore(durableSql(state.storage));
    const now = () => new Date().toISOString();
    const init = { id: `bo_stage_${seq}`, backfillId: "bf_stage", shop, resource: "orders" as const, since: null };
    const mapContext = { subscriptions: parseSubscriptionRules("", ""), shopCurrency: "USD" };
    const apply = {
      db: opts.db ?? env.DB,
      store,
      mapContext,
      parentsPerBatch: 2,
      maxStatements: 400,
      now,
      privacyKey: "test-key",
      index: (entries: readonly IndexEntry[], at: string, erased?: ErasedView) =>
        indexObjects(env, entries, at, erased),
    };
    let commits = 0;
    const stage = {
      bucket,
      store,
      chunkLines: opts.chunkLines,
      windowParents: opts.windowParents,
      now,
      fault: () => {
        if (++commits === opts.crashAtCommit) throw new Error("simulated crash");
      },
      yieldNow: () => commits === opts.yieldAtCommit,
    };
    let j: Job = { ...newJob(init, now()), status: "staging", r2Key: key, archiveParts };
    store.put(j);
    const outcomes: string[] = [];
    for (;;) {
      reads.push([]);
      try {
        const out = await streamArchive({ ...stage, apply }, j);
        j = out.job;
        outcomes.push(out.kind === "done" ? "done" : `${out.kind} at linesRead ${j.linesRead}`);
        if (out.kind === "done") break;
      } catch {
        // As the runner does: back to the last committed checkpoint.
        j = store.get(j.id) as Job;
        outcomes.push(`crashed at linesRead ${j.linesRead}`);
      }
    }
    const strays = store.stagedCount(j.id);
    j = (await collectStrays(stage, j)).job;
    for (;;) {
      const out = await applyBatch(apply, j);
      j = out.job;
      if (out.kind === "done") break;
    }
    return { job: j, strays, outcomes, reads };
  });
  return { shop, ...result };
}
