/**
 * Reads the lake's Iceberg tables as an engine outside the Worker would: through icebird, an
 * independent reader (metadata JSON, Avro manifests, equality and position deletes, Parquet),
 * by path from the version hint. icebird fetches `s3://bucket/key` as
 * `https://bucket.s3.amazonaws.com/key`; while it reads, fetch for that host is answered from
 * the test's R2 binding, with the Range requests Parquet readers make.
 */
import { env } from "cloudflare:workers";
import { icebergManifests, icebergMetadata, icebergRead } from "icebird";
import { vi } from "vitest";

const BUCKET_HOST = "commerce-lake.s3.amazonaws.com";
export const LAKE_ROOT = "s3://commerce-lake";

export type LakeRow = Record<string, unknown>;

/** Where a table is: by its place under `processed/`, or (a catalog's table) by its own location. */
export interface LakeTableAt {
  /** The table's location URI, when it is not `processed/{namespace}/{table}` (a catalog chose it). */
  tableUrl?: string;
  /** A metadata file under the table's `metadata/` to read instead of the version hint's. */
  metadataFileName?: string;
}

const tableUrlOf = (namespace: string, table: string, o: LakeTableAt) =>
  o.tableUrl ?? `${LAKE_ROOT}/processed/${namespace}/${table}`;

/** Every row of `processed/{namespace}/{table}/` as icebird reads it (current snapshot). */
export async function readLakeTable(namespace: string, table: string, o: LakeTableAt = {}) {
  return served(
    async () =>
      (await icebergRead({
        tableUrl: tableUrlOf(namespace, table, o),
        ...(o.metadataFileName === undefined ? {} : { metadataFileName: o.metadataFileName }),
      })) as LakeRow[],
  );
}

/** One file of the current snapshot, as icebird reads its manifests. */
export interface LakeFile {
  /** 0 data, 2 equality deletes. */
  content: number;
  key: string;
  records: bigint;
  /** The entry's data sequence number (inherited from its manifest when the entry has none). */
  sequenceNumber: bigint;
  equalityIds: number[] | null;
}

/** The data and delete files the table's current snapshot reaches (live entries only). */
export async function lakeFiles(namespace: string, table: string, o: LakeTableAt = {}): Promise<LakeFile[]> {
  return served(async () => {
    const metadata = await icebergMetadata({
      tableUrl: tableUrlOf(namespace, table, o),
      ...(o.metadataFileName === undefined ? {} : { metadataFileName: o.metadataFileName }),
    });
    const manifests = await icebergManifests(metadata);
    return manifests.flatMap((m) =>
      m.entries
        .filter((e) => e.status !== 2)
        .map((e) => ({
          content: Number(e.data_file.content ?? 0),
          key: e.data_file.file_path.slice(LAKE_ROOT.length + 1),
          records: BigInt(e.data_file.record_count),
          sequenceNumber: BigInt(e.sequence_number ?? -1),
          equalityIds: (e.data_file.equality_ids as number[] | undefined) ?? null,
        })),
    );
  });
}

/**
 * Every key under `processed/{namespace}/{table}/` a reader can reach, as icebird reads them: the
 * version hint, the metadata file it names, and for each snapshot of that metadata its manifest
 * list, manifests and their live data and delete files.
 */
export async function lakeReachableKeys(namespace: string, table: string): Promise<string[]> {
  const root = `processed/${namespace}/${table}/metadata/`;
  const hint = await env.LAKE.get(`${root}version-hint.text`);
  if (hint === null) throw new Error(`no version hint under ${root}`);
  const metadataFileName = `v${(await hint.text()).trim()}.metadata.json`;
  const keyOf = (uri: string) => uri.slice(LAKE_ROOT.length + 1);
  return served(async () => {
    const metadata = await icebergMetadata({ tableUrl: tableUrlOf(namespace, table, {}), metadataFileName });
    const keys = new Set([`${root}version-hint.text`, `${root}${metadataFileName}`]);
    for (const snapshot of metadata.snapshots ?? []) {
      keys.add(keyOf(snapshot["manifest-list"] as string));
      const manifests = await icebergManifests({ ...metadata, "current-snapshot-id": snapshot["snapshot-id"] });
      for (const m of manifests) {
        keys.add(keyOf(m.url));
        for (const e of m.entries) if (e.status !== 2) keys.add(keyOf(e.data_file.file_path));
      }
    }
    return [...keys].sort();
  });
}

/** The table's current metadata JSON (by its version hint). */
export async function lakeMetadata(
  namespace: string,
  table: string,
): Promise<Record<string, unknown> & { snapshots: Record<string, unknown>[] }> {
  const root = `processed/${namespace}/${table}/metadata/`;
  const hint = await env.LAKE.get(`${root}version-hint.text`);
  if (hint === null) throw new Error(`no version hint under ${root}`);
  const meta = await env.LAKE.get(`${root}v${(await hint.text()).trim()}.metadata.json`);
  if (meta === null) throw new Error(`no metadata under ${root}`);
  return meta.json();
}

/** Every key under `prefix`, sorted. */
export async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.LAKE.list({ prefix, cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return keys.sort();
}

/** Runs `read` with the lake's S3 host answered from the R2 binding. */
async function served<T>(read: () => Promise<T>): Promise<T> {
  const spy = serveLake();
  try {
    return await read();
  } finally {
    spy.mockRestore();
  }
}

function serveLake() {
  const real = globalThis.fetch;
  return vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.host !== BUCKET_HOST) return real(input, init);
    const key = decodeURIComponent(url.pathname.slice(1));
    const range = request.headers.get("range");
    const m = range === null ? null : /^bytes=(\d+)-(\d*)$/.exec(range);
    if (m === null) {
      const object = await env.LAKE.get(key);
      if (object === null) return new Response("not found", { status: 404 });
      const body = new Uint8Array(await object.arrayBuffer());
      return new Response(body, { headers: { "content-length": String(body.length) } });
    }
    const start = Number(m[1]);
    const head = await env.LAKE.head(key);
    if (head === null) return new Response("not found", { status: 404 });
    const end = Math.min(m[2] ? Number(m[2]) : head.size - 1, head.size - 1);
    const object = await env.LAKE.get(key, { range: { offset: start, length: end - start + 1 } });
    if (object === null) return new Response("not found", { status: 404 });
    return new Response(await object.arrayBuffer(), {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${head.size}`, "content-length": String(end - start + 1) },
    });
  });
}
