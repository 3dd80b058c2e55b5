/**
 * A test-only wrapper around the Worker's bindings that fails a chosen share of calls, the
 * two ways real bindings fail: the call throws before it reaches storage (`throw`), or it
 * takes effect and its answer is lost on the way back (`lost`: the D1 batch committed, the
 * R2 object was written, the message was queued, yet the caller sees an error). Decisions
 * come from a seeded generator, so a failing run reproduces from its seed; every injected
 * fault is recorded with the call it hit.
 */

export type FaultMode = "throw" | "lost";
export type FaultTarget = "DB" | "LAKE" | "EVENTS" | "fetch";

export interface FaultPlan {
  seed: number;
  /** Share of calls that fail, 0..1. */
  rate: number;
  targets?: readonly FaultTarget[];
  /** Only these calls fail, e.g. `DB.batch`, `LAKE.put` (default: every call of the targets). */
  calls?: readonly string[];
  modes?: readonly FaultMode[];
}

export interface InjectedFault {
  target: FaultTarget;
  call: string;
  mode: FaultMode;
}

export class InjectedFaultError extends Error {
  constructor(readonly fault: InjectedFault) {
    super(`injected fault: ${fault.target}.${fault.call} (${fault.mode})`);
    this.name = "InjectedFaultError";
  }
}

/** mulberry32: small, fast and good enough to spread faults evenly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  readonly faults: InjectedFault[] = [];
  readonly calls = new Map<string, number>();
  private readonly random: () => number;
  private enabled = true;

  constructor(readonly plan: FaultPlan) {
    this.random = seededRandom(plan.seed);
  }

  /** Turns faults off (retries settle) or back on. */
  setEnabled(on: boolean): void {
    this.enabled = on;
  }

  /** Runs `op` under the plan: maybe throw first, maybe run it and throw its answer away. */
  async call<T>(target: FaultTarget, call: string, op: () => Promise<T>): Promise<T> {
    const name = `${target}.${call}`;
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    const mode = this.plan.calls && !this.plan.calls.includes(name) ? null : this.decide(target);
    if (mode === "throw") throw this.record({ target, call, mode });
    const result = await op();
    if (mode === "lost") throw this.record({ target, call, mode });
    return result;
  }

  private decide(target: FaultTarget): FaultMode | null {
    if (!this.enabled || this.plan.rate <= 0) return null;
    if (this.plan.targets && !this.plan.targets.includes(target)) return null;
    if (this.random() >= this.plan.rate) return null;
    const modes = this.plan.modes ?? ["throw", "lost"];
    return modes[Math.floor(this.random() * modes.length)] ?? "throw";
  }

  private record(fault: InjectedFault): InjectedFaultError {
    this.faults.push(fault);
    return new InjectedFaultError(fault);
  }
}

const INNER = Symbol("inner statement");
type Wrapped = D1PreparedStatement & { [INNER]: D1PreparedStatement };

function wrapStatement(inner: D1PreparedStatement, f: FaultInjector): D1PreparedStatement {
  const s = {
    [INNER]: inner,
    bind: (...values: unknown[]) => wrapStatement(inner.bind(...values), f),
    run: () => f.call("DB", "run", () => inner.run()),
    all: () => f.call("DB", "all", () => inner.all()),
    first: (column?: string) =>
      f.call("DB", "first", () => (column === undefined ? inner.first() : inner.first(column))),
    raw: (options?: { columnNames?: boolean }) =>
      f.call("DB", "raw", () => inner.raw(options as { columnNames: true })),
  };
  return s as unknown as D1PreparedStatement;
}

const unwrap = (s: D1PreparedStatement) => (s as Wrapped)[INNER] ?? s;

export function faultyD1(db: D1Database, f: FaultInjector): D1Database {
  return {
    prepare: (sql: string) => wrapStatement(db.prepare(sql), f),
    batch: (statements: D1PreparedStatement[]) => f.call("DB", "batch", () => db.batch(statements.map(unwrap))),
    exec: (sql: string) => f.call("DB", "exec", () => db.exec(sql)),
    dump: () => db.dump(),
    withSession: (c?: string) => db.withSession(c),
  } as unknown as D1Database;
}

export function faultyR2(bucket: R2Bucket, f: FaultInjector): R2Bucket {
  return {
    put: (...a: Parameters<R2Bucket["put"]>) => f.call("LAKE", "put", () => bucket.put(...a)),
    get: (...a: Parameters<R2Bucket["get"]>) => f.call("LAKE", "get", () => bucket.get(...a)),
    head: (...a: Parameters<R2Bucket["head"]>) => f.call("LAKE", "head", () => bucket.head(...a)),
    list: (...a: Parameters<R2Bucket["list"]>) => f.call("LAKE", "list", () => bucket.list(...a)),
    delete: (...a: Parameters<R2Bucket["delete"]>) => f.call("LAKE", "delete", () => bucket.delete(...a)),
    createMultipartUpload: (...a: Parameters<R2Bucket["createMultipartUpload"]>) =>
      f.call("LAKE", "createMultipartUpload", () => bucket.createMultipartUpload(...a)),
    resumeMultipartUpload: (...a: Parameters<R2Bucket["resumeMultipartUpload"]>) => bucket.resumeMultipartUpload(...a),
  } as unknown as R2Bucket;
}

export function faultyQueue(queue: Queue, f: FaultInjector): Queue {
  return {
    send: (...a: Parameters<Queue["send"]>) => f.call("EVENTS", "send", () => queue.send(...a)),
    sendBatch: (...a: Parameters<Queue["sendBatch"]>) => f.call("EVENTS", "sendBatch", () => queue.sendBatch(...a)),
  } as unknown as Queue;
}

export function faultyFetch(fetcher: typeof fetch, f: FaultInjector): typeof fetch {
  return ((input: RequestInfo | URL, init?: RequestInit) =>
    f.call("fetch", "fetch", () => fetcher(input, init))) as typeof fetch;
}

/** `env` with DB, LAKE and EVENTS wrapped; the other bindings and vars are the real ones. */
export function faultyEnv(env: Env, f: FaultInjector): Env {
  return {
    ...env,
    DB: faultyD1(env.DB, f),
    LAKE: faultyR2(env.LAKE, f),
    EVENTS: faultyQueue(env.EVENTS, f),
  };
}

/** Gives a Durable Object instance failing bindings (a new instance after an eviction gets the real ones). */
export function giveFaults(instance: unknown, env: Env, f: FaultInjector): void {
  (instance as { env: Env }).env = faultyEnv(env, f);
}
