/**
 * The lake's Iceberg tables read from Node as an engine outside the Worker reads them: through
 * icebird, an independent reader (the version hint, the metadata JSON, Avro manifest lists and
 * manifests, equality deletes, Parquet). icebird fetches `s3://commerce-lake/{key}` as
 * `https://commerce-lake.s3.amazonaws.com/{key}`; while it reads, fetch for that host is answered
 * from an object source (the harness's R2 binding, or a folder with the bucket's layout such as
 * `npm run lake -- pull` writes), with the Range requests Parquet readers make. Then each table's
 * rows go into DuckDB as a typed table, so SQL asks the lake what it holds.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { DuckDBAppender, DuckDBConnection } from "@duckdb/node-api";
import { timestampTZValue } from "@duckdb/node-api";
import { icebergRead } from "icebird";
import type { ColumnKind } from "../../src/lake/columns";

const BUCKET_HOST = "commerce-lake.s3.amazonaws.com";
export const LAKE_ROOT = "s3://commerce-lake";

export type LakeRow = Record<string, unknown>;

/** Where a key's bytes come from: the whole object or a byte range of it, with the object's size. */
export interface ObjectSource {
  read(key: string, range?: { offset: number; length?: number }): Promise<{ bytes: Uint8Array; size: number } | null>;
}

export interface RangedBucket {
  get(
    key: string,
    options?: { range?: { offset: number; length?: number } },
  ): Promise<{ size: number; arrayBuffer(): Promise<ArrayBuffer> } | null>;
}

/** An R2 bucket binding as the source (a ranged get says the whole object's size too). */
export function bucketSource(bucket: RangedBucket): ObjectSource {
  return {
    read: async (key, range) => {
      const object = await bucket.get(key, range === undefined ? undefined : { range });
      return object === null ? null : { bytes: new Uint8Array(await object.arrayBuffer()), size: object.size };
    },
  };
}

/** A folder holding objects at their keys (`{dir}/processed/…`) as the source. */
export function folderSource(dir: string): ObjectSource {
  return {
    read: async (key, range) => {
      const path = join(dir, ...key.split("/"));
      let size: number;
      try {
        const stat = statSync(path);
        if (!stat.isFile()) return null;
        size = stat.size;
      } catch {
        return null;
      }
      if (range === undefined) return { bytes: new Uint8Array(readFileSync(path)), size };
      const fd = openSync(path, "r");
      try {
        const bytes = new Uint8Array(Math.max(0, Math.min(range.length ?? size, size - range.offset)));
        const n = readSync(fd, bytes, 0, bytes.length, range.offset);
        return { bytes: bytes.subarray(0, n), size };
      } finally {
        closeSync(fd);
      }
    },
  };
}

/**
 * Runs `fn` with fetch for the lake bucket's host answered from `source` (other hosts pass
 * through): GET of a whole object, or of the `bytes=start-end` / `bytes=start-` range readers ask.
 */
export async function withLake<T>(source: ObjectSource, fn: () => Promise<T>): Promise<T> {
  const real = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.host !== BUCKET_HOST) return real(input, init);
    if (request.method !== "GET") return new Response("only GET", { status: 405 });
    const key = decodeURIComponent(url.pathname.slice(1));
    const range = request.headers.get("range");
    const m = range === null ? null : /^bytes=(\d+)-(\d*)$/.exec(range);
    if (range !== null && m === null) return new Response(`unsupported range ${range}`, { status: 416 });
    if (m === null) {
      const object = await source.read(key);
      if (object === null) return new Response("not found", { status: 404 });
      return new Response(object.bytes, { headers: { "content-length": String(object.bytes.byteLength) } });
    }
    const start = Number(m[1]);
    const length = m[2] ? Number(m[2]) - start + 1 : undefined;
    if (length !== undefined && length <= 0) return new Response("range not satisfiable", { status: 416 });
    const object = await source.read(key, length === undefined ? { offset: start } : { offset: start, length });
    if (object === null) return new Response("not found", { status: 404 });
    const end = start + object.bytes.byteLength - 1;
    return new Response(object.bytes, {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${object.size}`, "content-length": String(end - start + 1) },
    });
  };
  try {
    return await fn();
  } finally {
    globalThis.fetch = real;
  }
}

export interface IcebergField {
  id: number;
  name: string;
  required: boolean;
  type: string;
}
export interface TableMetadataJson {
  "format-version": number;
  location: string;
  "current-schema-id": number;
  "current-snapshot-id"?: number | null;
  schemas: { "schema-id": number; fields: IcebergField[]; "identifier-field-ids"?: number[] }[];
  snapshots?: { "snapshot-id": number; "manifest-list": string; summary: Record<string, string> }[];
  properties?: Record<string, string>;
}

/** The table's metadata by its version hint, and the version. */
export async function tableMetadata(
  source: ObjectSource,
  namespace: string,
  table: string,
): Promise<{ version: number; metadata: TableMetadataJson }> {
  const root = `processed/${namespace}/${table}/metadata/`;
  const hint = await source.read(`${root}version-hint.text`);
  if (hint === null) throw new Error(`no version hint under ${root}`);
  const version = Number(new TextDecoder().decode(hint.bytes).trim());
  const meta = await source.read(`${root}v${version}.metadata.json`);
  if (meta === null) throw new Error(`${root}version-hint.text names v${version}, which is missing`);
  return { version, metadata: JSON.parse(new TextDecoder().decode(meta.bytes)) };
}

/** The current schema's fields, in order. */
export function currentFields(metadata: TableMetadataJson): IcebergField[] {
  const schema = metadata.schemas.find((s) => s["schema-id"] === metadata["current-schema-id"]);
  if (schema === undefined) throw new Error(`${metadata.location}: no current schema`);
  return schema.fields;
}

/** Every row of the table's current snapshot, as icebird reads it (inside withLake). */
export async function icebergRows(namespace: string, table: string): Promise<LakeRow[]> {
  return (await icebergRead({ tableUrl: `${LAKE_ROOT}/processed/${namespace}/${table}` })) as LakeRow[];
}

/** Every row of the table's current snapshot, read from `source`. */
export function readTable(source: ObjectSource, namespace: string, table: string): Promise<LakeRow[]> {
  return withLake(source, () => icebergRows(namespace, table));
}

/**
 * The DuckDB type of an Iceberg field: string, long, timestamptz, boolean, double as the lake
 * writes them. Iceberg has no JSON type (a JSON column is a string with the JSON logical type in
 * Parquet), so the column kind says which strings are JSON.
 */
export function duckdbType(field: IcebergField, kind: ColumnKind | undefined): string {
  switch (field.type) {
    case "string":
      return kind === "json" ? "JSON" : "VARCHAR";
    case "long":
      return "BIGINT";
    case "int":
      return "INTEGER";
    case "timestamptz":
      return "TIMESTAMPTZ";
    case "boolean":
      return "BOOLEAN";
    case "double":
      return "DOUBLE";
    default:
      throw new Error(`${field.name}: Iceberg type ${field.type} is not one the lake writes`);
  }
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Creates `name` in DuckDB with the Iceberg schema's columns (NOT NULL where the field is
 * required) and appends `rows` value by value: bigints stay bigints, times become TIMESTAMPTZ
 * microseconds, JSON values their JSON text. A value of the wrong type for its column fails.
 */
export async function loadTable(
  duck: DuckDBConnection,
  name: string,
  fields: readonly IcebergField[],
  kinds: ReadonlyMap<string, ColumnKind>,
  rows: readonly LakeRow[],
): Promise<void> {
  const types = fields.map((f) => duckdbType(f, kinds.get(f.name)));
  const columns = fields.map((f, i) => `${quote(f.name)} ${types[i]}${f.required ? " NOT NULL" : ""}`);
  await duck.run(`CREATE OR REPLACE TABLE ${quote(name)} (${columns.join(", ")})`);
  const appender = await duck.createAppender(name);
  try {
    for (const row of rows) {
      for (const [i, f] of fields.entries()) append(appender, `${name}.${f.name}`, types[i] ?? "", row[f.name]);
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

function append(appender: DuckDBAppender, column: string, type: string, value: unknown): void {
  if (value === null || value === undefined) {
    appender.appendNull();
    return;
  }
  const wrong = () => new Error(`${column}: ${typeof value} ${String(value).slice(0, 40)} in a ${type} column`);
  switch (type) {
    case "VARCHAR":
      if (typeof value !== "string") throw wrong();
      appender.appendVarchar(value);
      return;
    case "JSON":
      // The Parquet column has the JSON logical type, which the reader parses: back to its text.
      appender.appendVarchar(JSON.stringify(value));
      return;
    case "BIGINT":
      if (typeof value !== "bigint") throw wrong();
      appender.appendBigInt(value);
      return;
    case "INTEGER":
      if (typeof value !== "number" || !Number.isInteger(value)) throw wrong();
      appender.appendInteger(value);
      return;
    case "TIMESTAMPTZ":
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw wrong();
      appender.appendTimestampTZ(timestampTZValue(BigInt(value.getTime()) * 1000n));
      return;
    case "BOOLEAN":
      if (typeof value !== "boolean") throw wrong();
      appender.appendBoolean(value);
      return;
    case "DOUBLE":
      if (typeof value !== "number") throw wrong();
      appender.appendDouble(value);
      return;
    default:
      throw wrong();
  }
}
