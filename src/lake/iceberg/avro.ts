/**
 * A generic Avro binary encoder and decoder, and the Object Container File (OCF) around them:
 * what Iceberg manifests and manifest lists are. The writer uses codec "null" and one block per
 * 1,000 records; the reader decodes with the writer schema from the file's header, so it reads
 * files of any writer. Pure and deterministic: the 16-byte sync marker is a hash of the file's
 * content instead of random bytes, so the same manifest always has the same bytes (a retried
 * commit rewrites it identically). Trade-off: uncompressed files, since manifests are small and
 * Workers have no synchronous deflate; a compressed file from another writer reads only when the
 * caller passes a decompressor for its codec.
 */
import { AvroError } from "./errors";

export type AvroPrimitive = "null" | "boolean" | "int" | "long" | "float" | "double" | "bytes" | "string";

export interface AvroField {
  name: string;
  type: AvroType;
  "field-id"?: number;
  default?: null;
  doc?: string;
}

export interface AvroRecord {
  type: "record";
  name: string;
  namespace?: string;
  fields: AvroField[];
}

export interface AvroArray {
  type: "array";
  items: AvroType;
  "element-id"?: number;
  /** Iceberg writes maps with non-string keys as arrays of key/value records with logicalType "map". */
  logicalType?: string;
}

export interface AvroMap {
  type: "map";
  values: AvroType;
}

export interface AvroFixed {
  type: "fixed";
  name: string;
  size: number;
}

export interface AvroEnum {
  type: "enum";
  name: string;
  symbols: string[];
}

/** A primitive with annotations (`{"type": "long", "logicalType": "timestamp-micros"}`): read as the primitive. */
export interface AvroAnnotated {
  type: AvroPrimitive;
  logicalType?: string;
}

/** A union is an array of branches; a string that is not a primitive names a type defined earlier. */
export type AvroType = string | AvroRecord | AvroArray | AvroMap | AvroFixed | AvroEnum | AvroAnnotated | AvroType[];

/** An Iceberg field that may be null: a union with "null", defaulting to null, carrying its field id. */
export const optional = (name: string, type: AvroField["type"], id: number): AvroField => ({
  name,
  type: ["null", type],
  default: null,
  "field-id": id,
});

/** int/float/double are numbers, long is a bigint, bytes and fixed are Uint8Array, a record is a plain object. */
export type AvroValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | AvroValue[]
  | Map<string, AvroValue>
  | { [field: string]: AvroValue };

const MAGIC = [0x4f, 0x62, 0x6a, 0x01]; // "Obj" 1
const RECORDS_PER_BLOCK = 1000;
const PRIMITIVES = new Set(["null", "boolean", "int", "long", "float", "double", "bytes", "string"]);
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A growable byte buffer. */
class Sink {
  private buf = new Uint8Array(1024);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeLong(sink: Sink, value: bigint): void {
  if (value < LONG_MIN || value > LONG_MAX) throw new AvroError(`long ${value} is out of range`);
  let n = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  while (n >= 0x80n) {
    sink.byte(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  sink.byte(Number(n));
}

function writeInt(sink: Sink, value: number): void {
  if (!Number.isInteger(value) || value < INT_MIN || value > INT_MAX) {
    throw new AvroError(`int ${value} is not a 32-bit integer`);
  }
  let n = ((value << 1) ^ (value >> 31)) >>> 0;
  while (n >= 0x80) {
    sink.byte((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  sink.byte(n);
}

function writeBytes(sink: Sink, value: Uint8Array): void {
  writeLong(sink, BigInt(value.length));
  sink.bytes(value);
}

function isPlainObject(value: AvroValue): value is { [field: string]: AvroValue } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map)
  );
}

/** Named types (records, fixed, enums) by full name, so later references resolve. */
type Names = Map<string, AvroType>;

function define(names: Names, type: { name: string; namespace?: string }, schema: AvroType): void {
  names.set(type.name, schema);
  if (type.namespace) names.set(`${type.namespace}.${type.name}`, schema);
}

function resolve(names: Names, type: AvroType): AvroType {
  if (typeof type !== "string" || PRIMITIVES.has(type)) return type;
  const named = names.get(type);
  if (named === undefined) throw new AvroError(`schema names an undefined type "${type}"`);
  return named;
}

/** Whether `value` can be written as `type` (to pick a union branch). */
function accepts(names: Names, type: AvroType, value: AvroValue): boolean {
  const t = resolve(names, type);
  if (Array.isArray(t)) return t.some((branch) => accepts(names, branch, value));
  const name = typeof t === "string" ? t : t.type;
  switch (name) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "int":
    case "float":
    case "double":
      return typeof value === "number";
    case "long":
      return typeof value === "bigint" || (typeof value === "number" && Number.isSafeInteger(value));
    case "string":
    case "enum":
      return typeof value === "string";
    case "bytes":
    case "fixed":
      return value instanceof Uint8Array;
    case "array":
      return Array.isArray(value);
    case "map":
      return value instanceof Map || isPlainObject(value);
    case "record":
      return isPlainObject(value);
    default:
      return false;
  }
}

function encodeValue(sink: Sink, names: Names, type: AvroType, value: AvroValue, path: string): void {
  const t = resolve(names, type);
  if (Array.isArray(t)) {
    const branch = t.findIndex((b) => accepts(names, b, value));
    if (branch < 0) throw new AvroError(`${path}: no branch of the union accepts ${describe(value)}`);
    writeLong(sink, BigInt(branch));
    encodeValue(sink, names, t[branch] as AvroType, value, path);
    return;
  }
  const name = typeof t === "string" ? t : t.type;
  const fail = (): never => {
    throw new AvroError(`${path}: expected ${name}, got ${describe(value)}`);
  };
  switch (name) {
    case "null":
      if (value !== null) fail();
      return;
    case "boolean":
      if (typeof value !== "boolean") fail();
      sink.byte(value ? 1 : 0);
      return;
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value) || value < INT_MIN || value > INT_MAX) fail();
      writeInt(sink, value as number);
      return;
    case "long": {
      const long = typeof value === "number" && Number.isSafeInteger(value) ? BigInt(value) : value;
      if (typeof long !== "bigint" || long < LONG_MIN || long > LONG_MAX) fail();
      writeLong(sink, long as bigint);
      return;
    }
    case "float":
    case "double": {
      if (typeof value !== "number") fail();
      const size = name === "float" ? 4 : 8;
      const out = new Uint8Array(size);
      const view = new DataView(out.buffer);
      if (size === 4) view.setFloat32(0, value as number, true);
      else view.setFloat64(0, value as number, true);
      sink.bytes(out);
      return;
    }
    case "bytes":
      if (!(value instanceof Uint8Array)) fail();
      writeBytes(sink, value as Uint8Array);
      return;
    case "string":
      if (typeof value !== "string") fail();
      writeBytes(sink, utf8.encode(value as string));
      return;
    case "fixed": {
      const fixed = t as AvroFixed;
      if (!(value instanceof Uint8Array) || value.length !== fixed.size) fail();
      sink.bytes(value as Uint8Array);
      return;
    }
    case "enum": {
      const index = (t as AvroEnum).symbols.indexOf(value as string);
      if (index < 0) fail();
      writeInt(sink, index);
      return;
    }
    case "array": {
      if (!Array.isArray(value)) fail();
      const items = value as AvroValue[];
      if (items.length > 0) {
        writeLong(sink, BigInt(items.length));
        items.forEach((item, i) => {
          encodeValue(sink, names, (t as AvroArray).items, item, `${path}[${i}]`);
        });
      }
      writeLong(sink, 0n);
      return;
    }
    case "map": {
      if (!(value instanceof Map) && !isPlainObject(value)) fail();
      const entries = value instanceof Map ? [...value] : Object.entries(value as object);
      if (entries.length > 0) {
        writeLong(sink, BigInt(entries.length));
        for (const [key, item] of entries) {
          writeBytes(sink, utf8.encode(key));
          encodeValue(sink, names, (t as AvroMap).values, item as AvroValue, `${path}.${key}`);
        }
      }
      writeLong(sink, 0n);
      return;
    }
    case "record": {
      if (!isPlainObject(value)) fail();
      const record = t as AvroRecord;
      const object = value as { [field: string]: AvroValue };
      for (const field of record.fields) {
        const fieldValue = object[field.name];
        encodeValue(sink, names, field.type, fieldValue === undefined ? null : fieldValue, `${path}.${field.name}`);
      }
      return;
    }
    default:
      throw new AvroError(`${path}: unsupported Avro type ${JSON.stringify(name)}`);
  }
}

function describe(value: AvroValue): string {
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "bigint") return `${typeof value} ${value}`;
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  if (value instanceof Map) return "a Map";
  return typeof value;
}

/** Registers the named types a schema defines, in the order a reader meets them. */
function collectNames(names: Names, type: AvroType): void {
  if (Array.isArray(type)) {
    for (const branch of type) collectNames(names, branch);
    return;
  }
  if (typeof type === "string") return;
  switch (type.type) {
    case "record":
      define(names, type as AvroRecord, type);
      for (const field of (type as AvroRecord).fields) collectNames(names, field.type);
      return;
    case "fixed":
    case "enum":
      define(names, type as AvroFixed | AvroEnum, type);
      return;
    case "array":
      collectNames(names, (type as AvroArray).items);
      return;
    case "map":
      collectNames(names, (type as AvroMap).values);
      return;
  }
}

/** The Avro binary encoding of one value. */
export function encodeAvro(schema: AvroType, value: AvroValue): Uint8Array {
  const names: Names = new Map();
  collectNames(names, schema);
  const sink = new Sink();
  encodeValue(sink, names, schema, value, "$");
  return sink.result();
}

/** A 16-byte marker from the file's content: four FNV-1a hashes with different seeds. */
function syncMarker(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  const seeds = [0x811c9dc5, 0x050c5d1f, 0x2f8a8d73, 0x6b3e1c29];
  seeds.forEach((seed, i) => {
    let h = seed;
    for (const part of parts) {
      for (const b of part) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    }
    view.setUint32(i * 4, h);
  });
  return out;
}

/**
 * An Object Container File holding `records` written with `schema`, codec "null", and the
 * given header metadata (Iceberg keeps its manifest properties there).
 */
export function writeContainer(options: {
  schema: AvroRecord;
  records: readonly AvroValue[];
  metadata?: Readonly<Record<string, string>>;
}): Uint8Array {
  const names: Names = new Map();
  collectNames(names, options.schema);
  const blocks = new Sink();
  const blockBodies: { count: number; body: Uint8Array }[] = [];
  for (let start = 0; start < options.records.length; start += RECORDS_PER_BLOCK) {
    const body = new Sink();
    const chunk = options.records.slice(start, start + RECORDS_PER_BLOCK);
    chunk.forEach((record, i) => {
      encodeValue(body, names, options.schema, record, `record ${start + i}`);
    });
    blockBodies.push({ count: chunk.length, body: body.result() });
  }

  const header = new Sink();
  header.bytes(new Uint8Array(MAGIC));
  const metadata: [string, string][] = [
    ["avro.schema", JSON.stringify(options.schema)],
    ["avro.codec", "null"],
    ...Object.entries(options.metadata ?? {}),
  ];
  writeLong(header, BigInt(metadata.length));
  for (const [key, value] of metadata) {
    writeBytes(header, utf8.encode(key));
    writeBytes(header, utf8.encode(value));
  }
  writeLong(header, 0n);
  const headerBytes = header.result();
  const sync = syncMarker([headerBytes, ...blockBodies.map((b) => b.body)]);

  blocks.bytes(headerBytes);
  blocks.bytes(sync);
  for (const { count, body } of blockBodies) {
    writeLong(blocks, BigInt(count));
    writeLong(blocks, BigInt(body.length));
    blocks.bytes(body);
    blocks.bytes(sync);
  }
  return blocks.result();
}

/** A cursor over bytes that fails with an AvroError, not a RangeError, when the data runs out. */
class Source {
  offset = 0;
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): void {
    if (n < 0 || this.offset + n > this.bytes.length) {
      throw new AvroError(`truncated Avro data at byte ${this.offset} (wanted ${n} more)`);
    }
  }

  byte(): number {
    this.need(1);
    return this.bytes[this.offset++] as number;
  }

  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  float(size: 4 | 8): number {
    this.need(size);
    const value = size === 4 ? this.view.getFloat32(this.offset, true) : this.view.getFloat64(this.offset, true);
    this.offset += size;
    return value;
  }

  long(): bigint {
    let n = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      n |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7n;
      if (shift > 63n) throw new AvroError(`varint longer than 10 bytes at byte ${this.offset}`);
    }
    return (n >> 1n) ^ -(n & 1n);
  }

  int(): number {
    const value = this.long();
    if (value < BigInt(INT_MIN) || value > BigInt(INT_MAX)) throw new AvroError(`int ${value} is out of range`);
    return Number(value);
  }

  length(): number {
    const value = this.long();
    if (value < 0n || value > BigInt(this.bytes.length)) throw new AvroError(`invalid length ${value}`);
    return Number(value);
  }
}

/** Block counts of arrays and maps: a negative count is followed by the block's byte size. */
function blockCount(source: Source): number {
  let count = source.long();
  if (count < 0n) {
    count = -count;
    source.long();
  }
  return Number(count);
}

function decodeValue(source: Source, names: Names, type: AvroType): AvroValue {
  const t = resolve(names, type);
  if (Array.isArray(t)) {
    const index = Number(source.long());
    const branch = t[index];
    if (branch === undefined) throw new AvroError(`union branch ${index} does not exist`);
    return decodeValue(source, names, branch);
  }
  const name = typeof t === "string" ? t : t.type;
  switch (name) {
    case "null":
      return null;
    case "boolean":
      return source.byte() !== 0;
    case "int":
      return source.int();
    case "long":
      return source.long();
    case "float":
      return source.float(4);
    case "double":
      return source.float(8);
    case "bytes":
      return source.take(source.length()).slice();
    case "string":
      return fromUtf8.decode(source.take(source.length()));
    case "fixed":
      return source.take((t as AvroFixed).size).slice();
    case "enum": {
      const symbol = (t as AvroEnum).symbols[source.int()];
      if (symbol === undefined) throw new AvroError(`enum ${(t as AvroEnum).name} has no such symbol`);
      return symbol;
    }
    case "array": {
      const out: AvroValue[] = [];
      for (let count = blockCount(source); count > 0; count = blockCount(source)) {
        for (let i = 0; i < count; i++) out.push(decodeValue(source, names, (t as AvroArray).items));
      }
      return out;
    }
    case "map": {
      const out = new Map<string, AvroValue>();
      for (let count = blockCount(source); count > 0; count = blockCount(source)) {
        for (let i = 0; i < count; i++) {
          const key = fromUtf8.decode(source.take(source.length()));
          out.set(key, decodeValue(source, names, (t as AvroMap).values));
        }
      }
      return out;
    }
    case "record": {
      const out: { [field: string]: AvroValue } = {};
      for (const field of (t as AvroRecord).fields) out[field.name] = decodeValue(source, names, field.type);
      return out;
    }
    default:
      throw new AvroError(`unsupported Avro type ${JSON.stringify(name)}`);
  }
}

/** Decodes one value written with `schema` (the inverse of encodeAvro). */
export function decodeAvro(schema: AvroType, bytes: Uint8Array): AvroValue {
  const names: Names = new Map();
  collectNames(names, schema);
  const source = new Source(bytes);
  const value = decodeValue(source, names, schema);
  if (source.offset !== bytes.length) throw new AvroError(`${bytes.length - source.offset} bytes left after the value`);
  return value;
}

export interface Container {
  /** The writer schema from the header. */
  schema: AvroType;
  /** The header metadata other than `avro.schema` and `avro.codec`, as UTF-8 text. */
  metadata: Record<string, string>;
  records: AvroValue[];
}

/** Decompressors by Avro codec name, for files another writer compressed. */
export type AvroCodecs = Readonly<Record<string, (block: Uint8Array) => Uint8Array>>;

/** Reads an Object Container File with the writer schema its header holds. */
export function readContainer(bytes: Uint8Array, codecs: AvroCodecs = {}): Container {
  const source = new Source(bytes);
  const magic = source.take(4);
  if (!MAGIC.every((b, i) => magic[i] === b)) throw new AvroError("not an Avro object container file (bad magic)");

  const header = new Map<string, Uint8Array>();
  for (let count = blockCount(source); count > 0; count = blockCount(source)) {
    for (let i = 0; i < count; i++) {
      const key = fromUtf8.decode(source.take(source.length()));
      header.set(key, source.take(source.length()).slice());
    }
  }
  const sync = source.take(16).slice();

  const schemaBytes = header.get("avro.schema");
  if (schemaBytes === undefined) throw new AvroError("the file header has no avro.schema");
  let schema: AvroType;
  try {
    schema = JSON.parse(fromUtf8.decode(schemaBytes)) as AvroType;
  } catch {
    throw new AvroError("the file header's avro.schema is not JSON");
  }
  const codecBytes = header.get("avro.codec");
  const codec = codecBytes === undefined ? "null" : fromUtf8.decode(codecBytes);
  const decompress = codec === "null" ? (block: Uint8Array) => block : codecs[codec];
  if (decompress === undefined) throw new AvroError(`Avro codec "${codec}" is not supported here (only "null")`);

  const names: Names = new Map();
  collectNames(names, schema);
  const records: AvroValue[] = [];
  while (source.offset < bytes.length) {
    const count = Number(source.long());
    const size = source.length();
    const block = new Source(decompress(source.take(size)));
    const blockSync = source.take(16);
    if (!sync.every((b, i) => blockSync[i] === b))
      throw new AvroError("a block's sync marker does not match the header's");
    for (let i = 0; i < count; i++) records.push(decodeValue(block, names, schema));
  }

  const metadata: Record<string, string> = {};
  for (const [key, value] of header) {
    if (key !== "avro.schema" && key !== "avro.codec") metadata[key] = fromUtf8.decode(value);
  }
  return { schema, metadata, records };
}
