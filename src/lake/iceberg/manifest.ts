/**
 * Manifests: the Avro files listing a snapshot's data files or delete files, one `manifest_entry`
 * per file, with the Avro schema and field ids of the spec's "Manifests" section (v2) and the
 * header keys readers look for (`schema`, `schema-id`, `partition-spec`, `partition-spec-id`,
 * `format-version`, `content`). The lake's tables are unpartitioned, so `partition` is an empty
 * struct. `file_format` is written "PARQUET" as the Java reference implementation writes it
 * (readers compare it case-insensitively). Trade-off: entries are written with explicit sequence
 * numbers, never null for inheritance, so a retried commit rewrites its manifests; decoding still
 * inherits null ones when told the manifest's values. Pure.
 */
import {
  type AvroCodecs,
  type AvroField,
  type AvroRecord,
  type AvroValue,
  optional,
  readContainer,
  writeContainer,
} from "./avro";
import { ManifestError } from "./errors";
import type { DataFile, IcebergSchema, ManifestEntry } from "./types";

/** An Iceberg map<int, V> as Avro: an array of key/value records with logicalType "map". */
const intMap = (name: string, id: number, keyId: number, valueId: number, value: "long" | "bytes"): AvroField =>
  optional(
    name,
    {
      type: "array",
      logicalType: "map",
      items: {
        type: "record",
        name: `k${keyId}_v${valueId}`,
        fields: [
          { name: "key", type: "int", "field-id": keyId },
          { name: "value", type: value, "field-id": valueId },
        ],
      },
    },
    id,
  );

/** `manifest_entry` v2 with its `data_file` (spec "Manifests"), for an unpartitioned spec. */
export const MANIFEST_ENTRY_SCHEMA: AvroRecord = {
  type: "record",
  name: "manifest_entry",
  fields: [
    { name: "status", type: "int", "field-id": 0 },
    optional("snapshot_id", "long", 1),
    optional("sequence_number", "long", 3),
    optional("file_sequence_number", "long", 4),
    {
      name: "data_file",
      "field-id": 2,
      type: {
        type: "record",
        name: "r2",
        fields: [
          { name: "content", type: "int", "field-id": 134 },
          { name: "file_path", type: "string", "field-id": 100 },
          { name: "file_format", type: "string", "field-id": 101 },
          { name: "partition", type: { type: "record", name: "r102", fields: [] }, "field-id": 102 },
          { name: "record_count", type: "long", "field-id": 103 },
          { name: "file_size_in_bytes", type: "long", "field-id": 104 },
          intMap("column_sizes", 108, 117, 118, "long"),
          intMap("value_counts", 109, 119, 120, "long"),
          intMap("null_value_counts", 110, 121, 122, "long"),
          intMap("nan_value_counts", 137, 138, 139, "long"),
          intMap("lower_bounds", 125, 126, 127, "bytes"),
          intMap("upper_bounds", 128, 129, 130, "bytes"),
          optional("key_metadata", "bytes", 131),
          optional("split_offsets", { type: "array", items: "long", "element-id": 133 }, 132),
          optional("equality_ids", { type: "array", items: "int", "element-id": 136 }, 135),
          optional("sort_order_id", "int", 140),
        ],
      },
    },
  ],
};

/** Field types an equality delete may match on: readers compare them with `===` (see DataFile.equalityIds). */
const EQUALITY_TYPES = new Set(["string", "long", "int"]);

function counts(map: Map<number, number> | undefined): AvroValue {
  if (map === undefined) return null;
  return [...map].map(([key, value]) => ({ key, value: BigInt(value) }));
}

function bounds(map: Map<number, Uint8Array>): AvroValue {
  return [...map].map(([key, value]) => ({ key, value }));
}

function checkEntry(entry: ManifestEntry, content: "data" | "deletes", schema: IcebergSchema, i: number): void {
  const file = entry.dataFile;
  const where = `entry ${i} (${file.filePath})`;
  if (content === "data" && file.content !== 0)
    throw new ManifestError(`${where}: a data manifest holds only data files`);
  if (content === "deletes" && file.content !== 2) {
    throw new ManifestError(`${where}: a delete manifest holds only equality delete files`);
  }
  for (const [name, n] of [
    ["recordCount", file.recordCount],
    ["fileSizeInBytes", file.fileSizeInBytes],
  ] as const) {
    if (!Number.isSafeInteger(n) || n < 0) throw new ManifestError(`${where}: ${name} must be a non-negative integer`);
  }
  if (file.content === 0) {
    if (file.equalityIds !== undefined)
      throw new ManifestError(`${where}: equalityIds belong to equality delete files`);
    return;
  }
  if (file.equalityIds === undefined || file.equalityIds.length === 0) {
    throw new ManifestError(`${where}: an equality delete file needs equalityIds`);
  }
  for (const id of file.equalityIds) {
    const field = schema.fields.find((f) => f.id === id);
    if (field === undefined)
      throw new ManifestError(`${where}: equality field id ${id} is not in schema ${schema["schema-id"]}`);
    if (!EQUALITY_TYPES.has(field.type)) {
      throw new ManifestError(
        `${where}: equality field ${field.name} is ${field.type}; equality deletes match only string, long or int fields`,
      );
    }
  }
}

function entryRecord(entry: ManifestEntry): AvroValue {
  const file: DataFile = entry.dataFile;
  return {
    status: entry.status,
    snapshot_id: entry.snapshotId,
    sequence_number: entry.sequenceNumber,
    file_sequence_number: entry.fileSequenceNumber,
    data_file: {
      content: file.content,
      file_path: file.filePath,
      file_format: "PARQUET",
      partition: {},
      record_count: BigInt(file.recordCount),
      file_size_in_bytes: BigInt(file.fileSizeInBytes),
      column_sizes: counts(file.columnSizes),
      value_counts: counts(file.valueCounts),
      null_value_counts: counts(file.nullValueCounts),
      nan_value_counts: counts(file.nanValueCounts),
      lower_bounds: bounds(file.lowerBounds),
      upper_bounds: bounds(file.upperBounds),
      key_metadata: null,
      split_offsets: file.splitOffsets === undefined ? null : file.splitOffsets.map((o) => BigInt(o)),
      equality_ids: file.equalityIds ?? null,
      sort_order_id: file.sortOrderId ?? null,
    },
  };
}

/**
 * A manifest of `entries` written under `schema` (the table's current schema). Throws a
 * ManifestError for an entry whose content does not match the manifest's, or an equality delete
 * file whose equalityIds name a field that is not string, long or int.
 */
export function encodeManifest(options: {
  schema: IcebergSchema;
  content: "data" | "deletes";
  entries: readonly ManifestEntry[];
}): Uint8Array {
  options.entries.forEach((entry, i) => {
    checkEntry(entry, options.content, options.schema, i);
  });
  return writeContainer({
    schema: MANIFEST_ENTRY_SCHEMA,
    records: options.entries.map(entryRecord),
    metadata: {
      schema: JSON.stringify(options.schema),
      "schema-id": String(options.schema["schema-id"]),
      "partition-spec": "[]",
      "partition-spec-id": "0",
      "format-version": "2",
      content: options.content,
    },
  });
}

type Row = { [field: string]: AvroValue };

function row(value: AvroValue | undefined, what: string): Row {
  if (
    typeof value !== "object" ||
    value === null ||
    Array.isArray(value) ||
    value instanceof Uint8Array ||
    value instanceof Map
  ) {
    throw new ManifestError(`${what} is not a record`);
  }
  return value;
}

function int(value: AvroValue | undefined, what: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  throw new ManifestError(`${what} is not an integer`);
}

function long(value: AvroValue | undefined, what: string): bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return BigInt(value);
  throw new ManifestError(`${what} is not a long`);
}

/** A map field written as key/value records (or as an Avro map by other writers), keyed by field id. */
function readMap<V>(
  value: AvroValue | undefined,
  what: string,
  convert: (v: AvroValue | undefined) => V,
): Map<number, V> | undefined {
  if (value === null || value === undefined) return undefined;
  const out = new Map<number, V>();
  if (value instanceof Map) {
    for (const [k, v] of value) out.set(Number(k), convert(v));
    return out;
  }
  if (!Array.isArray(value)) throw new ManifestError(`${what} is not a map`);
  for (const item of value) {
    const pair = row(item, what);
    out.set(int(pair.key, `${what} key`), convert(pair.value));
  }
  return out;
}

function bytesOf(value: AvroValue | undefined): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ManifestError("a bound is not bytes");
  return value;
}

/** The manifest-list values an entry with null ids or sequence numbers inherits (spec "Sequence Number Inheritance"). */
export interface Inherited {
  snapshotId: bigint;
  sequenceNumber: bigint;
}

/**
 * The entries of a manifest. Entries with null sequence numbers (other writers leave added ones
 * null) take them from `inherit`, the manifest's manifest-list row; without it they are refused.
 */
export function decodeManifest(
  bytes: Uint8Array,
  options: { inherit?: Inherited; codecs?: AvroCodecs } = {},
): ManifestEntry[] {
  const { records, metadata } = readContainer(bytes, options.codecs);
  if (metadata["format-version"] !== undefined && metadata["format-version"] !== "2") {
    throw new ManifestError(`manifest format-version ${metadata["format-version"]} is not 2`);
  }
  return records.map((value, i) => {
    const where = `manifest entry ${i}`;
    const r = row(value, where);
    const file = row(r.data_file, `${where} data_file`);
    const status = int(r.status, `${where} status`);
    if (status !== 0 && status !== 1 && status !== 2) throw new ManifestError(`${where}: status ${status} is unknown`);
    const content = int(file.content ?? 0, `${where} content`);
    if (content !== 0 && content !== 2) {
      throw new ManifestError(`${where}: content ${content} (position deletes) is not supported by this lake`);
    }
    if (typeof file.file_path !== "string" || file.file_path === "")
      throw new ManifestError(`${where}: file_path is missing`);
    const format = file.file_format;
    if (typeof format !== "string" || format.toLowerCase() !== "parquet") {
      throw new ManifestError(`${where}: file_format ${String(format)} is not Parquet`);
    }

    const inherits = status === 1 ? options.inherit : undefined;
    const snapshotId = long(r.snapshot_id, `${where} snapshot_id`) ?? inherits?.snapshotId;
    const sequenceNumber = long(r.sequence_number, `${where} sequence_number`) ?? inherits?.sequenceNumber;
    const fileSequenceNumber =
      long(r.file_sequence_number, `${where} file_sequence_number`) ?? inherits?.sequenceNumber;
    if (snapshotId === undefined || sequenceNumber === undefined || fileSequenceNumber === undefined) {
      throw new ManifestError(`${where}: null snapshot id or sequence number and nothing to inherit it from`);
    }

    const countOf = (v: AvroValue | undefined) => int(v, `${where} count`);
    const equalityIds = file.equality_ids;
    const splitOffsets = file.split_offsets;
    const sortOrderId = file.sort_order_id;
    const dataFile: DataFile = {
      content,
      filePath: file.file_path,
      recordCount: int(file.record_count, `${where} record_count`),
      fileSizeInBytes: int(file.file_size_in_bytes, `${where} file_size_in_bytes`),
      valueCounts: readMap(file.value_counts, `${where} value_counts`, countOf) ?? new Map(),
      nullValueCounts: readMap(file.null_value_counts, `${where} null_value_counts`, countOf) ?? new Map(),
      lowerBounds: readMap(file.lower_bounds, `${where} lower_bounds`, bytesOf) ?? new Map(),
      upperBounds: readMap(file.upper_bounds, `${where} upper_bounds`, bytesOf) ?? new Map(),
    };
    const columnSizes = readMap(file.column_sizes, `${where} column_sizes`, countOf);
    if (columnSizes !== undefined) dataFile.columnSizes = columnSizes;
    const nanValueCounts = readMap(file.nan_value_counts, `${where} nan_value_counts`, countOf);
    if (nanValueCounts !== undefined) dataFile.nanValueCounts = nanValueCounts;
    if (Array.isArray(splitOffsets)) dataFile.splitOffsets = splitOffsets.map((o) => int(o, `${where} split offset`));
    if (Array.isArray(equalityIds)) dataFile.equalityIds = equalityIds.map((id) => int(id, `${where} equality id`));
    if (sortOrderId !== null && sortOrderId !== undefined)
      dataFile.sortOrderId = int(sortOrderId, `${where} sort_order_id`);
    return { status, snapshotId, sequenceNumber, fileSequenceNumber, dataFile };
  });
}
