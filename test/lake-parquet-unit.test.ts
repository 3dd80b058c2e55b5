/**
 * The lake's Parquet writer (src/lake/parquet), read back by an independent reader (hyparquet):
 * every kind round-trips exactly, row groups split where they should, statistics and the manifest
 * figures equal what the rows hold, the schema carries field ids and logical types, and the R2
 * sink streams parts of one size and cleans up after a failure.
 */
import { env } from "cloudflare:workers";
import { parquetMetadata, parquetReadObjects, snappyUncompress } from "hyparquet";
import { describe, expect, it } from "vitest";
import {
  type FileStats,
  MemorySink,
  type ParquetColumnSpec,
  ParquetFileWriter,
  type ParquetValue,
  R2MultipartSink,
} from "../src/lake/parquet";
import { lowerBound, upperBound, utf8Less } from "../src/lake/parquet/bounds";
import { ByteBuffer } from "../src/lake/parquet/bytes";
import { snappyCompress } from "../src/lake/parquet/snappy";

type Row = Record<string, ParquetValue>;

const COLUMNS: ParquetColumnSpec[] = [
  { name: "id", kind: "string", nullable: false, fieldId: 1 },
  { name: "note", kind: "string", nullable: true, fieldId: 2 },
  { name: "status", kind: "string", nullable: true, fieldId: 3 },
  { name: "amount_minor", kind: "int64", nullable: true, fieldId: 4 },
  { name: "big", kind: "int64", nullable: false, fieldId: 5 },
  { name: "at", kind: "timestamp", nullable: true, fieldId: 6 },
  { name: "flag", kind: "boolean", nullable: true, fieldId: 7 },
  { name: "ratio", kind: "float64", nullable: true, fieldId: 8 },
  { name: "tags", kind: "json", nullable: true, fieldId: 9 },
  { name: "unique_text", kind: "string", nullable: true, fieldId: 10 },
];

const NOTES = [
  "",
  "plain ascii",
  "café crème",
  "日本語のテキスト",
  "emoji 😀 and more",
  "\uffff edge",
  "a".repeat(200),
  "ü".repeat(70),
];
const STATUSES = ["paid", "pending", "refunded", "voided"];
const T0 = Date.UTC(2026, 0, 1);

/** Row i: nulls at different rates per column, every awkward value somewhere. */
function row(i: number): Row {
  return {
    id: String(820982911946154508n + BigInt(i)),
    note: i % 7 === 3 ? null : (NOTES[i % NOTES.length] as string),
    status: i % 11 === 0 ? null : (STATUSES[i % STATUSES.length] as string),
    amount_minor: i % 5 === 0 ? null : BigInt((i % 2 === 0 ? -1 : 1) * (i * 137 + 1)),
    big: 9007199254740993n * BigInt(i % 3 === 0 ? -1 : 1) + BigInt(i) * 1_000_000_007n,
    at: i % 9 === 0 ? null : BigInt(T0 + i * 1_000_003 - 500_000_000),
    flag: i % 4 === 0 ? null : i % 3 === 0,
    ratio: i % 6 === 0 ? null : (i - 300) / 7,
    tags: i % 8 === 0 ? null : i % 3 === 0 ? [] : ["vip", `tag "${i % 4}"`, "ünï"],
    // Past 4,096 distinct values: the dictionary gives way to PLAIN inside a row group.
    unique_text: i % 10 === 9 ? null : `customer-${i}@example.com${i % 50 === 0 ? " ✓" : ""}`,
  };
}

async function write(rows: Row[], rowGroupRows: number, compression?: "snappy" | "none") {
  const sink = new MemorySink();
  const writer = new ParquetFileWriter({
    columns: COLUMNS,
    rowGroupRows,
    keyValueMetadata: { "iceberg.schema": '{"type":"struct"}', other: "x" },
    createdBy: "lake-parquet test",
    sink,
    ...(compression ? { compression } : {}),
  });
  for (const r of rows) {
    const flushed = writer.push(r);
    if (flushed !== undefined) await flushed;
  }
  const stats = await writer.finish();
  const bytes = sink.bytes();
  return { stats, bytes, buffer: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
}

/** Reads every row, timestamps as their raw µs so instants compare exactly. */
function readRows(buffer: ArrayBuffer) {
  return parquetReadObjects({ file: buffer, parsers: { timestampFromMicroseconds: (v: bigint | number) => v } });
}

/** What the reader should give back for a pushed row. */
function expected(r: Row): Row {
  return { ...r, at: r.at === null ? null : (r.at as bigint) * 1000n };
}

/** An object the test just stored, as bytes. */
async function stored(key: string): Promise<ArrayBuffer> {
  const object = await env.LAKE.get(key);
  if (object === null) throw new Error(`${key} is not in the bucket`);
  return object.arrayBuffer();
}

function trueBounds<T>(values: (T | null)[], less: (a: T, b: T) => boolean) {
  let min: T | null = null;
  let max: T | null = null;
  for (const v of values) {
    if (v === null) continue;
    if (min === null || less(v, min)) min = v;
    if (max === null || less(max, v)) max = v;
  }
  return { min, max };
}

const ROWS = Array.from({ length: 9_000 }, (_, i) => row(i));

describe("ParquetFileWriter", () => {
  it("round-trips every kind exactly, over several row groups", async () => {
    const { buffer, stats } = await write(ROWS, 5_000);
    const back = await readRows(buffer);
    expect(back.length).toBe(ROWS.length);
    for (let i = 0; i < ROWS.length; i++) {
      const want = expected(ROWS[i] as Row);
      const got = back[i] as Record<string, unknown>;
      for (const c of COLUMNS) {
        if (got[c.name] === undefined && want[c.name] === null) continue;
        expect(got[c.name], `${c.name} of row ${i}`).toEqual(want[c.name]);
      }
    }
    const meta = parquetMetadata(buffer);
    expect(meta.row_groups.map((g) => Number(g.num_rows))).toEqual([5_000, 4_000]);
    // Both string encodings ran: a dictionary for the few statuses, PLAIN once unique_text outgrew one.
    const encodings = (g: number, name: string) =>
      meta.row_groups[g]?.columns[COLUMNS.findIndex((c) => c.name === name)]?.meta_data?.encodings;
    expect(encodings(0, "status")).toContain("RLE_DICTIONARY");
    expect(encodings(0, "note")).toContain("RLE_DICTIONARY");
    expect(encodings(0, "unique_text")).not.toContain("RLE_DICTIONARY");
    expect(encodings(1, "unique_text")).not.toContain("RLE_DICTIONARY");
    expect(Number(meta.num_rows)).toBe(ROWS.length);
    expect(stats.rows).toBe(ROWS.length);
    expect(stats.bytes).toBe(buffer.byteLength);
  });

  it("cuts a long PLAIN chunk into pages, nulls and all", async () => {
    // About 1 MB of distinct text a row group: several pages, each with its own definition levels.
    const text = (i: number) => (i % 7 === 0 ? null : `${"lorem ipsum ".repeat(25)}${i}${i % 13 === 0 ? " é" : ""}`);
    const rows = Array.from({ length: 6_000 }, (_, i) => ({ ...row(i), note: text(i), unique_text: text(i + 1) }));
    const { buffer } = await write(rows, 4_000);
    const back = await readRows(buffer);
    expect(back.map((r) => r.note ?? null)).toEqual(rows.map((r) => r.note));
    expect(back.map((r) => r.unique_text ?? null)).toEqual(rows.map((r) => r.unique_text));
    const chunk = parquetMetadata(buffer).row_groups[0]?.columns[COLUMNS.findIndex((c) => c.name === "note")];
    // Far more bytes than one page holds.
    expect(Number(chunk?.meta_data?.total_uncompressed_size)).toBeGreaterThan(3 * 256 * 1024);
  });

  it("keeps 19-digit ids, int64 past 2^53 and negative money exact", async () => {
    const rows: Row[] = [
      { ...row(1), id: "9223372036854775807", big: 9223372036854775807n, amount_minor: -123456789012345n },
      { ...row(2), id: "0000000000000000001", big: -9223372036854775808n, amount_minor: -1n },
      { ...row(3), id: "7390000000000000001", big: 9007199254740993n, amount_minor: 0n },
    ];
    const back = await readRows((await write(rows, 10)).buffer);
    expect(back.map((r) => r.id)).toEqual(["9223372036854775807", "0000000000000000001", "7390000000000000001"]);
    expect(back.map((r) => r.big)).toEqual([9223372036854775807n, -9223372036854775808n, 9007199254740993n]);
    expect(back.map((r) => r.amount_minor)).toEqual([-123456789012345n, -1n, 0n]);
  });

  it("writes timestamps as TIMESTAMP(MICROS, UTC) at the exact instant", async () => {
    const instants = [Date.UTC(1969, 11, 31, 23, 59, 59, 999), 0, Date.UTC(2026, 9, 1, 12, 0, 0, 1), 8.64e15];
    const rows = instants.map((ms, i) => ({ ...row(i + 1), at: BigInt(ms) }));
    const { buffer } = await write(rows, 10);
    const back = await readRows(buffer);
    expect(back.map((r) => r.at)).toEqual(instants.map((ms) => BigInt(ms) * 1000n));
    // The default reader turns them into the same Dates.
    const dates = await parquetReadObjects({ file: buffer });
    expect(dates.map((r) => (r.at as Date).getTime())).toEqual(instants);
    const at = parquetMetadata(buffer).schema.find((e) => e.name === "at");
    expect(at?.logical_type).toEqual({ type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" });
    expect(at?.converted_type).toBe("TIMESTAMP_MICROS");
  });

  it("writes the schema with field ids, logical types, repetition and the footer metadata", async () => {
    const { buffer } = await write(ROWS.slice(0, 10), 10);
    const meta = parquetMetadata(buffer);
    const [root, ...leaves] = meta.schema;
    expect(root?.num_children).toBe(COLUMNS.length);
    expect(leaves.map((e) => [e.name, e.field_id, e.repetition_type])).toEqual(
      COLUMNS.map((c) => [c.name, c.fieldId, c.nullable ? "OPTIONAL" : "REQUIRED"]),
    );
    const byName = new Map(leaves.map((e) => [e.name, e]));
    expect(byName.get("id")).toMatchObject({
      type: "BYTE_ARRAY",
      converted_type: "UTF8",
      logical_type: { type: "STRING" },
    });
    expect(byName.get("tags")).toMatchObject({
      type: "BYTE_ARRAY",
      converted_type: "JSON",
      logical_type: { type: "JSON" },
    });
    expect(byName.get("big")?.type).toBe("INT64");
    expect(byName.get("flag")?.type).toBe("BOOLEAN");
    expect(byName.get("ratio")?.type).toBe("DOUBLE");
    expect(meta.key_value_metadata).toEqual([
      { key: "iceberg.schema", value: '{"type":"struct"}' },
      { key: "other", value: "x" },
    ]);
    expect(meta.created_by).toBe("lake-parquet test");
  });

  it("writes a file of no rows whose schema still reads", async () => {
    const { buffer, stats } = await write([], 100);
    const meta = parquetMetadata(buffer);
    expect(Number(meta.num_rows)).toBe(0);
    expect(meta.row_groups).toEqual([]);
    expect(meta.schema.slice(1).map((e) => e.field_id)).toEqual(COLUMNS.map((c) => c.fieldId));
    expect(await readRows(buffer)).toEqual([]);
    expect(stats).toMatchObject({ rows: 0, bytes: buffer.byteLength });
    expect(stats.perColumn.get(1)).toEqual({ valueCount: 0, nullCount: 0, compressedBytes: 0, min: null, max: null });
  });

  it("gives each column chunk its true min, max and null count", async () => {
    const { buffer } = await write(ROWS, 4_000);
    const meta = parquetMetadata(buffer, { parsers: { timestampFromMicroseconds: (v: bigint | number) => v } });
    meta.row_groups.forEach((group, g) => {
      const rows = ROWS.slice(g * 4_000, (g + 1) * 4_000);
      for (const [i, chunk] of group.columns.entries()) {
        const c = COLUMNS[i] as ParquetColumnSpec;
        const values = rows.map((r) => r[c.name] ?? null);
        const s = chunk.meta_data?.statistics;
        expect(Number(s?.null_count), `${c.name} nulls`).toBe(values.filter((v) => v === null).length);
        if (c.kind === "json") {
          expect(s?.min_value).toBeUndefined();
          continue;
        }
        const want = chunkBounds(c, values);
        expect([s?.min_value, s?.max_value], `${c.name} bounds in group ${g}`).toEqual([want.min, want.max]);
      }
    });
  });

  it("returns what the manifest needs: counts, sizes and bounds per field id", async () => {
    const { buffer, stats } = await write(ROWS, 4_000);
    const meta = parquetMetadata(buffer);
    for (const [i, c] of COLUMNS.entries()) {
      const s = stats.perColumn.get(c.fieldId);
      const values = ROWS.map((r) => r[c.name] ?? null);
      const chunkBytes = meta.row_groups.reduce(
        (n, g) => n + Number(g.columns[i]?.meta_data?.total_compressed_size),
        0,
      );
      expect(s, c.name).toMatchObject({
        valueCount: ROWS.length,
        nullCount: values.filter((v) => v === null).length,
        compressedBytes: chunkBytes,
      });
      expect([s?.min, s?.max], c.name).toEqual(icebergBounds(c, values));
    }
  });

  it("reads back the same rows without compression", async () => {
    const snappy = await write(ROWS.slice(0, 3_000), 1_000);
    const plain = await write(ROWS.slice(0, 3_000), 1_000, "none");
    expect(plain.bytes.length).toBeGreaterThan(snappy.bytes.length);
    expect(parquetMetadata(plain.buffer).row_groups[0]?.columns[0]?.meta_data?.codec).toBe("UNCOMPRESSED");
    expect(await readRows(plain.buffer)).toEqual(await readRows(snappy.buffer));
  });

  it("refuses a value of the wrong kind, and null in a required column, naming the column", async () => {
    const bad = async (r: Row) => {
      const writer = new ParquetFileWriter({
        columns: COLUMNS,
        rowGroupRows: 10,
        keyValueMetadata: {},
        createdBy: "t",
        sink: new MemorySink(),
      });
      writer.push(r);
      return writer.finish();
    };
    await expect(bad({ ...row(1), amount_minor: 12 })).rejects.toThrow(/amount_minor \(int64\)/);
    await expect(bad({ ...row(1), at: "2026-01-01T00:00:00Z" })).rejects.toThrow(/at \(timestamp\)/);
    await expect(bad({ ...row(1), id: null })).rejects.toThrow(/id is required/);
    await expect(bad({ ...row(1), tags: "[]" })).rejects.toThrow(/tags \(json\)/);
  });
});

/** Column-chunk statistics as hyparquet reads them back (strings cut to 64 code points). */
function chunkBounds(c: ParquetColumnSpec, values: ParquetValue[]) {
  switch (c.kind) {
    case "string": {
      const { min, max } = trueBounds(values as (string | null)[], utf8Less);
      return {
        min: min === null ? undefined : lowerBound(min, 64),
        max: max === null ? undefined : upperBound(max, 64),
      };
    }
    case "timestamp": {
      const { min, max } = trueBounds(values as (bigint | null)[], (a, b) => a < b);
      return { min: min === null ? undefined : min * 1000n, max: max === null ? undefined : max * 1000n };
    }
    case "boolean": {
      const { min, max } = trueBounds(values as (boolean | null)[], (a, b) => !a && b);
      return { min: min ?? undefined, max: max ?? undefined };
    }
    default: {
      const { min, max } = trueBounds(values as (bigint | number | null)[], (a, b) => a < b);
      return { min: min ?? undefined, max: max ?? undefined };
    }
  }
}

/** Iceberg bounds: strings to 16 code points (max rounded up), none for json, times in ms. */
function icebergBounds(c: ParquetColumnSpec, values: ParquetValue[]): [ParquetValue, ParquetValue] {
  if (c.kind === "json") return [null, null];
  if (c.kind === "string") {
    const { min, max } = trueBounds(values as (string | null)[], utf8Less);
    return [min === null ? null : lowerBound(min, 16), max === null ? null : upperBound(max, 16)];
  }
  if (c.kind === "boolean") {
    const { min, max } = trueBounds(values as (boolean | null)[], (a, b) => !a && b);
    return [min, max];
  }
  const { min, max } = trueBounds(values as (bigint | number | null)[], (a, b) => a < b);
  return [min, max];
}

describe("string bounds", () => {
  it("orders by UTF-8 bytes, not UTF-16 units", () => {
    // U+FFFF is EF BF BF, U+1F600 is F0 9F 98 80: the emoji sorts last by bytes, first by units.
    expect("\uffff" < "😀").toBe(false);
    expect(utf8Less("\uffff", "😀")).toBe(true);
    expect(utf8Less("abc", "abd")).toBe(true);
    expect(utf8Less("ab", "abc")).toBe(true);
    expect(utf8Less("abc", "abc")).toBe(false);
  });

  it("truncates a lower bound and rounds an upper bound up, by code points", () => {
    expect(lowerBound("abcdef", 3)).toBe("abc");
    expect(upperBound("abcdef", 3)).toBe("abd");
    expect(upperBound("ab\u{10ffff}def", 3)).toBe("ac");
    expect(upperBound("a\ud7ffzz", 2)).toBe("a\ue000");
    expect(upperBound("😀😀😀", 2)).toBe("😀😁");
    expect(upperBound("\u{10ffff}".repeat(4), 3)).toBeNull();
    expect(upperBound("short", 16)).toBe("short");
  });

  it("leaves the file's string max out when it cannot be rounded up", async () => {
    const sink = new MemorySink();
    const writer = new ParquetFileWriter({
      columns: [{ name: "s", kind: "string", nullable: false, fieldId: 1 }],
      rowGroupRows: 10,
      keyValueMetadata: {},
      createdBy: "t",
      sink,
    });
    writer.push({ s: "\u{10ffff}".repeat(20) });
    writer.push({ s: "a" });
    const stats = await writer.finish();
    expect(stats.perColumn.get(1)).toMatchObject({ min: "a", max: null });
  });
});

describe("snappyCompress", () => {
  it("round-trips short, incompressible, repetitive and far-reaching input through hyparquet's decoder", () => {
    let seed = 7;
    const random = (n: number) =>
      Uint8Array.from({ length: n }, () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed >>> 24;
      });
    const block = random(1000);
    const far = new Uint8Array(200_000);
    far.set(block, 0);
    far.set(block, 150_000); // a repeat past Snappy's 64 KiB reach: literals, not a copy
    const inputs = [
      new Uint8Array(0),
      Uint8Array.of(1, 2, 3),
      random(14),
      random(70_000),
      new Uint8Array(100_000).fill(42),
      new TextEncoder().encode("id 820982911946154508 ".repeat(5_000)),
      far,
    ];
    for (const input of inputs) {
      const out = new ByteBuffer(16);
      snappyCompress(input, out);
      const back = new Uint8Array(input.length);
      snappyUncompress(out.view(), back);
      expect(
        back.every((b, i) => b === input[i]),
        `${input.length} bytes`,
      ).toBe(true);
    }
  });
});

describe("R2MultipartSink", () => {
  const chunkOf = (n: number, seed: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
    return b;
  };

  it("uploads parts of one size and completes, the object equal to what was written", async () => {
    const parts: number[] = [];
    const bucket = {
      createMultipartUpload: async (...a: Parameters<R2Bucket["createMultipartUpload"]>) => {
        const upload = await env.LAKE.createMultipartUpload(...a);
        return {
          uploadPart: (n: number, body: Uint8Array) => {
            parts.push(body.byteLength);
            return upload.uploadPart(n, body);
          },
          complete: (p: R2UploadedPart[]) => upload.complete(p),
          abort: () => upload.abort(),
        };
      },
    } as unknown as R2Bucket;
    const sink = new R2MultipartSink(bucket, "test/parquet/multipart.bin", {
      upload: { httpMetadata: { contentType: "application/vnd.apache.parquet" } },
    });
    const chunks = [chunkOf(3 << 20, 1), chunkOf(7 << 20, 2), chunkOf(9 << 20, 3)];
    for (const c of chunks) await sink.write(c);
    const object = await sink.close();
    expect(parts).toEqual([8 << 20, 8 << 20, 3 << 20]);
    expect(object.size).toBe(19 << 20);
    const bytes = new Uint8Array(await stored("test/parquet/multipart.bin"));
    expect(bytes.length).toBe(19 << 20);
    // The first byte that differs, if any (a diff of 19 MiB would be no help).
    let at = 0;
    let differs = -1;
    for (const c of chunks) {
      for (let i = 0; i < c.length && differs < 0; i++) if (bytes[at + i] !== c[i]) differs = at + i;
      at += c.length;
    }
    expect(differs).toBe(-1);
  });

  it("puts a file smaller than a part in one request", async () => {
    let multipart = 0;
    const bucket = new Proxy(env.LAKE, {
      get(target, prop) {
        if (prop === "createMultipartUpload") multipart++;
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const { bytes } = await write(ROWS.slice(0, 100), 50);
    const sink = new R2MultipartSink(bucket, "test/parquet/small.parquet");
    await sink.write(bytes);
    await sink.close();
    expect(multipart).toBe(0);
    const back = await readRows(await stored("test/parquet/small.parquet"));
    expect(back.length).toBe(100);
  });

  it("aborts the upload when a part fails", async () => {
    let aborted = 0;
    const bucket = {
      createMultipartUpload: async () => ({
        uploadPart: async () => {
          throw new Error("R2 is down");
        },
        abort: async () => {
          aborted++;
        },
        complete: async () => {
          throw new Error("not reached");
        },
      }),
    } as unknown as R2Bucket;
    const sink = new R2MultipartSink(bucket, "test/parquet/failed.bin");
    await expect(sink.write(chunkOf(9 << 20, 4))).rejects.toThrow(/R2 is down/);
    expect(aborted).toBe(1);
    await expect(sink.write(chunkOf(10, 5))).rejects.toThrow(/closed or aborted/);
  });

  it("takes a whole Parquet file from the writer", async () => {
    const sink = new R2MultipartSink(env.LAKE, "test/parquet/written.parquet");
    const writer = new ParquetFileWriter({
      columns: COLUMNS,
      rowGroupRows: 2_000,
      keyValueMetadata: {},
      createdBy: "t",
      sink,
    });
    for (const r of ROWS) await writer.push(r);
    const stats: FileStats = await writer.finish();
    await sink.close();
    const file = await stored("test/parquet/written.parquet");
    expect(file.byteLength).toBe(stats.bytes);
    expect((await readRows(file)).length).toBe(ROWS.length);
  });
});
