// The bucket's lifecycle rules (lake/lifecycle.json, applied by `npm run lake -- lifecycle --apply`):
// the file is what `wrangler r2 bucket lifecycle set` takes, every prefix it names is one the
// pipeline writes, raw events and snapshots go to Infrequent Access after 30 days, and nothing
// under processed/ (the Iceberg tables) or metadata/ moves or expires: an Iceberg file is deleted
// only by the lake-upkeep job, once no kept snapshot reaches it; a rule that expired one by age
// would break every snapshot naming it, and Infrequent Access would bill every read of it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { KPI_VIEWS } from "../../src/cron/compact/kpi-views";
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
// Every kind of object an Iceberg table holds, for every table and KPI view, named as the lake
// writer (src/lake/table-writer.ts, r2-store.ts) names them: the version hint and metadata files,
// manifest lists, data and delete manifests and a rebuild's manifest, Parquet data files and
// equality-delete files; then the schema documents (src/cron/compact/schemas.ts) and the reports.
const token = "mxd605nc-11ec0d82-28e3-4ff4-853e-08f97336597a";
const lakeKeys = [...COMPACT_TABLES, ...KPI_VIEWS].flatMap((t) =>
  [
    "metadata/version-hint.text",
    "metadata/v1.metadata.json",
    "metadata/v12.metadata.json",
    `metadata/snap-4503599627370495-${token}.avro`,
    `metadata/${token}-2-m0.avro`,
    `metadata/${token}-2-m1.avro`,
    `metadata/${token}-3-rebuild.avro`,
    `data/${token}-00000.parquet`,
    `data/${token}-eq-delete.parquet`,
  ].map((rest) => `processed/${t.source}/${t.table}/${rest}`),
);
const kept = [
  ...lakeKeys,
  ...[...COMPACT_TABLES, ...KPI_VIEWS].map((t) => `metadata/schemas/${t.source}/${t.table}.json`),
  "metadata/compact/dt=2026-11-20/compact-1.json",
  "metadata/ledger/dt=2026-11-20/r-part-00000.parquet",
];
const others = [quarantineKey("shopify", at, "q1"), deadLetterKey("stripe", at, "d1")];
const matches = (prefix: string, key: string) => key.startsWith(prefix);
/** Whether a rule of this prefix reaches any key under `folder` (the rule's prefix is a key prefix). */
const reaches = (prefix: string, folder: string) => folder.startsWith(prefix) || prefix.startsWith(folder);
const moves = (r: (typeof rules)[number]) =>
  (r.storageClassTransitions?.length ?? 0) > 0 || r.deleteObjectsTransition !== undefined;

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

  it("never move or expire an Iceberg file, a schema document or a report, and expire nothing anywhere", () => {
    for (const key of kept) {
      expect(
        rules.filter((r) => matches(r.conditions.prefix, key) && moves(r)).map((r) => r.id),
        key,
      ).toEqual([]);
    }
    // Whatever the file names: no moving rule reaches under processed/ or metadata/ at all.
    for (const folder of ["processed/", "metadata/"]) {
      expect(
        rules.filter((r) => reaches(r.conditions.prefix, folder) && moves(r)).map((r) => r.id),
        folder,
      ).toEqual([]);
    }
    expect(rules.filter((r) => r.deleteObjectsTransition).map((r) => r.id)).toEqual([]);
  });

  it("keep R2's default abort of incomplete multipart uploads, which a set would otherwise remove", () => {
    // The lake writer streams large data files as multipart uploads and aborts them on failure;
    // this rule catches the ones a run cut short could not abort (a completed file is never touched).
    expect(rules.filter((r) => r.abortMultipartUploadsTransition && r.conditions.prefix === "")).toHaveLength(1);
  });
});
