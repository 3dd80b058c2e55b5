/**
 * Storage scans for the privacy tests: every R2 object (gzip and Parquet read back to text) and
 * every row of every D1 table, searched for a person's values in any case and JSON escaping.
 */
import { env } from "cloudflare:workers";
import { parquetReadObjects } from "hyparquet";

export interface Hit {
  where: string;
  needle: string;
}

/** Text with JSON \uXXXX escapes decoded, lower-cased, so "Ann\u0040X.com" matches "ann@x.com". */
function normalize(text: string): string {
  return text
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    .toLowerCase();
}

async function objectText(key: string): Promise<string> {
  const obj = await env.LAKE.get(key);
  if (!obj) return "";
  if (key.endsWith(".gz")) return new Response(obj.body.pipeThrough(new DecompressionStream("gzip"))).text();
  if (key.endsWith(".parquet")) {
    const file = await obj.arrayBuffer();
    const rows = await parquetReadObjects({ file });
    return JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? v.toString() : v));
  }
  return obj.text();
}

export async function allKeys(prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.LAKE.list({ prefix, cursor, limit: 1000 });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

/** Every R2 object outside exports/ that holds one of the needles. */
export async function scanR2(needles: readonly string[]): Promise<Hit[]> {
  const hits: Hit[] = [];
  const lower = needles.map((n) => n.toLowerCase());
  for (const key of await allKeys()) {
    if (key.startsWith("exports/")) continue;
    const text = normalize(await objectText(key));
    for (const n of lower) if (text.includes(n)) hits.push({ where: key, needle: n });
  }
  return hits;
}

/** Every D1 table row that holds one of the needles in any column. */
export async function scanD1(needles: readonly string[]): Promise<Hit[]> {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
  ).all<{ name: string }>();
  const hits: Hit[] = [];
  const lower = needles.map((n) => n.toLowerCase());
  for (const { name } of tables.results) {
    const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
    for (const row of rows.results) {
      const text = normalize(JSON.stringify(row));
      for (const n of lower)
        if (text.includes(n)) hits.push({ where: `${name}: ${JSON.stringify(row).slice(0, 200)}`, needle: n });
    }
  }
  return hits;
}

/** Bytes of objects, to show they were left byte for byte. */
export async function snapshotObjects(keys: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const k of keys) {
    const obj = await env.LAKE.get(k);
    out.set(k, obj ? `${JSON.stringify(obj.customMetadata)}\n${await obj.text()}` : "<missing>");
  }
  return out;
}
