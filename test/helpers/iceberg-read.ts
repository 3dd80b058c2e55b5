/**
 * Reads the lake's Iceberg tables as an engine outside the Worker would: through icebird, an
 * independent reader (metadata JSON, Avro manifests, equality and position deletes, Parquet),
 * by path from the version hint. icebird fetches `s3://bucket/key` as
 * `https://bucket.s3.amazonaws.com/key`; while it reads, fetch for that host is answered from
 * the test's R2 binding, with the Range requests Parquet readers make.
 */
import { env } from "cloudflare:workers";
import { icebergRead } from "icebird";
import { vi } from "vitest";

const BUCKET_HOST = "commerce-lake.s3.amazonaws.com";
export const LAKE_ROOT = "s3://commerce-lake";

export type LakeRow = Record<string, unknown>;

/** Every row of `processed/{namespace}/{table}/` as icebird reads it (current snapshot). */
export async function readLakeTable(namespace: string, table: string, o: { metadataFileName?: string } = {}) {
  const spy = serveLake();
  try {
    return (await icebergRead({
      tableUrl: `${LAKE_ROOT}/processed/${namespace}/${table}`,
      ...(o.metadataFileName === undefined ? {} : { metadataFileName: o.metadataFileName }),
    })) as LakeRow[];
  } finally {
    spy.mockRestore();
  }
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
