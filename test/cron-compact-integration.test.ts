import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { CompactFailedError, runCompact } from "../src/cron/compact/compact";
import { forgetPublishedSchemas, publishSchema } from "../src/cron/compact/schemas";
import { COMPACT_TABLES, toParquetValue } from "../src/cron/compact/tables";
import { runJob } from "../src/cron/jobs";
import { acquireLease, releaseLease } from "../src/cron/lease";
import worker from "../src/index";
import { lakeChanges } from "../src/shared/schema/lake";
import { shopifyCustomers, shopifyOrderLineItems, shopifyProducts } from "../src/shared/schema/shopify";
import { stripeCharges, stripeCustomers } from "../src/shared/schema/stripe";
import { InjectedFaultError } from "./fakes/faulty-env";
import { inInvocation } from "./fakes/limits";
import { keysUnder, lakeFiles, lakeMetadata, readLakeTable } from "./helpers/iceberg-read";
import { expectMatchesMigration } from "./helpers/schema-match";

// Rows of their own: shops `compact-*`, ids `cmp-*`, days in 2031 (March to June) and, for the
// budget test, 2033. The local D1 and R2 may be shared with other test files, so only these rows
// are asserted on.
const db = drizzle(env.DB);
const version = (updatedAt: string, eventId: string) => ({
  updatedAt,
  lastEventId: eventId,
  eventAt: updatedAt,
  origin: "webhook" as const,
});

let runs = 0;
/** One compact run as its own invocation under the limits layer; a skipped run is an error here. */
async function compact(tables: string[], e: Env = env, now = new Date("2031-06-30T03:35:00Z")) {
  const runId = `compact-test-${++runs}-${crypto.randomUUID().slice(0, 8)}`;
  const result = await inInvocation("job compact", () => runCompact(e, { runId, now }, { tables }));
  if (result.skipped) throw new Error(`compact run ${runId} was skipped`);
  return result;
}

/** The lake's rows of a table for one shop (or all rows `where` keeps), through icebird. */
async function lakeRows(source: string, table: string, where: (r: Record<string, unknown>) => boolean) {
  return (await readLakeTable(source, table)).filter(where);
}

async function marks(table: string, like: string) {
  return (
    await env.DB.prepare("SELECT dt, seq FROM lake_changes WHERE table_name = ?1 AND dt LIKE ?2 ORDER BY dt")
      .bind(table, like)
      .all<{ dt: string; seq: number }>()
  ).results;
}

async function loggedDeletes(table: string, contains: string) {
  return (
    await env.DB.prepare(
      "SELECT lake_key, seq FROM lake_deletes WHERE table_name = ?1 AND instr(lake_key, ?2) > 0 ORDER BY lake_key",
    )
      .bind(table, contains)
      .all<{ lake_key: string; seq: number }>()
  ).results;
}

/** `db` whose first read matching `match` runs `hook` after it returns (a write landing mid-run). */
function hookedD1(inner: D1Database, match: (sql: string) => boolean, hook: () => Promise<void>): D1Database {
  let fired = false;
  const wrap = (s: D1PreparedStatement, sql: string): D1PreparedStatement =>
    new Proxy(s, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values), sql);
        const v: unknown = Reflect.get(target, prop);
        if (typeof v !== "function") return v;
        if (prop !== "all" || fired || !match(sql)) return v.bind(target);
        return async (...args: unknown[]) => {
          const out = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          fired = true;
          await hook();
          return out;
        };
      },
    });
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => wrap(target.prepare(sql), sql);
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/**
 * The lake bucket with every put of a key `match` accepts failing: thrown before it reaches storage
 * (`throw`), or taking effect with its answer lost (`lost`).
 */
function failingPuts(bucket: R2Bucket, match: (key: string) => boolean, mode: "throw" | "lost" = "throw"): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      if (prop === "put") {
        return async (key: string, ...rest: unknown[]) => {
          if (!match(key)) return (target.put as (...a: unknown[]) => unknown)(key, ...rest);
          if (mode === "lost") await (target.put as (...a: unknown[]) => Promise<unknown>)(key, ...rest);
          throw new InjectedFaultError({ target: "LAKE", call: "put", mode });
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

describe("compact job", () => {
  it("commits each changed table as one snapshot, and files a report with the same numbers", async () => {
    const shop = "compact-report.myshopify.com";
    await db.insert(shopifyProducts).values([
      { shop, id: "cmp-p1", title: "One", status: "active", ...version("2031-03-04T00:00:00.000Z", "cmp-r1") },
      { shop, id: "cmp-p2", title: "Two", status: "draft", ...version("2031-03-04T23:59:59.999Z", "cmp-r2") },
    ]);
    await db.insert(stripeCustomers).values({
      id: "cmp_cus_report",
      balanceMinor: -250,
      eventCreated: 1930467600,
      updatedAt: "2031-03-04T09:00:00.000Z",
      lastEventId: "evt_cmp_report",
    });
    const before = (await lakeMetadata("shopify", "shopify_products").catch(() => null))?.["current-snapshot-id"];

    const run = await runJob(env, "compact", {
      now: new Date("2031-03-05T03:35:00Z"),
      options: { tables: ["shopify_products", "stripe_customers"] },
    });
    if (run.job !== "compact" || run.result.skipped) throw new Error("compact did not run");
    const result = run.result;
    expect(result.days).toContain("2031-03-04");
    expect(result.tables.map((t) => [t.table, t.status])).toEqual(
      expect.arrayContaining([
        ["shopify_products", "ok"],
        ["stripe_customers", "ok"],
      ]),
    );
    const products = result.tables.find((t) => t.table === "shopify_products");
    expect(products).toMatchObject({ source: "shopify", rows: expect.any(Number), dataFiles: 1, deleteFiles: 1 });
    expect(products?.rows).toBeGreaterThanOrEqual(2);
    // The snapshot the report names is the table's current one, and holds the rows.
    const meta = await lakeMetadata("shopify", "shopify_products");
    expect(meta["current-snapshot-id"]).toBe(products?.snapshotId);
    expect(meta["current-snapshot-id"]).not.toBe(before);
    expect(
      (await lakeRows("shopify", "shopify_products", (r) => r.shop === shop)).map((r) => [r.id, r.title, r.status]),
    ).toEqual([
      ["cmp-p1", "One", "active"],
      ["cmp-p2", "Two", "draft"],
    ]);
    expect(
      (await lakeRows("stripe", "stripe_customers", (r) => r.id === "cmp_cus_report")).map((r) => r.balance_minor),
    ).toEqual([-250n]);
    expect(await marks("shopify_products", "2031-03-04")).toEqual([]);

    // The report: filed under the run's scheduled day, the same numbers as the result.
    expect(result.reportKey).toBe(`metadata/compact/dt=2031-03-05/${run.runId}.json`);
    const report = await (await env.LAKE.get(result.reportKey))?.json<Record<string, unknown>>();
    expect(report).toMatchObject({
      run_id: run.runId,
      job: "compact",
      days: result.days,
      rows: result.rows,
      bytes: result.bytes,
      queries: result.queries,
      deferred: 0,
      failed: [],
    });
    expect(report?.tables).toContainEqual({
      source: "shopify",
      table: "shopify_products",
      status: "ok",
      days: products?.days,
      rows: products?.rows,
      deleted_keys: products?.deletedKeys,
      data_files: 1,
      delete_files: 1,
      bytes: products?.bytes,
      data_bytes: products?.dataBytes,
      snapshot_id: products?.snapshotId,
      error: null,
    });
    expect(result.bytes).toBeGreaterThan(0);

    // Nothing changed since: the next run commits nothing to these tables.
    const again = await compact(["shopify_products", "stripe_customers"]);
    expect(again.tables.filter((t) => t.table === "shopify_products" && t.snapshotId !== null)).toEqual([]);
    expect((await lakeMetadata("shopify", "shopify_products"))["current-snapshot-id"]).toBe(products?.snapshotId);
  });

  it("hides an updated row's old version, drops deleted rows, replaces a child set, and brings back a re-inserted row", async () => {
    const shop = "compact-change.myshopify.com";
    const customer = (id: string, first: string, updatedAt: string) => ({
      shop,
      id,
      firstName: first,
      totalSpentMinor: 1000,
      currency: "EUR",
      ...version(updatedAt, `cmp-${id}-${first}`),
    });
    const line = (id: string, position: number, updatedAt: string) => ({
      shop,
      id,
      orderId: "cmp-o1",
      position,
      quantity: position + 1,
      currency: "EUR",
      priceMinor: 100 * (position + 1),
      ...version(updatedAt, `cmp-o1-${updatedAt}`),
    });
    const day1 = "2031-03-10T10:00:00.000Z";
    const day2 = "2031-03-11T10:00:00.000Z";
    await db
      .insert(shopifyCustomers)
      .values([customer("cmp-c1", "Ann", day1), customer("cmp-c2", "Bob", day1), customer("cmp-c3", "Cid", day1)]);
    await db
      .insert(shopifyOrderLineItems)
      .values([line("cmp-l1", 0, day1), line("cmp-l2", 1, day1), line("cmp-l3", 2, day1)]);
    // A line of another order of the same shop: its lake key differs, so no change below touches it.
    await db.insert(shopifyOrderLineItems).values({ ...line("cmp-l9", 0, day1), orderId: "cmp-o2" });
    const tables = ["shopify_customers", "shopify_order_line_items"];
    await compact(tables);

    const customers = async () =>
      (await lakeRows("shopify", "shopify_customers", (r) => r.shop === shop))
        .map((r) => [r.id, r.first_name, r.updated_at])
        .sort();
    const lines = async () =>
      (await lakeRows("shopify", "shopify_order_line_items", (r) => r.shop === shop))
        .map((r) => [r.order_id, r.id, r.position, r.price_minor])
        .sort();
    expect(await customers()).toEqual([
      ["cmp-c1", "Ann", new Date(day1)],
      ["cmp-c2", "Bob", new Date(day1)],
      ["cmp-c3", "Cid", new Date(day1)],
    ]);
    expect((await lines()).map((l) => l[1])).toEqual(["cmp-l1", "cmp-l2", "cmp-l3", "cmp-l9"]);

    // An update moving c1 to a later day; c2 deleted; c3 deleted and inserted again; order o1's
    // lines replaced as a set (the consumer deletes the old set and inserts the new one).
    await env.DB.prepare(
      "UPDATE shopify_customers SET first_name = 'Anne', updated_at = ?1 WHERE shop = ?2 AND id = ?3",
    )
      .bind(day2, shop, "cmp-c1")
      .run();
    await env.DB.prepare("DELETE FROM shopify_customers WHERE shop = ?1 AND id IN ('cmp-c2', 'cmp-c3')")
      .bind(shop)
      .run();
    await db.insert(shopifyCustomers).values(customer("cmp-c3", "Cyd", day2));
    await env.DB.prepare("DELETE FROM shopify_order_line_items WHERE shop = ?1 AND order_id = 'cmp-o1'")
      .bind(shop)
      .run();
    await db.insert(shopifyOrderLineItems).values([line("cmp-l4", 0, day2), line("cmp-l5", 1, day2)]);
    // An update marks only the row's new day, once until a run reads it; the deletes are logged by lake key.
    expect(await marks("shopify_customers", "2031-03-1%")).toEqual([{ dt: "2031-03-11", seq: 1 }]);
    expect((await loggedDeletes("shopify_customers", shop)).map((d) => d.lake_key)).toEqual([
      JSON.stringify([shop, "cmp-c2"]),
      JSON.stringify([shop, "cmp-c3"]),
    ]);
    // Three line deletes of one order: one entry, counted.
    expect(await loggedDeletes("shopify_order_line_items", shop)).toEqual([
      { lake_key: JSON.stringify([shop, "cmp-o1"]), seq: 3 },
    ]);

    const second = await compact(tables);
    expect(second.tables.find((t) => t.table === "shopify_customers")).toMatchObject({
      status: "ok",
      days: ["2031-03-11"],
      rows: 2,
      // c1 and c3 (new versions) and c2 (gone).
      deletedKeys: 3,
    });
    expect(await customers()).toEqual([
      ["cmp-c1", "Anne", new Date(day2)],
      ["cmp-c3", "Cyd", new Date(day2)],
    ]);
    expect(await lines()).toEqual([
      ["cmp-o1", "cmp-l4", 0n, 100n],
      ["cmp-o1", "cmp-l5", 1n, 200n],
      ["cmp-o2", "cmp-l9", 0n, 100n],
    ]);
    // Committed: the marks and log entries it read are cleared.
    expect(await marks("shopify_customers", "2031-03-1%")).toEqual([]);
    expect(await marks("shopify_order_line_items", "2031-03-1%")).toEqual([]);
    expect(await loggedDeletes("shopify_customers", shop)).toEqual([]);
    expect(await loggedDeletes("shopify_order_line_items", shop)).toEqual([]);

    // A row deleted by the last run comes back when it is inserted again.
    await db.insert(shopifyCustomers).values(customer("cmp-c2", "Bo", day1));
    await compact(tables);
    expect(await customers()).toEqual([
      ["cmp-c1", "Anne", new Date(day2)],
      ["cmp-c2", "Bo", new Date(day1)],
      ["cmp-c3", "Cyd", new Date(day2)],
    ]);
    // Each table has one delete file per committed change, each newer than the data it hides.
    const files = await lakeFiles("shopify", "shopify_customers");
    const newestData = files.filter((f) => f.content === 0).map((f) => f.sequenceNumber);
    const deletes = files.filter((f) => f.content === 2).map((f) => f.sequenceNumber);
    expect(deletes.length).toBeGreaterThanOrEqual(3);
    expect(new Set(deletes).size).toBe(deletes.length);
    expect(Math.max(...deletes.map(Number))).toBe(Math.max(...newestData.map(Number)));
  });

  it("keeps the mark of a day written to between its read and the clear, and the log entry of a key deleted again", async () => {
    const shop = "compact-seq.myshopify.com";
    const day = "2031-03-20T10:00:00.000Z";
    const row = (id: string, first: string) => ({ shop, id, firstName: first, ...version(day, `cmp-seq-${id}`) });
    await db.insert(shopifyCustomers).values([row("cmp-s1", "One"), row("cmp-s9", "Nine")]);
    await compact(["shopify_customers"]);
    await env.DB.prepare("DELETE FROM shopify_customers WHERE shop = ?1 AND id = 'cmp-s9'").bind(shop).run();
    await env.DB.prepare("UPDATE shopify_customers SET first_name = 'Uno' WHERE shop = ?1 AND id = 'cmp-s1'")
      .bind(shop)
      .run();
    expect(await marks("shopify_customers", "2031-03-20")).toEqual([{ dt: "2031-03-20", seq: 1 }]);
    expect(await loggedDeletes("shopify_customers", shop)).toEqual([
      { lake_key: JSON.stringify([shop, "cmp-s9"]), seq: 1 },
    ]);

    // While the run reads the day, a new row lands on it, and s9 comes back and is deleted again.
    const hooked: Env = {
      ...env,
      DB: hookedD1(
        env.DB,
        (sql) => sql.includes('FROM "shopify_customers"') && sql.includes(">= ?1"),
        async () => {
          await db.insert(shopifyCustomers).values(row("cmp-s2", "Two"));
          await db.insert(shopifyCustomers).values(row("cmp-s9", "Nine again"));
          await env.DB.prepare("DELETE FROM shopify_customers WHERE shop = ?1 AND id = 'cmp-s9'").bind(shop).run();
        },
      ),
    };
    await compact(["shopify_customers"], hooked);
    const ids = async () =>
      (await lakeRows("shopify", "shopify_customers", (r) => r.shop === shop)).map((r) => [r.id, r.first_name]).sort();
    // What the run read is committed; what landed after its read keeps its mark (bumped once for the
    // three writes) and log entry.
    expect(await ids()).toEqual([["cmp-s1", "Uno"]]);
    expect(await marks("shopify_customers", "2031-03-20")).toEqual([{ dt: "2031-03-20", seq: 2 }]);
    expect(await loggedDeletes("shopify_customers", shop)).toEqual([
      { lake_key: JSON.stringify([shop, "cmp-s9"]), seq: 2 },
    ]);

    await compact(["shopify_customers"]);
    expect(await ids()).toEqual([
      ["cmp-s1", "Uno"],
      ["cmp-s2", "Two"],
    ]);
    expect(await marks("shopify_customers", "2031-03-20")).toEqual([]);
    expect(await loggedDeletes("shopify_customers", shop)).toEqual([]);
  });

  it("reads a day of more than one page in key order, an integer key compared as an integer", async () => {
    // 1,205 lines of one charge: the second page starts after position 999, which text order would put last.
    const rows = Array.from({ length: 1205 }, (_, i) =>
      env.DB.prepare(
        `INSERT INTO recharge_charge_line_items (charge_id, position, sku, currency, unit_price_minor, updated_at, last_event_id)
         VALUES ('cmp-rc-1', ?1, ?2, 'USD', ?3, '2031-03-07T10:00:00.000Z', 'cmp-rc-1')`,
      ).bind(i, `SKU-${i}`, i * 100),
    );
    for (let i = 0; i < rows.length; i += 100) await env.DB.batch(rows.slice(i, i + 100));
    const result = await compact(["recharge_charge_line_items"]);
    expect(result.tables.find((t) => t.table === "recharge_charge_line_items")?.rows).toBeGreaterThanOrEqual(1205);
    const lines = await lakeRows("recharge", "recharge_charge_line_items", (r) => r.charge_id === "cmp-rc-1");
    expect(lines).toHaveLength(1205);
    expect(lines.map((r) => Number(r.position)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 1205 }, (_, i) => i),
    );
    expect(lines.find((r) => r.position === 1000n)).toMatchObject({ sku: "SKU-1000", unit_price_minor: 100000n });
  });

  it("takes no new table-day past its D1 query budget, commits what it read, and the next run finishes", async () => {
    // 1,000 changed days of one table (a backfill marks every day of history), each one row.
    const shop = "compact-many-days.myshopify.com";
    const day = (i: number) => new Date(Date.UTC(2033, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    const DAYS = 1000;
    const inserts = Array.from({ length: DAYS }, (_, i) =>
      env.DB.prepare(
        `INSERT INTO shopify_customers (shop, id, first_name, updated_at, last_event_id, event_at, origin)
         VALUES (?1, ?2, 'Many', ?3, 'seed', ?3, 'webhook')`,
      ).bind(shop, `cmp-m${i}`, `${day(i)}T10:00:00.000Z`),
    );
    for (let i = 0; i < inserts.length; i += 100) await env.DB.batch(inserts.slice(i, i + 100));
    const marked = async () =>
      (
        await env.DB.prepare(
          "SELECT count(*) AS n FROM lake_changes WHERE table_name = 'shopify_customers' AND dt BETWEEN ?1 AND ?2",
        )
          .bind(day(0), day(DAYS - 1))
          .first<{ n: number }>()
      )?.n ?? 0;
    const inLake = async () => (await lakeRows("shopify", "shopify_customers", (r) => r.shop === shop)).length;
    expect(await marked()).toBe(DAYS);

    // Each run is one invocation under the limits layer: past 1,000 D1 queries it would throw.
    const first = await runJob(env, "compact", {
      now: new Date("2033-12-31T03:35:00Z"),
      options: { tables: ["shopify_customers"] },
    });
    if (first.job !== "compact" || first.result.skipped) throw new Error("compact did not run");
    expect(first.result.queries).toBeLessThan(1000);
    expect(first.result.deferred).toBeGreaterThan(0);
    const read = first.result.tables.find((t) => t.table === "shopify_customers");
    expect(read?.status).toBe("ok");
    const left = await marked();
    expect(left).toBe(first.result.deferred);
    // What it read is committed and its marks are gone; the rest stays marked.
    expect(await inLake()).toBe(DAYS - left);

    const second = await runJob(env, "compact", {
      now: new Date("2033-12-31T04:35:00Z"),
      options: { tables: ["shopify_customers"] },
    });
    if (second.job !== "compact" || second.result.skipped) throw new Error("compact did not run");
    expect(second.result.deferred).toBe(0);
    expect(await marked()).toBe(0);
    expect(await inLake()).toBe(DAYS);
  }, 60_000);

  it.each([
    ["the version hint", /processed\/shopify\/shopify_products\/metadata\/version-hint\.text$/],
    ["the metadata file", /processed\/shopify\/shopify_products\/metadata\/v\d+\.metadata\.json$/],
  ])("leaves no visible change and loses no mark when the put of %s fails", async (what, key) => {
    const shop = `compact-fault-${what.split(" ").pop()}.myshopify.com`;
    await db.insert(shopifyProducts).values({
      shop,
      id: "cmp-f1",
      title: "Before",
      status: "active",
      ...version("2031-04-01T10:00:00.000Z", "cmp-f1"),
    });
    await compact(["shopify_products"]);
    const rows = async () =>
      (await lakeRows("shopify", "shopify_products", (r) => r.shop === shop)).map((r) => [r.id, r.title]).sort();
    const before = await lakeMetadata("shopify", "shopify_products");
    expect(await rows()).toEqual([["cmp-f1", "Before"]]);

    await env.DB.prepare("UPDATE shopify_products SET title = 'After', updated_at = ?1 WHERE shop = ?2")
      .bind("2031-04-02T10:00:00.000Z", shop)
      .run();
    await db.insert(shopifyProducts).values({
      shop,
      id: "cmp-f2",
      title: "New",
      status: "active",
      ...version("2031-04-02T11:00:00.000Z", "cmp-f2"),
    });
    await env.DB.prepare("DELETE FROM shopify_products WHERE shop = ?1 AND id = 'cmp-f1'").bind(shop).run();
    const faulty: Env = { ...env, LAKE: failingPuts(env.LAKE, (k) => key.test(k)) };
    const attempt = compact(["shopify_products"], faulty);
    await expect(attempt).rejects.toBeInstanceOf(CompactFailedError);
    await expect(attempt).rejects.toThrow(/shopify_products/);

    // The table reads exactly as before; the day's mark and the delete's log entry are still there.
    const after = await lakeMetadata("shopify", "shopify_products");
    expect(after["current-snapshot-id"]).toBe(before["current-snapshot-id"]);
    expect(after.snapshots.length).toBe(before.snapshots.length);
    expect(await rows()).toEqual([["cmp-f1", "Before"]]);
    expect(await marks("shopify_products", "2031-04-02")).toEqual([{ dt: "2031-04-02", seq: expect.any(Number) }]);
    expect((await loggedDeletes("shopify_products", shop)).map((d) => d.lake_key)).toEqual([
      JSON.stringify([shop, "cmp-f1"]),
    ]);

    // The next run, without the fault, commits it all.
    const next = await compact(["shopify_products"]);
    expect(next.tables.find((t) => t.table === "shopify_products")?.status).toBe("ok");
    expect(await rows()).toEqual([["cmp-f2", "New"]]);
    expect(await marks("shopify_products", "2031-04-02")).toEqual([]);
    expect(await loggedDeletes("shopify_products", shop)).toEqual([]);
  });

  it("counts a commit whose version-hint put landed though its answer was lost as committed", async () => {
    const shop = "compact-fault-lost.myshopify.com";
    const product = (id: string, title: string, at: string) => ({
      shop,
      id,
      title,
      status: "active",
      ...version(at, `cmp-lost-${id}`),
    });
    await db.insert(shopifyProducts).values(product("cmp-l1", "Before", "2031-04-05T10:00:00.000Z"));
    await compact(["shopify_products"]);
    await env.DB.prepare("UPDATE shopify_products SET title = 'After', updated_at = ?1 WHERE shop = ?2")
      .bind("2031-04-06T10:00:00.000Z", shop)
      .run();
    const hint = /processed\/shopify\/shopify_products\/metadata\/version-hint\.text$/;
    const lost: Env = { ...env, LAKE: failingPuts(env.LAKE, (k) => hint.test(k), "lost") };
    const result = await compact(["shopify_products"], lost);
    const report = result.tables.find((t) => t.table === "shopify_products");
    expect(report?.status).toBe("ok");
    // The hint names the new snapshot, whose files are all there: icebird reads it.
    expect((await lakeMetadata("shopify", "shopify_products"))["current-snapshot-id"]).toBe(report?.snapshotId);
    expect((await lakeRows("shopify", "shopify_products", (r) => r.shop === shop)).map((r) => [r.id, r.title])).toEqual(
      [["cmp-l1", "After"]],
    );
    expect(await marks("shopify_products", "2031-04-06")).toEqual([]);
  });

  it("reports a failing table, still commits the others, keeps the failed table's marks, then fails the run", async () => {
    // The table exists already (a table with no snapshot gets an empty one even when its run fails).
    await compact(["stripe_charges"]);
    await db.insert(stripeCustomers).values({
      id: "cmp_cus_fail",
      balanceMinor: -250,
      eventCreated: 1930694400,
      updatedAt: "2031-04-10T08:00:00.000Z",
      lastEventId: "evt_cmp_fail1",
    });
    await db.insert(stripeCharges).values({
      id: "cmp_ch_bad",
      amountMinor: 100,
      currency: "usd",
      eventCreated: 1930694400,
      updatedAt: "2031-04-10T08:00:00.000Z",
      lastEventId: "evt_cmp_fail2",
    });
    // SQLite keeps text in an INTEGER column: the row cannot be an INT64, so the table fails.
    await env.DB.prepare("UPDATE stripe_charges SET amount_minor = 'twelve' WHERE id = 'cmp_ch_bad'").run();
    const chargesBefore = (await lakeMetadata("stripe", "stripe_charges").catch(() => null))?.["current-snapshot-id"];
    const runId = `compact-test-fail-${crypto.randomUUID().slice(0, 8)}`;
    const attempt = inInvocation("job compact", () =>
      runCompact(
        env,
        { runId, now: new Date("2031-04-11T03:35:00Z") },
        { tables: ["stripe_customers", "stripe_charges"] },
      ),
    );
    await expect(attempt).rejects.toThrow(CompactFailedError);
    await expect(attempt).rejects.toThrow(/stripe_charges/);

    const report = await (await env.LAKE.get(`metadata/compact/dt=2031-04-11/${runId}.json`))?.json<{
      failed: { table: string; error: string }[];
      tables: { table: string; status: string; rows: number }[];
    }>();
    // The error names the column, never the value.
    expect(report?.failed).toEqual([
      { table: "stripe_charges", error: expect.stringContaining("stripe_charges.amount_minor") },
    ]);
    expect(report?.failed[0]?.error).not.toContain("twelve");
    expect(report?.tables.find((t) => t.table === "stripe_customers")).toMatchObject({ status: "ok" });
    expect(
      (await lakeRows("stripe", "stripe_customers", (r) => r.id === "cmp_cus_fail")).map((r) => r.balance_minor),
    ).toEqual([-250n]);
    // Nothing of the failed table is visible, and its day stays marked for the next run.
    expect((await lakeMetadata("stripe", "stripe_charges").catch(() => null))?.["current-snapshot-id"]).toBe(
      chargesBefore,
    );
    expect(await marks("stripe_charges", "2031-04-10")).toEqual([{ dt: "2031-04-10", seq: expect.any(Number) }]);
    expect(await marks("stripe_customers", "2031-04-10")).toEqual([]);

    // Fixed in D1, the next run commits it.
    await env.DB.prepare("UPDATE stripe_charges SET amount_minor = 1200 WHERE id = 'cmp_ch_bad'").run();
    await compact(["stripe_charges"]);
    expect(
      (await lakeRows("stripe", "stripe_charges", (r) => r.id === "cmp_ch_bad")).map((r) => r.amount_minor),
    ).toEqual([1200n]);
  });

  it("refuses times that are not UTC ISO-8601 and JSON that would not come out byte for byte", () => {
    const orders = COMPACT_TABLES.find((t) => t.table === "shopify_orders");
    if (!orders) throw new Error("no shopify_orders");
    const column = (name: string) => {
      const c = orders.columns.find((x) => x.name === name);
      if (!c) throw new Error(name);
      return c;
    };
    expect(column("created_at").kind).toBe("timestamp");
    expect(column("tags").kind).toBe("json");
    expect(column("total_price_minor").kind).toBe("int64");
    expect(column("test").kind).toBe("boolean");
    expect(toParquetValue(orders, column("created_at"), "2031-03-04T05:06:07.089Z")).toBe(
      BigInt(Date.parse("2031-03-04T05:06:07.089Z")),
    );
    for (const bad of ["2031-03-04", "2031-03-04T05:06:07+02:00", "2031-02-30T00:00:00Z", "yesterday"]) {
      expect(() => toParquetValue(orders, column("created_at"), bad), bad).toThrow(/not a UTC ISO-8601 time/);
    }
    expect(toParquetValue(orders, column("tags"), '["a","b"]')).toEqual(["a", "b"]);
    for (const bad of ['["a", "b"]', "[1]", '{"a":1}', "secret@example.com"]) {
      expect(() => toParquetValue(orders, column("tags"), bad), bad).toThrow(/not a list of strings/);
    }
    // The refusal never quotes the value.
    expect(() => toParquetValue(orders, column("tags"), "secret@example.com")).not.toThrow(/secret/);
  });

  it("skips while another run holds the lease, and changes nothing", async () => {
    const shop = "compact-lease.myshopify.com";
    await db.insert(shopifyProducts).values({
      shop,
      id: "cmp-lease",
      title: "Waiting",
      status: "active",
      ...version("2031-04-20T10:00:00.000Z", "cmp-lease"),
    });
    const now = new Date("2031-04-21T03:35:00Z");
    const lease = await acquireLease(env.DB, "compact", "compact-other-run", now);
    if (lease === null) throw new Error("could not take the compact lease");
    try {
      const result = await runCompact(env, { runId: "compact-test-skip", now }, { tables: ["shopify_products"] });
      expect(result).toEqual({ skipped: true, runId: "compact-test-skip", heldBy: "compact-other-run" });
      expect(await marks("shopify_products", "2031-04-20")).toEqual([{ dt: "2031-04-20", seq: 1 }]);
      expect(await lakeRows("shopify", "shopify_products", (r) => r.shop === shop)).toEqual([]);
      expect(await keysUnder("metadata/compact/dt=2031-04-21/")).toEqual([]);
    } finally {
      await releaseLease(env.DB, lease);
    }
    await compact(["shopify_products"]);
    expect((await lakeRows("shopify", "shopify_products", (r) => r.shop === shop)).map((r) => r.title)).toEqual([
      "Waiting",
    ]);
  });

  it("rejects a day that is not a calendar date and a table it does not compact", async () => {
    const run = { runId: "compact-test-bad-options", now: new Date("2031-04-22T03:35:00Z") };
    await expect(runCompact(env, run, { day: "2031-02-30" })).rejects.toThrow();
    await expect(runCompact(env, run, { day: "2031-3-4" })).rejects.toThrow();
    await expect(runCompact(env, run, { tables: ["lake_changes"] })).rejects.toThrow(/not a compacted table/);
    await expect(runCompact(env, run, { tables: [] })).rejects.toThrow();
  });

  it("keeps insert, update and delete triggers on every compacted table, and an index on its day and key", async () => {
    await expectMatchesMigration(lakeChanges);
    const { results } = await env.DB.prepare(
      "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_lake_%' ORDER BY name",
    ).all<{ name: string; tbl_name: string }>();
    const expected = COMPACT_TABLES.flatMap((t) => ["delete", "insert", "update"].map((k) => `${t.table}_lake_${k}`));
    expect(results.map((r) => r.name).sort()).toEqual(expected.sort());
    const indexes = await env.DB.prepare(
      "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name LIKE '%_by_lake_day'",
    ).all<{ tbl_name: string }>();
    expect(indexes.results.map((r) => r.tbl_name).sort()).toEqual(COMPACT_TABLES.map((t) => t.table).sort());
  });

  it("publishes each table's schema, and a changed column list is a new version", async () => {
    const spec = COMPACT_TABLES.find((t) => t.table === "stripe_refunds");
    if (!spec) throw new Error("no stripe_refunds");
    const key = "metadata/schemas/stripe/stripe_refunds.json";
    await env.LAKE.delete(key);
    forgetPublishedSchemas();
    const now = "2031-04-23T00:35:00.000Z";
    expect(await publishSchema(env.LAKE, spec, now)).toEqual({ version: 1, changed: true });
    const doc = await (await env.LAKE.get(key))?.json<{
      version: number;
      fingerprint: string;
      primary_key: string[];
      columns: { name: string; type: string; duckdb_type: string; nullable: boolean; primary_key: boolean }[];
      versions: { version: number; columns: string[] }[];
      location: string;
    }>();
    const info = await env.DB.prepare("PRAGMA table_info(stripe_refunds)").all<{ name: string; notnull: number }>();
    expect(doc?.columns.map((c) => [c.name, c.nullable])).toEqual(info.results.map((r) => [r.name, r.notnull === 0]));
    expect(doc?.primary_key).toEqual(["id"]);
    expect(doc?.columns.find((c) => c.name === "amount_minor")).toMatchObject({ type: "INT64", duckdb_type: "BIGINT" });
    expect(doc?.columns.find((c) => c.name === "updated_at")).toMatchObject({
      duckdb_type: "TIMESTAMP WITH TIME ZONE",
      nullable: false,
    });
    // Where the Iceberg table is (its metadata/ and data/ under it).
    expect(doc?.location).toBe("processed/stripe/stripe_refunds/");
    // Same columns: same version, nothing written.
    expect(await publishSchema(env.LAKE, spec, now)).toEqual({ version: 1, changed: false });
    forgetPublishedSchemas();
    expect(await publishSchema(env.LAKE, spec, now)).toEqual({ version: 1, changed: false });
    // The stored document describes other columns (as before a migration added one): next version.
    const older = { ...doc, version: 3, fingerprint: "before-a-column-was-added" };
    await env.LAKE.put(key, JSON.stringify(older));
    forgetPublishedSchemas();
    expect(await publishSchema(env.LAKE, spec, now)).toEqual({ version: 4, changed: true });
    const next = await (await env.LAKE.get(key))?.json<typeof doc>();
    expect(next?.versions.map((v) => v.version)).toEqual([1, 4]);
    expect(next?.versions[1]?.columns).toEqual(info.results.map((r) => r.name));
  });

  it("runs hourly from its cron schedule over the marked days", async () => {
    const shop = "compact-cron.myshopify.com";
    await db.insert(shopifyProducts).values({
      shop,
      id: "cmp-cron",
      title: "Scheduled",
      status: "active",
      ...version("2031-05-30T12:00:00.000Z", "cmp-cron"),
    });
    const controller = createScheduledController({
      cron: "35 * * * *",
      scheduledTime: Date.parse("2031-06-01T03:35:00Z"),
    });
    await worker.scheduled(controller, env);
    const reports = await keysUnder("metadata/compact/dt=2031-06-01/");
    expect(reports).toHaveLength(1);
    const report = await (await env.LAKE.get(reports[0] ?? ""))?.json<{ days: string[]; failed: unknown[] }>();
    expect(report?.failed).toEqual([]);
    expect(report?.days).toContain("2031-05-30");
    expect(await lakeRows("shopify", "shopify_products", (r) => r.shop === shop)).toEqual([
      expect.objectContaining({ id: "cmp-cron", title: "Scheduled", status: "active" }),
    ]);
    expect(await marks("shopify_products", "2031-05-30")).toEqual([]);
  });
});
