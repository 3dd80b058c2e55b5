/**
 * A bulk operation's result the size of the brand, made as it is downloaded. The fake Admin API
 * (test/fakes/shopify-admin.ts) writes a finished operation's whole JSONL into one string and one
 * gzip Blob, which workerd refuses past 128 MB (100,000 orders are about 390 MB of JSONL). Here the
 * fake's step that finishes an operation is replaced, on this one instance, by one that points the
 * operation's URL at a stream: the orders in chunks of CHUNK_ORDERS, each chunk run through the
 * fake's own executor (`bulkLines` over a fake of just those orders) for the operation's query,
 * every parent followed by its children (how Shopify writes them), as plain JSONL (as Shopify serves
 * it). Generation is deterministic, so a resumed download (an HTTP Range) is the same bytes, served
 * from the chunk that holds its offset (206) as a storage URL serves a range.
 */

import { bulkLines, type OperationNode, parseOperation } from "../../test/fakes/graphql-lite";
import { type FakeBulkOperation, FakeShopifyAdmin, RESULTS_HOST } from "../../test/fakes/shopify-admin";
import type { FakeNode } from "../../test/fakes/shopify-data";

const CHUNK_ORDERS = 1_000;
const encoder = new TextEncoder();

/** The fake's private members this replaces or calls (plain methods at runtime). */
interface FakeInternals {
  finish(op: FakeBulkOperation, status: "COMPLETED" | "FAILED", partial?: boolean): void;
  root(version: string, op: OperationNode): Record<string, unknown>;
  iso(): string;
}

export interface BulkStream {
  serves(url: URL): boolean;
  /** `range`: the request's Range header (`bytes=N-`), answered from byte N with 206. */
  handle(url: URL, range: string | null): Response;
}

/** JSONL of orders [from, to) for the query: each parent line, then its children's. */
function chunkLines(shop: FakeShopifyAdmin, op: OperationNode, orders: FakeNode[]): string {
  const part = new FakeShopifyAdmin(shop.shop, { ...shop.data, orders, customers: [], products: [] });
  const { parents, children } = bulkLines(op, (part as unknown as FakeInternals).root("2026-01", op));
  const kids = new Map<string, string[]>();
  for (const c of children) {
    const parent = /"__parentId":"([^"]+)"/.exec(c)?.[1] ?? "";
    kids.set(parent, [...(kids.get(parent) ?? []), c]);
  }
  const lines: string[] = [];
  for (const p of parents) lines.push(p, ...(kids.get(/"id":"([^"]+)"/.exec(p)?.[1] ?? "") ?? []));
  return `${lines.join("\n")}\n`;
}

/** Where each chunk of a result starts, in bytes, as far as it was generated (chunk i starts at starts[i]). */
type ChunkStarts = number[];

/**
 * The result's bytes from `from` on. A chunk's start is known once it was generated, so a ranged
 * request (a resumed copy) starts generating at the chunk that holds its offset, as a storage URL
 * serves a range without reading what comes before it.
 */
function resultStream(
  shop: FakeShopifyAdmin,
  query: string,
  total: number,
  nodes: (from: number, to: number) => FakeNode[],
  starts: ChunkStarts,
  from: number,
): ReadableStream<Uint8Array> {
  const op = parseOperation(query);
  let chunk = 0;
  while (chunk + 1 < starts.length && (starts[chunk + 1] as number) <= from) chunk++;
  let skip = from - (starts[chunk] ?? 0);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const first = chunk * CHUNK_ORDERS;
      if (first >= total) {
        controller.close();
        return;
      }
      const bytes = encoder.encode(chunkLines(shop, op, nodes(first, Math.min(total, first + CHUNK_ORDERS))));
      starts[chunk + 1] = (starts[chunk] ?? 0) + bytes.byteLength;
      chunk++;
      if (skip >= bytes.byteLength) {
        skip -= bytes.byteLength;
        return;
      }
      controller.enqueue(skip > 0 ? bytes.subarray(skip) : bytes);
      skip = 0;
    },
  });
}

/**
 * Makes `shop` finish its bulk operations with a streamed result of `total` orders (`nodes` gives
 * them); returns what serves those results.
 */
export function streamBulkResults(
  shop: FakeShopifyAdmin,
  total: number,
  nodes: (from: number, to: number) => FakeNode[],
): BulkStream {
  const internals = shop as unknown as FakeInternals;
  const queries = new Map<string, string>();
  const starts = new Map<string, ChunkStarts>();
  internals.finish = (op, status) => {
    const path = `/${shop.shop}/stream-${op.number}.jsonl`;
    queries.set(path, op.query);
    op.status = status;
    op.completedAt = internals.iso();
    op.rootObjectCount = String(total);
    op.objectCount = String(total);
    op.url = `https://${RESULTS_HOST}${path}?X-Goog-Expires=604800&X-Goog-Signature=fake`;
  };
  return {
    serves: (url) => url.hostname === RESULTS_HOST && queries.has(url.pathname),
    handle: (url, range) => {
      const query = queries.get(url.pathname) as string;
      const known = starts.get(url.pathname) ?? [0];
      starts.set(url.pathname, known);
      const from = Number(/^bytes=(\d+)-$/.exec(range ?? "")?.[1] ?? 0);
      const body = resultStream(shop, query, total, nodes, known, from);
      const headers = { "content-type": "application/jsonl" };
      return from > 0 ? new Response(body, { status: 206, headers }) : new Response(body, { headers });
    },
  };
}
