/**
 * A D1 table's columns as an Iceberg schema, evolved from the table's current schema by name:
 * a column keeps its field id for life, a new column gets the next id and is always optional
 * (files written before it lack it, and readers fill null). A column dropped from D1 leaves the
 * new schema (a new schema-id); its id is never reused, so a column re-added under the same name
 * is a new field and old files' values for the dropped one stay unread. Trade-offs: a required
 * field never becomes required again once optional (old files may hold nulls), and a column
 * whose kind changes is refused (SchemaEvolutionError) rather than silently re-created, since
 * that would hide every earlier value of it from readers. Pure.
 */
import { SchemaEvolutionError } from "./errors";
import type { IcebergField, IcebergPrimitive, IcebergSchema, TableMetadata } from "./types";

/** The kinds of src/lake/columns.ts, repeated structurally so this folder stays self-contained. */
export type LakeColumnKind = "string" | "json" | "timestamp" | "int64" | "boolean" | "float64";

export interface SchemaColumn {
  name: string;
  kind: LakeColumnKind;
  nullable: boolean;
}

const TYPE_OF: Record<LakeColumnKind, IcebergPrimitive> = {
  string: "string",
  json: "string",
  timestamp: "timestamptz",
  int64: "long",
  boolean: "boolean",
  float64: "double",
};

/** The Iceberg type a lake column kind is written as. */
export function icebergType(kind: LakeColumnKind): IcebergPrimitive {
  return TYPE_OF[kind];
}

/** The table's current schema; metadata that lacks it fails parseTableMetadata, so this is a bug guard. */
export function currentSchema(metadata: TableMetadata): IcebergSchema {
  const schema = metadata.schemas.find((s) => s["schema-id"] === metadata["current-schema-id"]);
  if (schema === undefined) throw new Error(`current schema ${metadata["current-schema-id"]} is not in schemas`);
  return schema;
}

function sameFields(a: IcebergSchema, b: Omit<IcebergSchema, "schema-id">): boolean {
  const ids = (s: Omit<IcebergSchema, "schema-id">) => JSON.stringify(s["identifier-field-ids"] ?? []);
  return (
    a.fields.length === b.fields.length &&
    a.fields.every((f, i) => {
      const g = b.fields[i];
      return g !== undefined && f.id === g.id && f.name === g.name && f.type === g.type && f.required === g.required;
    }) &&
    ids(a) === ids(b)
  );
}

/**
 * The schema for `columns` (in their order) with `key` as identifier fields, given the table's
 * previous metadata. `changed` is false when the result equals the current schema, which is then
 * returned as it is (same schema-id).
 */
export function schemaFor(
  columns: readonly SchemaColumn[],
  key: readonly string[],
  previous?: TableMetadata,
): { schema: IcebergSchema; lastColumnId: number; changed: boolean } {
  const names = new Set<string>();
  for (const c of columns) {
    if (names.has(c.name)) throw new SchemaEvolutionError(`column ${c.name} appears twice`);
    names.add(c.name);
  }
  for (const k of key) {
    if (!names.has(k)) throw new SchemaEvolutionError(`key column ${k} is not among the columns`);
  }

  const current = previous === undefined ? undefined : currentSchema(previous);
  const byName = new Map((current?.fields ?? []).map((f) => [f.name, f]));
  let lastColumnId = previous?.["last-column-id"] ?? 0;

  const fields: IcebergField[] = columns.map((c) => {
    const type = icebergType(c.kind);
    const old = byName.get(c.name);
    if (old === undefined) {
      lastColumnId += 1;
      // A column added to an existing table is optional: its older files have no values for it.
      return { id: lastColumnId, name: c.name, required: previous === undefined && !c.nullable, type };
    }
    if (old.type !== type) {
      throw new SchemaEvolutionError(
        `column ${c.name} changed from ${old.type} to ${type}: Iceberg cannot promote it; migrate it under a new name`,
      );
    }
    // Optional never becomes required again: older files may hold nulls.
    return { id: old.id, name: c.name, required: old.required && !c.nullable, type };
  });

  const keyFields = key.map((k) => fields.find((f) => f.name === k) as IcebergField);
  // The spec forbids optional and floating-point identifier fields.
  const identifiable = keyFields.length > 0 && keyFields.every((f) => f.required && f.type !== "double");
  const body: Omit<IcebergSchema, "schema-id"> = {
    type: "struct",
    ...(identifiable ? { "identifier-field-ids": keyFields.map((f) => f.id) } : {}),
    fields,
  };

  if (current !== undefined && previous !== undefined && sameFields(current, body)) {
    return { schema: current, lastColumnId: previous["last-column-id"], changed: false };
  }
  const schemaId = previous === undefined ? 0 : Math.max(...previous.schemas.map((s) => s["schema-id"])) + 1;
  const schema: IcebergSchema = {
    type: "struct",
    "schema-id": schemaId,
    ...(body["identifier-field-ids"] ? { "identifier-field-ids": body["identifier-field-ids"] } : {}),
    fields,
  };
  return { schema, lastColumnId, changed: true };
}
