/**
 * New table metadata and new snapshots, built as the spec's v2 JSON: an unpartitioned, unsorted
 * table (spec 0 with no fields, sort order 0) and snapshots numbered by the table's sequence.
 * Time and randomness come from the caller (`nowMs`, the bytes of a snapshot id), so these are
 * pure. Trade-off: snapshot ids are drawn from 53 bits, not the 63 the spec allows, so that every
 * id is an exact JSON number for any JSON parser; a collision among a table's snapshots is still
 * negligible and newSnapshot refuses one.
 */
import { InvalidUpdateError } from "./errors";
import { currentSchema } from "./schema";
import type { IcebergSchema, Snapshot, SnapshotOperation, TableMetadata } from "./types";

/** A positive snapshot id below 2^53 from at least 7 random bytes (the caller's crypto.getRandomValues). */
export function snapshotIdFromBytes(bytes: Uint8Array): number {
  if (bytes.length < 7) throw new RangeError("a snapshot id needs 7 random bytes");
  // 53 bits: the low 5 bits of the first byte, then six whole bytes.
  let id = (bytes[0] as number) & 0x1f;
  for (let i = 1; i < 7; i++) id = id * 256 + (bytes[i] as number);
  return id === 0 ? 1 : id;
}

/** Metadata of a table with `schema` and no snapshot yet (no `current-snapshot-id`, no refs). */
export function newTableMetadata(options: {
  location: string;
  tableUuid: string;
  schema: IcebergSchema;
  lastColumnId: number;
  properties: Record<string, string>;
  nowMs: number;
}): TableMetadata {
  return {
    "format-version": 2,
    "table-uuid": options.tableUuid,
    location: options.location,
    "last-sequence-number": 0,
    "last-updated-ms": options.nowMs,
    "last-column-id": options.lastColumnId,
    schemas: [options.schema],
    "current-schema-id": options.schema["schema-id"],
    "partition-specs": [{ "spec-id": 0, fields: [] }],
    "default-spec-id": 0,
    // The spec's convention for a table without partition fields: ids start at 1000.
    "last-partition-id": 999,
    properties: { ...options.properties },
    snapshots: [],
    "snapshot-log": [],
    "metadata-log": [],
    "sort-orders": [{ "order-id": 0, fields: [] }],
    "default-sort-order-id": 0,
    refs: {},
  };
}

/** The snapshot the main branch points to, or null for a table without one. */
export function currentSnapshot(metadata: TableMetadata): Snapshot | null {
  const id = metadata["current-snapshot-id"];
  if (id === undefined) return null;
  return metadata.snapshots.find((s) => s["snapshot-id"] === id) ?? null;
}

/**
 * The next snapshot of `parent`'s main branch: sequence number last-sequence-number + 1, the
 * current schema, and the main branch's snapshot as parent.
 */
export function newSnapshot(options: {
  snapshotId: number;
  parent: TableMetadata;
  manifestListPath: string;
  operation: SnapshotOperation;
  summary: Record<string, string>;
  nowMs: number;
}): Snapshot {
  const { parent, snapshotId } = options;
  if (!Number.isSafeInteger(snapshotId) || snapshotId <= 0) {
    throw new InvalidUpdateError(`snapshot id ${snapshotId} is not a positive integer below 2^53`);
  }
  if (parent.snapshots.some((s) => s["snapshot-id"] === snapshotId)) {
    throw new InvalidUpdateError(`snapshot id ${snapshotId} is already in the table`);
  }
  const parentId = parent["current-snapshot-id"];
  return {
    "snapshot-id": snapshotId,
    ...(parentId === undefined ? {} : { "parent-snapshot-id": parentId }),
    "sequence-number": parent["last-sequence-number"] + 1,
    "timestamp-ms": options.nowMs,
    "manifest-list": options.manifestListPath,
    summary: { ...options.summary, operation: options.operation },
    "schema-id": currentSchema(parent)["schema-id"],
  };
}
