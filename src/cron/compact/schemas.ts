/**
 * `metadata/schemas/{source}/{table}.json`: a compacted table's columns as the lake holds
 * them (name, Parquet and DuckDB type, nullable, primary key, description), generated from
 * the drizzle schema on every run (written when it differs from the stored one; a new version
 * documents the table's Iceberg schema, which the compact job evolves the same way: a migration's
 * new column gets a new field id, and older data files read it as null). The version starts at 1
 * and goes up by one whenever the column list changes; earlier versions stay listed.
 * Descriptions follow the project's column conventions (`*_minor`, `*_at`, `*_id`), so a new
 * column is described without an entry here.
 */
import { z } from "zod";
import { sha256, toHex, utf8 } from "../../shared/crypto";
import type { ColumnKind, CompactColumn, LakeTable } from "./tables";

export function schemaKey(spec: LakeTable): string {
  return `metadata/schemas/${spec.source}/${spec.table}.json`;
}

const PARQUET_TYPE: Record<ColumnKind, string> = {
  string: "BYTE_ARRAY (STRING)",
  json: "BYTE_ARRAY (JSON)",
  timestamp: "INT64 (TIMESTAMP(MICROS, UTC))",
  int64: "INT64",
  boolean: "BOOLEAN",
  float64: "DOUBLE",
};
const DUCKDB_TYPE: Record<ColumnKind, string> = {
  string: "VARCHAR",
  json: "JSON",
  timestamp: "TIMESTAMP WITH TIME ZONE",
  int64: "BIGINT",
  boolean: "BOOLEAN",
  float64: "DOUBLE",
};

const SPECIAL: Record<string, string> = {
  shop: "Shopify shop domain (`x.myshopify.com`); '' for Stripe and Recharge identities",
  id: "the source's id, text exactly as the source wrote it",
  currency: "ISO 4217 currency of every `*_minor` column in the row",
  updated_at: "the source's last change of the object; the UTC day of it is the row's `dt` partition",
  deleted_at: "soft delete: when the source deleted the object (the row is kept)",
  last_event_id: "the event that wrote this version of the row",
  event_at: "when the source says that event happened",
  origin: "how the event came in: webhook, reconcile, bulk or replay",
  event_created: "Stripe event `created` (unix seconds) that wrote the row: the ordering key",
  email: "email (normalized: trimmed, lower-cased where the source allows)",
  position: "0-based position in the parent's list",
};

export function describeColumn(column: CompactColumn): string {
  const special = SPECIAL[column.name];
  if (special !== undefined) return special;
  if (column.name.endsWith("_minor")) return "money in integer minor units of the row's `currency` (exact)";
  if (column.kind === "timestamp") return "UTC time";
  if (column.kind === "boolean") return "flag";
  if (column.kind === "json") return "JSON array (as text)";
  if (column.name.endsWith("_id")) return `id of the ${column.name.slice(0, -3).replaceAll("_", " ")}, as text`;
  if (column.name.endsWith("_count")) return "count";
  return column.name.replaceAll("_", " ");
}

export interface SchemaColumn {
  name: string;
  type: string;
  duckdb_type: string;
  nullable: boolean;
  primary_key: boolean;
  description: string;
}

const storedSchema = z.object({
  version: z.number().int().min(1),
  fingerprint: z.string(),
  versions: z.array(
    z.object({ version: z.number().int(), fingerprint: z.string(), since: z.string(), columns: z.array(z.string()) }),
  ),
});

export function schemaColumns(spec: LakeTable): SchemaColumn[] {
  return spec.columns.map((c) => ({
    name: c.name,
    type: PARQUET_TYPE[c.kind],
    duckdb_type: DUCKDB_TYPE[c.kind],
    nullable: c.nullable,
    primary_key: spec.key.includes(c.name),
    description: describeColumn(c),
  }));
}

/**
 * Makes sure the table's schema document describes its columns and returns its version: the
 * stored one when the columns are unchanged (nothing is written), the next one when they changed.
 * A stored document that does not parse is replaced, continuing from version 1 (it cannot be
 * trusted to count from).
 */
export async function publishSchema(
  bucket: R2Bucket,
  spec: LakeTable,
  now: string,
): Promise<{ version: number; changed: boolean }> {
  const columns = schemaColumns(spec);
  const fingerprint = toHex(await sha256(utf8(JSON.stringify([spec.key, spec.dayColumn, columns]))));
  const key = schemaKey(spec);
  const known = published.get(key);
  if (known?.fingerprint === fingerprint) return { version: known.version, changed: false };
  const previous = await bucket.get(key);
  const parsed = previous === null ? null : storedSchema.safeParse(await previous.json().catch(() => null));
  const stored = parsed?.success ? parsed.data : null;
  if (stored !== null && stored.fingerprint === fingerprint) {
    published.set(key, { fingerprint, version: stored.version });
    return { version: stored.version, changed: false };
  }
  const version = stored === null ? 1 : stored.version + 1;
  const versions = [
    ...(stored?.versions ?? []),
    { version, fingerprint, since: now, columns: columns.map((c) => c.name) },
  ];
  const doc = {
    source: spec.source,
    table: spec.table,
    version,
    fingerprint,
    primary_key: spec.key,
    change_column: spec.dayColumn,
    // The Iceberg table (metadata/ and data/ under it); `metadata/version-hint.text` names its metadata.
    location: `processed/${spec.source}/${spec.table}/`,
    generated_at: now,
    columns,
    versions,
  };
  await bucket.put(key, JSON.stringify(doc, null, 2), { httpMetadata: { contentType: "application/json" } });
  published.set(key, { fingerprint, version });
  return { version, changed: true };
}

/**
 * What this isolate last read or wrote per schema key, so a run does not re-read documents that
 * cannot have changed: only a deploy changes the columns, and a deploy starts new isolates.
 */
const published = new Map<string, { fingerprint: string; version: number }>();

/** Forgets what this isolate knows of the stored documents (tests that rewrite them). */
export function forgetPublishedSchemas(): void {
  published.clear();
}
