/**
 * What the subject index holds, read from every shard of every generation (src/durable/subject-index.ts)
 * the way a test reads a D1 table: entries filtered by object key (exact or prefix), kind and shop.
 */
import { env } from "cloudflare:workers";
import { generations, SHARDS_PER_GENERATION, shardName } from "../../src/tables/subject-index";

export interface Entry {
  kind: string;
  id: string;
  shop: string;
  key: string;
  redacted: number;
  shard: string;
}

export async function indexEntries(filter: { key?: string; keyPrefix?: string; kind?: string; shop?: string } = {}) {
  const out: Entry[] = [];
  const names = (await generations(env)).flatMap((g) =>
    Array.from({ length: SHARDS_PER_GENERATION }, (_, n) => shardName(g, n)),
  );
  await Promise.all(
    names.map(async (shard) => {
      const stub = env.SUBJECT_INDEX.getByName(shard);
      let after: Omit<Entry, "shard"> | null = null;
      for (;;) {
        const page: Omit<Entry, "shard">[] = await stub.list(1000, after);
        for (const e of page) {
          if (filter.key !== undefined && e.key !== filter.key) continue;
          if (filter.keyPrefix !== undefined && !e.key.startsWith(filter.keyPrefix)) continue;
          if (filter.kind !== undefined && e.kind !== filter.kind) continue;
          if (filter.shop !== undefined && e.shop !== filter.shop) continue;
          out.push({ ...e, shard });
        }
        if (page.length < 1000) break;
        after = page[page.length - 1] as Omit<Entry, "shard">;
      }
    }),
  );
  return out.sort((a, b) => a.key.localeCompare(b.key) || a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
}

/** Forgets the entries of `keys`, as if their objects were stored before the index existed. */
export async function forgetIndexed(keys: readonly string[]): Promise<void> {
  const entries = (await Promise.all(keys.map((key) => indexEntries({ key })))).flat();
  await Promise.all(entries.map((e) => env.SUBJECT_INDEX.getByName(e.shard).remove([[e.kind, e.id, e.shop, e.key]])));
}
