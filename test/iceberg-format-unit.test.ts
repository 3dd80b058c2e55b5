import { parquetWriteBuffer } from "hyparquet-writer";
import { icebergRead } from "icebird";
import { avroMetadata } from "icebird/src/avro/avro.metadata.js";
import { avroRead } from "icebird/src/avro/avro.read.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type AvroRecord,
  applyUpdates,
  boundBytes,
  CommitConflictError,
  checkRequirements,
  compareStrings,
  type DataFile,
  decodeManifest,
  decodeManifestList,
  encodeManifest,
  encodeManifestList,
  expireSnapshots,
  type IcebergSchema,
  InvalidUpdateError,
  MANIFEST_ENTRY_SCHEMA,
  type ManifestEntry,
  ManifestError,
  manifestFileFor,
  newSnapshot,
  newTableMetadata,
  parseTableMetadata,
  readContainer,
  type SchemaColumn,
  SchemaEvolutionError,
  type Snapshot,
  schemaFor,
  snapshotIdFromBytes,
  snapshotSummary,
  type TableMetadata,
  TableMetadataError,
  type TableRequirement,
  type TableUpdate,
  truncateLower,
  truncateUpper,
  unreferencedFiles,
  writeContainer,
} from "../src/lake/iceberg";
import { validateSchema } from "./helpers/iceberg-openapi";

// icebird imports hyparquet-compressors, whose Snappy compiles WebAssembly when loaded, which workerd
// forbids. hyparquet decodes Snappy itself, and these tables hold nothing else compressed.
vi.mock("hyparquet-compressors", () => ({
  compressors: {},
  gunzip: () => {
    throw new Error("no deflate in this test");
  },
}));

// ---- The spec's field ids, transcribed ----------------------------------------------------------
// apache/iceberg format/spec.md, section "Manifests" › "Entries in Manifests", the v2 tables of
// `manifest_entry` and `data_file` (name: [id, required]); map key/value and list element ids from
// the same table's types (`map<117: int, 118: long>`, `list<133: long>`).
const MANIFEST_ENTRY_IDS: Record<string, [number, boolean]> = {
  status: [0, true],
  snapshot_id: [1, false],
  sequence_number: [3, false],
  file_sequence_number: [4, false],
  data_file: [2, true],
};
const DATA_FILE_IDS: Record<string, [number, boolean]> = {
  content: [134, true],
  file_path: [100, true],
  file_format: [101, true],
  partition: [102, true],
  record_count: [103, true],
  file_size_in_bytes: [104, true],
  column_sizes: [108, false],
  value_counts: [109, false],
  null_value_counts: [110, false],
  nan_value_counts: [137, false],
  lower_bounds: [125, false],
  upper_bounds: [128, false],
  key_metadata: [131, false],
  split_offsets: [132, false],
  equality_ids: [135, false],
  sort_order_id: [140, false],
};
const MAP_KEY_VALUE_IDS: Record<string, [number, number]> = {
  column_sizes: [117, 118],
  value_counts: [119, 120],
  null_value_counts: [121, 122],
  nan_value_counts: [138, 139],
  lower_bounds: [126, 127],
  upper_bounds: [129, 130],
};
const LIST_ELEMENT_IDS: Record<string, number> = { split_offsets: 133, equality_ids: 136 };
// format/spec.md, section "Manifest Lists", the v2 table of `manifest_file`, and `field_summary` (v2).
const MANIFEST_FILE_IDS: Record<string, [number, boolean]> = {
  manifest_path: [500, true],
  manifest_length: [501, true],
  partition_spec_id: [502, true],
  content: [517, true],
  sequence_number: [515, true],
  min_sequence_number: [516, true],
  added_snapshot_id: [503, true],
  added_files_count: [504, true],
  existing_files_count: [505, true],
  deleted_files_count: [506, true],
  added_rows_count: [512, true],
  existing_rows_count: [513, true],
  deleted_rows_count: [514, true],
  partitions: [507, false],
  key_metadata: [519, false],
};
const PARTITIONS_ELEMENT_ID = 508;
const FIELD_SUMMARY_IDS: Record<string, [number, boolean]> = {
  contains_null: [509, true],
  contains_nan: [518, false],
  lower_bound: [510, false],
  upper_bound: [511, false],
};

// ---- Helpers -------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** The header metadata and records of an Avro file, read by icebird's reader (not ours). */
function icebirdAvro(bytes: Uint8Array): { metadata: Json; records: Json[] } {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  const { metadata, syncMarker } = avroMetadata(reader);
  return { metadata, records: avroRead({ reader, metadata, syncMarker }) };
}

/** A field of an Avro record schema, with its union unwrapped when optional. */
function avroField(record: Json, name: string): { field: Json; type: Json | string; optional: boolean } {
  const field = (record.fields as Json[]).find((f) => f.name === name);
  if (field === undefined) throw new Error(`no Avro field ${name}`);
  const t = field.type as Json | string | (Json | string)[];
  if (Array.isArray(t)) return { field, type: t[1] as Json | string, optional: t[0] === "null" };
  return { field, type: t, optional: false };
}

function expectIds(record: Json, table: Record<string, [number, boolean]>): void {
  const names = (record.fields as Json[]).map((f) => f.name);
  expect(names.sort()).toEqual(Object.keys(table).sort());
  for (const [name, [id, required]] of Object.entries(table)) {
    const { field, optional } = avroField(record, name);
    expect([name, field["field-id"], !optional]).toEqual([name, id, required]);
  }
}

const schemaV1: IcebergSchema = {
  type: "struct",
  "schema-id": 0,
  "identifier-field-ids": [1, 2],
  fields: [
    { id: 1, name: "shop", required: true, type: "string" },
    { id: 2, name: "id", required: true, type: "string" },
    { id: 3, name: "total_minor", required: false, type: "long" },
    { id: 4, name: "updated_at", required: true, type: "timestamptz" },
  ],
};

function dataFile(path: string, over: Partial<DataFile> = {}): DataFile {
  return {
    content: 0,
    filePath: path,
    recordCount: 3,
    fileSizeInBytes: 1234,
    columnSizes: new Map([[1, 40]]),
    valueCounts: new Map([
      [1, 3],
      [2, 3],
    ]),
    nullValueCounts: new Map([
      [1, 0],
      [2, 0],
    ]),
    lowerBounds: new Map([[2, boundBytes("string", "100")]]),
    upperBounds: new Map([[2, boundBytes("string", "300")]]),
    ...over,
  };
}

function entry(file: DataFile, seq: bigint, over: Partial<ManifestEntry> = {}): ManifestEntry {
  return { status: 1, snapshotId: 11n, sequenceNumber: seq, fileSequenceNumber: seq, dataFile: file, ...over };
}

const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z

function emptyTable(): TableMetadata {
  return newTableMetadata({
    location: "s3://lake/processed/shopify/orders",
    tableUuid: "7c6b3e0e-7a49-4c7f-9d6a-1f2e3d4c5b6a",
    schema: schemaV1,
    lastColumnId: 4,
    properties: { "write.format.default": "parquet" },
    nowMs: NOW,
  });
}

/** `table` with a new snapshot on main, committed as a catalog would. */
function commitSnapshot(
  table: TableMetadata,
  id: number,
  nowMs: number,
  location: string | null = null,
): TableMetadata {
  const snapshot = newSnapshot({
    snapshotId: id,
    parent: table,
    manifestListPath: `s3://lake/processed/shopify/orders/metadata/snap-${id}.avro`,
    operation: "append",
    summary: { "added-data-files": "1" },
    nowMs,
  });
  return applyUpdates(
    table,
    [
      { action: "add-snapshot", snapshot },
      { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": id },
    ],
    { nowMs, previousMetadataLocation: location },
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

// ---- Avro -----------------------------------------------------------------------------------------

describe("Avro object container files", () => {
  const schema: AvroRecord = {
    type: "record",
    name: "everything",
    fields: [
      { name: "b", type: "boolean" },
      { name: "i", type: "int" },
      { name: "l", type: "long" },
      { name: "d", type: "double" },
      { name: "s", type: "string" },
      { name: "bytes", type: "bytes" },
      { name: "maybe", type: ["null", "long"], default: null },
      { name: "list", type: { type: "array", items: "int" } },
      { name: "inner", type: { type: "record", name: "pair", fields: [{ name: "k", type: "int" }] } },
      { name: "again", type: "pair" },
    ],
  };
  // 1,200 records: two blocks of the writer's 1,000.
  const records = Array.from({ length: 1200 }, (_, n) => ({
    b: n % 2 === 0,
    i: n === 0 ? -(2 ** 31) : n === 1 ? 2 ** 31 - 1 : -n,
    l: n === 0 ? -(2n ** 63n) : n === 1 ? 2n ** 63n - 1n : n === 2 ? 9_007_199_254_740_993n : -(BigInt(n) ** 5n),
    d: n / 7,
    s: `row ${n} é 🦆`,
    bytes: new Uint8Array([n & 0xff, 0, 255]),
    maybe: n % 3 === 0 ? null : BigInt(-n),
    list: n % 5 === 0 ? [] : [n, -n],
    inner: { k: n },
    again: { k: 1 - n },
  }));

  it("reads back what it wrote, in blocks, through our decoder and through icebird's", () => {
    const bytes = writeContainer({ schema, records, metadata: { "format-version": "2" } });
    const ours = readContainer(bytes);
    expect(ours.metadata).toEqual({ "format-version": "2" });
    expect(ours.schema).toEqual(schema);
    expect(ours.records).toEqual(records);

    // icebird resolves no references to named types (so the manifests use none): give it the rest.
    const plain = { ...schema, fields: schema.fields.filter((f) => f.name !== "again") };
    const plainRecords = records.map(({ again: _, ...r }) => r);
    const theirs = icebirdAvro(writeContainer({ schema: plain, records: plainRecords }));
    expect(theirs.metadata["avro.codec"]).toBe("null");
    expect(theirs.records).toEqual(plainRecords.map((r) => ({ ...r, maybe: r.maybe ?? undefined })));
  });

  it("writes the same bytes for the same content (the sync marker is a content hash)", () => {
    const a = writeContainer({ schema, records: records.slice(0, 3) });
    const b = writeContainer({ schema, records: records.slice(0, 3) });
    const c = writeContainer({ schema, records: records.slice(1, 4) });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("refuses a value its schema does not allow, and bytes that are not a container file", () => {
    expect(() => writeContainer({ schema, records: [{ ...records[0], i: 2 ** 31 }] })).toThrow(
      /record 0\.i: expected int, got number 2147483648/,
    );
    expect(() => writeContainer({ schema, records: [{ ...records[0], l: "1" }] })).toThrow(
      /record 0\.l: expected long, got string/,
    );
    expect(() => writeContainer({ schema, records: [{ ...records[0], l: 2n ** 63n }] })).toThrow(/expected long/);
    expect(() => readContainer(new Uint8Array([1, 2, 3, 4]))).toThrow(/bad magic/);
    const bytes = writeContainer({ schema, records: records.slice(0, 2) });
    expect(() => readContainer(bytes.slice(0, bytes.length - 20))).toThrow(/truncated|sync/);
  });
});

// ---- Manifests and manifest lists -------------------------------------------------------------

describe("manifests", () => {
  const deleteFile = dataFile("s3://lake/t/data/deletes-1.parquet", {
    content: 2,
    recordCount: 1,
    equalityIds: [1, 2],
    columnSizes: undefined,
  });
  const entries: ManifestEntry[] = [
    entry(
      dataFile("s3://lake/t/data/a.parquet", {
        nanValueCounts: new Map([[5, 0]]),
        splitOffsets: [4],
        sortOrderId: 0,
      }),
      7n,
    ),
    entry(dataFile("s3://lake/t/data/b.parquet"), 3n, { status: 0, snapshotId: 9n, fileSequenceNumber: 4n }),
  ];

  it("writes the Avro schema of the spec, with its field ids", () => {
    const bytes = encodeManifest({ schema: schemaV1, content: "data", entries });
    const avro = icebirdAvro(bytes).metadata["avro.schema"] as Json;
    expectIds(avro, MANIFEST_ENTRY_IDS);
    const dataFileRecord = avroField(avro, "data_file").type as Json;
    expectIds(dataFileRecord, DATA_FILE_IDS);
    expect(avroField(dataFileRecord, "partition").type).toEqual({ type: "record", name: "r102", fields: [] });
    for (const [name, [keyId, valueId]] of Object.entries(MAP_KEY_VALUE_IDS)) {
      const map = avroField(dataFileRecord, name).type as Json;
      expect(map.logicalType).toBe("map");
      const kv = map.items as Json;
      expect([name, avroField(kv, "key").field["field-id"], avroField(kv, "value").field["field-id"]]).toEqual([
        name,
        keyId,
        valueId,
      ]);
    }
    for (const [name, elementId] of Object.entries(LIST_ELEMENT_IDS)) {
      expect((avroField(dataFileRecord, name).type as Json)["element-id"]).toBe(elementId);
    }
  });

  it("writes the header keys readers look for", () => {
    const data = icebirdAvro(encodeManifest({ schema: schemaV1, content: "data", entries })).metadata;
    expect(data.schema).toEqual(schemaV1);
    expect(data).toMatchObject({ "schema-id": "0", "partition-spec": "[]", "partition-spec-id": "0" });
    expect(data).toMatchObject({ "format-version": "2", content: "data" });
    const deletes = icebirdAvro(
      encodeManifest({ schema: schemaV1, content: "deletes", entries: [entry(deleteFile, 8n)] }),
    ).metadata;
    expect(deletes.content).toBe("deletes");
  });

  it("round-trips entries through our decoder", () => {
    const bytes = encodeManifest({ schema: schemaV1, content: "data", entries });
    expect(decodeManifest(bytes)).toEqual(entries);
    const deletes = [entry(deleteFile, 8n)];
    expect(decodeManifest(encodeManifest({ schema: schemaV1, content: "deletes", entries: deletes }))).toEqual(deletes);
  });

  it("is read by icebird's Avro reader as the spec's records", () => {
    const [a, b] = icebirdAvro(encodeManifest({ schema: schemaV1, content: "data", entries })).records;
    expect(a).toMatchObject({ status: 1, snapshot_id: 11n, sequence_number: 7n, file_sequence_number: 7n });
    expect(a?.data_file).toMatchObject({
      content: 0,
      file_path: "s3://lake/t/data/a.parquet",
      file_format: "PARQUET",
      partition: {},
      record_count: 3n,
      file_size_in_bytes: 1234n,
      column_sizes: [{ key: 1, value: 40n }],
      value_counts: [
        { key: 1, value: 3n },
        { key: 2, value: 3n },
      ],
      nan_value_counts: [{ key: 5, value: 0n }],
      split_offsets: [4n],
      sort_order_id: 0,
    });
    expect(a?.data_file).toMatchObject({
      lower_bounds: [{ key: 2, value: new TextEncoder().encode("100") }],
      upper_bounds: [{ key: 2, value: new TextEncoder().encode("300") }],
    });
    expect(b).toMatchObject({ status: 0, snapshot_id: 9n, sequence_number: 3n, file_sequence_number: 4n });
    const [d] = icebirdAvro(
      encodeManifest({ schema: schemaV1, content: "deletes", entries: [entry(deleteFile, 8n)] }),
    ).records;
    expect(d?.data_file).toMatchObject({ content: 2, equality_ids: [1, 2], column_sizes: undefined });
  });

  it("refuses equality deletes on a field readers cannot match, and files in the wrong manifest", () => {
    const onTime = entry({ ...deleteFile, equalityIds: [4] }, 8n);
    expect(() => encodeManifest({ schema: schemaV1, content: "deletes", entries: [onTime] })).toThrow(ManifestError);
    expect(() => encodeManifest({ schema: schemaV1, content: "deletes", entries: [onTime] })).toThrow(
      /updated_at is timestamptz; equality deletes match only string, long or int fields/,
    );
    const unknownField = entry({ ...deleteFile, equalityIds: [99] }, 8n);
    expect(() => encodeManifest({ schema: schemaV1, content: "deletes", entries: [unknownField] })).toThrow(/99/);
    const noIds = entry({ ...deleteFile, equalityIds: undefined }, 8n);
    expect(() => encodeManifest({ schema: schemaV1, content: "deletes", entries: [noIds] })).toThrow(
      /needs equalityIds/,
    );
    expect(() => encodeManifest({ schema: schemaV1, content: "data", entries: [entry(deleteFile, 8n)] })).toThrow(
      /only data files/,
    );
    expect(() => encodeManifest({ schema: schemaV1, content: "deletes", entries })).toThrow(/only equality delete/);
  });

  it("inherits null sequence numbers of added entries from the manifest list, and refuses them otherwise", () => {
    const file = decodeManifest(encodeManifest({ schema: schemaV1, content: "data", entries }))[0]?.dataFile;
    const raw = readContainer(encodeManifest({ schema: schemaV1, content: "data", entries }));
    const nulled = raw.records.map((r) => ({ ...(r as Json), snapshot_id: null, sequence_number: null }));
    const bytes = writeContainer({
      schema: MANIFEST_ENTRY_SCHEMA,
      records: nulled as never,
      metadata: raw.metadata,
    });
    expect(() => decodeManifest(bytes)).toThrow(/nothing to inherit/);
    // The existing entry (status 0) must carry its own numbers even with something to inherit.
    expect(() => decodeManifest(bytes, { inherit: { snapshotId: 5n, sequenceNumber: 6n } })).toThrow(
      /manifest entry 1: null/,
    );
    const added = writeContainer({ schema: MANIFEST_ENTRY_SCHEMA, records: nulled.slice(0, 1) as never });
    expect(decodeManifest(added, { inherit: { snapshotId: 5n, sequenceNumber: 6n } })).toEqual([
      { status: 1, snapshotId: 5n, sequenceNumber: 6n, fileSequenceNumber: 7n, dataFile: file },
    ]);
  });
});

describe("manifest lists", () => {
  const dataEntries = [
    entry(dataFile("s3://lake/t/data/a.parquet", { recordCount: 10 }), 2n),
    entry(dataFile("s3://lake/t/data/b.parquet", { recordCount: 4 }), 1n, { status: 0 }),
    entry(dataFile("s3://lake/t/data/c.parquet", { recordCount: 5 }), 1n, { status: 2 }),
  ];
  const data = manifestFileFor({
    path: "s3://lake/t/metadata/m-2.avro",
    length: 4321,
    content: "data",
    sequenceNumber: 2n,
    addedSnapshotId: 22n,
    entries: dataEntries,
  });
  const older = manifestFileFor({
    path: "s3://lake/t/metadata/m-1.avro",
    length: 999,
    content: "deletes",
    sequenceNumber: 1n,
    addedSnapshotId: 11n,
    entries: [],
  });

  it("counts a manifest's entries by status, and its minimum live sequence number", () => {
    expect(data).toEqual({
      manifestPath: "s3://lake/t/metadata/m-2.avro",
      manifestLength: 4321,
      partitionSpecId: 0,
      content: 0,
      sequenceNumber: 2n,
      minSequenceNumber: 1n,
      addedSnapshotId: 22n,
      addedFilesCount: 1,
      existingFilesCount: 1,
      deletedFilesCount: 1,
      addedRowsCount: 10,
      existingRowsCount: 4,
      deletedRowsCount: 5,
    });
    expect(older.minSequenceNumber).toBe(1n);
  });

  it("writes the spec's field ids, and round-trips through our decoder and icebird's", () => {
    const bytes = encodeManifestList({
      snapshotId: 22n,
      parentSnapshotId: 11n,
      sequenceNumber: 2n,
      manifests: [data, older],
    });
    const { metadata, records } = icebirdAvro(bytes);
    const avro = metadata["avro.schema"] as Json;
    expectIds(avro, MANIFEST_FILE_IDS);
    const partitions = avroField(avro, "partitions").type as Json;
    expect(partitions["element-id"]).toBe(PARTITIONS_ELEMENT_ID);
    expectIds(partitions.items as Json, FIELD_SUMMARY_IDS);
    expect(metadata).toMatchObject({
      "snapshot-id": "22",
      "parent-snapshot-id": "11",
      "sequence-number": "2",
      "format-version": "2",
    });

    expect(decodeManifestList(bytes)).toEqual([data, older]);
    expect(records[0]).toMatchObject({
      manifest_path: "s3://lake/t/metadata/m-2.avro",
      manifest_length: 4321n,
      partition_spec_id: 0,
      content: 0,
      sequence_number: 2n,
      min_sequence_number: 1n,
      added_snapshot_id: 22n,
      added_files_count: 1,
      existing_files_count: 1,
      deleted_files_count: 1,
      added_rows_count: 10n,
      existing_rows_count: 4n,
      deleted_rows_count: 5n,
      partitions: [],
    });
    expect(records[1]).toMatchObject({ content: 1, sequence_number: 1n, added_snapshot_id: 11n });
    const first = encodeManifestList({
      snapshotId: 11n,
      parentSnapshotId: null,
      sequenceNumber: 1n,
      manifests: [older],
    });
    expect(icebirdAvro(first).metadata["parent-snapshot-id"]).toBe("null");
  });

  it("refuses a manifest the snapshot adds with another sequence number (a list left from a lost commit)", () => {
    expect(() =>
      encodeManifestList({ snapshotId: 22n, parentSnapshotId: 11n, sequenceNumber: 3n, manifests: [data] }),
    ).toThrow(/carries sequence number 2, not 3/);
  });
});

// ---- Bounds ---------------------------------------------------------------------------------------

describe("bounds", () => {
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

  it("serializes single values as the spec's Appendix D says", () => {
    const long = boundBytes("long", "9007199254740993");
    expect(long.length).toBe(8);
    expect(view(long).getBigInt64(0, true)).toBe(9_007_199_254_740_993n);
    expect(view(boundBytes("long", -2n)).getBigInt64(0, true)).toBe(-2n);
    // Milliseconds in, microseconds stored.
    const ts = boundBytes("timestamptz", 1_767_225_600_123n);
    expect(view(ts).getBigInt64(0, true)).toBe(1_767_225_600_123_000n);
    expect(view(boundBytes("timestamptz", 5)).getBigInt64(0, true)).toBe(5000n);
    expect([...boundBytes("string", "é🦆")]).toEqual([...new TextEncoder().encode("é🦆")]);
    expect([...boundBytes("boolean", true)]).toEqual([1]);
    expect([...boundBytes("boolean", false)]).toEqual([0]);
    expect(view(boundBytes("double", -0.5)).getFloat64(0, true)).toBe(-0.5);
    expect(boundBytes("double", 1).length).toBe(8);
    expect(view(boundBytes("int", -7)).getInt32(0, true)).toBe(-7);
    expect(boundBytes("date", 20_454).length).toBe(4);
  });

  it("refuses values that are not of the type", () => {
    expect(() => boundBytes("double", Number.NaN)).toThrow(/NaN/);
    expect(() => boundBytes("long", 1.5)).toThrow(TypeError);
    expect(() => boundBytes("long", 2n ** 63n)).toThrow(RangeError);
    expect(() => boundBytes("int", 2 ** 31)).toThrow(RangeError);
    expect(() => boundBytes("string", 5)).toThrow(TypeError);
    expect(() => boundBytes("boolean", 1)).toThrow(TypeError);
  });

  it("truncates string bounds so they still bound the values", () => {
    const value = "abcdefghijklmnopqrstuvwxyz";
    expect(truncateLower(value, 4)).toBe("abcd");
    expect(truncateUpper(value, 4)).toBe("abce");
    expect(truncateUpper("abc", 4)).toBe("abc");
    expect(truncateUpper("ab\u{10FFFF}\u{10FFFF}z", 4)).toBe("ac");
    expect(truncateUpper("a\u{D7FF}bc", 2)).toBe("a\u{E000}");
    expect(truncateUpper("\u{10FFFF}\u{10FFFF}x", 2)).toBeNull();
    // Iceberg orders strings by UTF-8 bytes: a character above U+FFFF sorts after U+FFFD.
    expect(compareStrings("\u{1F986}", "\u{FFFD}")).toBeGreaterThan(0);
    expect("\u{1F986}" < "\u{FFFD}").toBe(true);
    expect(compareStrings("ab", "abc")).toBeLessThan(0);
    expect(compareStrings("abc", "abc")).toBe(0);
  });
});

// ---- Schemas --------------------------------------------------------------------------------------

describe("schemaFor", () => {
  const columns: SchemaColumn[] = [
    { name: "shop", kind: "string", nullable: false },
    { name: "id", kind: "string", nullable: false },
    { name: "total_minor", kind: "int64", nullable: true },
    { name: "updated_at", kind: "timestamp", nullable: false },
  ];

  it("maps the kinds, numbers fields from 1 and names the key as identifier fields", () => {
    const all: SchemaColumn[] = [
      ...columns,
      { name: "tags", kind: "json", nullable: true },
      { name: "test", kind: "boolean", nullable: true },
      { name: "rate", kind: "float64", nullable: true },
    ];
    const { schema, lastColumnId, changed } = schemaFor(all, ["shop", "id"]);
    expect(changed).toBe(true);
    expect(lastColumnId).toBe(7);
    expect(schema).toEqual({
      type: "struct",
      "schema-id": 0,
      "identifier-field-ids": [1, 2],
      fields: [
        ...schemaV1.fields,
        { id: 5, name: "tags", required: false, type: "string" },
        { id: 6, name: "test", required: false, type: "boolean" },
        { id: 7, name: "rate", required: false, type: "double" },
      ],
    });
    expect(validateSchema("Schema", schema)).toEqual([]);
    expect(schemaFor(all, ["shop", "total_minor"]).schema["identifier-field-ids"]).toBeUndefined();
  });

  it("keeps ids by name, adds new columns as optional, drops removed ones, and says when nothing changed", () => {
    const table = emptyTable();
    expect(schemaFor(columns, ["shop", "id"], table)).toEqual({ schema: schemaV1, lastColumnId: 4, changed: false });

    const evolved = schemaFor(
      [
        { name: "channel", kind: "string", nullable: false },
        columns[1] as SchemaColumn,
        columns[0] as SchemaColumn,
        columns[3] as SchemaColumn,
      ],
      ["shop", "id"],
      table,
    );
    expect(evolved.changed).toBe(true);
    expect(evolved.lastColumnId).toBe(5);
    expect(evolved.schema).toEqual({
      type: "struct",
      "schema-id": 1,
      "identifier-field-ids": [1, 2],
      fields: [
        { id: 5, name: "channel", required: false, type: "string" },
        { id: 2, name: "id", required: true, type: "string" },
        { id: 1, name: "shop", required: true, type: "string" },
        { id: 4, name: "updated_at", required: true, type: "timestamptz" },
      ],
    });

    // total_minor (id 3) was dropped: re-added later it is a new field.
    const next = applyUpdates(
      table,
      [
        { action: "add-schema", schema: evolved.schema, "last-column-id": evolved.lastColumnId },
        { action: "set-current-schema", "schema-id": -1 },
      ],
      { nowMs: NOW, previousMetadataLocation: null },
    );
    const readded = schemaFor(columns, ["shop", "id"], next);
    expect(readded.schema.fields.find((f) => f.name === "total_minor")?.id).toBe(6);
    expect(readded.schema["schema-id"]).toBe(2);
  });

  it("never makes an optional field required again, and refuses a type change", () => {
    const table = emptyTable();
    const loosened = schemaFor(
      columns.map((c) => (c.name === "updated_at" ? { ...c, nullable: true } : c)),
      ["shop", "id"],
      table,
    );
    expect(loosened.schema.fields[3]).toEqual({ id: 4, name: "updated_at", required: false, type: "timestamptz" });
    const afterLoosen = applyUpdates(
      table,
      [
        { action: "add-schema", schema: loosened.schema },
        { action: "set-current-schema", "schema-id": -1 },
      ],
      { nowMs: NOW, previousMetadataLocation: null },
    );
    expect(schemaFor(columns, ["shop", "id"], afterLoosen).schema.fields[3]?.required).toBe(false);

    const retyped = columns.map((c) => (c.name === "total_minor" ? { ...c, kind: "string" as const } : c));
    expect(() => schemaFor(retyped, ["shop", "id"], table)).toThrow(SchemaEvolutionError);
    expect(() => schemaFor(retyped, ["shop", "id"], table)).toThrow(/total_minor changed from long to string/);
    expect(() => schemaFor(columns, ["nope"])).toThrow(/key column nope/);
  });
});

// ---- Table metadata, updates, requirements -------------------------------------------------------

describe("table metadata", () => {
  it("starts a table without a snapshot, as the REST OpenAPI document's TableMetadata", () => {
    const table = emptyTable();
    expect(table["current-snapshot-id"]).toBeUndefined();
    expect(table).toMatchObject({
      "format-version": 2,
      "last-sequence-number": 0,
      "partition-specs": [{ "spec-id": 0, fields: [] }],
      "default-spec-id": 0,
      "last-partition-id": 999,
      "sort-orders": [{ "order-id": 0, fields: [] }],
      "default-sort-order-id": 0,
      refs: {},
    });
    expect(validateSchema("TableMetadata", table)).toEqual([]);
    expect(parseTableMetadata(JSON.parse(JSON.stringify(table)))).toEqual(table);
  });

  it("numbers snapshots by the table's sequence and records them in the logs", () => {
    const v1 = commitSnapshot(emptyTable(), 101, NOW + 10);
    const v2 = commitSnapshot(v1, 202, NOW + 20, "s3://lake/processed/shopify/orders/metadata/v1.metadata.json");
    expect(v2.snapshots.map((s) => [s["snapshot-id"], s["sequence-number"], s["parent-snapshot-id"]])).toEqual([
      [101, 1, undefined],
      [202, 2, 101],
    ]);
    expect(v2.snapshots[1]).toMatchObject({
      "schema-id": 0,
      summary: { operation: "append", "added-data-files": "1" },
    });
    expect(v2["current-snapshot-id"]).toBe(202);
    expect(v2.refs).toEqual({ main: { "snapshot-id": 202, type: "branch" } });
    expect(v2["last-sequence-number"]).toBe(2);
    expect(v2["last-updated-ms"]).toBe(NOW + 20);
    expect(v2["snapshot-log"]).toEqual([
      { "snapshot-id": 101, "timestamp-ms": NOW + 10 },
      { "snapshot-id": 202, "timestamp-ms": NOW + 20 },
    ]);
    expect(v2["metadata-log"]).toEqual([
      { "metadata-file": "s3://lake/processed/shopify/orders/metadata/v1.metadata.json", "timestamp-ms": NOW + 10 },
    ]);
    expect(validateSchema("TableMetadata", v2)).toEqual([]);
    expect(parseTableMetadata(JSON.parse(JSON.stringify(v2)))).toEqual(v2);
  });

  it("draws snapshot ids below 2^53 and refuses one the table has", () => {
    expect(snapshotIdFromBytes(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(
      Number.MAX_SAFE_INTEGER,
    );
    expect(snapshotIdFromBytes(new Uint8Array(7))).toBe(1);
    expect(snapshotIdFromBytes(new Uint8Array([0, 0, 0, 0, 0, 1, 0]))).toBe(256);
    const v1 = commitSnapshot(emptyTable(), 101, NOW);
    expect(() =>
      newSnapshot({ snapshotId: 101, parent: v1, manifestListPath: "x", operation: "append", summary: {}, nowMs: NOW }),
    ).toThrow(InvalidUpdateError);
  });

  it("summarizes a snapshot's files as Appendix F's metrics", () => {
    const first = snapshotSummary({
      previous: null,
      added: [dataFile("a", { recordCount: 10, fileSizeInBytes: 100 })],
      removed: [],
    });
    expect(first).toEqual({
      "added-data-files": "1",
      "added-records": "10",
      "added-files-size": "100",
      "changed-partition-count": "1",
      "total-data-files": "1",
      "total-delete-files": "0",
      "total-records": "10",
      "total-files-size": "100",
      "total-equality-deletes": "0",
      "total-position-deletes": "0",
    });
    const parent = { summary: { operation: "append", ...first } } as Snapshot;
    const second = snapshotSummary({
      previous: parent,
      added: [dataFile("d", { content: 2, recordCount: 2, fileSizeInBytes: 20, equalityIds: [1] })],
      removed: [dataFile("a", { recordCount: 10, fileSizeInBytes: 100 })],
    });
    expect(second).toMatchObject({
      "added-delete-files": "1",
      "added-equality-delete-files": "1",
      "added-equality-deletes": "2",
      "deleted-data-files": "1",
      "deleted-records": "10",
      "removed-files-size": "100",
      "total-data-files": "0",
      "total-delete-files": "1",
      "total-records": "0",
      "total-files-size": "20",
      "total-equality-deletes": "2",
    });
    expect(
      snapshotSummary({ previous: { summary: { operation: "append" } } as Snapshot, added: [], removed: [] }),
    ).toEqual({
      "changed-partition-count": "0",
    });
  });

  it("parses metadata other writers spell differently, and refuses a bad document naming the field", () => {
    const table = commitSnapshot(emptyTable(), 101, NOW);
    const json = JSON.parse(JSON.stringify(table)) as Json;
    const { refs: _refs, ...noRefs } = json;
    expect(parseTableMetadata({ ...noRefs, statistics: [] })).toEqual({ ...table, statistics: [] });
    const empty = JSON.parse(JSON.stringify(emptyTable())) as Json;
    expect(parseTableMetadata({ ...empty, "current-snapshot-id": -1 })["current-snapshot-id"]).toBeUndefined();
    expect(parseTableMetadata({ ...empty, "current-snapshot-id": null })).toEqual(emptyTable());

    const bad = (doc: unknown) => {
      try {
        parseTableMetadata(doc);
      } catch (e) {
        expect(e).toBeInstanceOf(TableMetadataError);
        return (e as TableMetadataError).issues;
      }
      throw new Error("parsed a bad document");
    };
    expect(bad({ ...json, "format-version": 1 })).toEqual([
      "format-version: must be 2: this lake reads and writes Iceberg v2 tables",
    ]);
    const snapshots = json.snapshots as Json[];
    expect(bad({ ...json, snapshots: [{ ...snapshots[0], "snapshot-id": 2 ** 60 }] })[0]).toMatch(
      /^snapshots\.0\.snapshot-id: must be a positive integer below 2\^53/,
    );
    const schemas = json.schemas as Json[];
    const fields = (schemas[0] as { fields: Json[] }).fields;
    expect(bad({ ...json, schemas: [{ ...schemas[0], fields: [{ ...fields[0], type: "uuid" }] }] })).toEqual([
      'schemas.0.fields.0.type: type "uuid" is not one of boolean, int, long, double, string, timestamptz, date',
    ]);
    expect(bad({ ...json, "current-schema-id": 5 })).toEqual(["current-schema-id: schema 5 is not in schemas"]);
    expect(bad({ ...json, "current-snapshot-id": 7 })).toContain("current-snapshot-id: snapshot 7 is not in snapshots");
    expect(bad({ ...json, "last-sequence-number": 0 })).toEqual([
      "snapshots.0.sequence-number: above last-sequence-number 0",
    ]);
    expect(bad({ ...json, location: undefined })[0]).toMatch(/^location: /);
    expect(bad("{}")[0]).toMatch(/^\(document\): /);
  });
});

describe("applyUpdates", () => {
  const base = () => commitSnapshot(emptyTable(), 101, NOW);
  const at = { nowMs: NOW + 50, previousMetadataLocation: "s3://lake/t/metadata/v1.metadata.json" };
  const schemaV2: IcebergSchema = {
    ...schemaV1,
    "schema-id": 1,
    fields: [...schemaV1.fields, { id: 5, name: "channel", required: false, type: "string" }],
  };

  it("speaks the REST OpenAPI document's TableUpdate and TableRequirement", () => {
    const snapshot = newSnapshot({
      snapshotId: 202,
      parent: base(),
      manifestListPath: "s3://lake/t/metadata/snap-202.avro",
      operation: "overwrite",
      summary: {},
      nowMs: NOW,
    });
    const updates: TableUpdate[] = [
      { action: "assign-uuid", uuid: base()["table-uuid"] },
      { action: "upgrade-format-version", "format-version": 2 },
      { action: "add-schema", schema: schemaV2, "last-column-id": 5 },
      { action: "set-current-schema", "schema-id": -1 },
      { action: "add-spec", spec: { fields: [] } },
      { action: "set-default-spec", "spec-id": -1 },
      { action: "add-sort-order", "sort-order": { "order-id": 0, fields: [] } },
      { action: "set-default-sort-order", "sort-order-id": -1 },
      { action: "add-snapshot", snapshot },
      { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": 202 },
      { action: "remove-snapshot-ref", "ref-name": "audit" },
      { action: "remove-snapshots", "snapshot-ids": [101] },
      { action: "set-properties", updates: { "commit.retry.num-retries": "4" } },
      { action: "remove-properties", removals: ["write.format.default"] },
      { action: "set-location", location: "s3://lake/t" },
    ];
    const requirements: TableRequirement[] = [
      { type: "assert-create" },
      { type: "assert-table-uuid", uuid: base()["table-uuid"] },
      { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null },
      { type: "assert-last-assigned-field-id", "last-assigned-field-id": 4 },
      { type: "assert-current-schema-id", "current-schema-id": 0 },
      { type: "assert-last-assigned-partition-id", "last-assigned-partition-id": 999 },
      { type: "assert-default-spec-id", "default-spec-id": 0 },
      { type: "assert-default-sort-order-id", "default-sort-order-id": 0 },
    ];
    expect(validateSchema("CommitTableRequest", { requirements, updates })).toEqual([]);

    const next = applyUpdates(base(), updates, at);
    expect(next).toMatchObject({
      "current-schema-id": 1,
      "last-column-id": 5,
      "default-spec-id": 0,
      "default-sort-order-id": 0,
      "current-snapshot-id": 202,
      "last-sequence-number": 2,
      properties: { "commit.retry.num-retries": "4" },
      location: "s3://lake/t",
    });
    expect(next.schemas.map((s) => s["schema-id"])).toEqual([0, 1]);
    expect(next["partition-specs"]).toHaveLength(1);
    expect(next["sort-orders"]).toHaveLength(1);
    expect(next.snapshots.map((s) => s["snapshot-id"])).toEqual([202]);
    expect(next["snapshot-log"]).toEqual([{ "snapshot-id": 202, "timestamp-ms": NOW }]);
    expect(validateSchema("TableMetadata", next)).toEqual([]);
    expect(parseTableMetadata(JSON.parse(JSON.stringify(next)))).toEqual(next);
  });

  it("reuses an equal schema, adds a sorted order and a tag, and leaves its input alone", () => {
    const before = base();
    const copy = structuredClone(before);
    const next = applyUpdates(
      before,
      [
        { action: "add-schema", schema: { ...schemaV1, "schema-id": 9 } },
        { action: "set-current-schema", "schema-id": -1 },
        {
          action: "add-sort-order",
          "sort-order": {
            "order-id": 0,
            fields: [{ "source-id": 4, transform: "identity", direction: "asc", "null-order": "nulls-last" }],
          },
        },
        { action: "set-default-sort-order", "sort-order-id": -1 },
        { action: "set-snapshot-ref", "ref-name": "audit", type: "tag", "snapshot-id": 101 },
      ],
      at,
    );
    expect(before).toEqual(copy);
    expect(next.schemas).toHaveLength(1);
    expect(next["current-schema-id"]).toBe(0);
    expect(next["default-sort-order-id"]).toBe(1);
    expect(next.refs.audit).toEqual({ "snapshot-id": 101, type: "tag" });
    expect(next["snapshot-log"]).toEqual(before["snapshot-log"]);
    expect(applyUpdates(before, [], at)).toBe(before);
  });

  it("refuses a snapshot prepared against older metadata as a conflict", () => {
    const table = base();
    const stale = newSnapshot({
      snapshotId: 303,
      parent: emptyTable(),
      manifestListPath: "s3://lake/t/metadata/snap-303.avro",
      operation: "append",
      summary: {},
      nowMs: NOW,
    });
    const run = () => applyUpdates(table, [{ action: "add-snapshot", snapshot: stale }], at);
    expect(run).toThrow(CommitConflictError);
    expect(run).toThrow(/sequence number 1, the table's next is 2/);
    const again = table.snapshots[0] as Snapshot;
    expect(() =>
      applyUpdates(table, [{ action: "add-snapshot", snapshot: { ...again, "sequence-number": 2 } }], at),
    ).toThrow(/snapshot 101 is already in the table/);
  });

  it("refuses updates the table cannot take", () => {
    const table = base();
    const refuse = (u: TableUpdate, message: RegExp) => {
      expect(() => applyUpdates(table, [u], at)).toThrow(InvalidUpdateError);
      expect(() => applyUpdates(table, [u], at)).toThrow(message);
    };
    refuse({ action: "set-current-schema", "schema-id": 7 }, /no schema 7/);
    refuse({ action: "set-current-schema", "schema-id": -1 }, /nothing was added/);
    refuse({ action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": 5 }, /no snapshot 5/);
    refuse(
      { action: "set-snapshot-ref", "ref-name": "main", type: "tag", "snapshot-id": 101 },
      /main must be a branch/,
    );
    refuse({ action: "remove-snapshots", "snapshot-ids": [101] }, /is the current snapshot/);
    refuse({ action: "assign-uuid", uuid: "00000000-0000-4000-8000-000000000000" }, /cannot change/);
    refuse({ action: "upgrade-format-version", "format-version": 3 }, /only format version 2/);
    refuse({ action: "add-schema", schema: schemaV2, "last-column-id": 3 }, /below the table's 4/);
  });

  it("keeps the metadata log to write.metadata.previous-versions-max", () => {
    let table = applyUpdates(
      base(),
      [{ action: "set-properties", updates: { "write.metadata.previous-versions-max": "2" } }],
      at,
    );
    for (let v = 2; v <= 5; v++) {
      table = applyUpdates(table, [{ action: "set-properties", updates: { v: String(v) } }], {
        nowMs: NOW + v,
        previousMetadataLocation: `v${v}.metadata.json`,
      });
    }
    expect(table["metadata-log"].map((e) => e["metadata-file"])).toEqual(["v4.metadata.json", "v5.metadata.json"]);
  });
});

describe("checkRequirements", () => {
  const table = commitSnapshot(emptyTable(), 101, NOW);

  it("passes a commit based on the table as it is", () => {
    expect(() =>
      checkRequirements(table, [
        { type: "assert-table-uuid", uuid: table["table-uuid"] },
        { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 101 },
        { type: "assert-ref-snapshot-id", ref: "audit", "snapshot-id": null },
        { type: "assert-last-assigned-field-id", "last-assigned-field-id": 4 },
        { type: "assert-current-schema-id", "current-schema-id": 0 },
        { type: "assert-last-assigned-partition-id", "last-assigned-partition-id": 999 },
        { type: "assert-default-spec-id", "default-spec-id": 0 },
        { type: "assert-default-sort-order-id", "default-sort-order-id": 0 },
      ]),
    ).not.toThrow();
    expect(() => checkRequirements(null, [{ type: "assert-create" }])).not.toThrow();
  });

  it("names the requirement a moved table fails", () => {
    const failed = (metadata: TableMetadata | null, r: TableRequirement) => {
      try {
        checkRequirements(metadata, [r]);
      } catch (e) {
        expect(e).toBeInstanceOf(CommitConflictError);
        return [(e as CommitConflictError).failed, (e as Error).message];
      }
      return null;
    };
    expect(failed(table, { type: "assert-create" })).toEqual([
      "assert-create",
      'requirement assert-create failed: expected "no table", the table has "an existing table"',
    ]);
    expect(failed(null, { type: "assert-table-uuid", uuid: "x" })?.[1]).toMatch(/the table does not exist/);
    expect(failed(table, { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": 100 })).toEqual([
      "assert-ref-snapshot-id",
      "requirement assert-ref-snapshot-id failed: expected 100, the table has 101",
    ]);
    expect(failed(table, { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": null })?.[0]).toBe(
      "assert-ref-snapshot-id",
    );
    expect(failed(table, { type: "assert-table-uuid", uuid: "other" })?.[0]).toBe("assert-table-uuid");
    expect(failed(table, { type: "assert-last-assigned-field-id", "last-assigned-field-id": 3 })?.[0]).toBe(
      "assert-last-assigned-field-id",
    );
    expect(failed(table, { type: "assert-current-schema-id", "current-schema-id": 1 })?.[0]).toBe(
      "assert-current-schema-id",
    );
    expect(failed(table, { type: "assert-last-assigned-partition-id", "last-assigned-partition-id": 1000 })?.[0]).toBe(
      "assert-last-assigned-partition-id",
    );
    expect(failed(table, { type: "assert-default-spec-id", "default-spec-id": 1 })?.[0]).toBe("assert-default-spec-id");
    expect(failed(table, { type: "assert-default-sort-order-id", "default-sort-order-id": 1 })?.[0]).toBe(
      "assert-default-sort-order-id",
    );
  });
});

// ---- Expiry ----------------------------------------------------------------------------------------

describe("expireSnapshots and unreferencedFiles", () => {
  const HOUR = 3_600_000;
  // Five snapshots an hour apart on main, and a sixth no ref reaches (a commit that lost its race).
  function history(): TableMetadata {
    let table = emptyTable();
    for (let i = 1; i <= 5; i++) table = commitSnapshot(table, i, NOW + i * HOUR);
    const orphan: Snapshot = {
      "snapshot-id": 66,
      "parent-snapshot-id": 2,
      "sequence-number": 6,
      "timestamp-ms": NOW + 2 * HOUR,
      "manifest-list": "orphan.avro",
      summary: { operation: "append" },
    };
    return applyUpdates(table, [{ action: "add-snapshot", snapshot: orphan }], {
      nowMs: NOW + 6 * HOUR,
      previousMetadataLocation: null,
    });
  }
  const ids = (s: readonly Snapshot[]) => s.map((x) => x["snapshot-id"]);

  it("keeps the newest retainLast of main and all newer than the cut-off, and never the current one", () => {
    const table = history();
    const some = expireSnapshots(table, { olderThanMs: NOW + 3.5 * HOUR, retainLast: 1 });
    expect(ids(some.kept)).toEqual([4, 5]);
    expect(ids(some.expired)).toEqual([1, 2, 3, 66]);
    expect(some.updates).toEqual([{ action: "remove-snapshots", "snapshot-ids": [1, 2, 3, 66] }]);
    expect(validateSchema("TableUpdate", some.updates[0])).toEqual([]);

    expect(ids(expireSnapshots(table, { olderThanMs: NOW + 3.5 * HOUR, retainLast: 3 }).kept)).toEqual([3, 4, 5]);
    expect(ids(expireSnapshots(table, { olderThanMs: NOW + 10 * HOUR, retainLast: 0 }).kept)).toEqual([5]);
    expect(ids(expireSnapshots(table, { olderThanMs: NOW + HOUR, retainLast: 1 }).expired)).toEqual([]);
    expect(expireSnapshots(table, { olderThanMs: NOW, retainLast: 1 }).updates).toEqual([]);

    const after = applyUpdates(table, some.updates, { nowMs: NOW + 7 * HOUR, previousMetadataLocation: null });
    expect(ids(after.snapshots)).toEqual([4, 5]);
    expect(after["snapshot-log"].map((e) => e["snapshot-id"])).toEqual([4, 5]);
    expect(parseTableMetadata(JSON.parse(JSON.stringify(after)))).toEqual(after);
  });

  it("keeps a tagged snapshot", () => {
    const tagged = applyUpdates(
      history(),
      [{ action: "set-snapshot-ref", "ref-name": "audit", type: "tag", "snapshot-id": 2 }],
      { nowMs: NOW + 7 * HOUR, previousMetadataLocation: null },
    );
    expect(ids(expireSnapshots(tagged, { olderThanMs: NOW + 10 * HOUR, retainLast: 1 }).kept)).toEqual([2, 5]);
  });

  it("lists the files only expired snapshots reach", () => {
    const a = entry(dataFile("data/a.parquet"), 1n);
    const b = entry(dataFile("data/b.parquet"), 1n);
    const c = entry(dataFile("data/c.parquet"), 2n);
    const d = entry(dataFile("data/deletes-d.parquet", { content: 2, equalityIds: [1] }), 2n);
    const expired = [
      { manifestList: "snap-1.avro", manifests: [{ path: "m1.avro", entries: [a, b] }] },
      {
        manifestList: "snap-2.avro",
        manifests: [
          { path: "m1.avro", entries: [a, b] },
          { path: "m2.avro", entries: [c] },
          { path: "m2-deletes.avro", entries: [d] },
        ],
      },
    ];
    // The compaction replaced a and c with e and deleted the delete file d: they stay as DELETED entries.
    const e = entry(dataFile("data/e.parquet"), 3n);
    const kept = [
      {
        manifestList: "snap-3.avro",
        manifests: [
          { path: "m1.avro", entries: [a, b] },
          {
            path: "m3.avro",
            entries: [e, { ...a, status: 2 as const }, { ...c, status: 2 as const }, { ...d, status: 2 as const }],
          },
        ],
      },
      { manifestList: "snap-4.avro", manifests: [{ path: "m4.avro", entries: [{ ...a, status: 0 as const }, b, e] }] },
    ];
    expect(unreferencedFiles(expired, kept)).toEqual([
      "data/c.parquet",
      "data/deletes-d.parquet",
      "m2-deletes.avro",
      "m2.avro",
      "snap-1.avro",
      "snap-2.avro",
    ]);
    expect(unreferencedFiles(expired, [])).toHaveLength(9);
  });
});

// ---- A whole table, read by icebird ------------------------------------------------------------

describe("a table written with this code, read by icebird", () => {
  const TABLE = "https://lake.test/processed/shopify/shopify_orders";
  const BIG_ID = "9007199254740993"; // 2^53 + 1: a Shopify id a JSON number would round
  const HOUR = 3_600_000;
  const ms = (iso: string) => BigInt(Date.parse(iso));

  interface Column {
    name: string;
    fieldId: number;
    kind: "string" | "long" | "timestamptz";
    required: boolean;
  }

  /** A Parquet file as the lake's writer makes it: field ids, iceberg.schema, TIMESTAMP(MICROS, UTC). */
  function parquet(
    schema: IcebergSchema,
    columns: readonly Column[],
    rows: readonly Record<string, unknown>[],
  ): Uint8Array {
    const element = (c: Column) => {
      const repetition_type = c.required ? ("REQUIRED" as const) : ("OPTIONAL" as const);
      if (c.kind === "string") {
        return {
          name: c.name,
          field_id: c.fieldId,
          repetition_type,
          type: "BYTE_ARRAY" as const,
          converted_type: "UTF8" as const,
        };
      }
      if (c.kind === "long") return { name: c.name, field_id: c.fieldId, repetition_type, type: "INT64" as const };
      return {
        name: c.name,
        field_id: c.fieldId,
        repetition_type,
        type: "INT64" as const,
        converted_type: "TIMESTAMP_MICROS" as const,
        logical_type: { type: "TIMESTAMP" as const, isAdjustedToUTC: true, unit: "MICROS" as const },
      };
    };
    const buffer = parquetWriteBuffer({
      schema: [{ name: "root", num_children: columns.length }, ...columns.map(element)],
      columnData: columns.map((c) => ({
        name: c.name,
        data: rows.map((r) => {
          const v = r[c.name] ?? null;
          return c.kind === "timestamptz" && v !== null ? (v as bigint) * 1000n : v;
        }),
      })),
      kvMetadata: [{ key: "iceberg.schema", value: JSON.stringify(schema) }],
    });
    return new Uint8Array(buffer);
  }

  /** The manifest entry's DataFile for rows just written, with counts and bounds for the given columns. */
  function describeFile(
    path: string,
    bytes: Uint8Array,
    columns: readonly Column[],
    rows: readonly Record<string, unknown>[],
    over: Partial<DataFile> = {},
  ): DataFile {
    const lower = new Map<number, Uint8Array>();
    const upper = new Map<number, Uint8Array>();
    const nulls = new Map<number, number>();
    for (const c of columns) {
      const values = rows.map((r) => r[c.name]).filter((v) => v !== null && v !== undefined) as (string | bigint)[];
      nulls.set(c.fieldId, rows.length - values.length);
      if (values.length === 0) continue;
      const sorted = [...values].sort((x, y) =>
        typeof x === "string" ? compareStrings(x, y as string) : Number(x - (y as bigint)),
      );
      lower.set(c.fieldId, boundBytes(c.kind, sorted[0] as string | bigint));
      upper.set(c.fieldId, boundBytes(c.kind, sorted[sorted.length - 1] as string | bigint));
    }
    return {
      content: 0,
      filePath: path,
      recordCount: rows.length,
      fileSizeInBytes: bytes.length,
      valueCounts: new Map(columns.map((c) => [c.fieldId, rows.length])),
      nullValueCounts: nulls,
      lowerBounds: lower,
      upperBounds: upper,
      ...over,
    };
  }

  /** Serves `files` to fetch with HTTP Range support, as R2 behind a public bucket would. */
  function serve(files: Map<string, Uint8Array>): void {
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const body = files.get(request.url);
      if (body === undefined) return new Response("not found", { status: 404 });
      const range = request.headers.get("range");
      if (range === null) return new Response(body, { headers: { "content-length": String(body.length) } });
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m === null) return new Response("bad range", { status: 416 });
      const start = Number(m[1]);
      const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
      return new Response(body.slice(start, end + 1), {
        status: 206,
        headers: { "content-range": `bytes ${start}-${end}/${body.length}`, "content-length": String(end - start + 1) },
      });
    });
  }

  it("drops deleted keys from older files only, keeps bigints exact, and reads an added column as null", async () => {
    const files = new Map<string, Uint8Array>();
    const put = (path: string, bytes: Uint8Array) => {
      files.set(path, bytes);
      return path;
    };
    const columnsV1: SchemaColumn[] = [
      { name: "shop", kind: "string", nullable: false },
      { name: "id", kind: "string", nullable: false },
      { name: "total_minor", kind: "int64", nullable: true },
      { name: "updated_at", kind: "timestamp", nullable: false },
    ];
    const v1Schema = schemaFor(columnsV1, ["shop", "id"]);
    const created = newTableMetadata({
      location: TABLE,
      tableUuid: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
      schema: v1Schema.schema,
      lastColumnId: v1Schema.lastColumnId,
      properties: {},
      nowMs: NOW,
    });
    const parquetColumns = (schema: IcebergSchema): Column[] =>
      schema.fields.map((f) => ({
        name: f.name,
        fieldId: f.id,
        kind: f.type as Column["kind"],
        required: f.required,
      }));

    // Snapshot 1: three orders.
    const rows1 = [
      { shop: "a.myshopify.com", id: BIG_ID, total_minor: 2n ** 62n + 1n, updated_at: ms("2026-01-01T10:00:00.123Z") },
      { shop: "a.myshopify.com", id: "2", total_minor: 500n, updated_at: ms("2026-01-01T11:00:00Z") },
      { shop: "a.myshopify.com", id: "3", total_minor: null, updated_at: ms("2026-01-01T12:00:00Z") },
    ];
    const cols1 = parquetColumns(v1Schema.schema);
    const file1 = parquet(v1Schema.schema, cols1, rows1);
    const data1 = describeFile(put(`${TABLE}/data/00001.parquet`, file1), file1, cols1, rows1);
    const s1 = snapshotIdFromBytes(new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
    const seq1 = BigInt(created["last-sequence-number"] + 1);
    const m1Entries = [entry(data1, seq1, { snapshotId: BigInt(s1) })];
    const m1Bytes = encodeManifest({ schema: v1Schema.schema, content: "data", entries: m1Entries });
    const m1 = manifestFileFor({
      path: put(`${TABLE}/metadata/m1.avro`, m1Bytes),
      length: m1Bytes.length,
      content: "data",
      sequenceNumber: seq1,
      addedSnapshotId: BigInt(s1),
      entries: m1Entries,
    });
    const list1 = put(
      `${TABLE}/metadata/snap-${s1}.avro`,
      encodeManifestList({ snapshotId: BigInt(s1), parentSnapshotId: null, sequenceNumber: seq1, manifests: [m1] }),
    );
    const snapshot1 = newSnapshot({
      snapshotId: s1,
      parent: created,
      manifestListPath: list1,
      operation: "append",
      summary: snapshotSummary({ previous: null, added: [data1], removed: [] }),
      nowMs: NOW + HOUR,
    });
    const v1 = applyUpdates(
      created,
      [
        { action: "add-snapshot", snapshot: snapshot1 },
        { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": s1 },
      ],
      { nowMs: NOW + HOUR, previousMetadataLocation: null },
    );
    const v1Path = `${TABLE}/metadata/v1.metadata.json`;
    files.set(v1Path, new TextEncoder().encode(JSON.stringify(v1)));

    // Snapshot 2: a column added; order 2 deleted, order 3 changed (delete + re-append), order 4 new.
    const v2Schema = schemaFor([...columnsV1, { name: "channel", kind: "string", nullable: true }], ["shop", "id"], v1);
    expect(v2Schema.changed).toBe(true);
    const cols2 = parquetColumns(v2Schema.schema);
    const rows2 = [
      { shop: "a.myshopify.com", id: "3", total_minor: 900n, updated_at: ms("2026-01-02T09:00:00Z"), channel: "web" },
      { shop: "a.myshopify.com", id: "4", total_minor: 100n, updated_at: ms("2026-01-02T10:00:00Z"), channel: null },
    ];
    const file2 = parquet(v2Schema.schema, cols2, rows2);
    const data2 = describeFile(put(`${TABLE}/data/00002.parquet`, file2), file2, cols2, rows2);
    const keyColumns = cols2.filter((c) => c.name === "shop" || c.name === "id");
    const deleted = [
      { shop: "a.myshopify.com", id: "2" },
      { shop: "a.myshopify.com", id: "3" },
    ];
    const deleteBytes = parquet(v2Schema.schema, keyColumns, deleted);
    const deletes = describeFile(
      put(`${TABLE}/data/00002-deletes.parquet`, deleteBytes),
      deleteBytes,
      keyColumns,
      deleted,
      {
        content: 2,
        equalityIds: keyColumns.map((c) => c.fieldId),
      },
    );
    const s2 = snapshotIdFromBytes(new Uint8Array([9, 9, 9, 9, 9, 9, 9]));
    const seq2 = BigInt(v1["last-sequence-number"] + 1);
    const m2Entries = [entry(data2, seq2, { snapshotId: BigInt(s2) })];
    const m2Bytes = encodeManifest({ schema: v2Schema.schema, content: "data", entries: m2Entries });
    const d2Entries = [entry(deletes, seq2, { snapshotId: BigInt(s2) })];
    const d2Bytes = encodeManifest({ schema: v2Schema.schema, content: "deletes", entries: d2Entries });
    const manifests2 = [
      m1,
      manifestFileFor({
        path: put(`${TABLE}/metadata/m2.avro`, m2Bytes),
        length: m2Bytes.length,
        content: "data",
        sequenceNumber: seq2,
        addedSnapshotId: BigInt(s2),
        entries: m2Entries,
      }),
      manifestFileFor({
        path: put(`${TABLE}/metadata/m2-deletes.avro`, d2Bytes),
        length: d2Bytes.length,
        content: "deletes",
        sequenceNumber: seq2,
        addedSnapshotId: BigInt(s2),
        entries: d2Entries,
      }),
    ];
    const list2 = put(
      `${TABLE}/metadata/snap-${s2}.avro`,
      encodeManifestList({
        snapshotId: BigInt(s2),
        parentSnapshotId: BigInt(s1),
        sequenceNumber: seq2,
        manifests: manifests2,
      }),
    );
    const updates: TableUpdate[] = [
      { action: "add-schema", schema: v2Schema.schema, "last-column-id": v2Schema.lastColumnId },
      { action: "set-current-schema", "schema-id": -1 },
    ];
    const evolved = applyUpdates(v1, updates, { nowMs: NOW + 2 * HOUR, previousMetadataLocation: v1Path });
    const snapshot2 = newSnapshot({
      snapshotId: s2,
      parent: evolved,
      manifestListPath: list2,
      operation: "overwrite",
      summary: snapshotSummary({ previous: snapshot1, added: [data2, deletes], removed: [] }),
      nowMs: NOW + 2 * HOUR,
    });
    const requirements: TableRequirement[] = [
      { type: "assert-table-uuid", uuid: v1["table-uuid"] },
      { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": s1 },
      { type: "assert-current-schema-id", "current-schema-id": 0 },
    ];
    checkRequirements(v1, requirements);
    const v2 = applyUpdates(
      v1,
      [
        ...updates,
        { action: "add-snapshot", snapshot: snapshot2 },
        { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": s2 },
      ],
      { nowMs: NOW + 2 * HOUR, previousMetadataLocation: v1Path },
    );
    expect(v2["current-schema-id"]).toBe(1);
    expect(snapshot2.summary).toMatchObject({ "total-records": "5", "total-equality-deletes": "2" });
    const v2Json = JSON.stringify(v2);
    files.set(`${TABLE}/metadata/v2.metadata.json`, new TextEncoder().encode(v2Json));
    files.set(`${TABLE}/metadata/version-hint.text`, new TextEncoder().encode("2"));
    expect(validateSchema("TableMetadata", JSON.parse(v2Json))).toEqual([]);
    expect(parseTableMetadata(JSON.parse(v2Json))).toEqual(v2);

    serve(files);
    const rows = await icebergRead({ tableUrl: TABLE });
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    const row = (id: string) => {
      const r = byId.get(id);
      if (r === undefined) throw new Error(`icebird returned no row ${id}`);
      return r;
    };
    expect(rows).toHaveLength(3);
    expect([...byId.keys()].sort()).toEqual(["3", "4", BIG_ID]);
    // Written before channel existed: the column is there, with no value.
    const big = row(BIG_ID);
    expect(Object.keys(big)).toEqual(["shop", "id", "total_minor", "updated_at", "channel"]);
    expect(big.channel ?? null).toBeNull();
    expect(big.total_minor).toBe(2n ** 62n + 1n);
    expect((big.updated_at as Date).toISOString()).toBe("2026-01-01T10:00:00.123Z");
    // Order 3's older version (data sequence 1) is deleted; its re-append (sequence 2, as the delete) survives.
    expect(row("3")).toMatchObject({ total_minor: 900n, channel: "web" });
    expect((row("3").updated_at as Date).toISOString()).toBe("2026-01-02T09:00:00.000Z");
    expect(row("4")).toMatchObject({ total_minor: 100n, channel: null });

    // icebird at snapshot 1 sees the table as it was.
    const before = await icebergRead({ tableUrl: TABLE, metadataFileName: "v1.metadata.json" });
    expect(before.map((r) => r.id).sort()).toEqual(["2", "3", BIG_ID]);
  });
});
