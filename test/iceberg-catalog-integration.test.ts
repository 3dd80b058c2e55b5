import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LakeCatalogConfigError, lakeCatalogConfig } from "../src/lake/catalog/config";
import { CatalogError, CommitStateUnknownError, RestCatalogStore } from "../src/lake/catalog/rest";
import {
  commitWithRetry,
  type LoadedTable,
  type TableChange,
  TableNotFoundError,
  type TableRef,
} from "../src/lake/catalog/store";
import { CommitConflictError, type IcebergSchema, type TableUpdate } from "../src/lake/iceberg";
import { FakeIcebergCatalog } from "./fakes/iceberg-catalog";
import { validateSchema } from "./helpers/iceberg-openapi";

const BUCKET = "s3://lake-test/";
const ref: TableRef = { namespace: ["commerce", "lake"], name: "orders" };
const schema: IcebergSchema = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "order_id", required: true, type: "string" },
    { id: 2, name: "total", required: false, type: "double" },
  ],
};
const init = {
  schema,
  location: `${BUCKET}processed/commerce/orders`,
  properties: { "write.format.default": "parquet" },
};

let fake: FakeIcebergCatalog;
/** A test that sends an invalid request on purpose says so; every other must leave no validation error. */
let invalidOnPurpose = false;

beforeEach(() => {
  invalidOnPurpose = false;
  fake = new FakeIcebergCatalog({
    storageRoot: `${BUCKET}__catalog`,
    writeFile: async (location, text) => {
      await env.LAKE.put(location.slice(BUCKET.length), text);
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
  if (!invalidOnPurpose) expect(fake.validationErrors).toEqual([]);
});

const newStore = () => new RestCatalogStore({ uri: fake.uri, warehouse: fake.warehouse, token: fake.token });
const commits = () => fake.requests.filter((r) => r.method === "POST" && r.path.endsWith(`/tables/${ref.name}`));

let nextSnapshotId = 7_000;

/** An append as a writer builds it: on top of main as loaded, with the next sequence number. */
function append(writer: string, built: { writer: string; parent: number | null; sequence: number }[] = []) {
  return async (base: LoadedTable): Promise<TableChange> => {
    const m = base.metadata;
    const parent = m.refs.main?.["snapshot-id"] ?? null;
    const sequence = m["last-sequence-number"] + 1;
    const id = nextSnapshotId++;
    built.push({ writer, parent, sequence });
    return {
      requirements: [{ type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": parent }],
      updates: [
        {
          action: "add-snapshot",
          snapshot: {
            "snapshot-id": id,
            ...(parent === null ? {} : { "parent-snapshot-id": parent }),
            "sequence-number": sequence,
            "timestamp-ms": Date.now(),
            "manifest-list": `${m.location}/metadata/snap-${id}.avro`,
            summary: { operation: "append", writer },
            "schema-id": m["current-schema-id"],
          },
        },
        { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": id },
      ],
    };
  };
}

/** Another writer's append, for `raceNextCommit`: the updates only (it won, so no requirement failed). */
function otherWriter(current: LoadedTable, i: number, id = 9_000 + i): TableUpdate[] {
  const m = current.metadata;
  const parent = m.refs.main?.["snapshot-id"];
  return [
    {
      action: "add-snapshot",
      snapshot: {
        "snapshot-id": id,
        ...(parent === undefined ? {} : { "parent-snapshot-id": parent }),
        "sequence-number": m["last-sequence-number"] + 1,
        "timestamp-ms": Date.now(),
        "manifest-list": `${m.location}/metadata/snap-${id}.avro`,
        summary: { operation: "append", writer: "other" },
      },
    },
    { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": id },
  ];
}

describe("lakeCatalogConfig", () => {
  const all = {
    LAKE_CATALOG_URI: "https://catalog.cloudflarestorage.com/0123abcd/commerce-lake/",
    LAKE_CATALOG_WAREHOUSE: "0123abcd_commerce-lake",
    LAKE_CATALOG_TOKEN: "token",
  };

  it("is null with no catalog setting: the lake is written by path", () => {
    expect(lakeCatalogConfig({})).toBeNull();
    expect(lakeCatalogConfig({ LAKE_CATALOG_URI: "", LAKE_CATALOG_WAREHOUSE: " ", LAKE_CATALOG_TOKEN: "" })).toBeNull();
  });

  it("answers the three settings when all are set", () => {
    expect(lakeCatalogConfig(all)).toEqual({
      uri: "https://catalog.cloudflarestorage.com/0123abcd/commerce-lake",
      warehouse: "0123abcd_commerce-lake",
      token: "token",
    });
  });

  it("refuses a half configuration, naming what is missing and how to set it", () => {
    const error = (() => {
      try {
        lakeCatalogConfig({ LAKE_CATALOG_URI: all.LAKE_CATALOG_URI });
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(LakeCatalogConfigError);
    expect((error as LakeCatalogConfigError).missing).toEqual(["LAKE_CATALOG_WAREHOUSE", "LAKE_CATALOG_TOKEN"]);
    expect((error as Error).message).toContain("wrangler secret put LAKE_CATALOG_TOKEN");
    expect((error as Error).message).toContain("LAKE_CATALOG_WAREHOUSE");
    expect(() => lakeCatalogConfig({ ...all, LAKE_CATALOG_TOKEN: "" })).toThrow(/LAKE_CATALOG_TOKEN is not set/);
    expect(() => lakeCatalogConfig({ ...all, LAKE_CATALOG_URI: "catalog.example" })).toThrow(LakeCatalogConfigError);
  });
});

describe("RestCatalogStore against the fake catalog", () => {
  it("creates the namespace and the table, where the catalog chose, and writes nothing itself", async () => {
    const store = newStore();
    expect(await store.load(ref)).toBeNull();

    const created = await store.create(ref, init);
    expect(fake.namespaces.has("commerce\u001flake")).toBe(true);
    const held = fake.table(ref);
    expect(held).not.toBeNull();
    expect(created).toEqual(held);
    expect(created.metadata.schemas[0]?.fields.map((f) => f.name)).toEqual(["order_id", "total"]);
    expect(created.metadata.properties).toEqual(init.properties);
    // The catalog places the table; the location handed to create is only a hint.
    expect(created.metadata.location.startsWith(`${BUCKET}__catalog/commerce/lake/orders-`)).toBe(true);
    // The catalog, not the client, wrote the metadata file, where readers by path find it.
    const file = await env.LAKE.get((created.metadataLocation ?? "").slice(BUCKET.length));
    expect(await file?.json()).toEqual(created.metadata);

    expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      `GET /v1/config?warehouse=${fake.warehouse} 200`,
      `GET /v1/${fake.prefix}/namespaces/commerce%1Flake/tables/orders 404`,
      `GET /v1/${fake.prefix}/namespaces/commerce%1Flake 404`,
      `POST /v1/${fake.prefix}/namespaces 200`,
      `POST /v1/${fake.prefix}/namespaces/commerce%1Flake/tables 200`,
    ]);
    expect(fake.requests[3]?.body).toEqual({ namespace: ["commerce", "lake"], properties: {} });
    expect(fake.requests[4]?.body).toMatchObject({ name: "orders", schema, "stage-create": false });
  });

  it("loads the table as the catalog holds it, and a second create answers the existing table", async () => {
    const store = newStore();
    const created = await store.create(ref, init);
    expect(await store.load(ref)).toEqual(created);
    expect(await newStore().create(ref, init)).toEqual(created);
    expect(fake.requests.filter((r) => r.path.startsWith("/v1/config"))).toHaveLength(2); // once per store
    expect(fake.requests.filter((r) => r.method === "POST" && r.path.endsWith("/namespaces"))).toHaveLength(1);
  });

  it("lands a commit that asserts main's snapshot: the catalog holds the snapshot and the ref", async () => {
    const store = newStore();
    await store.create(ref, init);
    const before = fake.table(ref) as LoadedTable;

    const after = await commitWithRetry(store, ref, append("ours"));

    const held = fake.table(ref) as LoadedTable;
    expect(after).toEqual(held);
    expect(held.metadata.snapshots.map((s) => s.summary.writer)).toEqual(["ours"]);
    const id = held.metadata.snapshots[0]?.["snapshot-id"];
    expect(held.metadata.refs.main).toEqual({ type: "branch", "snapshot-id": id });
    expect(held.metadata["current-snapshot-id"]).toBe(id);
    expect(held.metadata["last-sequence-number"]).toBe(1);
    expect(held.metadata["metadata-log"].map((e) => e["metadata-file"])).toEqual([before.metadataLocation]);
    expect(held.metadataLocation).not.toBe(before.metadataLocation);
    expect(commits().map((r) => r.status)).toEqual([200]);
    expect(commits()[0]?.body).toMatchObject({
      identifier: { namespace: ["commerce", "lake"], name: "orders" },
      requirements: [{ type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null }],
    });
  });

  it("answers a commit that lost a race 409, and commitWithRetry rebuilds on the winner: both snapshots stay", async () => {
    const store = newStore();
    await store.create(ref, init);
    await commitWithRetry(store, ref, append("first"));
    fake.raceNextCommit(ref, otherWriter);

    const built: { writer: string; parent: number | null; sequence: number }[] = [];
    await commitWithRetry(store, ref, append("ours", built));

    const m = (fake.table(ref) as LoadedTable).metadata;
    const byWriter = Object.fromEntries(m.snapshots.map((s) => [s.summary.writer, s]));
    expect(Object.keys(byWriter)).toEqual(["first", "other", "ours"]);
    expect(byWriter.other?.["parent-snapshot-id"]).toBe(byWriter.first?.["snapshot-id"]);
    // The retry was built on the other writer's snapshot, with the sequence number after it.
    expect(byWriter.ours?.["parent-snapshot-id"]).toBe(byWriter.other?.["snapshot-id"]);
    expect(byWriter.ours?.["sequence-number"]).toBe(3);
    expect(m.refs.main?.["snapshot-id"]).toBe(byWriter.ours?.["snapshot-id"]);
    expect(built.map((b) => b.parent)).toEqual([byWriter.first?.["snapshot-id"], byWriter.other?.["snapshot-id"]]);
    expect(built.map((b) => b.sequence)).toEqual([2, 3]);
    expect(commits().map((r) => r.status)).toEqual([200, 409, 200]);
  });

  it("throws the conflict once the last attempt lost too, having committed nothing of its own", async () => {
    const store = newStore();
    await store.create(ref, init);
    fake.raceNextCommit(ref, otherWriter, 3);

    await expect(commitWithRetry(store, ref, append("ours"), 3)).rejects.toBeInstanceOf(CommitConflictError);

    const m = (fake.table(ref) as LoadedTable).metadata;
    expect(m.snapshots.map((s) => s.summary.writer)).toEqual(["other", "other", "other"]);
    expect(commits().map((r) => r.status)).toEqual([409, 409, 409]);
  });

  it("surfaces a 500 on commit as CommitStateUnknown, not retried, and the reload shows whether it landed", async () => {
    const store = newStore();
    await store.create(ref, init);

    fake.failNextCommit(ref, 500, { land: true });
    const built: { writer: string; parent: number | null; sequence: number }[] = [];
    const landed = await commitWithRetry(store, ref, append("landed", built)).catch((err: unknown) => err);
    expect(landed).toBeInstanceOf(CommitStateUnknownError);
    expect((landed as CommitStateUnknownError).status).toBe(500);
    expect((landed as Error).message).toContain("reload the table");
    expect(built).toHaveLength(1);
    expect((await store.load(ref))?.metadata.snapshots.map((s) => s.summary.writer)).toEqual(["landed"]);

    fake.failNextCommit(ref, 504, { land: false });
    await expect(commitWithRetry(store, ref, append("lost"))).rejects.toBeInstanceOf(CommitStateUnknownError);
    expect((await store.load(ref))?.metadata.snapshots.map((s) => s.summary.writer)).toEqual(["landed"]);
    expect(commits().map((r) => r.status)).toEqual([500, 504]);
  });

  it("refuses to commit to a table that does not exist", async () => {
    await expect(commitWithRetry(newStore(), ref, append("ours"))).rejects.toBeInstanceOf(TableNotFoundError);
  });

  it("says what to do when the token or the warehouse is wrong", async () => {
    const badToken = new RestCatalogStore({ uri: fake.uri, warehouse: fake.warehouse, token: "expired" });
    const tokenError = await badToken.load(ref).catch((err: unknown) => err);
    expect(tokenError).toBeInstanceOf(CatalogError);
    expect((tokenError as CatalogError).status).toBe(401);
    expect((tokenError as Error).message).toContain("wrangler secret put LAKE_CATALOG_TOKEN");

    const badWarehouse = new RestCatalogStore({ uri: fake.uri, warehouse: "nope", token: fake.token });
    const warehouseError = await badWarehouse.load(ref).catch((err: unknown) => err);
    expect((warehouseError as CatalogError).errorType).toBe("NoSuchWarehouseException");
    expect((warehouseError as Error).message).toContain("LAKE_CATALOG_WAREHOUSE");
  });

  it("refuses a snapshot id a JS number cannot hold instead of rounding it", async () => {
    const store = newStore();
    await store.create(ref, init);
    // Another engine's commit, with an int64 id as Java and Rust writers draw them.
    fake.raceNextCommit(ref, (current) => otherWriter(current, 0, 2 ** 60));
    const error = await commitWithRetry(store, ref, append("ours")).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CatalogError);
    expect((error as Error).message).toMatch(/snapshot-id: must be a positive integer below 2\^53/);
  });
});

describe("the fake catalog's OpenAPI check", () => {
  it("refuses an invalid request 400 with the spec's errors, and records them", async () => {
    invalidOnPurpose = true;
    const store = newStore();
    await store.create(ref, init);
    const before = fake.table(ref);

    const res = await fetch(`${fake.uri}/v1/${fake.prefix}/namespaces/commerce%1Flake/tables/orders`, {
      method: "POST",
      headers: { Authorization: `Bearer ${fake.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        requirements: [{ type: "assert-ref-snapshot-id", ref: "main" }, { type: "assert-nothing" }],
        updates: [{ action: "add-snapshot" }, { action: "drop-everything" }],
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("BadRequestException");
    expect(body.error.message).toContain("snapshot-id");
    expect(fake.validationErrors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/\/requirements\/0: must have required property 'snapshot-id'/),
        expect.stringMatching(/\/requirements\/1: type "assert-nothing" is not one the spec knows/),
        expect.stringMatching(/\/updates\/0: must have required property 'snapshot'/),
        expect.stringMatching(/\/updates\/1: action "drop-everything" is not one the spec knows/),
      ]),
    );
    expect(fake.table(ref)).toEqual(before);

    // Through the client, the same refusal is a CatalogError that says where the writer is wrong.
    const malformed = { requirements: [], updates: [{ action: "add-snapshot" }] } as unknown as TableChange;
    const error = await store.commit(ref, before as LoadedTable, malformed).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CatalogError);
    expect((error as CatalogError).status).toBe(400);
    expect((error as Error).message).toContain("/updates/0");
  });

  it("checks documents against the spec's components", () => {
    expect(validateSchema("TableRequirement", { type: "assert-create" })).toEqual([]);
    expect(
      validateSchema("TableRequirement", { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null }),
    ).toEqual([]);
    expect(validateSchema("TableUpdate", { action: "set-snapshot-ref", "ref-name": "main", "snapshot-id": 1 })).toEqual(
      ["(body): must have required property 'type'"],
    );
    expect(validateSchema("IcebergErrorResponse", { error: { message: "m", type: "T", code: 409 }, extra: 1 })).toEqual(
      ['(body): unknown property "extra"'],
    );
    expect(validateSchema("LoadTableResult", { metadata: { "format-version": 9, snapshots: [{}] } })).toEqual(
      expect.arrayContaining([
        "/metadata: must have required property 'table-uuid'",
        "/metadata/format-version: must be <= 3",
        "/metadata/snapshots/0: must have required property 'manifest-list'",
      ]),
    );
    expect(() => validateSchema("NoSuchComponent", {})).toThrow(/no schema NoSuchComponent/);
  });
});
