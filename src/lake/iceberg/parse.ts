/**
 * Table metadata JSON read back from R2 or a REST catalog, checked with zod: a trust boundary,
 * since another writer (or a torn upload) may have put anything there. The error names each bad
 * field by its path (`snapshots.1.snapshot-id: …`). Besides shapes it checks what the spec ties
 * together (the current schema, spec, sort order and snapshot exist; the main ref agrees with
 * current-snapshot-id) and normalizes what writers spell differently: a `-1` or null
 * current-snapshot-id is absent, missing lists are empty, a missing main ref is derived. Fields
 * this lake does not model (statistics, …) are kept, so rewriting the document loses nothing.
 * Trade-off: ids above 2^53 are refused, since JSON.parse has already rounded them.
 */
import { z } from "zod";
import { TableMetadataError } from "./errors";
import type { TableMetadata } from "./types";

const PRIMITIVES = ["boolean", "int", "long", "double", "string", "timestamptz", "date"] as const;

const int = z.number().int();
const count = z.number().int().nonnegative();
const id = z.number().refine((n) => Number.isSafeInteger(n) && n > 0, {
  message: "must be a positive integer below 2^53 (a larger id loses digits in a JSON number)",
});

const field = z.looseObject({
  id: count,
  name: z.string().min(1),
  required: z.boolean(),
  type: z.enum(PRIMITIVES, {
    error: (issue) => `type ${JSON.stringify(issue.input)} is not one of ${PRIMITIVES.join(", ")}`,
  }),
  doc: z.string().optional(),
});

const schema = z.looseObject({
  type: z.literal("struct"),
  "schema-id": count,
  "identifier-field-ids": z.array(count).optional(),
  fields: z.array(field),
});

const partitionSpec = z.looseObject({
  "spec-id": count,
  fields: z.array(z.looseObject({ "source-id": count, "field-id": count, name: z.string(), transform: z.string() })),
});

const sortOrder = z.looseObject({
  "order-id": count,
  fields: z.array(
    z.looseObject({
      "source-id": count,
      transform: z.string(),
      direction: z.enum(["asc", "desc"]),
      "null-order": z.enum(["nulls-first", "nulls-last"]),
    }),
  ),
});

const snapshot = z.looseObject({
  "snapshot-id": id,
  "parent-snapshot-id": id.nullish(),
  "sequence-number": count,
  "timestamp-ms": count,
  "manifest-list": z.string().min(1),
  summary: z.object({ operation: z.enum(["append", "replace", "overwrite", "delete"]) }).catchall(z.string()),
  "schema-id": count.optional(),
});

const ref = z.looseObject({
  "snapshot-id": id,
  type: z.enum(["branch", "tag"]),
  "min-snapshots-to-keep": count.optional(),
  "max-snapshot-age-ms": count.optional(),
  "max-ref-age-ms": count.optional(),
});

const metadata = z.looseObject({
  "format-version": z.literal(2, { error: "must be 2: this lake reads and writes Iceberg v2 tables" }),
  "table-uuid": z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID"),
  location: z.string().min(1),
  "last-sequence-number": count,
  "last-updated-ms": count,
  "last-column-id": count,
  schemas: z.array(schema).min(1),
  "current-schema-id": count,
  "partition-specs": z.array(partitionSpec).min(1),
  "default-spec-id": count,
  "last-partition-id": int,
  properties: z.record(z.string(), z.string()).optional(),
  "current-snapshot-id": z.number().nullish(),
  snapshots: z.array(snapshot).optional(),
  "snapshot-log": z.array(z.looseObject({ "snapshot-id": id, "timestamp-ms": count })).optional(),
  "metadata-log": z.array(z.looseObject({ "metadata-file": z.string(), "timestamp-ms": count })).optional(),
  "sort-orders": z.array(sortOrder).min(1),
  "default-sort-order-id": count,
  refs: z.record(z.string(), ref).optional(),
});

/** What the spec ties together across fields, as `path: problem` lines. */
function crossChecks(m: TableMetadata): string[] {
  const issues: string[] = [];
  const schemaIds = new Set(m.schemas.map((s) => s["schema-id"]));
  if (!schemaIds.has(m["current-schema-id"]))
    issues.push(`current-schema-id: schema ${m["current-schema-id"]} is not in schemas`);
  m.schemas.forEach((s, i) => {
    const ids = new Set(s.fields.map((f) => f.id));
    if (ids.size !== s.fields.length) issues.push(`schemas.${i}.fields: field ids repeat`);
    for (const f of s.fields) {
      if (f.id > m["last-column-id"]) issues.push(`schemas.${i}.fields: field id ${f.id} is above last-column-id`);
    }
    for (const k of s["identifier-field-ids"] ?? []) {
      if (!ids.has(k)) issues.push(`schemas.${i}.identifier-field-ids: ${k} is not a field of the schema`);
    }
  });
  if (!m["partition-specs"].some((s) => s["spec-id"] === m["default-spec-id"])) {
    issues.push(`default-spec-id: spec ${m["default-spec-id"]} is not in partition-specs`);
  }
  if (!m["sort-orders"].some((o) => o["order-id"] === m["default-sort-order-id"])) {
    issues.push(`default-sort-order-id: order ${m["default-sort-order-id"]} is not in sort-orders`);
  }
  const snapshotIds = new Set(m.snapshots.map((s) => s["snapshot-id"]));
  if (snapshotIds.size !== m.snapshots.length) issues.push("snapshots: snapshot ids repeat");
  m.snapshots.forEach((s, i) => {
    if (s["sequence-number"] > m["last-sequence-number"]) {
      issues.push(`snapshots.${i}.sequence-number: above last-sequence-number ${m["last-sequence-number"]}`);
    }
  });
  const current = m["current-snapshot-id"];
  if (current !== undefined && !snapshotIds.has(current)) {
    issues.push(`current-snapshot-id: snapshot ${current} is not in snapshots`);
  }
  for (const [name, r] of Object.entries(m.refs)) {
    if (!snapshotIds.has(r["snapshot-id"]))
      issues.push(`refs.${name}: snapshot ${r["snapshot-id"]} is not in snapshots`);
  }
  const main = m.refs.main;
  if (main !== undefined && main.type !== "branch") issues.push("refs.main: must be a branch");
  if ((main?.["snapshot-id"] ?? undefined) !== current) {
    issues.push(
      `refs.main: points to ${main?.["snapshot-id"] ?? "nothing"} but current-snapshot-id is ${current ?? "absent"}`,
    );
  }
  return issues;
}

/** Valid v2 table metadata from parsed JSON, or a TableMetadataError naming every bad field. */
export function parseTableMetadata(json: unknown): TableMetadata {
  const result = metadata.safeParse(json);
  if (!result.success) {
    throw new TableMetadataError(
      result.error.issues.map((issue) => `${issue.path.join(".") || "(document)"}: ${issue.message}`),
    );
  }
  const { "current-snapshot-id": currentId, ...rest } = result.data;
  const snapshots = (rest.snapshots ?? []).map((s) => {
    const { "parent-snapshot-id": parent, ...own } = s;
    return parent === null || parent === undefined ? own : { ...own, "parent-snapshot-id": parent };
  });
  const out = {
    ...rest,
    properties: rest.properties ?? {},
    snapshots,
    "snapshot-log": rest["snapshot-log"] ?? [],
    "metadata-log": rest["metadata-log"] ?? [],
    refs: rest.refs ?? {},
  } as TableMetadata;
  // Java writes -1 for "no current snapshot" in v2 (spec Appendix F); null and absent mean the same.
  if (currentId !== null && currentId !== undefined && currentId !== -1) {
    if (!Number.isSafeInteger(currentId) || currentId <= 0) {
      throw new TableMetadataError([`current-snapshot-id: ${currentId} is not a positive integer below 2^53`]);
    }
    out["current-snapshot-id"] = currentId;
    // "Always a main branch reference, even if refs is null" (spec): derive it when absent.
    if (out.refs.main === undefined) out.refs = { ...out.refs, main: { "snapshot-id": currentId, type: "branch" } };
  }
  const issues = crossChecks(out);
  if (issues.length > 0) throw new TableMetadataError(issues);
  return out;
}
