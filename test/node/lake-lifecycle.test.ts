// The bucket's lifecycle rules (lake/lifecycle.json, applied by `npm run lake -- lifecycle --apply`):
// the file is what `wrangler r2 bucket lifecycle set` takes, every prefix it names is one the
// pipeline writes, raw events and snapshots go to Infrequent Access after 30 days, and nothing
// under processed/ or metadata/ moves or expires.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { COMPACT_TABLES } from "../../src/cron/compact/tables";
import { backfillSnapshotKey, deadLetterKey, quarantineKey, rawEventKey } from "../../src/shared/keys";

const age = z.object({ type: z.literal("Age"), maxAge: z.number().int().positive() }).strict();
const rule = z
  .object({
    id: z.string().min(1).max(64),
    enabled: z.boolean(),
    conditions: z.object({ prefix: z.string() }).strict(),
    storageClassTransitions: z
      .array(z.object({ condition: age, storageClass: z.literal("InfrequentAccess") }).strict())
      .optional(),
    deleteObjectsTransition: z.object({ condition: age }).strict().optional(),
    abortMultipartUploadsTransition: z.object({ condition: age }).strict().optional(),
  })
  .strict();
const rules = z
  .object({ rules: z.array(rule).min(1) })
  .strict()
  .parse(JSON.parse(readFileSync(new URL("../../lake/lifecycle.json", import.meta.url), "utf8"))).rules;

const DAY = 86_400;
const at = "2026-11-20T10:00:00.000Z";
// Keys of every kind the pipeline writes, from the functions that build them.
const raw = [
  rawEventKey("shopify", "orders", at, "e1"),
  rawEventKey("stripe", "charges", at, "evt_1"),
  rawEventKey("recharge", "subscriptions", at, "r1"),
  backfillSnapshotKey("stripe", "charges", at, "bf_1", 0),
  "raw/shopify/orders/snapshots/dt=2026-11-20/gid-shopify-BulkOperation-1.jsonl.gz",
];
// As the compact job writes them (src/cron/compact/parts.ts, schemas.ts, compact.ts), for every table.
const kept = COMPACT_TABLES.flatMap((t) => [
  `processed/${t.source}/${t.table}/current/part-00000.parquet`,
  `processed/${t.source}/${t.table}/dt=2026-11-20/part-00000.parquet`,
  `metadata/schemas/${t.source}/${t.table}.json`,
]).concat(["metadata/compact/dt=2026-11-20/compact-1.json", "metadata/ledger/dt=2026-11-20/r-part-00000.parquet"]);
const others = [quarantineKey("shopify", at, "q1"), deadLetterKey("stripe", at, "d1")];
const matches = (prefix: string, key: string) => key.startsWith(prefix);

describe("R2 lifecycle rules", () => {
  it("parse as wrangler's lifecycle file, with unique ids, all enabled", () => {
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
    expect(rules.every((r) => r.enabled)).toBe(true);
  });

  it("name only prefixes the pipeline writes", () => {
    for (const r of rules) {
      const prefix = r.conditions.prefix;
      expect(
        [...raw, ...kept, ...others].some((k) => matches(prefix, k)),
        r.id,
      ).toBe(true);
    }
  });

  it("move raw events and snapshots to Infrequent Access after 30 days", () => {
    for (const key of raw) {
      const transitions = rules
        .filter((r) => matches(r.conditions.prefix, key))
        .flatMap((r) => r.storageClassTransitions ?? []);
      expect(transitions, key).toEqual([
        { condition: { type: "Age", maxAge: 30 * DAY }, storageClass: "InfrequentAccess" },
      ]);
    }
  });

  it("never move or expire processed parts, schemas and reports, and expire nothing anywhere", () => {
    for (const key of kept) {
      const touching = rules.filter((r) => matches(r.conditions.prefix, key) && r.storageClassTransitions);
      expect(
        touching.map((r) => r.id),
        key,
      ).toEqual([]);
    }
    expect(rules.filter((r) => r.deleteObjectsTransition).map((r) => r.id)).toEqual([]);
  });

  it("keep R2's default abort of incomplete multipart uploads, which a set would otherwise remove", () => {
    expect(rules.filter((r) => r.abortMultipartUploadsTransition && r.conditions.prefix === "")).toHaveLength(1);
  });
});
