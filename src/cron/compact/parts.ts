/**
 * Writes one prefix of the lake, `dt={day}/` (the rows whose day column falls on that day) or
 * `current/` (the whole table), as Parquet parts read from D1 in primary-key order: keyset
 * pages of READ_PAGE_ROWS, parts of at most `partRows`. Then it deletes the parts under the
 * prefix that the write did not produce (an earlier, larger write). Trade-off: the same keys
 * are overwritten in place, so a reader listing the prefix mid-write may see a mix of old and
 * new parts for a moment; a separate generation prefix would need a pointer DuckDB cannot follow.
 */
import { log } from "../../shared/log";
import { sharedDatabase } from "../../tables/database";
import { PartBuffer } from "./parquet";
import { type CompactTable, type LakeTable, pageSql } from "./tables";

/** Rows per D1 query: keeps each result well inside D1's response limits. */
const READ_PAGE_ROWS = 1_000;
const DAY_MS = 86_400_000;

export interface PrefixReport {
  rows: number;
  parts: number;
  bytes: number;
  keys: string[];
  staleDeleted: number;
}

export function lakePrefix(spec: Pick<LakeTable, "source" | "table">, scope: { day: string } | "current"): string {
  const where = scope === "current" ? "current" : `dt=${scope.day}`;
  return `processed/${spec.source}/${spec.table}/${where}/`;
}

export async function writePrefix(
  env: Env,
  spec: CompactTable,
  scope: { day: string } | "current",
  opts: { partRows: number; metadata: Record<string, string> },
): Promise<PrefixReport> {
  const prefix = lakePrefix(spec, scope);
  const report: PrefixReport = { rows: 0, parts: 0, bytes: 0, keys: [], staleDeleted: 0 };
  const buffer = new PartBuffer(spec);
  const bounds =
    scope === "current"
      ? []
      : [scope.day, new Date(Date.parse(`${scope.day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10)];

  const flush = () => flushPart(env.LAKE, prefix, buffer, report, opts.metadata);

  await readPages({
    db: sharedDatabase(env),
    key: spec.key,
    pageRows: READ_PAGE_ROWS,
    partRows: opts.partRows,
    buffer,
    report,
    flush,
    page: (afterKey, limit) => ({
      sql: pageSql(spec, { day: scope !== "current", afterKey, limit }),
      binds: bounds,
    }),
  });
  // An empty table still gets one (empty) current part, so `read_parquet` on it finds a file with the schema.
  if (buffer.rows > 0 || (scope === "current" && report.parts === 0)) await flush();

  report.staleDeleted = await deleteStale(env.LAKE, prefix, new Set(report.keys));
  log.info("compact prefix done", { table: spec.table, prefix, rows: report.rows, parts: report.parts });
  return report;
}

/**
 * Reads a table or view in keyset pages (ordered by `key`, each page after the last row's key) into
 * `buffer`, writing a part whenever it holds `partRows`. A page never reads past the part being
 * filled, so a part holds at most partRows rows. `page` builds the SQL for a page and the values
 * bound before the key.
 */
export async function readPages(o: {
  db: D1Database;
  key: readonly string[];
  pageRows: number;
  partRows: number;
  buffer: PartBuffer;
  report: PrefixReport;
  flush: () => Promise<void>;
  page: (afterKey: boolean, limit: number) => { sql: string; binds: unknown[] };
}): Promise<void> {
  let after: unknown[] | null = null;
  for (;;) {
    const limit = Math.min(o.pageRows, o.partRows - o.buffer.rows);
    const { sql, binds } = o.page(after !== null, limit);
    const { results }: D1Result<Record<string, unknown>> = await o.db
      .prepare(sql)
      .bind(...binds, ...(after ?? []))
      .all<Record<string, unknown>>();
    for (const row of results) o.buffer.push(row);
    o.report.rows += results.length;
    if (o.buffer.rows >= o.partRows) await o.flush();
    const last: Record<string, unknown> | undefined = results[results.length - 1];
    if (results.length < limit || last === undefined) break;
    after = o.key.map((k) => last[k]);
  }
}

/** Writes the buffered rows as the next part under `prefix` and counts it in `report`. */
export async function flushPart(
  bucket: R2Bucket,
  prefix: string,
  buffer: PartBuffer,
  report: PrefixReport,
  metadata: Record<string, string>,
  customMetadata: Record<string, string> = {},
): Promise<void> {
  const key = `${prefix}part-${String(report.keys.length).padStart(5, "0")}.parquet`;
  const rows = buffer.rows;
  const body = buffer.encode(metadata);
  await bucket.put(key, body, {
    httpMetadata: { contentType: "application/vnd.apache.parquet" },
    customMetadata: { rows: String(rows), run_id: metadata["commerce.run_id"] ?? "", ...customMetadata },
  });
  report.keys.push(key);
  report.parts++;
  report.bytes += body.byteLength;
}

/** Deletes every object under `prefix` this run did not write (parts of an earlier, larger run). */
export async function deleteStale(bucket: R2Bucket, prefix: string, keep: ReadonlySet<string>): Promise<number> {
  const stale: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    for (const o of page.objects) if (!keep.has(o.key)) stale.push(o.key);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  // R2 deletes at most 1,000 keys per call.
  for (let i = 0; i < stale.length; i += 1000) await bucket.delete(stale.slice(i, i + 1000));
  return stale.length;
}
