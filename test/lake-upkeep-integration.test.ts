import { env } from "cloudflare:workers";
import { parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { CompactFailedError, runCompact } from "../src/cron/compact/compact";
import { runUpkeep, type UpkeepOptions } from "../src/cron/compact/upkeep";
import { runJob } from "../src/cron/jobs";
import { InjectedFaultError } from "./fakes/faulty-env";
import { inInvocation } from "./fakes/limits";
import { keysUnder, lakeFiles, lakeMetadata, lakeReachableKeys, readLakeTable } from "./helpers/iceberg-read";

// The lake-upkeep job: rebuilds from D1 that resume across runs, snapshot expiry and the sweep of
// every object no kept snapshot reaches, and erasure reaching every file. Rows of its own: shops
// `upkeep-*`, ids `upk-*`, days in 2032.

let runs = 0;
const runId = (job: string) => `${job}-upkeep-test-${++runs}`;

async function compact(tables: string[], e: Env = env) {
  const result = await inInvocation("job compact", () =>
    runCompact(e, { runId: runId("compact"), now: new Date() }, { tables }),
  );
  if (result.skipped) throw new Error("compact was skipped");
  return result;
}

async function upkeep(options: UpkeepOptions) {
  const result = await inInvocation("job lake-upkeep", () =>
    runUpkeep(env, { runId: runId("upkeep"), now: new Date() }, options),
  );
  if (result.skipped) throw new Error("lake-upkeep was skipped");
  expect(result.failed).toEqual([]);
  return result;
}

interface Progress {
  rebuild_base_sequence: number | null;
  rebuild_after_key: string | null;
  rebuild_files: string | null;
  rebuild_rows: number;
  rebuild_started_at: string | null;
  rebuilt_at: string | null;
}

async function progress(table: string): Promise<Progress | null> {
  return env.DB.prepare("SELECT * FROM lake_upkeep WHERE table_name = ?1").bind(table).first<Progress>();
}

/** The keys of the data files a rebuild in progress has written (rebuild_files holds their descriptions). */
const pendingKeys = (p: Progress | null) =>
  (JSON.parse(p?.rebuild_files ?? "[]") as string[]).map((f) =>
    (JSON.parse(f) as { filePath: string }).filePath.replace(/^s3:\/\/commerce-lake\//, ""),
  );

/** The lake bucket with every put of a key `match` accepts throwing before it reaches storage. */
function failingPuts(bucket: R2Bucket, match: (key: string) => boolean): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      if (prop === "put") {
        return (key: string, ...rest: unknown[]) => {
          if (match(key)) throw new InjectedFaultError({ target: "LAKE", call: "put", mode: "throw" });
          return (target.put as (...a: unknown[]) => unknown)(key, ...rest);
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Every object under `prefix` whose bytes hold `needle`, as stored or (Parquet) once decoded. */
async function objectsHolding(prefix: string, needle: string): Promise<string[]> {
  const bytes = new TextEncoder().encode(needle);
  const holds = (hay: Uint8Array) => {
    outer: for (let i = 0; i + bytes.length <= hay.length; i++) {
      for (let j = 0; j < bytes.length; j++) if (hay[i + j] !== bytes[j]) continue outer;
      return true;
    }
    return false;
  };
  const hits: string[] = [];
  for (const key of await keysUnder(prefix)) {
    const object = await env.LAKE.get(key);
    if (object === null) continue;
    const buffer = await object.arrayBuffer();
    let found = holds(new Uint8Array(buffer));
    if (!found && key.endsWith(".parquet")) {
      // Compressed pages: the values as a reader gets them.
      const rows = await parquetReadObjects({ file: buffer });
      found = JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? v.toString() : v)).includes(needle);
    }
    if (found) hits.push(key);
  }
  return hits;
}

describe("lake-upkeep", () => {
  it("rebuilds a table from D1 over several runs, keeping commits made meanwhile exact", async () => {
    const shop = "upkeep-rebuild.myshopify.com";
    const id = (n: number) => `upk-${String(n).padStart(4, "0")}`;
    const at = "2032-06-01T10:00:00.000Z";
    // 2,100 customers: with one page (1,000 rows) per run, three runs.
    const inserts = Array.from({ length: 2100 }, (_, n) =>
      env.DB.prepare(
        `INSERT INTO shopify_customers (shop, id, first_name, orders_count, updated_at, last_event_id, event_at, origin)
         VALUES (?1, ?2, ?3, ?4, ?5, 'upk-seed', ?5, 'webhook')`,
      ).bind(shop, id(n), `First ${n}`, n, at),
    );
    for (let i = 0; i < inserts.length; i += 100) await env.DB.batch(inserts.slice(i, i + 100));
    await compact(["shopify_customers"]);
    // A change before the rebuild: its delete file is one the rebuild drops.
    await env.DB.prepare("UPDATE shopify_customers SET first_name = 'Early' WHERE shop = ?1 AND id = ?2")
      .bind(shop, id(1))
      .run();
    await compact(["shopify_customers"]);
    const before = await lakeFiles("shopify", "shopify_customers");
    expect(before.filter((f) => f.content === 2).length).toBeGreaterThan(0);

    const first = await upkeep({ rebuild: ["shopify_customers"], rebuildRows: 1, snapshotDays: 0 });
    expect(first.rebuild).toMatchObject({ table: "shopify_customers", committed: false, rows: 1000, files: 1 });
    const started = await progress("shopify_customers");
    const base = started?.rebuild_base_sequence ?? -1;
    expect(base).toBe((await lakeMetadata("shopify", "shopify_customers"))["last-sequence-number"]);
    expect(started?.rebuild_rows).toBe(1000);
    const after = JSON.parse(started?.rebuild_after_key ?? "null") as string[];
    expect(after).toEqual([shop, id(999)]);
    // The sweep (every old snapshot expired) keeps the files of the rebuild in progress.
    const pending = pendingKeys(started);
    expect(pending).toHaveLength(1);
    for (const key of pending) expect(await env.LAKE.head(key), key).not.toBeNull();

    // Commits between the rebuild's runs, in the part it read and in the part it has not.
    const update = (n: number, name: string) =>
      env.DB.prepare("UPDATE shopify_customers SET first_name = ?3 WHERE shop = ?1 AND id = ?2").bind(
        shop,
        id(n),
        name,
      );
    const remove = (n: number) =>
      env.DB.prepare("DELETE FROM shopify_customers WHERE shop = ?1 AND id = ?2").bind(shop, id(n));
    await env.DB.batch([
      update(5, "Read, then changed"),
      update(1500, "Not yet read, changed"),
      remove(6),
      remove(1600),
    ]);
    await env.DB.prepare(
      `INSERT INTO shopify_customers (shop, id, first_name, updated_at, last_event_id, event_at, origin)
       VALUES (?1, 'upk-1700x', 'Inserted meanwhile', ?2, 'upk-x', ?2, 'webhook')`,
    )
      .bind(shop, at)
      .run();
    await compact(["shopify_customers"]);

    const second = await upkeep({ rebuildRows: 1, snapshotDays: 0 });
    expect(second.rebuild).toMatchObject({ table: "shopify_customers", committed: false, rows: 2000, files: 2 });
    expect((await progress("shopify_customers"))?.rebuild_base_sequence).toBe(base);
    const third = await upkeep({ rebuildRows: 1, snapshotDays: 0 });
    // Rows read: 1,000 before the commits, then 2,100 + 1 inserted - 1 deleted in the unread part.
    expect(third.rebuild).toMatchObject({ table: "shopify_customers", committed: true, rows: 2100, files: 3 });
    const done = await progress("shopify_customers");
    expect(done).toMatchObject({ rebuild_started_at: null, rebuild_files: null, rebuild_after_key: null });
    expect(done?.rebuilt_at).not.toBeNull();

    // Exactly D1's rows, one version each.
    const d1 = (
      await env.DB.prepare("SELECT id, first_name FROM shopify_customers WHERE shop = ?1")
        .bind(shop)
        .all<{ id: string; first_name: string }>()
    ).results
      .map((r) => [r.id, r.first_name])
      .sort();
    const lake = (await readLakeTable("shopify", "shopify_customers"))
      .filter((r) => r.shop === shop)
      .map((r) => [r.id, r.first_name])
      .sort();
    // 2,100 - 2 deleted + 1 inserted.
    expect(lake).toHaveLength(2099);
    expect(lake).toEqual(d1);
    expect(lake.find((r) => r[0] === id(1))?.[1]).toBe("Early");
    expect(lake.find((r) => r[0] === id(5))?.[1]).toBe("Read, then changed");

    // The rebuilt files keep the base's data sequence number, so the later commit's deletes apply to
    // them; the delete files from before the rebuild are gone.
    const files = await lakeFiles("shopify", "shopify_customers");
    const rebuilt = files.filter((f) => f.content === 0 && f.sequenceNumber === BigInt(base));
    expect(rebuilt.map((f) => f.records).reduce((a, b) => a + b, 0n)).toBe(2100n);
    expect(rebuilt).toHaveLength(3);
    const deletes = files.filter((f) => f.content === 2);
    expect(deletes).toHaveLength(1);
    expect(deletes.every((f) => f.sequenceNumber > BigInt(base))).toBe(true);
    expect(files.filter((f) => f.content === 0 && f.sequenceNumber !== BigInt(base))).toHaveLength(1);
  });

  it("expires old snapshots and deletes every object no kept snapshot reaches: old files, orphans, the plain Parquet", async () => {
    const shop = "upkeep-sweep.myshopify.com";
    const insert = (id: string, title: string, at: string) =>
      env.DB.prepare(
        `INSERT INTO shopify_products (shop, id, title, status, updated_at, event_at, last_event_id, origin)
         VALUES (?1, ?2, ?3, 'active', ?4, ?4, 'upk-sweep', 'webhook')`,
      )
        .bind(shop, id, title, at)
        .run();
    await insert("upk-s1", "One", "2032-07-01T10:00:00.000Z");
    await compact(["shopify_products"]);
    await env.DB.prepare("UPDATE shopify_products SET title = 'One, renamed' WHERE shop = ?1 AND id = 'upk-s1'")
      .bind(shop)
      .run();
    await insert("upk-s2", "Two", "2032-07-02T10:00:00.000Z");
    await compact(["shopify_products"]);
    // A run that failed at its commit leaves its files behind: orphans no snapshot names.
    await insert("upk-s3", "Three", "2032-07-03T10:00:00.000Z");
    const hint = /processed\/shopify\/shopify_products\/metadata\/version-hint\.text$/;
    const faulty: Env = { ...env, LAKE: failingPuts(env.LAKE, (k) => hint.test(k)) };
    await expect(compact(["shopify_products"], faulty)).rejects.toBeInstanceOf(CompactFailedError);
    // The lake before it was Iceberg: plain Parquet under current/ and dt=…/.
    const legacy = [
      "processed/shopify/shopify_products/current/part-00000.parquet",
      "processed/shopify/shopify_products/dt=2020-01-01/part-00000.parquet",
    ];
    for (const key of legacy) await env.LAKE.put(key, new Uint8Array([0x50, 0x41, 0x52, 0x31]));

    const prefix = "processed/shopify/shopify_products/";
    const rows = async () =>
      (await readLakeTable("shopify", "shopify_products"))
        .filter((r) => r.shop === shop)
        .map((r) => [r.id, r.title])
        .sort();
    const visible = await rows();
    expect(visible).toEqual([
      ["upk-s1", "One, renamed"],
      ["upk-s2", "Two"],
    ]);
    const meta = await lakeMetadata("shopify", "shopify_products");
    expect(meta.snapshots.length).toBeGreaterThan(1);
    const reachable = await lakeReachableKeys("shopify", "shopify_products");
    const unreachable = (await keysUnder(prefix)).filter((k) => !reachable.includes(k));
    expect(unreachable).toEqual(expect.arrayContaining(legacy));
    // Orphans of the failed run: its data files at least.
    expect(unreachable.filter((k) => k.includes("/data/")).length).toBeGreaterThan(0);

    const result = await upkeep({ snapshotDays: 0 });
    const swept = result.swept.find((s) => s.table === "shopify_products");
    expect(swept?.expiredSnapshots).toBe(meta.snapshots.length - 1);
    const left = await lakeMetadata("shopify", "shopify_products");
    expect(left.snapshots.map((s) => s["snapshot-id"])).toEqual([meta["current-snapshot-id"]]);
    // What is left under the table is exactly what its one snapshot reaches.
    const kept = await lakeReachableKeys("shopify", "shopify_products");
    expect(await keysUnder(prefix)).toEqual(kept);
    expect(swept?.deletedObjects).toBeGreaterThanOrEqual(unreachable.length);
    for (const key of legacy) expect(await env.LAKE.head(key)).toBeNull();
    expect(await rows()).toEqual(visible);

    // The failed run's row is still marked, and the next run commits it.
    await compact(["shopify_products"]);
    expect((await rows()).map((r) => r[0])).toEqual(["upk-s1", "upk-s2", "upk-s3"]);
  });

  it("takes an erased person's values out of every object under processed/ once the table is rebuilt and swept", async () => {
    const email = "erase.me.upkeep@example.test";
    const at = "2032-08-01T10:00:00.000Z";
    const customer = (id: string, mail: string, name: string) =>
      env.DB.prepare(
        `INSERT INTO stripe_customers (id, email, name, balance_minor, event_created, updated_at, last_event_id)
         VALUES (?1, ?2, ?3, 0, 1970000000, ?4, 'upk-erase')`,
      ).bind(id, mail, name, at);
    await env.DB.batch([
      customer("upk-cus-erase", email, "Erin Erased"),
      customer("upk-cus-keep", "kept@example.test", "Kim Kept"),
    ]);
    await compact(["stripe_customers"]);
    expect((await objectsHolding("processed/", email)).length).toBeGreaterThan(0);

    // Erasure in D1, as the privacy job does it: the PII columns set to NULL, the row kept.
    await env.DB.prepare("UPDATE stripe_customers SET email = NULL, name = NULL WHERE id = 'upk-cus-erase'").run();
    await compact(["stripe_customers"]);
    const hidden = (await readLakeTable("stripe", "stripe_customers")).filter((r) =>
      String(r.id).startsWith("upk-cus-"),
    );
    expect(hidden.map((r) => [r.id, r.email]).sort()).toEqual([
      ["upk-cus-erase", null],
      ["upk-cus-keep", "kept@example.test"],
    ]);
    // Hidden, not gone: the older files still hold it.
    expect((await objectsHolding("processed/", email)).length).toBeGreaterThan(0);

    const result = await upkeep({ rebuild: ["stripe_customers"], snapshotDays: 0 });
    expect(result.rebuild).toMatchObject({ table: "stripe_customers", committed: true });
    expect(await objectsHolding("processed/", email)).toEqual([]);
    expect(await objectsHolding("processed/", "Erin Erased")).toEqual([]);
    // The table reads the same, from rebuilt files with no delete file left.
    const rebuilt = (await readLakeTable("stripe", "stripe_customers")).filter((r) =>
      String(r.id).startsWith("upk-cus-"),
    );
    expect(rebuilt.map((r) => [r.id, r.email]).sort()).toEqual(hidden.map((r) => [r.id, r.email]).sort());
    const files = await lakeFiles("stripe", "stripe_customers");
    expect(files.filter((f) => f.content === 2)).toEqual([]);
    expect((await lakeMetadata("stripe", "stripe_customers")).snapshots).toHaveLength(1);
  });

  it("counts a rebuild read part by part as progress of the erasure waiting on it, then completes it", async () => {
    const shop = "upkeep-progress.myshopify.com";
    const at = "2032-07-01T10:00:00.000Z";
    const inserts = Array.from({ length: 1500 }, (_, n) =>
      env.DB.prepare(
        `INSERT INTO shopify_customers (shop, id, first_name, updated_at, last_event_id, event_at, origin)
         VALUES (?1, ?2, 'Someone', ?3, 'upk-progress', ?3, 'webhook')`,
      ).bind(shop, `upk-progress-${n}`, at),
    );
    for (let i = 0; i < inserts.length; i += 100) await env.DB.batch(inserts.slice(i, i + 100));
    await compact(["shopify_customers"]);
    // An erasure waiting at stage `lake` for a rebuild that starts after now (the earlier tests' rebuilds
    // do not count), last moved two days ago: past privacy_stalled's day without progress.
    const stale = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const requestId = "pr-upkeep-progress";
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO privacy_requests (request_id, kind, shop, status, stage, received_at, progressed_at)
         VALUES (?1, 'erase', NULL, 'running', 'lake', ?2, ?2)`,
      ).bind(requestId, stale),
      env.DB.prepare(
        "INSERT INTO privacy_work (request_id, subject, lake_tables, lake_since) VALUES (?1, '{}', ?2, ?3)",
      ).bind(requestId, JSON.stringify(["shopify_customers"]), new Date().toISOString()),
    ]);
    const request = () =>
      env.DB.prepare("SELECT status, progressed_at FROM privacy_requests WHERE request_id = ?1")
        .bind(requestId)
        .first<{ status: string; progressed_at: string }>();

    // The first run reads a part of the table: the request moved, though it is not done.
    const started = new Date().toISOString();
    const first = await inInvocation("job lake-upkeep", () =>
      runJob(env, "lake-upkeep", { now: new Date(), options: { rebuild: ["shopify_customers"], rebuildRows: 1 } }),
    );
    expect(first.job === "lake-upkeep" && first.result.rebuild?.committed).toBe(false);
    expect(await request()).toMatchObject({ status: "running" });
    expect(((await request())?.progressed_at ?? "") >= started).toBe(true);

    // Later runs finish the rebuild and its sweep: the request completes.
    for (let n = 0; n < 10 && (await request())?.status !== "completed"; n++) {
      await inInvocation("job lake-upkeep", () =>
        runJob(env, "lake-upkeep", { now: new Date(), options: { rebuildRows: 1, snapshotDays: 0 } }),
      );
    }
    expect((await request())?.status).toBe("completed");
  });
});
