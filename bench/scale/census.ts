/**
 * Which statements an invocation spent its D1 queries on, for the FAIL line of a job that crossed
 * the 1,000-query limit: the limits layer says that it was crossed and by which call, not what
 * the 999 before it were. `env.DB` (already limit-checking, test/fakes/limits.ts) is wrapped once
 * more: every statement run, alone or in a batch, is counted by its first words under the current
 * invocation; when an invocation crosses a limit its counts are kept, and `takeCensus` hands them out.
 */
import { env } from "cloudflare:workers";
import { currentInvocation, type Invocation } from "../../test/fakes/limits";

const counts = new WeakMap<Invocation, Map<string, number>>();
let crossed: Map<string, number> | null = null;

/** A statement's shape: its first words, whitespace folded. */
const shape = (sql: string) => sql.replace(/\s+/g, " ").trim().slice(0, 70);

function tally(sqls: readonly string[]): void {
  const inv = currentInvocation();
  if (inv === undefined) return;
  const mine = counts.get(inv) ?? new Map<string, number>();
  counts.set(inv, mine);
  for (const sql of sqls) mine.set(shape(sql), (mine.get(shape(sql)) ?? 0) + 1);
}

/** After a call: if the invocation just crossed a limit, its counts are the ones to report. */
function keepIfCrossed(): void {
  const inv = currentInvocation();
  if (inv?.exceeded && crossed === null) crossed = counts.get(inv) ?? null;
}

async function counted<T>(sqls: readonly string[], call: () => Promise<T>): Promise<T> {
  tally(sqls);
  try {
    return await call();
  } finally {
    keepIfCrossed();
  }
}

const EXEC = new Set(["run", "all", "first", "raw"]);

function statement(s: D1PreparedStatement, sql: string): D1PreparedStatement {
  return new Proxy(s, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (prop === "bind")
        return (...a: unknown[]) => statement((v as (...x: unknown[]) => D1PreparedStatement).apply(target, a), sql);
      if (typeof prop === "string" && EXEC.has(prop) && typeof v === "function") {
        return (...a: unknown[]) => counted([sql], () => (v as (...x: unknown[]) => Promise<unknown>).apply(target, a));
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Wraps `env.DB` (idempotent). */
export function installCensus(): void {
  const e = env as unknown as { DB: D1Database & { __census?: true } };
  if (e.DB.__census) return;
  const db = e.DB;
  const wrapped = {
    prepare: (sql: string) => statement(db.prepare(sql), sql),
    batch: (list: D1PreparedStatement[]) =>
      counted(
        list.map((s) => String((s as unknown as { sql?: string }).sql ?? "?")),
        () => db.batch(list),
      ),
    exec: (sql: string) => counted([sql], () => db.exec(sql)),
    dump: () => db.dump(),
    withSession: (c?: string) => db.withSession(c),
    __census: true as const,
  };
  e.DB = wrapped as unknown as D1Database & { __census: true };
}

/** The statement counts of the first invocation that crossed a limit since the last call, most first. */
export function takeCensus(top = 6): string | null {
  const found = crossed;
  crossed = null;
  if (found === null) return null;
  return [...found.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([sql, n]) => `${n}× ${sql}`)
    .join(" | ");
}
