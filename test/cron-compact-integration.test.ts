import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { CompactFailedError, runCompact } from "../src/cron/compact/compact";
import { forgetPublishedSchemas, publishSchema } from "../src/cron/compact/schemas";
import { COMPACT_TABLES, toParquetValue } from "../src/cron/compact/tables";
import { runJob } from "../src/cron/jobs";
import { acquireLease, releaseLease } from "../src/cron/lease";
import worker from "../src/index";
import { customerProfiles } from "../src/shared/schema/identity";
import { lakeChanges } from "../src/shared/schema/lake";
import { rechargeChargeLineItems } from "../src/shared/schema/recharge";
import { shopifyOrderLineItems, shopifyOrders, shopifyProducts } from "../src/shared/schema/shopify";
import { stripeCharges, stripeCustomers } from "../src/shared/schema/stripe";
import { expectMatchesMigration } from "./helpers/schema-match";

// Each test compacts a day of its own in March 2031, a month no other test file writes rows
// in, with shops and ids of its own: the local D1 and R2 are shared by every test file.
const db = drizzle(env.DB);
const SHOP_A = "compact-a.myshopify.com";
const SHOP_B = "compact-b.myshopify.com";
const version = (updatedAt: string, eventId: string) => ({
  updatedAt,
  lastEventId: eventId,
  eventAt: updatedAt,
  origin: "webhook" as const,
});

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.LAKE.list({ prefix, cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return keys.sort();
}

async function parquetAt(key: string): Promise<ArrayBuffer> {
  const object = await env.LAKE.get(key);
  if (object === null) throw new Error(`no object at ${key}`);
  return object.arrayBuffer();
}

async function rowsAt(key: string): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: await parquetAt(key) });
}

async function rowsUnder(prefix: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const key of await keysUnder(prefix)) rows.push(...(await rowsAt(key)));
  return rows;
}

describe("compact job", () => {
  it("writes the day's rows of every table as typed Parquet, one row per key, and a report", async () => {
    const day = "2031-03-04";
    await db.insert(shopifyOrders).values([
      {
        shop: SHOP_A,
        id: "820982911946154508",
        name: "#1001",
        orderNumber: 1001,
        customerId: "7390000000000000001",
        currency: "USD",
        totalPriceMinor: 1999,
        totalDiscountsMinor: 0,
        test: false,
        confirmed: true,
        tags: ["vip", "b2b"],
        createdAt: "2031-03-01T08:00:00.000Z",
        ...version("2031-03-04T00:00:00.000Z", "compact-a-1"),
      },
      {
        shop: SHOP_A,
        id: "820982911946154509",
        currency: "JPY",
        totalPriceMinor: 500000,
        ...version("2031-03-04T23:59:59.999Z", "compact-a-2"),
      },
      {
        shop: SHOP_B,
        id: "1001",
        currency: "KWD",
        totalPriceMinor: 12345,
        ...version("2031-03-04T12:00:00.000Z", "c-b"),
      },
      // Outside the day on either side: left out.
      { shop: SHOP_B, id: "1002", ...version("2031-03-03T23:59:59.999Z", "compact-b-2") },
      { shop: SHOP_B, id: "1003", ...version("2031-03-05T00:00:00.000Z", "compact-b-3") },
    ]);
    // Above 2^53: only exact end to end if the job never passes the value through a JS number.
    await env.DB.prepare(
      "UPDATE shopify_orders SET customer_total_spent_minor = 9007199254740993 WHERE shop = ?1 AND id = ?2",
    )
      .bind(SHOP_A, "820982911946154508")
      .run();
    await db.insert(shopifyOrderLineItems).values({
      shop: SHOP_A,
      id: "13377788899900011",
      orderId: "820982911946154508",
      position: 1,
      quantity: 2,
      currency: "USD",
      priceMinor: 999,
      giftCard: false,
      ...version("2031-03-04T00:00:00.000Z", "compact-a-1"),
    });
    await db.insert(stripeCharges).values({
      id: "ch_compact_a1",
      amountMinor: 500000,
      currency: "jpy",
      paid: true,
      livemode: false,
      createdAt: "2031-03-04T09:00:00.000Z",
      eventCreated: 1930467600,
      updatedAt: "2031-03-04T09:00:00.000Z",
      lastEventId: "evt_compact_a1",
    });
    await db.insert(customerProfiles).values({
      id: "prof_compact_a",
      email: "a@compact.test",
      createdAt: "2031-03-04T09:00:00.000Z",
      updatedAt: "2031-03-04T09:00:00.000Z",
      lastEventId: "evt_compact_a1",
    });

    const run = await runJob(env, "compact", { now: new Date("2031-03-05T03:30:00Z"), options: { day } });
    if (run.job !== "compact" || run.result.skipped) throw new Error("compact did not run");
    const result = run.result;
    expect(result.days).toEqual([day]);
    expect(result.tables).toHaveLength(COMPACT_TABLES.length);
    expect(result.tables.every((t) => t.status === "ok" && t.dt === day)).toBe(true);
    expect(Object.fromEntries(result.tables.filter((t) => t.rows > 0).map((t) => [t.table, t.rows]))).toEqual({
      shopify_orders: 3,
      shopify_order_line_items: 1,
      stripe_charges: 1,
      customer_profiles: 1,
    });
    for (const t of result.tables.filter((x) => x.rows === 0)) {
      expect(t.parts, t.table).toBe(0);
      expect(await keysUnder(`processed/${t.source}/${t.table}/dt=${day}/`), t.table).toEqual([]);
    }

    const ordersKey = `processed/shopify/shopify_orders/dt=${day}/part-00000.parquet`;
    expect(await keysUnder(`processed/shopify/shopify_orders/dt=${day}/`)).toEqual([ordersKey]);
    const orders = await rowsAt(ordersKey);
    // Primary-key order; ids are text, money and counts are exact 64-bit integers, flags booleans.
    expect(orders.map((o) => [o.shop, o.id])).toEqual([
      [SHOP_A, "820982911946154508"],
      [SHOP_A, "820982911946154509"],
      [SHOP_B, "1001"],
    ]);
    expect(orders[0]).toMatchObject({
      name: "#1001",
      order_number: 1001n,
      customer_id: "7390000000000000001",
      customer_total_spent_minor: 9007199254740993n,
      currency: "USD",
      total_price_minor: 1999n,
      total_discounts_minor: 0n,
      test: false,
      confirmed: true,
      // A JSON column: readers parse it (DuckDB reads it as JSON).
      tags: ["vip", "b2b"],
      created_at: new Date("2031-03-01T08:00:00.000Z"),
      updated_at: new Date("2031-03-04T00:00:00.000Z"),
      last_event_id: "compact-a-1",
      origin: "webhook",
    });
    expect(orders[0]?.note).toBeNull();
    expect(orders[0]?.total_tax_minor).toBeNull();
    expect(orders[1]?.test).toBeNull();
    expect(orders[1]).toMatchObject({ currency: "JPY", total_price_minor: 500000n });
    expect(orders[2]).toMatchObject({ currency: "KWD", total_price_minor: 12345n });

    // The file's schema is the table's: every column in migration order, typed, nullability kept.
    const meta = parquetMetadata(await parquetAt(ordersKey));
    const info = await env.DB.prepare("PRAGMA table_info(shopify_orders)").all<{ name: string }>();
    const columns = meta.schema.slice(1);
    expect(columns.map((c) => c.name)).toEqual(info.results.map((r) => r.name));
    const element = (name: string) => columns.find((c) => c.name === name);
    expect(element("id")).toMatchObject({
      type: "BYTE_ARRAY",
      converted_type: "UTF8",
      logical_type: { type: "STRING" },
      repetition_type: "REQUIRED",
    });
    expect(element("total_price_minor")).toMatchObject({ type: "INT64", repetition_type: "OPTIONAL" });
    expect(element("test")).toMatchObject({ type: "BOOLEAN" });
    expect(element("updated_at")).toMatchObject({
      type: "INT64",
      logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
      repetition_type: "REQUIRED",
    });
    expect(element("tags")).toMatchObject({
      type: "BYTE_ARRAY",
      converted_type: "JSON",
      logical_type: { type: "JSON" },
    });
    // Statistics on every column, so a reader can skip parts by time or id.
    const stats = (name: string) =>
      meta.row_groups[0]?.columns.find((c) => c.meta_data?.path_in_schema[0] === name)?.meta_data?.statistics;
    expect(stats("updated_at")).toMatchObject({
      min_value: new Date("2031-03-04T00:00:00.000Z"),
      max_value: new Date("2031-03-04T23:59:59.999Z"),
    });
    expect(stats("id")).toMatchObject({ min_value: "1001", max_value: "820982911946154509" });
    expect(meta.num_rows).toBe(3n);
    expect(meta.key_value_metadata).toEqual(
      expect.arrayContaining([
        { key: "commerce.table", value: "shopify_orders" },
        { key: "commerce.dt", value: day },
      ]),
    );

    expect(await rowsAt(`processed/shopify/shopify_order_line_items/dt=${day}/part-00000.parquet`)).toEqual([
      expect.objectContaining({
        id: "13377788899900011",
        order_id: "820982911946154508",
        position: 1n,
        quantity: 2n,
        price_minor: 999n,
        gift_card: false,
      }),
    ]);
    expect(await rowsAt(`processed/stripe/stripe_charges/dt=${day}/part-00000.parquet`)).toEqual([
      expect.objectContaining({
        id: "ch_compact_a1",
        amount_minor: 500000n,
        currency: "jpy",
        paid: true,
        livemode: false,
        event_created: 1930467600n,
      }),
    ]);
    expect(await rowsAt(`processed/identity/customer_profiles/dt=${day}/part-00000.parquet`)).toEqual([
      {
        id: "prof_compact_a",
        email: "a@compact.test",
        created_at: new Date("2031-03-04T09:00:00.000Z"),
        updated_at: new Date("2031-03-04T09:00:00.000Z"),
        last_event_id: "evt_compact_a1",
      },
    ]);

    // The report: filed under the run's scheduled day, the same numbers as the result.
    expect(result.reportKey).toBe(`metadata/compact/dt=2031-03-05/${run.runId}.json`);
    const report = await (await env.LAKE.get(result.reportKey))?.json<Record<string, unknown>>();
    const dayTotals = (f: (t: { rows: number; parts: number }) => number) =>
      result.tables.reduce((n, t) => n + f(t), 0);
    expect([dayTotals((t) => t.rows), dayTotals((t) => t.parts)]).toEqual([6, 4]);
    expect(report).toMatchObject({
      run_id: run.runId,
      job: "compact",
      days: [day],
      rows: result.rows,
      parts: result.parts,
      bytes: result.bytes,
      failed: [],
    });
    expect(report?.tables).toContainEqual({
      source: "shopify",
      table: "shopify_orders",
      dt: day,
      status: "ok",
      rows: 3,
      parts: 1,
      bytes: result.tables.find((t) => t.table === "shopify_orders")?.bytes,
      keys: [ordersKey],
      stale_deleted: 0,
      error: null,
    });
    expect(result.bytes).toBeGreaterThan(0);
  });

  it("splits a day into parts, pages an integer key in numeric order, and re-runs to the same objects", async () => {
    const day = "2031-03-07";
    const prefix = `processed/recharge/recharge_charge_line_items/dt=${day}/`;
    const line = (chargeId: string, position: number) => ({
      chargeId,
      position,
      sku: `SKU-${position}`,
      currency: "USD",
      unitPriceMinor: position * 100,
      updatedAt: "2031-03-07T10:00:00.000Z",
      lastEventId: `compact-rc-${chargeId}`,
    });
    // Text order would put 10, 100 and 11 before 2: the keyset must compare positions as integers.
    await db
      .insert(rechargeChargeLineItems)
      .values([
        line("rc_compact_b", 2),
        line("rc_compact_b", 9),
        line("rc_compact_b", 10),
        line("rc_compact_b", 11),
        line("rc_compact_b", 3),
        line("rc_compact_b", 100),
        line("rc_compact_a", 1),
      ]);
    const run = async (partRows: number) => {
      const result = await runCompact(
        env,
        {
          runId: `compact-test-parts-${partRows}-${crypto.randomUUID().slice(0, 8)}`,
          now: new Date("2031-03-08T03:30:00Z"),
        },
        { day, partRows, sources: ["recharge"] },
      );
      if (result.skipped) throw new Error("skipped");
      const table = result.tables.find((t) => t.table === "recharge_charge_line_items");
      if (!table) throw new Error("no report for recharge_charge_line_items");
      return table;
    };
    const part = (n: number) => `${prefix}part-0000${n}.parquet`;
    const expected = [
      ["rc_compact_a", 1n],
      ["rc_compact_b", 2n],
      ["rc_compact_b", 3n],
      ["rc_compact_b", 9n],
      ["rc_compact_b", 10n],
      ["rc_compact_b", 11n],
      ["rc_compact_b", 100n],
    ];
    const keyOf = (r: Record<string, unknown>) => [r.charge_id, r.position];

    const first = await run(2);
    expect(first).toMatchObject({ rows: 7, parts: 4, keys: [part(0), part(1), part(2), part(3)], staleDeleted: 0 });
    expect(await keysUnder(prefix)).toEqual([part(0), part(1), part(2), part(3)]);
    expect((await rowsAt(part(0))).map(keyOf)).toEqual(expected.slice(0, 2));
    expect((await rowsAt(part(3))).map(keyOf)).toEqual(expected.slice(6));
    expect((await rowsUnder(prefix)).map(keyOf)).toEqual(expected);
    expect((await rowsAt(part(2)))[0]).toMatchObject({ sku: "SKU-10", unit_price_minor: 1000n });

    // Bigger parts: the same keys are overwritten and the fourth part, now stale, is deleted.
    const second = await run(3);
    expect(second).toMatchObject({ rows: 7, parts: 3, staleDeleted: 1 });
    expect(await keysUnder(prefix)).toEqual([part(0), part(1), part(2)]);
    expect((await rowsUnder(prefix)).map(keyOf)).toEqual(expected);

    // Again with nothing changed: the same objects, the same rows, nothing to delete.
    const third = await run(3);
    expect(third).toMatchObject({ rows: 7, parts: 3, keys: second.keys, staleDeleted: 0 });
    expect((await rowsUnder(prefix)).map(keyOf)).toEqual(expected);

    // A row updated on a later day leaves this day's partition when the day is compacted again.
    await env.DB.prepare(
      "UPDATE recharge_charge_line_items SET updated_at = '2031-03-08T01:00:00.000Z' WHERE charge_id = ?1",
    )
      .bind("rc_compact_a")
      .run();
    const fourth = await run(3);
    expect(fourth).toMatchObject({ rows: 6, parts: 2, staleDeleted: 1 });
    expect((await rowsUnder(prefix)).map(keyOf)).toEqual(expected.slice(1));
  });

  it("reports a failing table, still writes the others, then fails the run", async () => {
    const day = "2031-03-10";
    await db.insert(stripeCustomers).values({
      id: "cus_compact_c",
      email: "c@compact.test",
      balanceMinor: -250,
      eventCreated: 1930694400,
      updatedAt: "2031-03-10T08:00:00.000Z",
      lastEventId: "evt_compact_c1",
    });
    await db.insert(stripeCharges).values({
      id: "ch_compact_bad",
      amountMinor: 100,
      currency: "usd",
      eventCreated: 1930694400,
      updatedAt: "2031-03-10T08:00:00.000Z",
      lastEventId: "evt_compact_c2",
    });
    // SQLite keeps text in an INTEGER column: the row cannot be an INT64, so the table fails.
    await env.DB.prepare("UPDATE stripe_charges SET amount_minor = 'twelve' WHERE id = 'ch_compact_bad'").run();
    const runId = `compact-test-fail-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const attempt = runCompact(env, { runId, now: new Date("2031-03-11T03:30:00Z") }, { day, sources: ["stripe"] });
      await expect(attempt).rejects.toThrow(CompactFailedError);
      await expect(attempt).rejects.toThrow(/stripe_charges dt=2031-03-10/);
    } finally {
      await env.DB.prepare("DELETE FROM stripe_charges WHERE id = 'ch_compact_bad'").run();
    }

    const report = await (await env.LAKE.get(`metadata/compact/dt=2031-03-11/${runId}.json`))?.json<{
      failed: { table: string; dt: string; error: string }[];
      tables: { table: string; status: string; rows: number; parts: number }[];
    }>();
    // The failed day is not written, so its table's snapshot is not rebuilt (it is, and fails too, on a first run).
    expect(report?.failed).toContainEqual({
      table: "stripe_charges",
      dt: day,
      error: expect.stringContaining("stripe_charges.amount_minor"),
    });
    expect(report?.failed.every((f) => f.table === "stripe_charges")).toBe(true);
    expect(report?.tables.map((t) => t.table).sort()).toEqual(
      COMPACT_TABLES.filter((t) => t.source === "stripe")
        .map((t) => t.table)
        .sort(),
    );
    expect(report?.tables.find((t) => t.table === "stripe_customers")).toMatchObject({
      status: "ok",
      rows: 1,
      parts: 1,
    });
    expect(await rowsAt(`processed/stripe/stripe_customers/dt=${day}/part-00000.parquet`)).toEqual([
      expect.objectContaining({ id: "cus_compact_c", balance_minor: -250n }),
    ]);
    expect(await keysUnder(`processed/stripe/stripe_charges/dt=${day}/`)).toEqual([]);
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

  it("skips while another run holds the lease", async () => {
    const now = new Date("2031-03-12T03:30:00Z");
    const lease = await acquireLease(env.DB, "compact", "compact-other-run", now);
    if (lease === null) throw new Error("could not take the compact lease");
    try {
      const result = await runCompact(env, { runId: "compact-test-skip", now }, { day: "2031-03-11" });
      expect(result).toEqual({ skipped: true, runId: "compact-test-skip", heldBy: "compact-other-run" });
    } finally {
      await releaseLease(env.DB, lease);
    }
  });

  it("rejects a day that is not a calendar date and a part size out of range", async () => {
    const run = { runId: "compact-test-bad-options", now: new Date("2031-03-12T03:30:00Z") };
    await expect(runCompact(env, run, { day: "2031-02-30" })).rejects.toThrow();
    await expect(runCompact(env, run, { day: "2031-3-4" })).rejects.toThrow();
    await expect(runCompact(env, run, { day: "2031-03-04", partRows: 0 })).rejects.toThrow();
  });

  it("marks every day a write touches, and a run without a day compacts exactly the marked ones", async () => {
    const marks = async (table: string) =>
      (
        await env.DB.prepare(
          "SELECT dt, seq FROM lake_changes WHERE table_name = ?1 AND dt LIKE '2031-04-%' ORDER BY dt",
        )
          .bind(table)
          .all<{ dt: string; seq: number }>()
      ).results;
    const product = {
      shop: "compact-m.myshopify.com",
      id: "9100000000000000007",
      title: "Marked",
      status: "active",
      ...version("2031-04-02T10:00:00.000Z", "compact-m-1"),
    };
    await db.insert(shopifyProducts).values(product);
    expect(await marks("shopify_products")).toEqual([{ dt: "2031-04-02", seq: 1 }]);
    const run = (n: number) =>
      runCompact(
        env,
        { runId: `compact-test-marks-${n}-${crypto.randomUUID().slice(0, 8)}`, now: new Date("2031-04-03T12:35:00Z") },
        { tables: ["shopify_products"] },
      );
    const first = await run(1);
    if (first.skipped) throw new Error("skipped");
    expect(first.tables.filter((t) => t.dt.startsWith("2031-04"))).toEqual([
      expect.objectContaining({ table: "shopify_products", dt: "2031-04-02", rows: 1, status: "ok" }),
    ]);
    expect(await marks("shopify_products")).toEqual([]);
    const dayRows = async (dt: string) =>
      (await rowsUnder(`processed/shopify/shopify_products/dt=${dt}/`)).filter((r) => r.shop === product.shop);
    expect((await dayRows("2031-04-02")).map((r) => r.title)).toEqual(["Marked"]);

    // The row moves to a later day: both days are marked, the old partition loses it.
    await env.DB.prepare("UPDATE shopify_products SET title = 'Moved', updated_at = ?1 WHERE shop = ?2 AND id = ?3")
      .bind("2031-04-03T09:00:00.000Z", product.shop, product.id)
      .run();
    expect(await marks("shopify_products")).toEqual([
      { dt: "2031-04-02", seq: 1 },
      { dt: "2031-04-03", seq: 1 },
    ]);
    const second = await run(2);
    if (second.skipped) throw new Error("skipped");
    expect(second.tables.filter((t) => t.dt.startsWith("2031-04")).map((t) => [t.dt, t.rows])).toEqual([
      ["2031-04-02", 0],
      ["2031-04-03", 1],
    ]);
    expect(await dayRows("2031-04-02")).toEqual([]);
    expect((await dayRows("2031-04-03")).map((r) => r.title)).toEqual(["Moved"]);

    // The current snapshot holds the row once, in its latest version.
    const current = (await rowsUnder("processed/shopify/shopify_products/current/")).filter(
      (r) => r.shop === product.shop,
    );
    expect(current.map((r) => [r.id, r.title])).toEqual([[product.id, "Moved"]]);

    // Nothing changed since: a run finds no marked day of this table.
    const third = await run(3);
    if (third.skipped) throw new Error("skipped");
    expect(third.tables.filter((t) => t.dt.startsWith("2031-04"))).toEqual([]);
  });

  it("takes no new table-day past its D1 query budget and leaves the rest marked for the next run", async () => {
    // 400 changed days of one table (a shop/redact or a backfill marks every day of history).
    const shop = "compact-many-days.myshopify.com";
    const day = (i: number) => new Date(Date.UTC(2029, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    const rows = Array.from({ length: 400 }, (_, i) =>
      env.DB.prepare(
        `INSERT INTO shopify_orders (shop, id, currency, total_price_minor, created_at, updated_at, last_event_id, event_at, origin)
         VALUES (?1, ?2, 'USD', 100, ?3, ?3, 'seed', ?3, 'webhook')`,
      ).bind(shop, String(9_100_000 + i), `${day(i)}T10:00:00.000Z`),
    );
    for (let i = 0; i < rows.length; i += 100) await env.DB.batch(rows.slice(i, i + 100));
    const marked = async () =>
      (
        await env.DB.prepare(
          "SELECT count(*) AS n FROM lake_changes WHERE table_name = 'shopify_orders' AND dt BETWEEN ?1 AND ?2",
        )
          .bind(day(0), day(399))
          .first<{ n: number }>()
      )?.n ?? 0;
    expect(await marked()).toBe(400);
    const left: number[] = [];
    for (let i = 0; i < 10 && (await marked()) > 0; i++) {
      // Each run is one invocation under the limits layer: past 1,000 D1 queries it would throw.
      await runJob(env, "compact", { now: new Date("2031-03-06T03:35:00Z"), options: { tables: ["shopify_orders"] } });
      left.push(await marked());
    }
    expect(left.at(-1)).toBe(0);
    // More than one run: the budget, not the list of days, ended the first.
    expect(left.length).toBeGreaterThan(1);
    expect(left[0]).toBeGreaterThan(0);
  }, 120_000);

  it("drops removed line items from the current snapshot", async () => {
    const shop = "compact-l.myshopify.com";
    const line = (id: string, position: number) => ({
      shop,
      id,
      orderId: "5550000000000000001",
      position,
      quantity: 1,
      currency: "EUR",
      priceMinor: 1000 + position,
      ...version("2031-04-05T10:00:00.000Z", "compact-l-1"),
    });
    await db.insert(shopifyOrderLineItems).values([line("5560000000000000001", 0), line("5560000000000000002", 1)]);
    const run = () =>
      runCompact(
        env,
        { runId: `compact-test-lines-${crypto.randomUUID().slice(0, 8)}`, now: new Date("2031-04-05T11:35:00Z") },
        { tables: ["shopify_order_line_items"] },
      );
    const ids = async () =>
      (await rowsUnder("processed/shopify/shopify_order_line_items/current/"))
        .filter((r) => r.shop === shop)
        .map((r) => r.id);
    await run();
    expect(await ids()).toEqual(["5560000000000000001", "5560000000000000002"]);
    // The consumer replaces an order's lines as a set: a line the new version lacks is deleted.
    await env.DB.prepare("DELETE FROM shopify_order_line_items WHERE shop = ?1 AND id = ?2")
      .bind(shop, "5560000000000000002")
      .run();
    await run();
    expect(await ids()).toEqual(["5560000000000000001"]);
  });

  it("keeps insert, update and delete triggers on every compacted table", async () => {
    await expectMatchesMigration(lakeChanges);
    const { results } = await env.DB.prepare(
      "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_lake_%' ORDER BY name",
    ).all<{ name: string; tbl_name: string }>();
    const expected = COMPACT_TABLES.flatMap((t) => ["delete", "insert", "update"].map((k) => `${t.table}_lake_${k}`));
    expect(results.map((r) => r.name).sort()).toEqual(expected.sort());
  });

  it("publishes each table's schema, and a changed column list is a new version", async () => {
    const spec = COMPACT_TABLES.find((t) => t.table === "stripe_refunds");
    if (!spec) throw new Error("no stripe_refunds");
    const key = "metadata/schemas/stripe/stripe_refunds.json";
    await env.LAKE.delete(key);
    forgetPublishedSchemas();
    const now = "2031-04-06T00:35:00.000Z";
    expect(await publishSchema(env.LAKE, spec, now)).toEqual({ version: 1, changed: true });
    const doc = await (await env.LAKE.get(key))?.json<{
      version: number;
      fingerprint: string;
      primary_key: string[];
      columns: { name: string; type: string; duckdb_type: string; nullable: boolean; primary_key: boolean }[];
      versions: { version: number; columns: string[] }[];
      paths: { current: string; changes: string };
    }>();
    const info = await env.DB.prepare("PRAGMA table_info(stripe_refunds)").all<{ name: string; notnull: number }>();
    expect(doc?.columns.map((c) => [c.name, c.nullable])).toEqual(info.results.map((r) => [r.name, r.notnull === 0]));
    expect(doc?.primary_key).toEqual(["id"]);
    expect(doc?.columns.find((c) => c.name === "amount_minor")).toMatchObject({ type: "INT64", duckdb_type: "BIGINT" });
    expect(doc?.columns.find((c) => c.name === "updated_at")).toMatchObject({
      duckdb_type: "TIMESTAMP WITH TIME ZONE",
      nullable: false,
    });
    expect(doc?.paths).toEqual({
      current: "processed/stripe/stripe_refunds/current/*.parquet",
      changes: "processed/stripe/stripe_refunds/dt=*/*.parquet",
    });
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
    await db.insert(shopifyProducts).values({
      shop: "compact-s.myshopify.com",
      id: "9100000000000000001",
      title: "Scheduled",
      status: "active",
      ...version("2031-03-30T12:00:00.000Z", "compact-s-1"),
    });
    const controller = createScheduledController({
      cron: "35 * * * *",
      scheduledTime: Date.parse("2031-04-01T03:35:00Z"),
    });
    await worker.scheduled(controller, env);
    const reports = await keysUnder("metadata/compact/dt=2031-04-01/");
    expect(reports).toHaveLength(1);
    const report = await (await env.LAKE.get(reports[0] ?? ""))?.json<{ days: string[]; failed: unknown[] }>();
    expect(report?.failed).toEqual([]);
    expect(report?.days).toContain("2031-03-30");
    expect(await rowsUnder("processed/shopify/shopify_products/dt=2031-03-30/")).toEqual([
      expect.objectContaining({ id: "9100000000000000001", title: "Scheduled", status: "active" }),
    ]);
  });
});
