/**
 * What the subject index holds, read from every shard (src/durable/subject-index.ts) the way a test
 * reads a D1 table: entries filtered by object key (exact or prefix) and kind.
 */
import { env } from "cloudflare:workers";
import { SUBJECT_INDEX_SHARDS, shardName, subjectShard } from "../../src/tables/subject-index";

export interface Entry {
  kind: string;
  id: string;
  shop: string;
  key: string;
  redacted: number;
}

export async function indexEntries(filter: { key?: string; keyPrefix?: string; kind?: string; shop?: string } = {}) {
  const out: Entry[] = [];
  await Promise.all(
    Array.from({ length: SUBJECT_INDEX_SHARDS }, async (_, i) => {
      const stub = env.SUBJECT_INDEX.getByName(shardName(i));
      let after: Entry | null = null;
      for (;;) {
        const page: Entry[] = await stub.list(1000, after);
        for (const e of page) {
          if (filter.key !== undefined && e.key !== filter.key) continue;
          if (filter.keyPrefix !== undefined && !e.key.startsWith(filter.keyPrefix)) continue;
          if (filter.kind !== undefined && e.kind !== filter.kind) continue;
          if (filter.shop !== undefined && e.shop !== filter.shop) continue;
          out.push(e);
        }
        if (page.length < 1000) break;
        after = page[page.length - 1] as Entry;
      }
    }),
  );
  return out.sort((a, b) => a.key.localeCompare(b.key) || a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
}

/** Forgets the entries of `keys`, as if their objects were stored before the index existed. */
export async function forgetIndexed(keys: readonly string[]): Promise<void> {
  const entries = (await Promise.all(keys.map((key) => indexEntries({ key })))).flat();
  await Promise.all(
    entries.map((e) => env.SUBJECT_INDEX.getByName(subjectShard(e.kind, e.id)).remove([[e.kind, e.id, e.shop, e.key]])),
  );
}
