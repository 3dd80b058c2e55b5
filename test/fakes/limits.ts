/**
 * Cloudflare's per-invocation limits, enforced in tests. Local workerd enforces almost none of
 * them (../shared/PLATFORM-LIMITS.md, docs/limits.md), so code that passes every local test could
 * still fail on the first large shop. This layer wraps the bindings in place (test/setup.ts installs
 * it for every test file) and counts per invocation — a fetch, a queue batch, a scheduled run or a
 * job run, a Durable Object call or alarm — throwing the way production does past:
 *
 * - 1,000 D1 queries (each statement of a batch is one);
 * - 10,000 subrequests (fetch, R2 and Queue calls, Durable Object calls);
 * - 250 Analytics Engine data points;
 * - 100 bound parameters, or 100,000 bytes of SQL, in one statement;
 * - a bound value, or a row read back, over 2,000,000 bytes;
 * - `sendBatch` over 100 messages or 256 KB, a message over 128 KB.
 *
 * Invocations are told apart with AsyncLocalStorage: the entry points start one, and every binding
 * call made while it runs (its `waitUntil` work included) counts toward it. A call outside any
 * invocation (a test seeding its data) is not counted. A test that must go past a limit opts out
 * with `optOutOfLimits`, naming the limit and why. Each finished invocation is reported to the
 * listeners (`onInvocationEnd`), which the scale run uses to print its per-invocation maxima.
 *
 * It also counts what Cloudflare bills per invocation (../shared/PLATFORM-LIMITS.md, prices):
 * R2 Class A and Class B operations, queue writes in 64 KB units, D1 rows read and written, and
 * Analytics Engine points; `onStatement` listeners see each D1 statement's SQL and result meta
 * (the cost bench, bench/cost.mjs, breaks rows written down by table with them).
 */
import { AsyncLocalStorage } from "node:async_hooks";

export const LIMITS = {
  d1Queries: 1_000,
  subrequests: 10_000,
  aePoints: 250,
  boundParameters: 100,
  sqlBytes: 100_000,
  valueBytes: 2_000_000,
  batchMessages: 100,
  batchBytes: 256 * 1024,
  messageBytes: 128 * 1024,
} as const;

export type LimitName = keyof typeof LIMITS;

export class LimitExceededError extends Error {
  constructor(
    readonly limit: LimitName,
    detail: string,
  ) {
    super(`platform limit exceeded (${limit}, ${LIMITS[limit]}): ${detail}`);
    this.name = "LimitExceededError";
  }
}

export interface InvocationReport {
  kind: string;
  d1Queries: number;
  subrequests: number;
  aePoints: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  /** R2 put, list, delete and multipart calls (billed as Class A). */
  r2ClassA: number;
  /** R2 get and head calls (billed as Class B). */
  r2ClassB: number;
  /** Queue writes, one per started 64 KB of each message sent (how Queues bills). */
  queueWrites: number;
  /** Rows a Durable Object's SQLite storage read and wrote in this invocation (billed like D1's). */
  doRowsRead: number;
  doRowsWritten: number;
  wallMs: number;
  /** The first limit crossed, if any (the invocation threw it, or swallowed it). */
  exceeded: LimitName | null;
}

export class Invocation {
  d1Queries = 0;
  subrequests = 0;
  aePoints = 0;
  d1RowsRead = 0;
  d1RowsWritten = 0;
  r2ClassA = 0;
  r2ClassB = 0;
  queueWrites = 0;
  /** The Durable Object SQL cursors of the invocation: their row counts are final once it ends. */
  readonly cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  exceeded: LimitName | null = null;
  readonly started = performance.now();
  constructor(
    readonly kind: string,
    /** The Durable Object instance whose call this is: its own calls to itself are not new invocations. */
    readonly owner: unknown = null,
  ) {}

  report(): InvocationReport {
    return {
      kind: this.kind,
      d1Queries: this.d1Queries,
      subrequests: this.subrequests,
      aePoints: this.aePoints,
      d1RowsRead: this.d1RowsRead,
      d1RowsWritten: this.d1RowsWritten,
      r2ClassA: this.r2ClassA,
      r2ClassB: this.r2ClassB,
      queueWrites: this.queueWrites,
      doRowsRead: this.cursors.reduce((n, c) => n + c.rowsRead, 0),
      doRowsWritten: this.cursors.reduce((n, c) => n + c.rowsWritten, 0),
      wallMs: performance.now() - this.started,
      exceeded: this.exceeded,
    };
  }
}

const als = new AsyncLocalStorage<Invocation>();
const optedOut = new Map<LimitName, string>();
const listeners = new Set<(r: InvocationReport) => void>();

export function currentInvocation(): Invocation | undefined {
  return als.getStore();
}

/**
 * Lets the calling test go past `limits` until the returned function is called (in afterAll or
 * finally). `why` is required: a test that skips a limit says which and why.
 */
export function optOutOfLimits(limits: readonly LimitName[], why: string): () => void {
  if (why.trim().length < 10) throw new Error("optOutOfLimits: say why the test skips the limit");
  for (const l of limits) optedOut.set(l, why);
  return () => {
    for (const l of limits) optedOut.delete(l);
  };
}

/** What a D1 statement cost, as its result's meta reports it; batches report each statement. */
export interface StatementCost {
  sql: string;
  rowsRead: number;
  rowsWritten: number;
  /** Rows the statement itself inserted, updated or deleted (not its triggers' or indexes'). */
  changes: number;
}
const statementListeners = new Set<(s: StatementCost) => void>();

/** Calls `listener` with each metered D1 statement inside an invocation, until the returned function is called. */
export function onStatement(listener: (s: StatementCost) => void): () => void {
  statementListeners.add(listener);
  return () => statementListeners.delete(listener);
}

export function onInvocationEnd(listener: (r: InvocationReport) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Runs `fn` as one invocation, unless it already runs inside one (a job inside a scheduled run). */
export function inInvocation<T>(kind: string, fn: () => T, owner: unknown = null): T {
  const outer = als.getStore();
  if (outer !== undefined && (owner === null || outer.owner === owner)) return fn();
  const inv = new Invocation(kind, owner);
  const end = (threw: boolean) => {
    const r = inv.report();
    // A limit error the invocation caught and went on from: production would have refused that
    // call just the same, so the test that let it happen fails (test/setup.ts afterEach).
    if (r.exceeded !== null && !threw) swallowed.push(`${r.kind}: ${r.exceeded}`);
    for (const l of listeners) l(r);
  };
  const out = als.run(inv, fn);
  if (out instanceof Promise) {
    return out.then(
      (v) => {
        end(false);
        return v;
      },
      (err: unknown) => {
        end(true);
        throw err;
      },
    ) as T;
  }
  end(false);
  return out;
}

const swallowed: string[] = [];

/** Limits crossed by invocations that caught the error and finished anyway, since the last call. */
export function takeSwallowedLimits(): string[] {
  return swallowed.splice(0);
}

function exceed(limit: LimitName, detail: string): never {
  const inv = als.getStore();
  if (inv && inv.exceeded === null) inv.exceeded = limit;
  throw new LimitExceededError(limit, detail);
}

function count(what: "d1Queries" | "subrequests" | "aePoints", n: number, detail: string): void {
  const inv = als.getStore();
  if (inv === undefined) return;
  inv[what] += n;
  if (inv[what] > LIMITS[what] && !optedOut.has(what)) exceed(what, `${inv[what]} in one ${inv.kind}: ${detail}`);
}

function check(limit: LimitName, size: number, detail: string): void {
  if (size > LIMITS[limit] && !optedOut.has(limit) && als.getStore() !== undefined) exceed(limit, detail);
}

const encoder = new TextEncoder();
const byteLength = (s: string) => (s.length * 3 <= LIMITS.valueBytes ? s.length : encoder.encode(s).length);

function valueBytes(v: unknown): number {
  if (typeof v === "string") return byteLength(v);
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.byteLength;
  return 8;
}

// ---- D1 -------------------------------------------------------------------------------------

const INNER = Symbol("limited statement");
interface Limited {
  [INNER]: D1PreparedStatement;
  sql: string;
  values: unknown[];
}

function checkStatement(sql: string, values: unknown[]): void {
  check("sqlBytes", byteLength(sql), `a statement of ${byteLength(sql)} bytes: ${sql.slice(0, 80)}…`);
  check("boundParameters", values.length, `${values.length} values bound to: ${sql.slice(0, 80)}…`);
  for (const v of values) {
    const n = valueBytes(v);
    if (n > LIMITS.valueBytes) check("valueBytes", n, `a bound value of ${n} bytes in: ${sql.slice(0, 80)}…`);
  }
}

function checkRows(rows: unknown[] | undefined, sql: string): void {
  if (rows === undefined || als.getStore() === undefined) return;
  for (const row of rows) {
    let n = 0;
    for (const v of Array.isArray(row) ? row : Object.values(row as object)) n += valueBytes(v);
    if (n > LIMITS.valueBytes) check("valueBytes", n, `a row of ${n} bytes read by: ${sql.slice(0, 80)}…`);
  }
}

function meter(meta: D1Meta | undefined, sql: string): void {
  const inv = als.getStore();
  if (inv === undefined || meta === undefined) return;
  const rowsRead = Number(meta.rows_read ?? 0);
  const rowsWritten = Number(meta.rows_written ?? 0);
  inv.d1RowsRead += rowsRead;
  inv.d1RowsWritten += rowsWritten;
  for (const l of statementListeners) l({ sql, rowsRead, rowsWritten, changes: Number(meta.changes ?? 0) });
}

function limitedStatement(inner: D1PreparedStatement, sql: string, values: unknown[]): D1PreparedStatement {
  const exec = async <T>(call: string, op: () => Promise<T>): Promise<T> => {
    checkStatement(sql, values);
    count("d1Queries", 1, `${call} ${sql.slice(0, 60)}`);
    return op();
  };
  /** run() and all(): both answer D1Result, metered from its meta, its rows checked. */
  const withResults = (call: "run" | "all") =>
    exec(call, async () => {
      const r = await inner[call]();
      meter(r.meta, sql);
      checkRows(r.results, sql);
      return r;
    });
  const own: Record<string | symbol, unknown> = {
    [INNER]: inner,
    sql,
    values,
    bind: (...v: unknown[]) => limitedStatement(inner.bind(...v), sql, v),
    run: () => withResults("run"),
    all: () => withResults("all"),
    first: (column?: string) =>
      exec("first", async () => {
        // first() reads one row; its meta is not exposed, so it is metered as one row read.
        const r = column === undefined ? await inner.first() : await inner.first(column);
        const inv = als.getStore();
        if (inv && r !== null) inv.d1RowsRead += 1;
        if (r !== null && column === undefined) checkRows([r], sql);
        return r;
      }),
    raw: (options?: { columnNames?: boolean }) =>
      exec("raw", async () => {
        const r = await inner.raw(options as { columnNames: true });
        checkRows(r as unknown[], sql);
        return r;
      }),
  };
  // Anything else (a test reading a statement's text and parameters) is the real statement's.
  return new Proxy(inner, {
    get: (target, prop) => (prop in own ? own[prop] : Reflect.get(target, prop)),
  });
}

const unwrapStatement = (s: D1PreparedStatement): D1PreparedStatement => (s as unknown as Limited)[INNER] ?? s;

function limitedD1(db: D1Database): D1Database {
  return {
    prepare: (sql: string) => limitedStatement(db.prepare(sql), sql, []),
    batch: async (statements: D1PreparedStatement[]) => {
      for (const s of statements) {
        const l = s as unknown as Partial<Limited>;
        if (l.sql !== undefined) checkStatement(l.sql, l.values ?? []);
      }
      count("d1Queries", statements.length, `a batch of ${statements.length}`);
      const results = await db.batch(statements.map(unwrapStatement));
      for (const [i, r] of results.entries()) meter(r.meta, (statements[i] as unknown as Partial<Limited>).sql ?? "");
      return results;
    },
    exec: async (sql: string) => {
      count("d1Queries", Math.max(1, sql.split(";").filter((x) => x.trim() !== "").length), "exec");
      return db.exec(sql);
    },
    dump: () => db.dump(),
    withSession: (c?: string) => db.withSession(c),
  } as unknown as D1Database;
}

// ---- R2, Queues, Analytics Engine, fetch ------------------------------------------------------

/** Counts one R2 operation of its billing class. */
function r2Op(op: "A" | "B"): void {
  const inv = als.getStore();
  if (inv === undefined) return;
  if (op === "A") inv.r2ClassA++;
  else inv.r2ClassB++;
}

function limitedUpload(u: R2MultipartUpload): R2MultipartUpload {
  return new Proxy(u, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (typeof v !== "function") return v;
      return (...a: unknown[]) => {
        count("subrequests", 1, `R2 multipart ${String(prop)}`);
        r2Op("A");
        return (v as (...x: unknown[]) => unknown).apply(target, a);
      };
    },
  });
}

function limitedR2(bucket: R2Bucket): R2Bucket {
  const call =
    <K extends keyof R2Bucket>(name: K) =>
    (...a: unknown[]) => {
      count("subrequests", 1, `R2 ${name}`);
      r2Op(name === "get" || name === "head" ? "B" : "A");
      return (bucket[name] as (...x: unknown[]) => unknown).apply(bucket, a);
    };
  return {
    put: call("put"),
    get: call("get"),
    head: call("head"),
    list: call("list"),
    delete: call("delete"),
    createMultipartUpload: async (...a: Parameters<R2Bucket["createMultipartUpload"]>) => {
      count("subrequests", 1, "R2 createMultipartUpload");
      r2Op("A");
      return limitedUpload(await bucket.createMultipartUpload(...a));
    },
    resumeMultipartUpload: (...a: Parameters<R2Bucket["resumeMultipartUpload"]>) =>
      limitedUpload(bucket.resumeMultipartUpload(...a)),
  } as unknown as R2Bucket;
}

/** What Queues counts of a message: its JSON body (structured clone is close enough for JSON bodies). */
const messageBytes = (body: unknown) => byteLength(typeof body === "string" ? body : (JSON.stringify(body) ?? ""));

/** What production checks and counts of `Queue.send` (also used by tests' capturing queues). */
export function checkSend(body: unknown): void {
  check("messageBytes", messageBytes(body), `a message of ${messageBytes(body)} bytes`);
  count("subrequests", 1, "Queue send");
  queueWrite(body);
}

/** Queue operations one delivery step of a message costs: one per started 64 KB (Queues pricing). */
export const queueOps = (body: unknown) => Math.max(1, Math.ceil(messageBytes(body) / 65_536));

function queueWrite(body: unknown): void {
  const inv = als.getStore();
  if (inv !== undefined) inv.queueWrites += queueOps(body);
}

/** What production checks and counts of `Queue.sendBatch`. */
export function checkSendBatch(list: readonly MessageSendRequest[]): void {
  check("batchMessages", list.length, `sendBatch of ${list.length} messages`);
  let total = 0;
  for (const m of list) {
    const n = messageBytes(m.body);
    check("messageBytes", n, `a message of ${n} bytes`);
    total += n;
  }
  check("batchBytes", total, `sendBatch of ${total} bytes`);
  count("subrequests", 1, "Queue sendBatch");
  for (const m of list) queueWrite(m.body);
}

/** A queue binding that checks and counts as production does (also for a test's simulated queue). */
export function limitedQueue(queue: Queue): Queue {
  return {
    send: (body: unknown, options?: QueueSendOptions) => {
      checkSend(body);
      return queue.send(body, options);
    },
    sendBatch: (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      const list = [...messages];
      checkSendBatch(list);
      return queue.sendBatch(list, options);
    },
  } as unknown as Queue;
}

function limitedMetrics(ae: AnalyticsEngineDataset): AnalyticsEngineDataset {
  return {
    writeDataPoint: (point?: AnalyticsEngineDataPoint) => {
      count("aePoints", 1, "writeDataPoint");
      ae.writeDataPoint(point);
    },
  };
}

/**
 * Makes a Durable Object namespace's stubs count each call of `methods` as a subrequest of the
 * calling invocation (the object's own invocation is counted by `limitDurableObject`). The namespace
 * stays the same object (the test pool checks its type); its `getByName` hands out a counting stub.
 */
function limitNamespace(ns: DurableObjectNamespace, methods: readonly string[]): void {
  const getByName = ns.getByName.bind(ns);
  ns.getByName = ((name: string) => {
    const stub = getByName(name) as unknown as Record<string, (...a: unknown[]) => unknown>;
    const counted: Record<string, unknown> = { id: (stub as unknown as DurableObjectStub).id, name };
    for (const m of methods) {
      counted[m] = (...a: unknown[]) => {
        count("subrequests", 1, `durable object call ${m}`);
        return stub[m]?.(...a);
      };
    }
    return counted as unknown as DurableObjectStub;
  }) as DurableObjectNamespace["getByName"];
}

// ---- Installation -----------------------------------------------------------------------------

const INSTALLED = Symbol.for("commerce-pipeline.limits-installed");

/** D1 bindings are named DB or DB_* (SHOP_DATABASES names them so); an RPC stub answers any `in` check. */
function isD1(name: string, v: unknown): v is D1Database {
  return /^DB(_|$)/.test(name) && typeof v === "object" && v !== null && "prepare" in v && "batch" in v;
}

/**
 * Replaces env's bindings, in place, with limit-checking ones (every D1 database, LAKE, EVENTS,
 * METRICS), and global fetch with a counting one. Idempotent.
 */
export function installLimits(env: Env): void {
  const e = env as unknown as Record<string | symbol, unknown>;
  if (e[INSTALLED]) return;
  e[INSTALLED] = true;
  for (const [name, v] of Object.entries(e)) if (isD1(name, v)) e[name] = limitedD1(v);
  e.LAKE = limitedR2(env.LAKE);
  e.EVENTS = limitedQueue(env.EVENTS);
  if (env.METRICS) e.METRICS = limitedMetrics(env.METRICS);
  const realFetch = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    count("subrequests", 1, "fetch");
    return realFetch(input, init);
  }) as typeof fetch;
}

type Handlers = Record<"fetch" | "queue" | "scheduled", ((...a: unknown[]) => unknown) | undefined>;

/** Makes each call of the Worker's handlers (and the Hono app's fetch) one invocation. */
export function limitHandlers(worker: unknown, app: { fetch: (...a: unknown[]) => unknown }): void {
  const w = worker as Handlers & { [INSTALLED]?: boolean };
  if (w[INSTALLED]) return;
  w[INSTALLED] = true;
  const appFetch = app.fetch;
  app.fetch = (...a: unknown[]) => inInvocation("fetch", () => appFetch(...a));
  for (const name of ["fetch", "queue", "scheduled"] as const) {
    const h = w[name];
    if (typeof h === "function") w[name] = (...a: unknown[]) => inInvocation(name, () => h.apply(worker, a));
  }
}

/** Keeps each SQL cursor of a Durable Object's storage on the invocation that opened it (rows read and written). */
function meterSql(instance: unknown): void {
  const sql = (instance as { ctx?: DurableObjectState }).ctx?.storage.sql as
    | (SqlStorage & { [INSTALLED]?: boolean })
    | undefined;
  if (sql === undefined || sql[INSTALLED]) return;
  sql[INSTALLED] = true;
  const exec = sql.exec.bind(sql);
  sql.exec = ((query: string, ...bindings: unknown[]) => {
    const cursor = exec(query, ...bindings);
    als.getStore()?.cursors.push(cursor);
    return cursor;
  }) as SqlStorage["exec"];
}

/** Makes each outside call of a Durable Object's methods (RPC, fetch, alarm) one invocation. */
export function limitDurableObject(
  cls: { prototype: object; name: string },
  /** Its namespace, when its stubs are to count each call on the caller's side (`limitNamespace`). */
  namespace?: DurableObjectNamespace,
): void {
  const countedByStub = namespace !== undefined;
  if (namespace !== undefined) {
    const methods = Object.getOwnPropertyNames(cls.prototype).filter((n) => n !== "constructor");
    limitNamespace(namespace, methods);
  }
  const proto = cls.prototype as Record<string | symbol, unknown>;
  if (proto[INSTALLED]) return;
  proto[INSTALLED] = true;
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === "constructor") continue;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (typeof d?.value !== "function") continue;
    const m = d.value as (...a: unknown[]) => unknown;
    proto[name] = function (this: unknown, ...a: unknown[]) {
      meterSql(this);
      // Seen from the caller (when the call carries its context), a Durable Object call is a subrequest.
      const caller = als.getStore();
      if (!countedByStub && caller !== undefined && caller.owner !== this)
        count("subrequests", 1, `${cls.name}.${name}`);
      return inInvocation(`${cls.name}.${name}`, () => m.apply(this, a), this);
    };
  }
}
