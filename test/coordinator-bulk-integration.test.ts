import {
  createExecutionContext,
  createMessageBatch,
  evictDurableObject,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type Job, progressOf } from "../src/durable/job";
import { durableSql, JobStore } from "../src/durable/job-store";
import type { ShopCoordinator } from "../src/durable/shop-coordinator";
import worker from "../src/index";
import { toMinor } from "../src/mapping/money";
import type { Envelope } from "../src/shared/envelope";
import {
  adminRequest,
  allFinished,
  count,
  drive,
  fakeShop,
  injectFaults,
  operation,
  operations,
  setToken,
  sha256Hex,
  useFakeShopify,
  withSetting,
} from "./fakes/coordinator-harness";
import { FaultInjector } from "./fakes/faulty-env";
import { type InvocationReport, onInvocationEnd } from "./fakes/limits";
import type { FakeShopifyAdmin } from "./fakes/shopify-admin";

useFakeShopify();

/** The text of an archived export, part after part, and how many parts it took. */
async function archivedText(folder: string): Promise<{ parts: number; texts: string[]; bytes: Uint8Array }> {
  const listed = await env.LAKE.list({ prefix: folder });
  const keys = listed.objects.map((o) => o.key).sort();
  const texts: string[] = [];
  for (const key of keys) {
    const object = (await env.LAKE.get(key)) as R2ObjectBody;
    texts.push(await new Response(object.body.pipeThrough(new DecompressionStream("gzip"))).text());
  }
  return { parts: keys.length, texts, bytes: new TextEncoder().encode(texts.join("")) };
}

async function startBackfill(shop: string, resources: string[], since?: string): Promise<string> {
  const res = await adminRequest("POST", "/admin/backfill", { shop, resources, ...(since ? { since } : {}) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { backfillId: string }).backfillId;
}

const onlyOp = (fake: FakeShopifyAdmin, n = 0) => [...fake.operations.values()][n];

async function deliverFinishWebhook(fake: FakeShopifyAdmin, opId: string) {
  const hook = fake.finishWebhook(opId);
  const envelope: Envelope = {
    v: 1,
    source: "shopify",
    topic: hook.topic,
    eventId: hook.eventId,
    shop: hook.shop,
    receivedAt: new Date().toISOString(),
    eventAt: new Date().toISOString(),
    apiVersion: "2026-01",
    origin: "webhook",
    body: hook.body,
  };
  const batch = createMessageBatch("commerce-events", [
    { id: `m-${hook.eventId}`, timestamp: new Date(), attempts: 1, body: envelope },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return { result: await getQueueResult(batch, ctx), eventId: hook.eventId };
}

describe("ShopCoordinator bulk backfill", { timeout: 30_000 }, () => {
  it("exports orders, customers and products into the webhook tables, archives each result, and reports progress", async () => {
    const { shop, fake, stub } = fakeShop("bf-happy", {
      orders: 40,
      lineItemsPerOrder: 3,
      customers: 25,
      products: 10,
      variantsPerProduct: 3,
    });
    const backfillId = await startBackfill(shop, ["orders", "customers", "products"]);

    const early = await adminRequest("GET", `/admin/backfill/${backfillId}`);
    expect(early.status).toBe(200);
    expect(await early.json()).toMatchObject({ ok: true, backfill: { id: backfillId, shop, status: "running" } });

    await drive(stub, () => allFinished(shop, 3));
    const status = (await (await adminRequest("GET", `/admin/backfill/${backfillId}`)).json()) as {
      backfill: { status: string; operations: Array<Record<string, unknown>> };
    };
    expect(status.backfill.status).toBe("completed");

    expect(await count("shopify_orders", shop)).toBe(40);
    expect(await count("shopify_order_line_items", shop)).toBe(120);
    expect(await count("shopify_customers", shop)).toBe(25);
    expect(await count("shopify_products", shop)).toBe(10);
    expect(await count("shopify_product_variants", shop)).toBe(30);
    // Backfilled customers are linked into the identity graph, with normalized emails.
    const linked = await env.DB.prepare(
      `SELECT count(*) AS n, count(DISTINCT p.email) AS emails FROM customer_identities i
       JOIN customer_profiles p ON p.id = i.profile_id WHERE i.shop = ?1 AND i.source = 'shopify'`,
    )
      .bind(shop)
      .first<{ n: number; emails: number }>();
    expect(linked).toEqual({ n: 25, emails: 25 });
    const normalized = await env.DB.prepare(
      "SELECT count(*) AS n FROM customer_identities WHERE shop = ?1 AND email GLOB 'customer*@example.com'",
    )
      .bind(shop)
      .first<{ n: number }>();
    expect(normalized?.n).toBe(25);

    const orders = await operation(shop, "orders");
    expect(orders).toMatchObject({
      status: "completed",
      shopifyStatus: "COMPLETED",
      linesRead: 160,
      parents: 40,
      children: 120,
      invalid: 0,
      orphans: 0,
      entitiesApplied: 40,
      rowsApplied: 160,
      attempts: 1,
    });
    const first = fake.data.orders[0] as unknown as {
      id: string;
      name: string;
      totalPriceSet: { shopMoney: { amount: string } };
    };
    const number = orders?.shopifyId?.split("/").pop();
    const row = await env.DB.prepare(
      "SELECT id, total_price_minor, origin, last_event_id FROM shopify_orders WHERE shop = ?1 AND name = ?2",
    )
      .bind(shop, first.name)
      .first();
    expect(row).toEqual({
      id: first.id.split("/").pop(), // 17+ digits, exact
      total_price_minor: toMinor(first.totalPriceSet.shopMoney.amount, "USD"),
      origin: "bulk",
      last_event_id: `bulk-${number}`,
    });

    for (const op of await operations(shop)) {
      const fakeOp = fake.operations.get(op.shopifyId ?? "");
      expect(op.r2Key).toMatch(
        new RegExp(`^raw/shopify/${op.resource}/snapshots/dt=\\d{4}-\\d{2}-\\d{2}/${fakeOp?.number}/$`),
      );
      // The parts, each a gzip file of its own, are the result byte for byte.
      const stored = await archivedText(op.r2Key ?? "");
      expect(stored.parts).toBe(1);
      expect(await sha256Hex(stored.bytes)).toBe(
        await sha256Hex((await fake.resultBytes(op.shopifyId ?? "")) as Uint8Array),
      );
    }
    const cursor = await env.DB.prepare("SELECT value FROM sync_cursors WHERE shop = ?1 AND resource = 'orders'")
      .bind(shop)
      .first();
    expect(cursor).toEqual({ value: orders?.shopifyCreatedAt });
    expect(fake.stats.throttled).toBe(0);
    expect(fake.stats.maxRunning).toBe(3); // all three at once under 2026-01
    await runInDurableObject(stub, (_: ShopCoordinator, state) => {
      // Staging tables are dropped once their rows are applied.
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'staged_%'").one().n).toBe(
        0,
      );
    });
  });

  it("runs one export at a time before API version 2026-01 and queues the rest", async () => {
    await withSetting("SHOPIFY_API_VERSION", "2025-10", async () => {
      const { shop, fake, stub } = fakeShop("bf-serial", { orders: 5, customers: 5, products: 5 });
      await startBackfill(shop, ["orders", "customers", "products"]);
      await drive(stub, () => allFinished(shop, 3));
      expect((await operations(shop)).map((o) => o.status)).toEqual(["completed", "completed", "completed"]);
      expect(fake.stats.bulkRuns).toBe(3);
      expect(fake.stats.maxRunning).toBe(1);
      expect(await count("shopify_customers", shop)).toBe(5);
    });
  });

  it("exports only what changed since the given time", async () => {
    const { shop, stub } = fakeShop("bf-since", { customers: 30, since: "2026-01-01T00:00:00Z" });
    // One customer per minute from 00:00, so after 00:19:30 leaves 00:20 … 00:29.
    await startBackfill(shop, ["customers"], "2026-01-01T00:19:30+00:00");
    await drive(stub, () => allFinished(shop, 1));
    expect(await count("shopify_customers", shop)).toBe(10);
    expect(await operation(shop, "customers")).toMatchObject({ since: "2026-01-01T00:19:30Z", entitiesApplied: 10 });
  });

  it("refuses a second backfill of a running resource with a clear message, without duplicating it", async () => {
    const { shop, stub } = fakeShop("bf-twice", { orders: 3, customers: 3 }, { bulkAutoAdvance: false });
    const firstId = await startBackfill(shop, ["orders"]);
    await drive(stub, async () => (await operation(shop, "orders"))?.status === "submitted");

    const again = await adminRequest("POST", "/admin/backfill", { shop, resources: ["customers", "orders"] });
    expect(again.status).toBe(409);
    const body = (await again.json()) as { ok: boolean; error: { code: string; message: string }; running: unknown[] };
    expect(body.error.code).toBe("already_running");
    expect(body.error.message).toContain("orders");
    expect(body.error.message).toContain(firstId);
    expect(body.running).toEqual([
      { resource: "orders", backfillId: firstId, operationId: expect.any(String), status: "submitted" },
    ]);
    expect(await operations(shop)).toHaveLength(1);

    const other = await adminRequest("POST", "/admin/backfill", { shop, resources: ["customers"] });
    expect(other.status).toBe(202);
    expect(await operations(shop)).toHaveLength(2);
  });

  it("rejects bad requests, unknown shops and missing tokens before any work starts", async () => {
    expect((await adminRequest("POST", "/admin/backfill", "{not json")).status).toBe(400);
    const bad = await adminRequest("POST", "/admin/backfill", { shop: "x.myshopify.com", resources: ["checkouts"] });
    expect(bad.status).toBe(400);
    const missing = await adminRequest("POST", "/admin/backfill", {
      shop: "no-token.myshopify.com",
      resources: ["orders"],
    });
    expect(missing.status).toBe(503);
    const message = ((await missing.json()) as { error: { message: string } }).error.message;
    expect(message).toContain("no-token.myshopify.com");
    expect(message).toContain("SHOPIFY_ACCESS_TOKENS");
    expect(await operations("no-token.myshopify.com")).toHaveLength(0);
    expect((await adminRequest("GET", "/admin/backfill/bf_00000000-0000-4000-8000-000000000000")).status).toBe(404);
    const unauthorized = await worker.fetch(
      new Request("https://pipeline.test/admin/backfill", { method: "POST", body: "{}" }),
      env,
      createExecutionContext(),
    );
    expect(unauthorized.status).toBe(401);
  });

  it("writes an ended export's D1 row at a later run when D1 refused it as the export ended", async () => {
    const { shop, fake, stub } = fakeShop("bf-mirror", { customers: 0 }, { bulkAutoAdvance: false });
    await startBackfill(shop, ["customers"]);
    await drive(stub, async () => (await operation(shop, "customers"))?.status === "submitted");
    const pending = () =>
      runInDurableObject(stub, (_instance, state) =>
        new JobStore(durableSql(state.storage)).pendingMirrors().map((j) => j.status),
      );
    // Every D1 batch of the coordinator fails from here: the export ends (no data) with its row unwritten.
    const injector = new FaultInjector({ seed: 1, rate: 1, targets: ["DB"], calls: ["DB.batch"], modes: ["throw"] });
    await injectFaults(stub, injector);
    fake.complete(onlyOp(fake)?.id ?? "");
    await drive(stub, async () => (await pending()).length > 0);
    expect(await pending()).toEqual(["completed"]);
    expect((await operation(shop, "customers"))?.status).toBe("submitted");

    // D1 answers again: the next run writes the row (and the sync cursor), and nothing stays pending.
    injector.setEnabled(false);
    await drive(stub, async () => (await operation(shop, "customers"))?.status === "completed");
    expect(await pending()).toEqual([]);
    const cursor = await env.DB.prepare(
      "SELECT value FROM sync_cursors WHERE shop = ?1 AND resource = 'customers' AND name = 'bulk_snapshot'",
    )
      .bind(shop)
      .first<{ value: string }>();
    expect(cursor?.value).toBeTruthy();
  });

  it("learns of completion from the bulk_operations/finish webhook routed by the queue consumer", async () => {
    // Polls every minute: only the webhook can make this finish within the test.
    await withSetting("BULK_POLL_SECONDS", "60", async () => {
      const { shop, fake, stub } = fakeShop("bf-webhook", { customers: 12 }, { bulkAutoAdvance: false });
      await startBackfill(shop, ["customers"]);
      await drive(stub, async () => (await operation(shop, "customers"))?.status === "submitted");
      const op = onlyOp(fake);
      fake.complete(op?.id ?? "");
      const pollsBefore = fake.requestUrls.length;

      const { result, eventId } = await deliverFinishWebhook(fake, op?.id ?? "");
      expect(result.explicitAcks).toHaveLength(1);
      const ledger = await env.DB.prepare(
        "SELECT status, note FROM webhook_events WHERE source = 'shopify' AND event_id = ?1",
      )
        .bind(eventId)
        .first<{ status: string; note: string }>();
      expect(ledger?.status).toBe("archived");
      expect(ledger?.note).toContain("coordinator notified");

      await drive(stub, () => allFinished(shop, 1), 5_000);
      expect(fake.requestUrls.length - pollsBefore).toBe(1); // one status read, prompted by the webhook
      expect(await count("shopify_customers", shop)).toBe(12);
    });
  });

  it("ingests a failed operation's partial data and marks it failed; fails one without data", async () => {
    const { shop, fake, stub } = fakeShop(
      "bf-failed",
      { orders: 30, lineItemsPerOrder: 2 },
      { bulkAutoAdvance: false },
    );
    await startBackfill(shop, ["orders"]);
    await drive(stub, async () => (await operation(shop, "orders"))?.status === "submitted");
    const op = onlyOp(fake)?.id ?? "";
    fake.fail(op, "INTERNAL_SERVER_ERROR", true);
    await drive(stub, () => allFinished(shop, 1));

    const lines = (await fake.resultLines(op, true)).map((l) => JSON.parse(l) as { id: string; __parentId?: string });
    const parents = new Set(lines.filter((l) => !l.__parentId).map((l) => l.id));
    const children = lines.filter((l) => l.__parentId);
    const joined = children.filter((c) => parents.has(c.__parentId ?? "")).length;
    expect(await operation(shop, "orders")).toMatchObject({
      status: "failed",
      errorCode: "INTERNAL_SERVER_ERROR",
      partial: 1,
      parents: parents.size,
      children: children.length,
      orphans: children.length - joined,
      entitiesApplied: parents.size,
    });
    expect((await operation(shop, "orders"))?.r2Key).toMatch(/\/\d+\.partial\/$/);
    expect(await count("shopify_orders", shop)).toBe(parents.size);
    expect(await count("shopify_order_line_items", shop)).toBe(joined);

    const denied = fakeShop("bf-denied", { orders: 3 }, { bulkAutoAdvance: false });
    await startBackfill(denied.shop, ["orders"]);
    await drive(denied.stub, async () => (await operation(denied.shop, "orders"))?.status === "submitted");
    denied.fake.fail(onlyOp(denied.fake)?.id ?? "", "ACCESS_DENIED");
    await drive(denied.stub, () => allFinished(denied.shop, 1));
    expect(await operation(denied.shop, "orders")).toMatchObject({
      status: "failed",
      errorCode: "ACCESS_DENIED",
      r2Key: null,
    });
    expect(await count("shopify_orders", denied.shop)).toBe(0);
  });

  it("re-runs an export whose result expired (status EXPIRED, or a dead URL) and loads it exactly once", async () => {
    for (const how of ["status", "url"] as const) {
      const { shop, fake, stub } = fakeShop(
        `bf-expired-${how}`,
        { orders: 8, lineItemsPerOrder: 2 },
        { bulkAutoAdvance: false },
      );
      await startBackfill(shop, ["orders"]);
      await drive(stub, async () => (await operation(shop, "orders"))?.status === "submitted");
      const first = onlyOp(fake)?.id ?? "";
      fake.complete(first);
      if (how === "status") await fake.expire(first);
      else await fake.expireUrl(first);
      await drive(stub, async () => fake.stats.bulkRuns === 2);
      const second = onlyOp(fake, 1)?.id ?? "";
      fake.complete(second);
      await drive(stub, () => allFinished(shop, 1));
      expect(await operation(shop, "orders")).toMatchObject({
        status: "completed",
        attempts: 2,
        shopifyId: second,
        entitiesApplied: 8,
      });
      expect(await count("shopify_orders", shop)).toBe(8);
      expect(await count("shopify_order_line_items", shop)).toBe(16);
    }
  });

  it("fails an export at once when Shopify rejects the token, saying why", async () => {
    const { shop, fake, stub } = fakeShop("bf-bad-token", { orders: 2 });
    setToken(shop, "shpat_revoked");
    await startBackfill(shop, ["orders"]);
    await drive(stub, () => allFinished(shop, 1));
    const op = await operation(shop, "orders");
    expect(op).toMatchObject({ status: "failed", attempts: 0, shopifyId: null });
    expect(op?.error).toContain("bulkOperationRunQuery");
    expect(op?.error).toContain("HTTP 401");
    expect(op?.error).toContain("SHOPIFY_ACCESS_TOKENS");
    expect(fake.stats.bulkRuns).toBe(0);
  });

  it("records a canceled operation", async () => {
    const { shop, fake, stub } = fakeShop("bf-canceled", { customers: 2 }, { bulkAutoAdvance: false });
    await startBackfill(shop, ["customers"]);
    await drive(stub, async () => (await operation(shop, "customers"))?.status === "submitted");
    fake.cancel(onlyOp(fake)?.id ?? "");
    await drive(stub, () => allFinished(shop, 1));
    expect(await operation(shop, "customers")).toMatchObject({ status: "canceled", shopifyStatus: "CANCELED" });
  });

  it("resumes after crashes in the middle of staging and of applying, with exact counts (no loss, no duplicates)", async () => {
    const { shop, fake, stub } = fakeShop(
      "bf-crash",
      { orders: 300, lineItemsPerOrder: 3 },
      { bulkAutoAdvance: true, childPlacement: "anywhere" },
    );
    const crashAt = (point: "stage:beforeCommit" | "apply:afterD1", call: number) =>
      runInDurableObject(stub, (instance: ShopCoordinator) => {
        let calls = 0;
        // Keeps failing from that call on, as a crashed object would, until the test evicts it.
        instance.faultInjector = (p) => {
          if (p === point && ++calls >= call) throw new Error(`simulated crash at ${point}`);
        };
      });
    const crashed = async (statuses: string[], point: string) => {
      const op = await operation(shop, "orders");
      return statuses.includes(op?.status ?? "") && (op?.error ?? "").includes(`simulated crash at ${point}`);
    };

    // The whole file is one 20,000-line chunk: its D1 batches are written, then its commit rolls back.
    await crashAt("stage:beforeCommit", 1);
    await startBackfill(shop, ["orders"]);
    await drive(stub, () => crashed(["staging"], "stage:beforeCommit"));
    expect(await operation(shop, "orders")).toMatchObject({ linesRead: 0 });
    await evictDurableObject(stub);

    // The third D1 batch commits but its checkpoint does not (while streaming, or in the second pass).
    await crashAt("apply:afterD1", 3);
    await drive(stub, () => crashed(["staging", "applying"], "apply:afterD1"));
    await evictDurableObject(stub);

    await drive(stub, () => allFinished(shop, 1));
    expect(await operation(shop, "orders")).toMatchObject({
      status: "completed",
      error: null,
      linesRead: 1200,
      parents: 300,
      children: 900,
      invalid: 0,
      orphans: 0,
      entitiesApplied: 300,
      rowsApplied: 1200,
    });
    expect(await count("shopify_orders", shop)).toBe(300);
    expect(await count("shopify_order_line_items", shop)).toBe(900);
    expect(fake.stats.bulkRuns).toBe(1);
    const perOrder = await env.DB.prepare(
      "SELECT count(*) AS n FROM (SELECT order_id FROM shopify_order_line_items WHERE shop = ?1 GROUP BY order_id HAVING count(*) <> 3)",
    )
      .bind(shop)
      .first<{ n: number }>();
    expect(perOrder?.n).toBe(0);
  });

  it("stops a pass inside its D1 query and subrequest budgets and goes on at the next, for an export that needs many", async () => {
    const { shop, stub } = fakeShop(
      "bf-many-queries",
      { orders: 6000, lineItemsPerOrder: 1 },
      { bulkAutoAdvance: true },
    );
    const alarms: InvocationReport[] = [];
    const stop = onInvocationEnd((r) => {
      if (r.kind === "ShopCoordinator.alarm") alarms.push(r);
    });
    try {
      await startBackfill(shop, ["orders"]);
      await drive(stub, () => allFinished(shop, 1), 120_000);
    } finally {
      stop();
    }
    expect(await operation(shop, "orders")).toMatchObject({ status: "completed", entitiesApplied: 6000 });
    expect(Math.max(...alarms.map((a) => a.d1Queries))).toBeLessThan(1000);
    expect(Math.max(...alarms.map((a) => a.subrequests))).toBeLessThan(10_000);
    // A budget (700 D1 queries, or 6,000 subject index calls), not the end of the export, ended at least one pass.
    expect(alarms.filter((a) => a.d1Queries >= 700 || a.subrequests >= 6000).length).toBeGreaterThan(0);
  }, 180_000);

  it("counts a pass the platform stopped before its next checkpoint as a failure, and fails the job with the reason", async () => {
    const { shop, stub } = fakeShop("bf-killed", { orders: 10, lineItemsPerOrder: 1 }, { bulkAutoAdvance: true });
    await startBackfill(shop, ["orders"]);
    await drive(stub, () => allFinished(shop, 1));
    // As passes stopped by a CPU limit leave a job: the mark of a step that never ended, nothing
    // moved since, eight times already.
    await runInDurableObject(stub, async (_instance, state) => {
      const store = new JobStore(durableSql(state.storage));
      const job = store.withStatus("completed")[0] as Job;
      const stuck: Job = { ...job, status: "staging", finishedAt: null, error: null, failures: 8, linesRead: 3 };
      store.put({ ...stuck, inFlight: progressOf(stuck) });
      await state.storage.setAlarm(Date.now());
    });
    await drive(stub, async () => (await operation(shop, "orders"))?.status === "failed");
    const failed = await operation(shop, "orders");
    expect(failed?.error).toContain("gave up after 9 failed attempts");
    expect(failed?.error).toContain("stopped before its next checkpoint");

    // Once only (an eviction): counted, then the pass goes on and the job completes.
    const again = fakeShop("bf-evicted", { orders: 10, lineItemsPerOrder: 1 }, { bulkAutoAdvance: true });
    await startBackfill(again.shop, ["orders"]);
    await drive(again.stub, () => allFinished(again.shop, 1));
    await runInDurableObject(again.stub, async (_instance, state) => {
      const store = new JobStore(durableSql(state.storage));
      const job = store.withStatus("completed")[0] as Job;
      const stuck: Job = { ...job, status: "staging", finishedAt: null, linesRead: 0, failures: 0 };
      store.put({ ...stuck, inFlight: progressOf(stuck) });
      await state.storage.setAlarm(Date.now());
    });
    await drive(again.stub, async () => (await operation(again.shop, "orders"))?.status === "completed");
    expect(await operation(again.shop, "orders")).toMatchObject({ status: "completed", entitiesApplied: 10 });
  });

  it("starts over the ingest of a job an older deploy staged, and loads it exactly once", async () => {
    const { shop, stub } = fakeShop("bf-old-layout", { orders: 40, lineItemsPerOrder: 2 }, { bulkAutoAdvance: true });
    await startBackfill(shop, ["orders"]);
    await drive(stub, () => allFinished(shop, 1));
    const done = await operation(shop, "orders");
    expect(done).toMatchObject({ status: "completed", entitiesApplied: 40, rowsApplied: 120 });
    // As an older deploy left it: every line staged in `staged_<job>`, half of it applied, the rest gone from D1.
    await env.DB.prepare("DELETE FROM shopify_order_line_items WHERE shop = ?1").bind(shop).run();
    await env.DB.prepare("DELETE FROM shopify_orders WHERE shop = ?1").bind(shop).run();
    const jobId = await runInDurableObject(stub, async (_instance, state) => {
      const store = new JobStore(durableSql(state.storage));
      const job = store.withStatus("completed")[0] as Job;
      const old = `staged_${job.id.replaceAll("-", "_")}`;
      state.storage.sql.exec(
        `CREATE TABLE ${old} (line INTEGER PRIMARY KEY, id TEXT NOT NULL, parent_id TEXT, body TEXT NOT NULL)`,
      );
      state.storage.sql.exec(`INSERT INTO ${old} VALUES (0, 'gid://shopify/Order/1', NULL, '{}')`);
      // The older document has neither `collectedLines` nor `ingestVersion`.
      const { collectedLines: _c, ingestVersion: _v, ...older } = job;
      const doc = {
        ...older,
        status: "applying",
        finishedAt: null,
        applyAfterLine: 60,
        entitiesApplied: 20,
        rowsApplied: 60,
      };
      state.storage.sql.exec(
        "UPDATE jobs SET status = 'applying', doc = ?2 WHERE id = ?1",
        job.id,
        JSON.stringify(doc),
      );
      await state.storage.setAlarm(Date.now());
      return job.id;
    });
    await env.DB.prepare("UPDATE bulk_operations SET status = 'applying', finished_at = NULL WHERE id = ?1")
      .bind(jobId)
      .run();
    await drive(stub, () => allFinished(shop, 1));
    expect(await operation(shop, "orders")).toMatchObject({
      status: "completed",
      linesRead: 120,
      parents: 40,
      children: 80,
      orphans: 0,
      entitiesApplied: 40,
      rowsApplied: 120,
    });
    expect(await count("shopify_orders", shop)).toBe(40);
    expect(await count("shopify_order_line_items", shop)).toBe(80);
    const left = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql
        .exec(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'staged%' OR name LIKE 'lines%' OR name LIKE 'window%')",
        )
        .toArray(),
    );
    expect(left).toEqual([]);
  });

  for (const compression of ["none", "gzip"] as const) {
    it(`archives a result as parts that a crash resumes after the last part written (${compression === "none" ? "plain, by byte range" : "gzip, read again"})`, async () => {
      await withSetting("BULK_PART_BYTES", String(64 * 1024), async () => {
        const { shop, fake, stub } = fakeShop(
          `bf-parts-${compression}`,
          { orders: 60, lineItemsPerOrder: 2 },
          {
            resultCompression: compression,
          },
        );
        for (const o of fake.data.orders) o.note = "n".repeat(4_000);
        await runInDurableObject(stub, (instance: ShopCoordinator) => {
          let parts = 0;
          instance.faultInjector = (p) => {
            if (p === "archive:afterPart" && ++parts === 2) throw new Error("simulated crash at archive:afterPart");
          };
        });
        await startBackfill(shop, ["orders"]);
        await drive(stub, () => allFinished(shop, 1), 30_000);

        const op = await operation(shop, "orders");
        expect(op).toMatchObject({ status: "completed", entitiesApplied: 60, rowsApplied: 180 });
        const text = await fake.resultLines(op?.shopifyId ?? "");
        const stored = await archivedText(op?.r2Key ?? "");
        expect(stored.parts).toBeGreaterThan(3);
        expect(new TextDecoder().decode(stored.bytes)).toBe(`${text.join("\n")}\n`);
        expect(op?.bytesArchived).toBe(stored.bytes.byteLength);
        // Every part ends a line: the stage can start a resumed pass at any of them.
        for (const part of stored.texts.slice(0, -1)) expect(part.endsWith("\n")).toBe(true);
        const job = await runInDurableObject(stub, (_i, state) =>
          new JobStore(durableSql(state.storage)).get(op?.id ?? ""),
        );
        expect(job?.archiveParts?.reduce((n, p) => n + p.lines, 0)).toBe(text.length);
        expect(job?.archiveParts?.map((p) => p.lines)).toEqual(
          stored.texts.map((t) => t.split("\n").filter(Boolean).length),
        );
        // Plain text resumes where the parts end; gzip cannot be entered mid-stream and is read again.
        const firstTwo = stored.texts.slice(0, 2).reduce((n, t) => n + new TextEncoder().encode(t).byteLength, 0);
        expect(fake.rangeRequests).toEqual(compression === "none" ? [`bytes=${firstTwo}-`] : []);
        expect(await count("shopify_orders", shop)).toBe(60);
      });
    }, 60_000);
  }
});
