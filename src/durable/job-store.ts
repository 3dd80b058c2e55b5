/**
 * The coordinator's own SQLite tables (Durable Object storage), behind a tiny SQL
 * runner so the same code also runs on node:sqlite in the ingest bench.
 *
 *   jobs(id, backfill_id, resource, status, shopify_id, doc)  — `doc` is the Job JSON (the checkpoint)
 *   notices(job_id, at)                                       — finish webhooks not yet acted on
 *   lines_<job>(line, id, parent_id, body, kind)              — one table per job: result lines to join
 *   window_<job>(line, id, body, open)                        — the streaming window at the last commit
 *   filter_<job>(chunk, archive, line, bits)                  — the parent ids read before `line` of `archive` (a Bloom filter)
 *
 * Staging is how a child meets a parent it strayed from: the streaming pass applies each parent
 * with the children that followed it closely and stages only the others (strays), keyed by line
 * number (the rowid, so no extra key index); the second pass stages the parents those strays name
 * and their other children, and the apply pass reads those parents in line order with every child
 * found through the (parent_id, line) index, wherever in the file it was. The streaming pass also
 * keeps its window of parents not applied yet (with the children that joined them) at each commit,
 * so a resumed pass starts where the last one stood. Memory stays flat whatever the file size, and a
 * finished job's table is dropped in one step rather than deleted row by row. Staged rows and the
 * job's progress are written in one transaction, so a crash either keeps both or neither.
 */
import { type Job, jobSchema } from "./job";

export type SqlValue = string | number | null;
/** A bound value: a BLOB as bytes. Read back, a BLOB is an ArrayBuffer (Durable Objects) or a Uint8Array (node:sqlite). */
export type SqlParam = SqlValue | Uint8Array;

export interface SqlRunner {
  exec(query: string, ...params: SqlParam[]): Array<Record<string, SqlValue>>;
  transaction<T>(fn: () => T): T;
}

export function durableSql(storage: DurableObjectStorage): SqlRunner {
  return {
    exec: (query, ...params) =>
      storage.sql
        .exec(query, ...params.map((p) => (p instanceof Uint8Array ? p.slice().buffer : p)))
        .toArray() as Array<Record<string, SqlValue>>,
    transaction: (fn) => storage.transactionSync(fn),
  };
}

export interface StagedLine {
  line: number;
  id: string;
  parentId: string | null;
  body: string;
  /** A child staged while streaming because its parent was not in the window: not joined yet. */
  stray: boolean;
  /**
   * A mark, not a line: the parent id `parentId` is on more than one line, so the second pass joins
   * every line with it (its `line` is -1 - the later parent's line, no `body`).
   */
  revisit?: boolean;
}

/** A parent of the streaming window, not applied yet: its line, then its children's, one per line of `body`. */
export interface HeldParent {
  line: number;
  id: string;
  body: string;
  /** False when it takes no more children (its id was seen twice, or its row is full). */
  open: boolean;
}

/** `kind` of a staged row. */
const LINE = 0;
const STRAY = 1;
const REVISIT = 2;

/** The jobs `pendingMirrors` returns; the partial index below holds exactly these. */
const MIRROR_PENDING = "json_extract(doc, '$.mirrorPending') = 1";

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
  // Only the few ended jobs whose D1 row is still to be written: each coordinator run asks for them.
  `CREATE INDEX IF NOT EXISTS jobs_mirror_pending ON jobs (id) WHERE ${MIRROR_PENDING}`,
  // Kept apart from the job document so a webhook never overwrites a checkpoint being written.
  "CREATE TABLE IF NOT EXISTS notices (job_id TEXT PRIMARY KEY, at INTEGER NOT NULL)",
];

/** SQLite's limit of bound parameters per statement, which a multi-row INSERT stays within. */
const MAX_BOUND_PARAMETERS = 100;

const LINE_COLUMNS = ["line", "id", "parent_id", "body", "kind"];

/** The staging table of a job (ids are ours: `bo_` + a UUID). */
function stagedTable(jobId: string, prefix = "lines_"): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) throw new Error(`invalid job id ${jobId}`);
  return `${prefix}${jobId.replaceAll("-", "_")}`;
}

function staged(l: StagedLine): SqlValue[] {
  return [l.line, l.id, l.parentId, l.body, l.revisit ? REVISIT : l.stray ? STRAY : LINE];
}

/** Staging tables of every layout: `staged_` is what an older deploy wrote (every line, no stray flag). */
const STAGED_PREFIXES = ["lines_", "window_", "filter_", "staged_"];

/** A BLOB row of the saved filter: well under the 2 MB a stored value may hold. */
const FILTER_CHUNK_BYTES = 512 * 1024;

/** The streaming window a job's last commit left. */
function windowTable(jobId: string): string {
  return stagedTable(jobId, "window_");
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

  /** Ended jobs whose D1 mirror is still to be written, from the partial index (not a scan of every job). */
  pendingMirrors(): Job[] {
    return this.many(this.sql.exec(`SELECT doc FROM jobs WHERE ${MIRROR_PENDING} ORDER BY id`));
  }

  withStatus(...statuses: Job["status"][]): Job[] {
    const marks = statuses.map((_, i) => `?${i + 1}`).join(", ");
    return this.many(this.sql.exec(`SELECT doc FROM jobs WHERE status IN (${marks}) ORDER BY rowid`, ...statuses));
  }

  /**
   * A streaming commit, atomically: the chunk's strays (a line staged again is replaced), the window's
   * parents in place of the last commit's, and the job's new progress.
   */
  stage(job: Job, strays: readonly StagedLine[], held: readonly HeldParent[], beforeCommit?: () => void): void {
    const table = this.ensureStaged(job.id);
    this.sql.transaction(() => {
      this.insert("INSERT OR REPLACE", table, LINE_COLUMNS, strays.map(staged));
      const window = windowTable(job.id);
      this.sql.exec(`DELETE FROM ${window}`);
      const rows = held.map((h) => [h.line, h.id, h.body, h.open ? 1 : 0]);
      this.insert("INSERT", window, ["line", "id", "body", "open"], rows);
      this.put(job);
      beforeCommit?.();
    });
  }

  /** Keeps the parent ids read before `line` of `archive` (./bulk/id-filter.ts), in place of the last ones kept. */
  saveFilter(jobId: string, archive: string, line: number, bits: Uint8Array): void {
    const table = stagedTable(jobId, "filter_");
    this.sql.transaction(() => {
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS ${table} (chunk INTEGER PRIMARY KEY, archive TEXT NOT NULL, line INTEGER NOT NULL, bits BLOB NOT NULL)`,
      );
      this.sql.exec(`DELETE FROM ${table}`);
      for (let at = 0, chunk = 0; at < bits.byteLength; at += FILTER_CHUNK_BYTES, chunk++) {
        this.sql.exec(
          `INSERT INTO ${table} (chunk, archive, line, bits) VALUES (?1, ?2, ?3, ?4)`,
          chunk,
          archive,
          line,
          bits.subarray(at, at + FILTER_CHUNK_BYTES),
        );
      }
    });
  }

  /** The parent ids kept by `saveFilter` for `archive`, and the line they were read up to; null when none were kept. */
  loadFilter(jobId: string, archive: string): { line: number; bits: Uint8Array } | null {
    const table = stagedTable(jobId, "filter_");
    const exists = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", table).length > 0;
    if (!exists) return null;
    const rows = this.sql.exec(`SELECT line, bits FROM ${table} WHERE archive = ?1 ORDER BY chunk`, archive);
    if (rows.length === 0) return null;
    const parts = rows.map((r) => new Uint8Array(r.bits as unknown as ArrayBuffer | Uint8Array));
    const bits = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      bits.set(p, at);
      at += p.byteLength;
    }
    return { line: Number(rows[0]?.line), bits };
  }

  /** The streaming window as the last commit left it, in file order. */
  held(jobId: string): HeldParent[] {
    this.ensureStaged(jobId);
    return this.sql
      .exec(`SELECT line, id, body, open FROM ${windowTable(jobId)} ORDER BY line`)
      .map((r) => ({ line: Number(r.line), id: String(r.id), body: String(r.body), open: Number(r.open) === 1 }));
  }

  /** Second pass: lines of the parents strays name, with progress; a line already staged (a stray) keeps its row. */
  collect(job: Job, lines: readonly StagedLine[], beforeCommit?: () => void): void {
    const table = this.ensureStaged(job.id);
    this.sql.transaction(() => {
      this.insert("INSERT OR IGNORE", table, LINE_COLUMNS, lines.map(staged));
      this.put(job);
      beforeCommit?.();
    });
  }

  /** Multi-row INSERTs of `rows` (one value per column each), within SQLite's 100 bound parameters. */
  private insert(verb: string, table: string, columns: readonly string[], rows: readonly SqlValue[][]): void {
    const perInsert = Math.floor(MAX_BOUND_PARAMETERS / columns.length);
    const row = `(${columns.map(() => "?").join(", ")})`;
    for (let i = 0; i < rows.length; i += perInsert) {
      const slice = rows.slice(i, i + perInsert);
      const values = slice.map(() => row).join(", ");
      this.sql.exec(`${verb} INTO ${table} (${columns.join(", ")}) VALUES ${values}`, ...slice.flat());
    }
  }

  /** Staged parents (lines without `__parentId`) after `afterLine`, in file order. */
  parents(jobId: string, afterLine: number, limit: number): StagedLine[] {
    const table = this.ensureStaged(jobId);
    return this.sql
      .exec(
        `SELECT line, id, body FROM ${table} WHERE parent_id IS NULL AND line > ?1 ORDER BY line LIMIT ?2`,
        afterLine,
        limit,
      )
      .map((r) => ({ line: Number(r.line), id: String(r.id), parentId: null, body: String(r.body), stray: false }));
  }

  /**
   * The children of the staged parents on lines (fromLine, toLine], wherever they sit in the file.
   * CROSS JOIN fixes the loop order (SQLite's rule): parents by range, then each parent's
   * children through the (parent_id, line) index — never a scan of the job's rows.
   */
  childrenOf(jobId: string, fromLine: number, toLine: number): StagedLine[] {
    const table = this.ensureStaged(jobId);
    return this.sql
      .exec(
        `SELECT c.line AS line, c.id AS id, c.parent_id AS parent_id, c.body AS body, c.kind AS kind
         FROM ${table} AS p CROSS JOIN ${table} AS c ON c.parent_id = p.id
         WHERE p.parent_id IS NULL AND p.line > ?1 AND p.line <= ?2 AND c.kind <> ${REVISIT}
         ORDER BY c.line`,
        fromLine,
        toLine,
      )
      .map((r) => ({
        line: Number(r.line),
        id: String(r.id),
        parentId: String(r.parent_id),
        body: String(r.body),
        stray: Number(r.kind) === STRAY,
      }));
  }

  /** Whether a stray child names this parent, or its id is on several lines (an index lookup). */
  hasStrays(jobId: string, parentId: string): boolean {
    const table = this.ensureStaged(jobId);
    return (
      this.sql.exec(`SELECT 1 FROM ${table} WHERE parent_id = ?1 AND kind IN (${STRAY}, ${REVISIT}) LIMIT 1`, parentId)
        .length > 0
    );
  }

  /** Whether any child strayed from its parent, or any parent id is on several lines: only then is a second pass needed. */
  anyStrays(jobId: string): boolean {
    const table = this.ensureStaged(jobId);
    return this.sql.exec(`SELECT 1 FROM ${table} WHERE kind IN (${STRAY}, ${REVISIT}) LIMIT 1`).length > 0;
  }

  clearStaged(jobId: string): void {
    for (const prefix of STAGED_PREFIXES) this.sql.exec(`DROP TABLE IF EXISTS ${stagedTable(jobId, prefix)}`);
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
        `CREATE TABLE IF NOT EXISTS ${table} (line INTEGER PRIMARY KEY, id TEXT NOT NULL, parent_id TEXT, body TEXT NOT NULL, kind INTEGER NOT NULL)`,
      );
      this.sql.exec(`CREATE INDEX IF NOT EXISTS ${table}_by_parent ON ${table} (parent_id, line)`);
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS ${windowTable(jobId)} (line INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL, open INTEGER NOT NULL)`,
      );
      this.created.add(jobId);
    }
    return table;
  }

  /** Everything this shop's coordinator stores (jobs, notices, staged lines): for `shop/redact`. */
  forgetAll(): number {
    const staged = this.sql
      .exec(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND (${STAGED_PREFIXES.map((p) => `name LIKE '${p}%'`).join(" OR ")})`,
      )
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
