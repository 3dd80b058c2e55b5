/**
 * The Apache Iceberg v2 documents this lake reads and writes, as TypeScript types: table metadata
 * spelled exactly as the JSON of the spec (kebab-case keys), manifest entries and manifest-list
 * rows in camelCase (they live in Avro, never in JSON), and the REST catalog's update and
 * requirement objects. Pure types. Trade-off: only what the lake writes is typed (seven primitive
 * types, unpartitioned specs, data files and equality deletes), so a table another engine
 * evolved past that is refused where it is parsed rather than half understood.
 */

/** The Iceberg primitives a D1 column becomes (src/lake/iceberg/schema.ts maps the kinds). */
export type IcebergPrimitive = "boolean" | "int" | "long" | "double" | "string" | "timestamptz" | "date";

export interface IcebergField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergPrimitive;
  doc?: string;
}

export interface IcebergSchema {
  type: "struct";
  "schema-id": number;
  /** Present only when every key field is required (the spec forbids optional identifier fields). */
  "identifier-field-ids"?: number[];
  fields: IcebergField[];
}

export interface PartitionField {
  "source-id": number;
  "field-id": number;
  name: string;
  transform: string;
}

/** The lake's tables are unpartitioned: spec 0 with no fields, whose partition tuple is an empty struct. */
export interface PartitionSpec {
  "spec-id": number;
  fields: PartitionField[];
}

export interface SortField {
  "source-id": number;
  transform: string;
  direction: "asc" | "desc";
  "null-order": "nulls-first" | "nulls-last";
}

export interface SortOrder {
  "order-id": number;
  fields: SortField[];
}

export type SnapshotOperation = "append" | "replace" | "overwrite" | "delete";

/** `operation` plus the optional metrics of the spec's Appendix F, every value a string. */
export interface SnapshotSummary {
  operation: SnapshotOperation;
  [metric: string]: string;
}

/** Ids are JSON numbers kept below 2^53 so that JSON.parse reads them exactly. */
export interface Snapshot {
  "snapshot-id": number;
  "parent-snapshot-id"?: number;
  "sequence-number": number;
  "timestamp-ms": number;
  "manifest-list": string;
  summary: SnapshotSummary;
  "schema-id"?: number;
}

export interface SnapshotRef {
  "snapshot-id": number;
  type: "branch" | "tag";
  "min-snapshots-to-keep"?: number;
  "max-snapshot-age-ms"?: number;
  "max-ref-age-ms"?: number;
}

export interface SnapshotLogEntry {
  "snapshot-id": number;
  "timestamp-ms": number;
}

export interface MetadataLogEntry {
  "metadata-file": string;
  "timestamp-ms": number;
}

/**
 * Table metadata v2 (spec "Table Metadata Fields"). `current-snapshot-id` is absent while the
 * table has no snapshot: the REST OpenAPI types it as a non-null integer, and Java's `-1` is read
 * as absent by parseTableMetadata.
 */
export interface TableMetadata {
  "format-version": 2;
  "table-uuid": string;
  location: string;
  "last-sequence-number": number;
  "last-updated-ms": number;
  "last-column-id": number;
  schemas: IcebergSchema[];
  "current-schema-id": number;
  "partition-specs": PartitionSpec[];
  "default-spec-id": number;
  "last-partition-id": number;
  properties: Record<string, string>;
  "current-snapshot-id"?: number;
  snapshots: Snapshot[];
  "snapshot-log": SnapshotLogEntry[];
  "metadata-log": MetadataLogEntry[];
  "sort-orders": SortOrder[];
  "default-sort-order-id": number;
  refs: Record<string, SnapshotRef>;
}

/**
 * One Parquet file of a table: rows (`content` 0) or equality deletes (`content` 2; this lake
 * never writes position deletes). Maps are keyed by field id; bounds hold the spec's
 * single-value serialization (src/lake/iceberg/bounds.ts).
 */
export interface DataFile {
  content: 0 | 2;
  filePath: string;
  recordCount: number;
  fileSizeInBytes: number;
  columnSizes?: Map<number, number>;
  valueCounts: Map<number, number>;
  nullValueCounts: Map<number, number>;
  nanValueCounts?: Map<number, number>;
  lowerBounds: Map<number, Uint8Array>;
  upperBounds: Map<number, Uint8Array>;
  /** Row-group offsets, ascending. */
  splitOffsets?: number[];
  /**
   * The delete columns of an equality delete file, by field id. They must name string, long or
   * int fields: readers such as icebird compare values with `!==`, which never matches two Date
   * objects, so a timestamp key would silently delete nothing. encodeManifest refuses others.
   */
  equalityIds?: number[];
  sortOrderId?: number;
}

/**
 * A manifest row. Sequence numbers are written explicitly (not left null for inheritance):
 * icebird needs them, and the writer knows them at commit time, rewriting the manifest when a
 * commit is retried.
 */
export interface ManifestEntry {
  /** 0 existing, 1 added, 2 deleted. */
  status: 0 | 1 | 2;
  snapshotId: bigint;
  sequenceNumber: bigint;
  fileSequenceNumber: bigint;
  dataFile: DataFile;
}

/** A manifest-list row (spec "Manifest Lists", v2). */
export interface ManifestFile {
  manifestPath: string;
  manifestLength: number;
  partitionSpecId: 0;
  /** 0 data files, 1 delete files. */
  content: 0 | 1;
  sequenceNumber: bigint;
  minSequenceNumber: bigint;
  addedSnapshotId: bigint;
  addedFilesCount: number;
  existingFilesCount: number;
  deletedFilesCount: number;
  addedRowsCount: number;
  existingRowsCount: number;
  deletedRowsCount: number;
}

/** The REST catalog's TableUpdate actions (open-api/rest-catalog-open-api.yaml), as plain objects. */
export type TableUpdate =
  | { action: "assign-uuid"; uuid: string }
  | { action: "upgrade-format-version"; "format-version": number }
  | { action: "add-schema"; schema: IcebergSchema; "last-column-id"?: number }
  /** -1 selects the schema added last in the same commit. */
  | { action: "set-current-schema"; "schema-id": number }
  | { action: "add-spec"; spec: { "spec-id"?: number; fields: PartitionField[] } }
  | { action: "set-default-spec"; "spec-id": number }
  | { action: "add-sort-order"; "sort-order": SortOrder }
  | { action: "set-default-sort-order"; "sort-order-id": number }
  | { action: "add-snapshot"; snapshot: Snapshot }
  | ({ action: "set-snapshot-ref"; "ref-name": string } & SnapshotRef)
  | { action: "remove-snapshot-ref"; "ref-name": string }
  | { action: "remove-snapshots"; "snapshot-ids": number[] }
  | { action: "set-properties"; updates: Record<string, string> }
  | { action: "remove-properties"; removals: string[] }
  | { action: "set-location"; location: string };

/** The REST catalog's TableRequirement assertions, checked against the metadata a commit is based on. */
export type TableRequirement =
  | { type: "assert-create" }
  | { type: "assert-table-uuid"; uuid: string }
  /** `null`: the ref must not exist yet. */
  | { type: "assert-ref-snapshot-id"; ref: string; "snapshot-id": number | null }
  | { type: "assert-last-assigned-field-id"; "last-assigned-field-id": number }
  | { type: "assert-current-schema-id"; "current-schema-id": number }
  | { type: "assert-last-assigned-partition-id"; "last-assigned-partition-id": number }
  | { type: "assert-default-spec-id"; "default-spec-id": number }
  | { type: "assert-default-sort-order-id"; "default-sort-order-id": number };
