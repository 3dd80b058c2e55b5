/**
 * One Parquet file of an Iceberg table (data, or equality deletes), streamed to R2 as it is
 * written, and described as a manifest needs it: row count, size, and per field id the value and
 * null counts, column sizes and lower/upper bounds (engines prune files with them; the compact
 * job's deletes and the upkeep job use them too). Every column carries its Iceberg field id, and
 * the footer holds the schema (`iceberg.schema`), so readers resolve columns by id after a
 * column is added.
 */
import { z } from "zod";
import type { LakeColumn, ParquetValue } from "./columns";
import { boundBytes, type DataFile, type IcebergSchema } from "./iceberg";
import type { LakeLocation } from "./location";
import { type FileStats, ParquetFileWriter, R2MultipartSink } from "./parquet";

/** Rows per row group: the only rows held in memory at once. */
export const ROW_GROUP_ROWS = 20_000;

export class DataFileWriter {
  private readonly writer: ParquetFileWriter;
  private readonly sink: R2MultipartSink;
  private readonly ids: Map<string, { id: number; type: IcebergSchema["fields"][number]["type"] }>;

  constructor(
    bucket: R2Bucket,
    location: LakeLocation,
    private readonly path: string,
    private readonly o: {
      columns: readonly LakeColumn[];
      schema: IcebergSchema;
      content: 0 | 2;
      equalityIds?: number[];
    },
  ) {
    this.ids = new Map(o.schema.fields.map((f) => [f.name, { id: f.id, type: f.type }]));
    const fields = o.columns.map((c) => {
      const field = this.ids.get(c.name);
      if (field === undefined) throw new Error(`lake: ${c.name} is not in the table's schema`);
      return { ...c, fieldId: field.id };
    });
    const fileSchema: IcebergSchema = {
      type: "struct",
      "schema-id": o.schema["schema-id"],
      fields: o.schema.fields.filter((f) => o.columns.some((c) => c.name === f.name)),
    };
    this.sink = new R2MultipartSink(bucket, location.keyOf(path), {
      upload: { httpMetadata: { contentType: "application/vnd.apache.parquet" } },
    });
    this.writer = new ParquetFileWriter({
      columns: fields,
      rowGroupRows: ROW_GROUP_ROWS,
      keyValueMetadata: { "iceberg.schema": JSON.stringify(fileSchema) },
      createdBy: "commerce-edge-pipeline lake",
      sink: this.sink,
    });
  }

  get rows(): number {
    return this.writer.rows;
  }

  /** Adds a row; every row-group's worth waits for R2 to take the group before the next row. */
  async push(row: Record<string, ParquetValue>): Promise<void> {
    const flushed = this.writer.push(row);
    if (flushed !== undefined) await flushed;
  }

  /** Adds a row given as its values in column order (no lookup by name: the faster path). */
  async pushValues(values: readonly ParquetValue[]): Promise<void> {
    const flushed = this.writer.pushValues(values);
    if (flushed !== undefined) await flushed;
  }

  async finish(): Promise<DataFile> {
    let stats: FileStats;
    try {
      stats = await this.writer.finish();
      await this.sink.close();
    } catch (err) {
      await this.sink.abort();
      throw err;
    }
    const valueCounts = new Map<number, number>();
    const nullValueCounts = new Map<number, number>();
    const columnSizes = new Map<number, number>();
    const lowerBounds = new Map<number, Uint8Array>();
    const upperBounds = new Map<number, Uint8Array>();
    for (const column of this.o.columns) {
      const field = this.ids.get(column.name);
      const s = field === undefined ? undefined : stats.perColumn.get(field.id);
      if (field === undefined || s === undefined) continue;
      valueCounts.set(field.id, s.valueCount);
      nullValueCounts.set(field.id, s.nullCount);
      columnSizes.set(field.id, s.compressedBytes);
      // JSON lists have no bound an engine could use; a string bound is the writer's (truncated) one.
      if (column.kind === "json") continue;
      if (s.min !== null && !Array.isArray(s.min)) lowerBounds.set(field.id, boundBytes(field.type, s.min));
      if (s.max !== null && !Array.isArray(s.max)) upperBounds.set(field.id, boundBytes(field.type, s.max));
    }
    return {
      content: this.o.content,
      filePath: this.path,
      recordCount: stats.rows,
      fileSizeInBytes: stats.bytes,
      columnSizes,
      valueCounts,
      nullValueCounts,
      lowerBounds,
      upperBounds,
      ...(this.o.equalityIds === undefined ? {} : { equalityIds: this.o.equalityIds }),
    };
  }

  async abort(): Promise<void> {
    await this.sink.abort();
  }
}

/** A data file's description as JSON (a rebuild keeps the files it wrote in D1 between runs). */
export function dataFileToJson(file: DataFile): string {
  const map = <T>(m: Map<number, T> | undefined, f: (v: T) => unknown) =>
    m === undefined ? undefined : [...m].map(([k, v]) => [k, f(v)]);
  const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  return JSON.stringify({
    content: file.content,
    filePath: file.filePath,
    recordCount: file.recordCount,
    fileSizeInBytes: file.fileSizeInBytes,
    columnSizes: map(file.columnSizes, (v) => v),
    valueCounts: map(file.valueCounts, (v) => v),
    nullValueCounts: map(file.nullValueCounts, (v) => v),
    lowerBounds: map(file.lowerBounds, b64),
    upperBounds: map(file.upperBounds, b64),
    equalityIds: file.equalityIds,
  });
}

const counts = z.array(z.tuple([z.number().int(), z.number().int().min(0)]));
const bounds = z.array(z.tuple([z.number().int(), z.base64()]));
const dataFileJson = z.object({
  content: z.union([z.literal(0), z.literal(2)]),
  filePath: z.string().min(1),
  recordCount: z.number().int().min(0),
  fileSizeInBytes: z.number().int().min(0),
  columnSizes: counts.optional(),
  valueCounts: counts,
  nullValueCounts: counts,
  lowerBounds: bounds,
  upperBounds: bounds,
  equalityIds: z.array(z.number().int()).optional(),
});

/** A list of data files as `dataFileToJson` texts, stored as one JSON array (a part-written table's files). */
export function dataFileList(text: string | null): string[] {
  return text === null ? [] : z.array(z.string()).parse(JSON.parse(text));
}

export function dataFileFromJson(text: string): DataFile {
  const j = dataFileJson.parse(JSON.parse(text));
  const bytes = (b: string) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
  return {
    content: j.content,
    filePath: j.filePath,
    recordCount: j.recordCount,
    fileSizeInBytes: j.fileSizeInBytes,
    ...(j.columnSizes === undefined ? {} : { columnSizes: new Map(j.columnSizes) }),
    valueCounts: new Map(j.valueCounts),
    nullValueCounts: new Map(j.nullValueCounts),
    lowerBounds: new Map(j.lowerBounds.map(([k, v]) => [k, bytes(v)])),
    upperBounds: new Map(j.upperBounds.map(([k, v]) => [k, bytes(v)])),
    ...(j.equalityIds === undefined ? {} : { equalityIds: j.equalityIds }),
  };
}
