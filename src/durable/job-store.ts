/**
 * The coordinator's own SQLite tables (Durable Object storage), behind a tiny SQL
 * runner so the same code also runs on node:sqlite in the ingest bench.
 *
 *   jobs(id, backfill_id, resource, status, shopify_id, doc)  — `doc` is the Job JSON (the checkpoint)
 *   notices(job_id, at)                                       — finish webhooks not yet acted on
 *   staged_<job>(line, id, parent_id, body)                   — one table per job: result lines to join
 *
 * Staging is how children meet their parents: every JSONL line is written to its job's
 * table keyed by line number (the rowid, so no extra key index), and the apply pass reads
 * parents in line order with their children found through the (parent_id, line) index,
 * wherever in the file they were. Memory stays flat whatever the file size; the cost is
 * writing the file once to local disk, and a finished job's table is dropped in one
 * step rather than deleted row by row. Staged rows and the job's progress are written in
 * one transaction, so a crash either keeps both or neither.
 */
import { type Job, jobSchema } from "./job";

export type SqlValue = string | number | null;

export interface SqlRunner {
  exec(query: string, ...params: SqlValue[]): Array<Record<string, SqlValue>>;
  transaction<T>(fn: () => T): T;
}

export function durableSql(storage: DurableObjectStorage): SqlRunner {
  return {
    exec: (query, ...params) => storage.sql.exec(query, ...params).toArray() as Array<Record<string, SqlValue>>,
    transaction: (fn) => storage.transactionSync(fn),
  };
}

export interface StagedLine {
  line: number;
  id: string;
  parentId: string | null;
  body: string;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    backfill_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    status TEXT NOT NULL,
    shopify_id TEXT,
    doc TEXT NOT NULL
  )`,
  "CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, resource)",
  "CREATE INDEX IF NOT EXISTS jobs_by_backfill ON jobs (backfill_id)",
  "CREATE INDEX IF NOT EXISTS jobs_by_shopify_id ON jobs (shopify_id)",
  // Kept apart from the job document so a webhook never overwrites a checkpoint being written.
  "CREATE TABLE IF NOT EXISTS notices (job_id TEXT PRIMARY KEY, at INTEGER NOT NULL)",
];

/** Rows per multi-row INSERT: 4 parameters each stays within SQLite's 100 bound parameters. */
const ROWS_PER_INSERT = 25;

/** The staging table of a job (ids are ours: `bo_` + a UUID). */
function stagedTable(jobId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) throw new Error(`invalid job id ${jobId}`);
  return `staged_${jobId.replaceAll("-", "_")}`;
}

export class JobStore {
  private readonly created = new Set<string>();

  constructor(private readonly sql: SqlRunner) {
    for (const statement of SCHEMA) sql.exec(statement);
  }

  transaction<T>(fn: () => T): T {
    return this.sql.transaction(fn);
  }

  put(job: Job): void {
    this.sql.exec(
      `INSERT INTO jobs (id, backfill_id, resource, status, shopify_id, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, shopify_id = excluded.shopify_id, doc = excluded.doc`,
      job.id,
      job.backfillId,
      job.resource,
      job.status,
      job.shopifyId,
      JSON.stringify(job),
    );
  }

  get(id: string): Job | null {
    return this.parse(this.sql.exec("SELECT doc FROM jobs WHERE id = ?1", id)[0]);
  }

  byShopifyId(shopifyId: string): Job | null {
    return this.parse(this.sql.exec("SELECT doc FROM jobs WHERE shopify_id = ?1", shopifyId)[0]);
  }

  byBackfill(backfillId: string): Job[] {
    return this.many(this.sql.exec("SELECT doc FROM jobs WHERE backfill_id = ?1 ORDER BY rowid", backfillId));
  }

  withStatus(...statuses: Job["status"][]): Job[] {
    const marks = statuses.map((_, i) => `?${i + 1}`).join(", ");
    return this.many(this.sql.exec(`SELECT doc FROM jobs WHERE status IN (${marks}) ORDER BY rowid`, ...statuses));
  }

  /** Writes staged lines and the job's new progress atomically. */
  stage(job: Job, lines: readonly StagedLine[], beforeCommit?: () => void): void {
    const table = this.ensureStaged(job.id);
    this.sql.transaction(() => {
      for (let i = 0; i < lines.length; i += ROWS_PER_INSERT) {
        const slice = lines.slice(i, i + ROWS_PER_INSERT);
        const params: SqlValue[] = [];
        for (const l of slice) params.push(l.line, l.id, l.parentId, l.body);
        const values = slice.map(() => "(?, ?, ?, ?)").join(", ");
        this.sql.exec(`INSERT OR REPLACE INTO ${table} (line, id, parent_id, body) VALUES ${values}`, ...params);
      }
      this.put(job);
      beforeCommit?.();
    });
  }

  /** Parents (lines without `__parentId`) after `afterLine`, in file order. */
  parents(jobId: string, afterLine: number, limit: number): StagedLine[] {
    const table = this.ensureStaged(jobId);
    return this.sql
      .exec(
        `SELECT line, id, body FROM ${table} WHERE parent_id IS NULL AND line > ?1 ORDER BY line LIMIT ?2`,
        afterLine,
        limit,
      )
      .map((r) => ({ line: Number(r.line), id: String(r.id), parentId: null, body: String(r.body) }));
  }

  /**
   * The children of the parents on lines (fromLine, toLine], wherever they sit in the file.
   * CROSS JOIN fixes the loop order (SQLite's rule): parents by range, then each parent's
   * children through the (parent_id, line) index — never a scan of the job's rows.
   */
  childrenOf(jobId: string, fromLine: number, toLine: number): StagedLine[] {
    const table = this.ensureStaged(jobId);
    return this.sql
      .exec(
        `SELECT c.line AS line, c.id AS id, c.parent_id AS parent_id, c.body AS body
         FROM ${table} AS p CROSS JOIN ${table} AS c ON c.parent_id = p.id
         WHERE p.parent_id IS NULL AND p.line > ?1 AND p.line <= ?2
         ORDER BY c.line`,
        fromLine,
        toLine,
      )
      .map((r) => ({ line: Number(r.line), id: String(r.id), parentId: String(r.parent_id), body: String(r.body) }));
  }

  clearStaged(jobId: string): void {
    this.sql.exec(`DROP TABLE IF EXISTS ${stagedTable(jobId)}`);
    this.created.delete(jobId);
  }

  /** Staged lines of a job (for operators and tests). */
  stagedCount(jobId: string): number {
    const table = stagedTable(jobId);
    const exists = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", table).length > 0;
    return exists ? Number(this.sql.exec(`SELECT count(*) AS n FROM ${table}`)[0]?.n ?? 0) : 0;
  }

  private ensureStaged(jobId: string): string {
    const table = stagedTable(jobId);
    if (!this.created.has(jobId)) {
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS ${table} (line INTEGER PRIMARY KEY, id TEXT NOT NULL, parent_id TEXT, body TEXT NOT NULL)`,
      );
      this.sql.exec(`CREATE INDEX IF NOT EXISTS ${table}_by_parent ON ${table} (parent_id, line)`);
      this.created.add(jobId);
    }
    return table;
  }

  /** Everything this shop's coordinator stores (jobs, notices, staged lines): for `shop/redact`. */
  forgetAll(): number {
    const staged = this.sql
      .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'staged_%'")
      .map((r) => String(r.name));
    for (const table of staged) this.sql.exec(`DROP TABLE IF EXISTS ${table}`);
    const jobs = Number(this.sql.exec("SELECT count(*) AS n FROM jobs")[0]?.n ?? 0);
    this.sql.exec("DELETE FROM jobs");
    this.sql.exec("DELETE FROM notices");
    this.created.clear();
    return jobs;
  }

  notice(jobId: string, at: number): void {
    this.sql.exec("INSERT OR REPLACE INTO notices (job_id, at) VALUES (?1, ?2)", jobId, at);
  }

  notices(): Set<string> {
    return new Set(this.sql.exec("SELECT job_id FROM notices").map((r) => String(r.job_id)));
  }

  clearNotice(jobId: string): void {
    this.sql.exec("DELETE FROM notices WHERE job_id = ?1", jobId);
  }

  private parse(row: Record<string, SqlValue> | undefined): Job | null {
    if (!row) return null;
    const parsed = jobSchema.safeParse(JSON.parse(String(row.doc)));
    if (!parsed.success) throw new Error(`stored bulk job is invalid: ${parsed.error.message.slice(0, 300)}`);
    return parsed.data;
  }

  private many(rows: Array<Record<string, SqlValue>>): Job[] {
    return rows.map((r) => this.parse(r)).filter((j): j is Job => j !== null);
  }
}
