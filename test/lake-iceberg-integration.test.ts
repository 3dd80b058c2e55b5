import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runCompact } from "../src/cron/compact/compact";
import { readChangedDay } from "../src/cron/compact/read";
import {
  COMPACT_TABLES,
  type CompactSource,
  type CompactTable,
  lakeSpecOf,
  readSql,
  toParquetValue,
} from "../src/cron/compact/tables";
import type { LoadedTable, TableStore } from "../src/lake/catalog/store";
import type { TableUpdate } from "../src/lake/iceberg";
import { lakeIo } from "../src/lake/io";
import { LakeLocation } from "../src/lake/location";
import { openTable, TableChange } from "../src/lake/table-writer";
import { shopifyOrderLineItems, shopifyOrders } from "../src/shared/schema/shopify";
import { stripeCustomers } from "../src/shared/schema/stripe";
import { FakeIcebergCatalog } from "./fakes/iceberg-catalog";
import { LAKE_ROOT, lakeFiles, lakeMetadata, readLakeTable } from "./helpers/iceberg-read";

// Rows of its own: shops `iceberg-*`, ids `ice-*`, days in January to March 2032. D1 and R2 may be
// shared with other test files, so only these rows are asserted on.
const db = drizzle(env.DB);
const SHOP = "iceberg-a.myshopify.com";
const version = (updatedAt: string, eventId: string) => ({
  updatedAt,
  lastEventId: eventId,
  eventAt: updatedAt,
  origin: "webhook" as const,
});
const run = (name: string) => ({ runId: `${name}-${crypto.randomUUID()}`, now: new Date() });

async function compact(name: string, tables?: string[]) {
  const result = await runCompact(env, run(name), tables === undefined ? {} : { tables });
  if (result.skipped) throw new Error(`${name}: compact was skipped`);
  return result;
}

describe("lake as Iceberg tables", () => {
  it("gives every compacted table a readable table with a snapshot after one run, even when empty", async () => {
    const result = await compact("ice-all");
    expect(result.tables.every((t) => t.status === "ok")).toBe(true);
    for (const spec of COMPACT_TABLES) {
      const meta = await lakeMetadata(spec.source, spec.table);
      const current = meta["current-snapshot-id"];
      expect(typeof current === "number" && current > 0, spec.table).toBe(true);
      expect(
        meta.snapshots.some((s) => s["snapshot-id"] === current),
        spec.table,
      ).toBe(true);
      expect(meta["format-version"], spec.table).toBe(2);
      // The schema is the table's columns, in order, whether or not it has rows.
      const schema = (meta.schemas as { "schema-id": number; fields: { name: string }[] }[]).find(
        (s) => s["schema-id"] === meta["current-schema-id"],
      );
      expect(
        schema?.fields.map((f) => f.name),
        spec.table,
      ).toEqual(spec.columns.map((c) => c.name));
      expect(Array.isArray(await readLakeTable(spec.source, spec.table)), spec.table).toBe(true);
    }
  });

  it("keeps every value kind exact: big ids as text, int64 money past 2^53, negative money, flags, instants, lists, NULLs", async () => {
    await db.insert(shopifyOrders).values([
      {
        shop: "iceberg-kinds.myshopify.com",
        id: "18446744073709551615",
        name: "#ice-1",
        orderNumber: 1001,
        customerId: "7390000000000000001",
        currency: "USD",
        totalPriceMinor: 1999,
        totalDiscountsMinor: -250,
        test: false,
        confirmed: true,
        tags: ["vip", "b2b", "ünïcode ✓"],
        discountCodes: [],
        createdAt: "2032-02-01T08:00:00.001Z",
        ...version("2032-02-02T23:59:59.999Z", "ice-kinds-1"),
      },
      {
        shop: "iceberg-kinds.myshopify.com",
        id: "9007199254740993",
        currency: "JPY",
        ...version("2032-02-02T00:00:00.000Z", "ice-kinds-2"),
      },
    ]);
    // Past 2^53 (and the largest int64, and the smallest): exact only if no value passes through a JS number.
    await env.DB.prepare(
      "UPDATE shopify_orders SET customer_total_spent_minor = 9223372036854775807, total_tax_minor = -9223372036854775808, total_price_minor = 9007199254740993 WHERE shop = ?1 AND id = ?2",
    )
      .bind("iceberg-kinds.myshopify.com", "9007199254740993")
      .run();
    await db.insert(stripeCustomers).values({
      id: "cus_ice_kinds",
      email: "kinds@iceberg.test",
      balanceMinor: -250,
      delinquent: true,
      livemode: false,
      createdAt: "1999-12-31T23:59:59.000Z",
      eventCreated: 1_959_000_000,
      updatedAt: "2032-02-02T12:00:00.000Z",
      lastEventId: "evt_ice_kinds",
    });
    await compact("ice-kinds", ["shopify_orders", "stripe_customers"]);

    const orders = (await readLakeTable("shopify", "shopify_orders")).filter(
      (r) => r.shop === "iceberg-kinds.myshopify.com",
    );
    const byId = new Map(orders.map((r) => [r.id, r]));
    expect([...byId.keys()].sort()).toEqual(["18446744073709551615", "9007199254740993"]);
    const a = byId.get("18446744073709551615");
    expect(a).toMatchObject({
      name: "#ice-1",
      order_number: 1001n,
      customer_id: "7390000000000000001",
      currency: "USD",
      total_price_minor: 1999n,
      total_discounts_minor: -250n,
      test: false,
      confirmed: true,
      tags: ["vip", "b2b", "ünïcode ✓"],
      discount_codes: [],
      last_event_id: "ice-kinds-1",
      origin: "webhook",
    });
    // Timestamps are the exact UTC instants, to the millisecond.
    expect(a?.created_at).toEqual(new Date("2032-02-01T08:00:00.001Z"));
    expect(a?.updated_at).toEqual(new Date("2032-02-02T23:59:59.999Z"));
    // NULLs stay NULL (not 0, "", false or []).
    for (const column of ["note", "total_tax_minor", "buyer_accepts_marketing", "payment_gateway_names", "closed_at"]) {
      expect(a?.[column], column).toBeNull();
    }
    const b = byId.get("9007199254740993");
    expect(b).toMatchObject({
      currency: "JPY",
      total_price_minor: 9007199254740993n,
      customer_total_spent_minor: 9223372036854775807n,
      total_tax_minor: -9223372036854775808n,
      test: null,
      tags: null,
      created_at: null,
    });

    const customers = (await readLakeTable("stripe", "stripe_customers")).filter((r) => r.id === "cus_ice_kinds");
    expect(customers).toEqual([
      expect.objectContaining({
        email: "kinds@iceberg.test",
        balance_minor: -250n,
        delinquent: true,
        livemode: false,
        event_created: 1_959_000_000n,
        created_at: new Date("1999-12-31T23:59:59.000Z"),
        updated_at: new Date("2032-02-02T12:00:00.000Z"),
        deleted_at: null,
        name: null,
      }),
    ]);
  });

  it("appends changed rows, hides their old versions and deleted rows, and keeps ids and money exact", async () => {
    await db.insert(shopifyOrders).values([
      {
        shop: SHOP,
        id: "9007199254740993",
        currency: "USD",
        totalPriceMinor: 1999,
        ...version("2032-01-04T10:00:00.000Z", "e1"),
      },
      { shop: SHOP, id: "2", currency: "JPY", totalPriceMinor: 500, ...version("2032-01-04T11:00:00.000Z", "e2") },
    ]);
    await db.insert(shopifyOrderLineItems).values([
      {
        shop: SHOP,
        id: "li-1",
        orderId: "9007199254740993",
        position: 0,
        quantity: 1,
        currency: "USD",
        priceMinor: 1999,
        ...version("2032-01-04T10:00:00.000Z", "e1"),
      },
    ]);
    await compact("ice-1", ["shopify_orders", "shopify_order_line_items"]);
    let orders = (await readLakeTable("shopify", "shopify_orders")).filter((r) => r.shop === SHOP);
    expect(orders.map((r) => [r.id, r.total_price_minor]).sort()).toEqual([
      ["2", 500n],
      ["9007199254740993", 1999n],
    ]);

    await env.DB.prepare(
      "UPDATE shopify_orders SET total_price_minor = 2500, updated_at = ?3 WHERE shop = ?1 AND id = ?2",
    )
      .bind(SHOP, "9007199254740993", "2032-01-05T09:00:00.000Z")
      .run();
    await env.DB.prepare("DELETE FROM shopify_orders WHERE shop = ?1 AND id = ?2").bind(SHOP, "2").run();
    await compact("ice-2", ["shopify_orders"]);
    orders = (await readLakeTable("shopify", "shopify_orders")).filter((r) => r.shop === SHOP);
    expect(orders.map((r) => [r.id, r.total_price_minor])).toEqual([["9007199254740993", 2500n]]);
    const lines = (await readLakeTable("shopify", "shopify_order_line_items")).filter((r) => r.shop === SHOP);
    expect(lines.map((r) => r.id)).toEqual(["li-1"]);
    // The change is one equality-delete file on the lake key (shop, id), newer than the data it hides.
    const files = await lakeFiles("shopify", "shopify_orders");
    const deletes = files.filter((f) => f.content === 2);
    expect(deletes.length).toBeGreaterThan(0);
    const meta = await lakeMetadata("shopify", "shopify_orders");
    const fields = (meta.schemas as { "schema-id": number; fields: { id: number; name: string }[] }[]).find(
      (s) => s["schema-id"] === meta["current-schema-id"],
    )?.fields;
    const idOf = (name: string) => fields?.find((f) => f.name === name)?.id;
    expect(deletes.every((d) => JSON.stringify(d.equalityIds) === JSON.stringify([idOf("shop"), idOf("id")]))).toBe(
      true,
    );
  });
});

describe("reading a changed day", () => {
  it("seeks each page by its row value on the day index, so a day's pages cost its rows once", async () => {
    const spec = COMPACT_TABLES.find((t) => t.table === "shopify_orders");
    if (spec === undefined) throw new Error("no shopify_orders spec");
    const plan = async (sql: string, binds: string[]) =>
      (
        await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .bind(...binds)
          .all<{ detail: string }>()
      ).results
        .map((r) => r.detail)
        .join("; ");
    const day = ["2032-03-01", "2032-03-02"];
    expect(await plan(readSql(spec, "day", { after: false, limit: 1000 }), day)).toContain(
      "USING INDEX shopify_orders_by_lake_day (updated_at>? AND updated_at<?)",
    );
    const after = ["2032-03-01T10:00:00.000Z", "shop.myshopify.com", "1"];
    expect(await plan(readSql(spec, "day", { after: true, limit: 1000 }), [...day, ...after])).toContain(
      "USING INDEX shopify_orders_by_lake_day ((updated_at,shop,id)>(?,?,?) AND updated_at<?)",
    );
  });
});

describe("a commit that stopped between its two puts", () => {
  it("leaves a metadata file the hint never named; the next commit takes its version instead of conflicting", async () => {
    const shop = "iceberg-orphan.myshopify.com";
    await db
      .insert(shopifyOrders)
      .values({ shop, id: "o-1", currency: "EUR", totalPriceMinor: 100, ...version("2032-02-01T10:00:00.000Z", "o1") });
    await compact("orphan-1", ["shopify_orders"]);
    const root = "processed/shopify/shopify_orders/metadata/";
    const hint = Number((await (await env.LAKE.get(`${root}version-hint.text`))?.text())?.trim());
    // What a Worker stopped after its metadata put and before its hint put leaves behind.
    await env.LAKE.put(`${root}v${hint + 1}.metadata.json`, '{"stopped": "between its two puts"}');
    await env.DB.prepare("UPDATE shopify_orders SET total_price_minor = 150 WHERE shop = ?1 AND id = ?2")
      .bind(shop, "o-1")
      .run();
    const result = await compact("orphan-2", ["shopify_orders"]);
    expect(result.skipped === false && result.tables.every((t) => t.status === "ok")).toBe(true);
    expect(Number((await (await env.LAKE.get(`${root}version-hint.text`))?.text())?.trim())).toBe(hint + 1);
    const rows = (await readLakeTable("shopify", "shopify_orders")).filter((r) => r.shop === shop);
    expect(rows.map((r) => r.total_price_minor)).toEqual([150n]);
  });
});

describe("schema evolution", () => {
  // A table of this test's own, so the ALTER TABLE reaches no table another test reads.
  const TABLE = "lake_evo_widgets";
  const columns = [
    { name: "id", kind: "string", nullable: false },
    { name: "price_minor", kind: "int64", nullable: true },
    { name: "updated_at", kind: "timestamp", nullable: false },
  ] as const;
  const specOf = (cols: CompactTable["columns"]): CompactTable => ({
    source: "lake_test" as CompactSource,
    table: TABLE,
    columns: cols,
    key: ["id"],
    dayColumn: "updated_at",
    lakeKey: ["id"],
    readByLakeKey: false,
  });
  afterAll(async () => {
    await env.DB.prepare(`DROP TABLE IF EXISTS ${TABLE}`).run();
  });

  /** One commit of a changed day, as the compact job makes it. */
  async function commitDay(spec: CompactTable, day: string) {
    const io = lakeIo(env);
    const lake = lakeSpecOf(spec);
    const change = new TableChange(io, lake, await openTable(io, lake), "append");
    await readChangedDay(env.DB, spec, day, (values) => change.addValues(values));
    return change.commit();
  }

  it("gives a column a migration adds a new field id; older rows read it as null, newer rows have it", async () => {
    await env.DB.prepare(
      `CREATE TABLE ${TABLE} (id TEXT NOT NULL PRIMARY KEY, price_minor INTEGER, updated_at TEXT NOT NULL)`,
    ).run();
    await env.DB.prepare(`INSERT INTO ${TABLE} VALUES ('w1', 100, '2032-03-01T10:00:00.000Z'), ('w2', 200, ?1)`)
      .bind("2032-03-01T11:00:00.000Z")
      .run();
    await commitDay(specOf([...columns]), "2032-03-01");
    const before = await lakeMetadata("lake_test", TABLE);
    expect(before["last-column-id"]).toBe(3);
    expect((before.schemas as unknown[]).length).toBe(1);

    // The migration: a nullable column; w3 is written after it with a value, w2 is updated.
    await env.DB.prepare(`ALTER TABLE ${TABLE} ADD COLUMN colour TEXT`).run();
    await env.DB.prepare(`INSERT INTO ${TABLE} VALUES ('w3', 300, '2032-03-02T10:00:00.000Z', 'red')`).run();
    await env.DB.prepare(
      `UPDATE ${TABLE} SET colour = 'blue', price_minor = 250, updated_at = '2032-03-02T11:00:00.000Z' WHERE id = 'w2'`,
    ).run();
    const evolved = specOf([...columns, { name: "colour", kind: "string", nullable: true }]);
    await commitDay(evolved, "2032-03-02");

    const after = await lakeMetadata("lake_test", TABLE);
    const schemas = after.schemas as {
      "schema-id": number;
      fields: { id: number; name: string; required: boolean; type: string }[];
    }[];
    expect(schemas.map((s) => s["schema-id"])).toEqual([0, 1]);
    expect(after["current-schema-id"]).toBe(1);
    expect(after["last-column-id"]).toBe(4);
    // The old fields keep their ids; the new one gets the next, optional.
    expect(schemas[1]?.fields).toEqual([
      ...(schemas[0]?.fields ?? []),
      { id: 4, name: "colour", required: false, type: "string" },
    ]);
    const rows = (await readLakeTable("lake_test", TABLE)).map((r) => [r.id, r.price_minor, r.colour ?? null]);
    expect(rows.sort()).toEqual([
      ["w1", 100n, null],
      ["w2", 250n, "blue"],
      ["w3", 300n, "red"],
    ]);
  });
});

describe("through the Iceberg REST catalog", () => {
  const PRODUCTS = COMPACT_TABLES.find((t) => t.table === "shopify_products") as CompactTable;
  const ref = { namespace: ["shopify"], name: "shopify_products" };
  const shop = "iceberg-catalog.myshopify.com";
  let fake: FakeIcebergCatalog;

  beforeEach(() => {
    // Tables the catalog places under __catalog/ in the lake bucket, apart from the by-path ones.
    fake = new FakeIcebergCatalog({
      storageRoot: `${LAKE_ROOT}/__catalog`,
      writeFile: async (location, text) => {
        await env.LAKE.put(location.slice(LAKE_ROOT.length + 1), text);
      },
    });
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      if (fake.serves(new URL(request.url))) return fake.handle(request);
      throw new Error(`unexpected fetch in the catalog test: ${request.method} ${request.url}`);
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const catalogEnv = (): Env => ({
    ...env,
    LAKE_CATALOG_URI: fake.uri,
    LAKE_CATALOG_WAREHOUSE: fake.warehouse,
    LAKE_CATALOG_TOKEN: fake.token,
  });
  const product = (id: string, title: string, updatedAt: string) => ({
    shop,
    id,
    title,
    status: "active",
    updated_at: updatedAt,
    event_at: updatedAt,
    last_event_id: `ice-cat-${id}`,
    origin: "webhook",
  });
  const insert = async (p: ReturnType<typeof product>) => {
    await env.DB.prepare(
      "INSERT INTO shopify_products (shop, id, title, status, updated_at, event_at, last_event_id, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
      .bind(p.shop, p.id, p.title, p.status, p.updated_at, p.event_at, p.last_event_id, p.origin)
      .run();
  };
  /** The catalog's table read by icebird from the metadata file the catalog wrote (fetch served from R2 again). */
  const readThroughCatalog = async () => {
    const held = fake.table(ref) as LoadedTable;
    vi.restoreAllMocks();
    const fileName = held.metadataLocation?.split("/").pop();
    return (
      await readLakeTable("shopify", "shopify_products", {
        tableUrl: held.metadata.location,
        metadataFileName: fileName,
      })
    )
      .filter((r) => r.shop === shop)
      .map((r) => [r.id, r.title])
      .sort();
  };
  const commitsTo = (name: string) =>
    fake.requests.filter((r) => r.method === "POST" && r.path.endsWith(`/tables/${name}`)).map((r) => r.status);

  it("commits a run through the catalog, and a commit that lost a race (409) is rebuilt on the winner: both snapshots stay", async () => {
    await insert(product("ice-cat-1", "First", "2032-03-10T10:00:00.000Z"));
    await insert(product("ice-cat-2", "Second", "2032-03-10T11:00:00.000Z"));
    const first = await runCompact(catalogEnv(), run("ice-cat-1"), { tables: ["shopify_products"] });
    if (first.skipped) throw new Error("skipped");
    const afterFirst = fake.table(ref) as LoadedTable;
    expect(afterFirst.metadata.location.startsWith(`${LAKE_ROOT}/__catalog/shopify/shopify_products-`)).toBe(true);
    expect(afterFirst.metadata["current-snapshot-id"]).toBe(
      first.tables.find((t) => t.table === "shopify_products")?.snapshotId,
    );
    // No by-path commit: the catalog holds the table, and the metadata files are the catalog's.
    expect(commitsTo("shopify_products")).toEqual([200]);
    expect(fake.validationErrors).toEqual([]);
    expect(await readThroughCatalog()).toEqual([
      ["ice-cat-1", "First"],
      ["ice-cat-2", "Second"],
    ]);

    // Another writer's real commit (its own data file, manifests and list) lands just before ours.
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) =>
      fake.handle(new Request(input, init)),
    );
    let theirs: TableUpdate[] = [];
    const capture: TableStore = {
      load: async () => fake.table(ref),
      create: async () => {
        throw new Error("the table exists");
      },
      commit: async (_ref, base, change) => {
        theirs = change.updates;
        return base;
      },
    };
    const lake = lakeSpecOf(PRODUCTS);
    const other = new TableChange(
      { bucket: env.LAKE, store: capture, location: new LakeLocation(LAKE_ROOT) },
      lake,
      afterFirst,
      "append",
    );
    const row = product("ice-cat-other", "Theirs", "2032-03-11T09:00:00.000Z");
    await other.add(
      Object.fromEntries(
        PRODUCTS.columns.map((c) => [c.name, toParquetValue(PRODUCTS, c, (row as Record<string, string>)[c.name])]),
      ),
    );
    await other.commit({ writer: "other" });
    fake.raceNextCommit(ref, () => theirs);

    await env.DB.prepare(
      "UPDATE shopify_products SET title = 'First, renamed', updated_at = ?1 WHERE shop = ?2 AND id = ?3",
    )
      .bind("2032-03-11T10:00:00.000Z", shop, "ice-cat-1")
      .run();
    const second = await runCompact(catalogEnv(), run("ice-cat-2"), { tables: ["shopify_products"] });
    if (second.skipped) throw new Error("skipped");
    expect(commitsTo("shopify_products")).toEqual([200, 409, 200]);
    expect(fake.validationErrors).toEqual([]);

    const held = (fake.table(ref) as LoadedTable).metadata;
    const ours = second.tables.find((t) => t.table === "shopify_products")?.snapshotId;
    const theirSnapshot = held.snapshots.find((s) => s.summary.writer === "other");
    expect(held.snapshots.map((s) => s["snapshot-id"])).toEqual([
      afterFirst.metadata["current-snapshot-id"],
      theirSnapshot?.["snapshot-id"],
      ours,
    ]);
    expect(theirSnapshot?.["parent-snapshot-id"]).toBe(afterFirst.metadata["current-snapshot-id"]);
    // Ours was rebuilt on theirs, with the sequence number after it.
    const oursSnapshot = held.snapshots.find((s) => s["snapshot-id"] === ours);
    expect(oursSnapshot?.["parent-snapshot-id"]).toBe(theirSnapshot?.["snapshot-id"]);
    expect(oursSnapshot?.["sequence-number"]).toBe((theirSnapshot?.["sequence-number"] ?? 0) + 1);
    expect(held["current-snapshot-id"]).toBe(ours);
    // Both writers' rows are there; the renamed row's old version is hidden.
    expect(await readThroughCatalog()).toEqual([
      ["ice-cat-1", "First, renamed"],
      ["ice-cat-2", "Second"],
      ["ice-cat-other", "Theirs"],
    ]);
  });
});
