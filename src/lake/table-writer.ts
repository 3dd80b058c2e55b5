/**
 * One table's change in one compaction run, written as Iceberg files and committed as one
 * snapshot: the rows that changed go to new Parquet data files, and the lake keys they replace
 * (or that D1 deleted) to one equality-delete file, which hides every older version of those keys
 * in the files before it (an equality delete applies only to data files with a smaller sequence
 * number, so the rows added in the same commit stay visible).
 *
 * Why merge-on-read with equality deletes, and not copy-on-write: orders change long after they
 * were placed (refunds, fulfilment), so the keys that changed in an hour lie in nearly every data
 * file of a table built day by day. In the scale run 1% of the orders change, spread over two
 * years: each of shopify_orders' data files holds some, and copy-on-write would rewrite them all
 * (100× the changed rows). Measured in that run (1/10 scale), the append plus one equality-delete
 * file wrote 1.47× the changed rows' data bytes, delete file, manifests and metadata included
 * (docs/limits.md). Position deletes would need to know where each old version lies: a read of
 * the table, or a key index kept in D1. The cost moves to readers (each applies the deletes) until
 * lake-upkeep rebuilds the table without them.
 *
 * Files stream to R2 as they are written (multipart parts, one row group in memory at a time),
 * so memory is bounded by the row-group size whatever the table's size. Nothing is visible until
 * the commit; files of a run that stops before it are orphans, which lake-upkeep deletes.
 */
import type { LoadedTable, TableRef, TableStore } from "./catalog/store";
import { commitWithRetry } from "./catalog/store";
import type { LakeSpec, ParquetValue } from "./columns";
import { DataFileWriter } from "./data-file";
import {
  currentSchema,
  currentSnapshot,
  type DataFile,
  decodeManifestList,
  encodeManifest,
  encodeManifestList,
  type IcebergSchema,
  type ManifestEntry,
  type ManifestFile,
  manifestFileFor,
  newSnapshot,
  schemaFor,
  type TableUpdate,
} from "./iceberg";
import type { LakeLocation } from "./location";

export type { LakeSpec } from "./columns";

/** Rows per data file: a new file is started past it, so one file stays a few tens of MB. */
export const FILE_ROWS = 200_000;

export interface LakeIo {
  bucket: R2Bucket;
  store: TableStore;
  location: LakeLocation;
  /** Random 53-bit snapshot ids and file names: passed in so tests can fix them. */
  randomId?: () => number;
}

export interface CommitReport {
  table: string;
  snapshotId: number | null;
  sequenceNumber: number | null;
  dataFiles: number;
  deleteFiles: number;
  rows: number;
  deletedKeys: number;
  /** Bytes written to R2: data, delete files, manifests, manifest list and metadata. */
  bytes: number;
  /** Of those, the data files' (the changed rows themselves). */
  dataBytes: number;
  /** Files carried over from the previous snapshot (append) or dropped from it (overwrite). */
  manifests: number;
}

export const tableRef = (spec: Pick<LakeSpec, "namespace" | "name">): TableRef => ({
  namespace: [spec.namespace],
  name: spec.name,
});

/** Loads the table, creating it with the spec's columns when it does not exist yet. */
export async function openTable(io: LakeIo, spec: LakeSpec): Promise<LoadedTable> {
  const ref = tableRef(spec);
  const loaded = await io.store.load(ref);
  if (loaded !== null) return loaded;
  const { schema } = schemaFor(spec.columns, spec.key);
  return io.store.create(ref, {
    schema,
    location: io.location.uriOf(`processed/${spec.namespace}/${spec.name}`),
    properties: {
      "format-version": "2",
      "write.format.default": "parquet",
      "commerce.lake-key": spec.lakeKey.join(","),
    },
  });
}

export class TableChange {
  private readonly schema: IcebergSchema;
  private readonly schemaUpdates: TableUpdate[];
  private readonly fieldIds: Map<string, number>;
  private data: DataFileWriter | null = null;
  private readonly dataFiles: DataFile[] = [];
  private readonly keys = new Map<string, string[]>();
  private readonly written: string[] = [];
  private bytes = 0;
  private rows = 0;
  private committing = false;
  private readonly token: string;
  /** Where each lake-key column sits in the spec's columns. */
  private readonly keyIndexes: number[];

  constructor(
    private readonly io: LakeIo,
    private readonly spec: LakeSpec,
    private readonly base: LoadedTable,
    private readonly mode: "append" | "overwrite" | "rebuild",
  ) {
    const evolved = schemaFor(spec.columns, spec.key, base.metadata);
    this.schema = evolved.schema;
    this.schemaUpdates = evolved.changed
      ? [
          { action: "add-schema", schema: evolved.schema, "last-column-id": evolved.lastColumnId },
          { action: "set-current-schema", "schema-id": -1 },
        ]
      : [];
    this.fieldIds = new Map(evolved.schema.fields.map((f) => [f.name, f.id]));
    for (const k of spec.lakeKey) {
      const column = spec.columns.find((c) => c.name === k);
      if (column === undefined || column.nullable || (column.kind !== "string" && column.kind !== "int64")) {
        throw new Error(`lake: ${spec.name}.${k} cannot be an equality-delete key (must be NOT NULL text or integer)`);
      }
    }
    this.token = `${Date.now().toString(36)}-${crypto.randomUUID()}`;
    this.keyIndexes = spec.lakeKey.map((k) => spec.columns.findIndex((c) => c.name === k));
  }

  /** The lake location of this table (`…/processed/{namespace}/{name}`). */
  get location(): string {
    return this.base.metadata.location;
  }

  /** Adds a row as it is now; its lake key's older versions are deleted by the commit. */
  async add(row: Record<string, ParquetValue>): Promise<void> {
    await this.addValues(this.spec.columns.map((c) => row[c.name] ?? null));
  }

  /** `add` for a row given as its values in the spec's column order (what the compact job reads). */
  async addValues(values: readonly ParquetValue[]): Promise<void> {
    if (this.data === null) this.data = this.newDataFile();
    await this.data.pushValues(values);
    this.rows++;
    if (this.mode === "append") this.deleteKey(this.keyIndexes.map((i) => keyText(values[i])));
    if (this.data.rows >= FILE_ROWS) await this.closeDataFile();
  }

  /** The lake key of a row given as values in column order. */
  keyOf(values: readonly ParquetValue[]): string[] {
    return this.keyIndexes.map((i) => keyText(values[i]));
  }

  /** Hides every row with this lake key in the files before this commit (a row D1 deleted). */
  deleteKey(values: readonly string[]): void {
    this.keys.set(JSON.stringify(values), [...values]);
  }

  get pendingRows(): number {
    return this.rows;
  }

  /** Whether a row of this lake key (`values`) was added: its delete is already in the commit. */
  holdsKey(values: readonly string[]): boolean {
    return this.keys.has(JSON.stringify(values));
  }

  /** A data file even with no rows: a new table gets a snapshot readers can open, with its schema. */
  async addEmptyFile(): Promise<void> {
    if (this.data === null && this.dataFiles.length === 0) this.data = this.newDataFile();
  }

  /** Writes the remaining files and commits them as one snapshot (retried on a conflict). */
  async commit(summary: Record<string, string> = {}): Promise<CommitReport> {
    await this.closeDataFile();
    const deleteFile = this.keys.size > 0 ? await this.writeDeleteFile() : null;
    const report: CommitReport = {
      table: this.spec.name,
      snapshotId: null,
      sequenceNumber: null,
      dataFiles: this.dataFiles.length,
      deleteFiles: deleteFile === null ? 0 : 1,
      rows: this.rows,
      deletedKeys: this.keys.size,
      bytes: 0,
      dataBytes: this.dataFiles.reduce((n, f) => n + f.fileSizeInBytes, 0),
      manifests: 0,
    };
    if (this.mode === "rebuild") throw new Error("lake: a rebuild commits with commitRebuild");
    if (
      this.dataFiles.length === 0 &&
      deleteFile === null &&
      this.schemaUpdates.length === 0 &&
      this.mode === "append"
    ) {
      report.bytes = this.bytes;
      return report;
    }
    const ref = tableRef(this.spec);
    // From here a failure may come after the catalog applied the commit: abort must keep the files.
    this.committing = true;
    const committed = await commitWithRetry(this.io.store, ref, async (base) => {
      const built = await this.buildCommit(base, deleteFile, summary);
      report.snapshotId = built.snapshotId;
      report.sequenceNumber = built.sequenceNumber;
      report.manifests = built.manifests;
      return { requirements: built.requirements, updates: built.updates };
    });
    const metadataBytes = JSON.stringify(committed.metadata).length;
    report.bytes = this.bytes + metadataBytes;
    return report;
  }

  /** A rebuild's part: closes the data file being written and hands over the files (no commit). */
  async finishFiles(): Promise<DataFile[]> {
    await this.closeDataFile();
    return [...this.dataFiles];
  }

  /**
   * Deletes the files this change wrote, when no commit can reference them: a run giving up before
   * its commit. Once the commit was sent, its outcome may be unknown (a catalog's 5xx), so the
   * files stay; lake-upkeep's sweep deletes them if no snapshot reaches them.
   */
  async abort(): Promise<void> {
    if (this.committing) return;
    await this.data?.abort();
    for (let i = 0; i < this.written.length; i += 1000) {
      await this.io.bucket.delete(this.written.slice(i, i + 1000));
    }
  }

  private newDataFile(): DataFileWriter {
    const n = this.dataFiles.length;
    const path = `${this.location}/data/${this.token}-${String(n).padStart(5, "0")}.parquet`;
    return new DataFileWriter(this.io.bucket, this.io.location, path, {
      columns: this.spec.columns,
      schema: this.schema,
      content: 0,
    });
  }

  private async closeDataFile(): Promise<void> {
    if (this.data === null) return;
    const file = await this.data.finish();
    this.written.push(this.io.location.keyOf(file.filePath));
    this.bytes += file.fileSizeInBytes;
    this.dataFiles.push(file);
    this.data = null;
  }

  private async writeDeleteFile(): Promise<DataFile> {
    const columns = this.spec.lakeKey.map((k) => {
      const column = this.spec.columns.find((c) => c.name === k);
      if (column === undefined) throw new Error(`lake: ${this.spec.name} has no column ${k}`);
      return column;
    });
    const path = `${this.location}/data/${this.token}-eq-delete.parquet`;
    const writer = new DataFileWriter(this.io.bucket, this.io.location, path, {
      columns,
      schema: this.schema,
      content: 2,
      equalityIds: columns.map((c) => this.fieldId(c.name)),
    });
    for (const values of this.keys.values()) {
      await writer.push(
        Object.fromEntries(
          columns.map((c, i) => [c.name, c.kind === "int64" ? BigInt(values[i] ?? "0") : (values[i] ?? "")]),
        ),
      );
    }
    const file = await writer.finish();
    this.written.push(this.io.location.keyOf(file.filePath));
    this.bytes += file.fileSizeInBytes;
    return file;
  }

  private fieldId(name: string): number {
    const id = this.fieldIds.get(name);
    if (id === undefined) throw new Error(`lake: ${this.spec.name}.${name} has no field id`);
    return id;
  }

  /** Manifests, manifest list and snapshot for this change on top of `base`: re-run on a retry. */
  private async buildCommit(base: LoadedTable, deleteFile: DataFile | null, extra: Record<string, string>) {
    const meta = base.metadata;
    const sequenceNumber = meta["last-sequence-number"] + 1;
    const snapshotId = this.randomId();
    const seq = BigInt(sequenceNumber);
    const sid = BigInt(snapshotId);
    const entry = (dataFile: DataFile): ManifestEntry => ({
      status: 1,
      snapshotId: sid,
      sequenceNumber: seq,
      fileSequenceNumber: seq,
      dataFile,
    });
    const manifests: ManifestFile[] = [];
    const writeManifest = async (content: 0 | 1, files: DataFile[]) => {
      if (files.length === 0) return;
      const bytes = encodeManifest({
        schema: this.schema,
        content: content === 0 ? "data" : "deletes",
        entries: files.map(entry),
      });
      const path = `${this.location}/metadata/${this.token}-${sequenceNumber}-m${content}.avro`;
      await this.put(path, bytes, "application/avro");
      manifests.push(
        manifestFileFor({
          path,
          length: bytes.byteLength,
          content: content === 0 ? "data" : "deletes",
          sequenceNumber: seq,
          addedSnapshotId: sid,
          entries: files.map(entry),
        }),
      );
    };
    await writeManifest(0, this.dataFiles);
    await writeManifest(1, deleteFile === null ? [] : [deleteFile]);

    const parent = currentSnapshot(meta);
    const carried =
      this.mode === "append" && parent !== null ? await readManifestList(this.io, parent["manifest-list"]) : [];
    const listBytes = encodeManifestList({
      snapshotId: sid,
      parentSnapshotId: parent ? BigInt(parent["snapshot-id"]) : null,
      sequenceNumber: seq,
      manifests: [...manifests, ...carried],
    });
    const listPath = `${this.location}/metadata/snap-${snapshotId}-${this.token}.avro`;
    await this.put(listPath, listBytes, "application/avro");

    const snapshot = newSnapshot({
      snapshotId,
      parent: meta,
      manifestListPath: listPath,
      operation: this.mode === "overwrite" ? "overwrite" : this.keys.size > 0 ? "overwrite" : "append",
      summary: {
        "added-data-files": String(this.dataFiles.length),
        "added-delete-files": String(deleteFile === null ? 0 : 1),
        "added-records": String(this.rows),
        "added-equality-deletes": String(this.keys.size),
        ...extra,
      },
      nowMs: Date.now(),
    });
    const updates: TableUpdate[] = [
      ...this.schemaUpdates,
      { action: "add-snapshot", snapshot },
      { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": snapshotId },
    ];
    return {
      snapshotId,
      sequenceNumber,
      manifests: carried.length,
      requirements: [
        { type: "assert-ref-snapshot-id" as const, ref: "main", "snapshot-id": parent ? parent["snapshot-id"] : null },
      ],
      updates,
    };
  }

  private async put(uri: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const key = this.io.location.keyOf(uri);
    await this.io.bucket.put(key, bytes, { httpMetadata: { contentType } });
    this.written.push(key);
    this.bytes += bytes.byteLength;
  }

  private randomId(): number {
    return randomSnapshotId(this.io);
  }
}

/** A lake-key value as the text the delete log and the equality-delete file hold. */
export function keyText(value: ParquetValue | undefined): string {
  if (typeof value === "string") return value;
  if (typeof value === "bigint") return value.toString();
  throw new Error("lake: a lake-key value is neither text nor an integer");
}

/**
 * Commits a rebuild: `files` (the whole table as D1 held it, read since the snapshot whose
 * sequence number was `baseSequence`) replace every file committed up to that snapshot, and the
 * files committed after it stay. The new files keep `baseSequence` as their data sequence number,
 * so the equality deletes committed after it still apply to them: a row changed while the rebuild
 * read the table is hidden in the rebuilt file by the later commit that appended its new version.
 */
export async function commitRebuild(
  io: LakeIo,
  spec: LakeSpec,
  files: readonly DataFile[],
  baseSequence: number,
  o: { operation?: "replace" | "overwrite"; summary?: Record<string, string> } = {},
): Promise<CommitReport> {
  const operation = o.operation ?? "replace";
  const ref = tableRef(spec);
  const token = `${Date.now().toString(36)}-${crypto.randomUUID()}`;
  const report: CommitReport = {
    table: spec.name,
    snapshotId: null,
    sequenceNumber: null,
    dataFiles: files.length,
    deleteFiles: 0,
    rows: files.reduce((n, f) => n + f.recordCount, 0),
    deletedKeys: 0,
    bytes: 0,
    dataBytes: files.reduce((n, f) => n + f.fileSizeInBytes, 0),
    manifests: 0,
  };
  const committed = await commitWithRetry(io.store, ref, async (base) => {
    const meta = base.metadata;
    const schema = currentSchema(meta);
    const sequenceNumber = meta["last-sequence-number"] + 1;
    const snapshotId = randomSnapshotId(io);
    const seq = BigInt(sequenceNumber);
    const sid = BigInt(snapshotId);
    const entries = files.map((dataFile) => ({
      status: 1 as const,
      snapshotId: sid,
      sequenceNumber: BigInt(baseSequence),
      fileSequenceNumber: seq,
      dataFile,
    }));
    const manifestBytes = encodeManifest({ schema, content: "data", entries });
    const manifestPath = `${meta.location}/metadata/${token}-${sequenceNumber}-rebuild.avro`;
    await io.bucket.put(io.location.keyOf(manifestPath), manifestBytes, {
      httpMetadata: { contentType: "application/avro" },
    });
    const parent = currentSnapshot(meta);
    const later =
      parent === null
        ? []
        : (await readManifestList(io, parent["manifest-list"])).filter((m) => m.sequenceNumber > BigInt(baseSequence));
    const manifests: ManifestFile[] = [
      manifestFileFor({
        path: manifestPath,
        length: manifestBytes.byteLength,
        content: "data",
        sequenceNumber: seq,
        addedSnapshotId: sid,
        entries,
      }),
      ...later,
    ];
    const listPath = `${meta.location}/metadata/snap-${snapshotId}-${token}.avro`;
    const listBytes = encodeManifestList({
      snapshotId: sid,
      parentSnapshotId: parent === null ? null : BigInt(parent["snapshot-id"]),
      sequenceNumber: seq,
      manifests,
    });
    await io.bucket.put(io.location.keyOf(listPath), listBytes, { httpMetadata: { contentType: "application/avro" } });
    const snapshot = newSnapshot({
      snapshotId,
      parent: meta,
      manifestListPath: listPath,
      operation,
      summary: {
        "added-data-files": String(files.length),
        "added-records": String(report.rows),
        ...(operation === "replace" ? { "commerce.rebuild": "true" } : {}),
        ...o.summary,
      },
      nowMs: Date.now(),
    });
    report.snapshotId = snapshotId;
    report.sequenceNumber = sequenceNumber;
    report.manifests = later.length;
    report.bytes = files.reduce((n, f) => n + f.fileSizeInBytes, 0) + manifestBytes.byteLength + listBytes.byteLength;
    return {
      requirements: [
        { type: "assert-ref-snapshot-id", ref: "main", "snapshot-id": parent === null ? null : parent["snapshot-id"] },
      ],
      updates: [
        { action: "add-snapshot", snapshot },
        { action: "set-snapshot-ref", "ref-name": "main", type: "branch", "snapshot-id": snapshotId },
      ],
    };
  });
  report.bytes += JSON.stringify(committed.metadata).length;
  return report;
}

/** The manifests a snapshot's list names. */
export async function readManifestList(io: LakeIo, uri: string): Promise<ManifestFile[]> {
  const object = await io.bucket.get(io.location.keyOf(uri));
  if (object === null) throw new Error(`lake: manifest list ${uri} is missing`);
  return decodeManifestList(new Uint8Array(await object.arrayBuffer()));
}

function randomSnapshotId(io: LakeIo): number {
  if (io.randomId !== undefined) return io.randomId();
  const [hi = 0, lo = 0] = crypto.getRandomValues(new Uint32Array(2));
  // 52 bits, never 0: exact as a JSON number in the metadata.
  return (hi & 0xfffff) * 2 ** 32 + lo + 1;
}
