/**
 * Counts the D1 queries made through one binding (each statement of a batch is one), so a long
 * job can stop before Cloudflare's 1,000 queries per invocation and go on at its next run.
 * The statements it hands out are the binding's own, behind a Proxy that counts their runs; a
 * batch is given the real statements back.
 */
export interface QueryMeter {
  queries: number;
}

const EXECUTE = new Set<string | symbol>(["run", "all", "first", "raw"]);

export function meteredD1(db: D1Database, meter: QueryMeter): D1Database {
  const real = new WeakMap<object, D1PreparedStatement>();
  const wrap = (s: D1PreparedStatement): D1PreparedStatement => {
    const counted = new Proxy(s, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
        const v: unknown = Reflect.get(target, prop);
        if (typeof v !== "function") return v;
        if (!EXECUTE.has(prop)) return v.bind(target);
        return (...args: unknown[]) => {
          meter.queries++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    real.set(counted, s);
    return counted;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => wrap(target.prepare(sql));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          meter.queries += statements.length;
          return target.batch(statements.map((s) => real.get(s) ?? s));
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
