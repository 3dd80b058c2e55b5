import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  type EntryKey,
  forgetEntries,
  generationOf,
  indexedKeys,
  indexObjects,
  markIndexed,
  monthsBetween,
  SHARDS_PER_GENERATION,
  type ShardCursor,
  shopIndexedEntries,
  subjectShard,
} from "../src/tables/subject-index";
import type { IndexedSubject } from "../src/tables/subjects";
import { indexEntries } from "./helpers/subject-index";

const run = `${Date.now()}`;
const customer = (shop: string, n: number): IndexedSubject => ({ kind: "shopify_customer", id: `9${run}${n}`, shop });
const key = (tag: string, n: number) => `raw/shopify/orders/events/dt=2027-01-01/hour=00/${tag}-${run}-${n}.json`;
const now = () => new Date().toISOString();

describe("the subject index shards", () => {
  it("spread subjects over every shard of a generation, one shard per subject whatever its shop", () => {
    const shards = new Set(Array.from({ length: 2000 }, (_, i) => subjectShard("email", `h${i}`, "2027-01")));
    expect(shards.size).toBe(SHARDS_PER_GENERATION);
    expect(subjectShard("email", "x", "2027-01")).toBe(subjectShard("email", "x", "2027-01"));
    expect(subjectShard("email", "x", "2027-02")).not.toBe(subjectShard("email", "x", "2027-01"));
    expect(generationOf("2027-01-31T23:59:59.999Z")).toBe("2027-01");
    expect(monthsBetween("2026-11", "2027-02")).toEqual(["2026-11", "2026-12", "2027-01", "2027-02"]);
  });

  it("keep an entry's state moving only up, and a redelivery changes nothing", async () => {
    const s = customer("a.myshopify.com", 1);
    await indexObjects(env, [{ r2Key: key("up", 1), subjects: [s], redacted: false }], now());
    await markIndexed(env, [s], [key("up", 1)], 2);
    // Delivered again unredacted, and again redacted: set aside stays set aside.
    await indexObjects(env, [{ r2Key: key("up", 1), subjects: [s], redacted: false }], now());
    await indexObjects(env, [{ r2Key: key("up", 1), subjects: [s], redacted: true }], now());
    expect((await indexEntries({ key: key("up", 1) })).map((e) => e.redacted)).toEqual([2]);
  });

  it("find a subject's objects in one shop or, for an erasure across shops, in all", async () => {
    const id = `x${run}`;
    for (const [n, shop] of ["a.myshopify.com", "b.myshopify.com", ""].entries()) {
      await indexObjects(
        env,
        [{ r2Key: key("any", n), subjects: [{ kind: "email", id, shop }], redacted: false }],
        now(),
      );
    }
    const one = await indexedKeys(env, [{ kind: "email", id, shop: "b.myshopify.com" }], 0, 100);
    expect(one).toEqual([key("any", 1)]);
    const all = await indexedKeys(env, [{ kind: "email", id, shop: "*" }], null, 100);
    expect(all).toEqual([0, 1, 2].map((n) => key("any", n)).sort());
    expect(await indexedKeys(env, [{ kind: "email", id, shop: "*" }], null, 2)).toHaveLength(2);
  });

  it("record an object indexed unredacted for a subject erased before it, and only that", async () => {
    const erased: IndexedSubject = { kind: "email", id: `erased-${run}`, shop: "*" };
    const other = customer("c.myshopify.com", 2);
    await env.DB.prepare(
      "INSERT INTO erased_subjects (subject_kind, subject_id, shop, request_id, erased_at) VALUES ('email', ?1, '*', 'pr-late', ?2)",
    )
      .bind(erased.id, now())
      .run();
    await indexObjects(
      env,
      [
        { r2Key: key("late", 1), subjects: [{ ...erased, shop: "c.myshopify.com" }, other], redacted: false },
        { r2Key: key("late", 2), subjects: [{ ...erased, shop: "c.myshopify.com" }], redacted: true },
      ],
      now(),
    );
    const late = await env.DB.prepare(
      "SELECT r2_key, subject_id FROM privacy_late_objects WHERE r2_key LIKE ?1 ORDER BY r2_key",
    )
      .bind(`%late-${run}-%`)
      .all();
    expect(late.results).toEqual([{ r2_key: key("late", 1), subject_id: erased.id }]);
  });

  it("walk one shop's entries across shards and calls, each once, and resume from the cursor", async () => {
    const shop = `walk-${run}.myshopify.com`;
    const mine = Array.from({ length: 40 }, (_, n) => ({
      r2Key: key("walk", n),
      subjects: [customer(shop, n)],
      redacted: false,
    }));
    const others = Array.from({ length: 40 }, (_, n) => ({
      r2Key: key("other", n),
      subjects: [customer(`other-${run}.myshopify.com`, n)],
      redacted: false,
    }));
    await indexObjects(env, [...mine, ...others], now());
    let cursor: ShardCursor = { shard: 0, after: null };
    const seen: EntryKey[] = [];
    for (let chunk = 0; ; chunk++) {
      // Small walks (3 entries a call, 2 calls a chunk), the cursor saved and read back between
      // chunks as a request keeps it between runs.
      const found = await shopIndexedEntries(env, shop, cursor, { entries: 3, calls: 2 });
      if (found === null) break;
      seen.push(...found.entries);
      cursor = JSON.parse(JSON.stringify(cursor)) as ShardCursor;
      expect(chunk).toBeLessThan(1000);
    }
    expect(cursor.shard).toBe(SHARDS_PER_GENERATION);
    expect(seen.map((e) => e[3]).sort()).toEqual(mine.map((m) => m.r2Key).sort());
    expect(new Set(seen.map((e) => e.join("|"))).size).toBe(seen.length);
  });
});

describe("forgetting entries", () => {
  it("removes exactly the entries named", async () => {
    const s = customer("f.myshopify.com", 3);
    await indexObjects(
      env,
      [0, 1].map((n) => ({ r2Key: key("forget", n), subjects: [s], redacted: false })),
      now(),
    );
    await forgetEntries(env, subjectShard(s.kind, s.id, generationOf(now())), [
      [s.kind, s.id, s.shop, key("forget", 0)],
    ]);
    expect(await indexedKeys(env, [s], null, 10)).toEqual([key("forget", 1)]);
  });
});
