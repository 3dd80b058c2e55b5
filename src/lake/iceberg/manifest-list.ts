/**
 * Manifest lists: one Avro file per snapshot naming its manifests, one `manifest_file` row each,
 * with the Avro schema and field ids of the spec's "Manifest Lists" section (v2) and the header
 * keys Java writes (`snapshot-id`, `parent-snapshot-id`, `sequence-number`, `format-version`).
 * manifestFileFor derives a row's counts from the manifest's entries, so the counts always agree
 * with the manifest. Trade-off: a manifest added by this snapshot must carry the snapshot's
 * sequence number, which is checked here, so a list rebuilt for a retried commit cannot keep a
 * stale one. Pure.
 */
import { type AvroCodecs, type AvroRecord, type AvroValue, optional, readContainer, writeContainer } from "./avro";
import { ManifestError } from "./errors";
import type { ManifestEntry, ManifestFile } from "./types";

/** `manifest_file` v2 (spec "Manifest Lists"), with `field_summary` (508) for `partitions`. */
export const MANIFEST_FILE_SCHEMA: AvroRecord = {
  type: "record",
  name: "manifest_file",
  fields: [
    { name: "manifest_path", type: "string", "field-id": 500 },
    { name: "manifest_length", type: "long", "field-id": 501 },
    { name: "partition_spec_id", type: "int", "field-id": 502 },
    { name: "content", type: "int", "field-id": 517 },
    { name: "sequence_number", type: "long", "field-id": 515 },
    { name: "min_sequence_number", type: "long", "field-id": 516 },
    { name: "added_snapshot_id", type: "long", "field-id": 503 },
    { name: "added_files_count", type: "int", "field-id": 504 },
    { name: "existing_files_count", type: "int", "field-id": 505 },
    { name: "deleted_files_count", type: "int", "field-id": 506 },
    { name: "added_rows_count", type: "long", "field-id": 512 },
    { name: "existing_rows_count", type: "long", "field-id": 513 },
    { name: "deleted_rows_count", type: "long", "field-id": 514 },
    optional(
      "partitions",
      {
        type: "array",
        "element-id": 508,
        items: {
          type: "record",
          name: "r508",
          fields: [
            { name: "contains_null", type: "boolean", "field-id": 509 },
            optional("contains_nan", "boolean", 518),
            optional("lower_bound", "bytes", 510),
            optional("upper_bound", "bytes", 511),
          ],
        },
      },
      507,
    ),
    optional("key_metadata", "bytes", 519),
  ],
};

/**
 * The manifest-list row of a manifest from its entries: file counts and row counts by status,
 * and the minimum data sequence number of its live (not deleted) entries, or `sequenceNumber`
 * when it has none.
 */
export function manifestFileFor(options: {
  path: string;
  length: number;
  content: "data" | "deletes";
  /** The sequence number of the snapshot that adds this manifest. */
  sequenceNumber: bigint;
  addedSnapshotId: bigint;
  entries: readonly ManifestEntry[];
}): ManifestFile {
  const files = [0, 0, 0];
  const rows = [0, 0, 0];
  let minSequenceNumber: bigint | null = null;
  for (const entry of options.entries) {
    files[entry.status] = (files[entry.status] as number) + 1;
    rows[entry.status] = (rows[entry.status] as number) + entry.dataFile.recordCount;
    if (entry.status !== 2 && (minSequenceNumber === null || entry.sequenceNumber < minSequenceNumber)) {
      minSequenceNumber = entry.sequenceNumber;
    }
  }
  return {
    manifestPath: options.path,
    manifestLength: options.length,
    partitionSpecId: 0,
    content: options.content === "data" ? 0 : 1,
    sequenceNumber: options.sequenceNumber,
    minSequenceNumber: minSequenceNumber ?? options.sequenceNumber,
    addedSnapshotId: options.addedSnapshotId,
    existingFilesCount: files[0] as number,
    addedFilesCount: files[1] as number,
    deletedFilesCount: files[2] as number,
    existingRowsCount: rows[0] as number,
    addedRowsCount: rows[1] as number,
    deletedRowsCount: rows[2] as number,
  };
}

function record(m: ManifestFile): AvroValue {
  return {
    manifest_path: m.manifestPath,
    manifest_length: BigInt(m.manifestLength),
    partition_spec_id: m.partitionSpecId,
    content: m.content,
    sequence_number: m.sequenceNumber,
    min_sequence_number: m.minSequenceNumber,
    added_snapshot_id: m.addedSnapshotId,
    added_files_count: m.addedFilesCount,
    existing_files_count: m.existingFilesCount,
    deleted_files_count: m.deletedFilesCount,
    added_rows_count: BigInt(m.addedRowsCount),
    existing_rows_count: BigInt(m.existingRowsCount),
    deleted_rows_count: BigInt(m.deletedRowsCount),
    // An unpartitioned spec has no partition fields to summarize.
    partitions: [],
    key_metadata: null,
  };
}

/** The manifest list of snapshot `snapshotId`, whose sequence number is `sequenceNumber`. */
export function encodeManifestList(options: {
  snapshotId: bigint;
  parentSnapshotId: bigint | null;
  sequenceNumber: bigint;
  manifests: readonly ManifestFile[];
}): Uint8Array {
  for (const m of options.manifests) {
    if (m.addedSnapshotId === options.snapshotId && m.sequenceNumber !== options.sequenceNumber) {
      throw new ManifestError(
        `manifest ${m.manifestPath} is added by snapshot ${options.snapshotId} but carries sequence number ${m.sequenceNumber}, not ${options.sequenceNumber}`,
      );
    }
    if (m.minSequenceNumber > m.sequenceNumber) {
      throw new ManifestError(`manifest ${m.manifestPath}: min sequence number is above its sequence number`);
    }
  }
  return writeContainer({
    schema: MANIFEST_FILE_SCHEMA,
    records: options.manifests.map(record),
    metadata: {
      "snapshot-id": String(options.snapshotId),
      "parent-snapshot-id": options.parentSnapshotId === null ? "null" : String(options.parentSnapshotId),
      "sequence-number": String(options.sequenceNumber),
      "format-version": "2",
    },
  });
}

function field(row: { [f: string]: AvroValue }, name: string, i: number): AvroValue {
  const value = row[name];
  if (value === undefined || value === null) throw new ManifestError(`manifest list row ${i}: ${name} is missing`);
  return value;
}

function num(value: AvroValue, what: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n) return Number(value);
  throw new ManifestError(`${what} is not a count`);
}

function big(value: AvroValue, what: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return BigInt(value);
  throw new ManifestError(`${what} is not a long`);
}

/** The rows of a manifest list. */
export function decodeManifestList(bytes: Uint8Array, options: { codecs?: AvroCodecs } = {}): ManifestFile[] {
  const { records } = readContainer(bytes, options.codecs);
  return records.map((value, i) => {
    if (
      typeof value !== "object" ||
      value === null ||
      Array.isArray(value) ||
      value instanceof Uint8Array ||
      value instanceof Map
    ) {
      throw new ManifestError(`manifest list row ${i} is not a record`);
    }
    const get = (name: string) => field(value, name, i);
    const what = (name: string) => `manifest list row ${i} ${name}`;
    const specId = num(get("partition_spec_id"), what("partition_spec_id"));
    if (specId !== 0)
      throw new ManifestError(`manifest list row ${i}: partition spec ${specId} is not the lake's spec 0`);
    const content = num(value.content ?? 0, what("content"));
    if (content !== 0 && content !== 1)
      throw new ManifestError(`manifest list row ${i}: content ${content} is unknown`);
    return {
      manifestPath: String(get("manifest_path")),
      manifestLength: num(get("manifest_length"), what("manifest_length")),
      partitionSpecId: 0,
      content,
      sequenceNumber: big(get("sequence_number"), what("sequence_number")),
      minSequenceNumber: big(get("min_sequence_number"), what("min_sequence_number")),
      addedSnapshotId: big(get("added_snapshot_id"), what("added_snapshot_id")),
      addedFilesCount: num(get("added_files_count"), what("added_files_count")),
      existingFilesCount: num(get("existing_files_count"), what("existing_files_count")),
      deletedFilesCount: num(get("deleted_files_count"), what("deleted_files_count")),
      addedRowsCount: num(get("added_rows_count"), what("added_rows_count")),
      existingRowsCount: num(get("existing_rows_count"), what("existing_rows_count")),
      deletedRowsCount: num(get("deleted_rows_count"), what("deleted_rows_count")),
    };
  });
}
