/**
 * Which D1 database holds what: the one place in src/ that reads a D1 binding from `Env`
 * (test/node/databases.test.ts fails on any other). A shop's data (its Shopify rows, the ledger
 * rows of its events, the privacy subject index and identity rows written with them, the alerts
 * they raise) lives in `shopDatabase(env, shop)`: `DB`, unless `SHOP_DATABASES` routes the shop to
 * a database of its own. Everything that belongs to no single shop (Stripe and Recharge rows,
 * shops and their credentials, jobs, cursors, leases, backfills, replays, privacy requests, data
 * quality results) lives in `sharedDatabase(env)`, always `DB`. docs/tables.md ("How large D1
 * grows, and past its 10 GB") says what works for a routed shop and what does not.
 */

import { z } from "zod";
import { meteredD1, type QueryMeter } from "../shared/d1-meter";

/** `SHOP_DATABASES`: a JSON object from shop domain to the binding name of its D1 database. */
const routesSchema = z.record(
  z.string().regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/, "a key must be a shop domain such as big.myshopify.com"),
  z.string().regex(/^[A-Z][A-Z0-9_]*$/, "a value must be a D1 binding name such as DB_BIG"),
);

/** SHOP_DATABASES is malformed or names a binding the Worker does not have. */
export class DatabaseRoutingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseRoutingError";
  }
}

/** Parsed routes by the setting's text (env objects are rebuilt per request; the text is not). */
const parsedRoutes = new Map<string, ReadonlyMap<string, string>>();

function routes(env: DatabaseEnv): ReadonlyMap<string, string> {
  const text = env.SHOP_DATABASES?.trim() ?? "";
  if (text === "" || text === "{}") return EMPTY;
  let parsed = parsedRoutes.get(text);
  if (parsed === undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DatabaseRoutingError(
        'SHOP_DATABASES is not JSON: set it to an object such as {"big.myshopify.com": "DB_BIG"} in wrangler.toml [vars].',
      );
    }
    const result = routesSchema.safeParse(json);
    if (!result.success) {
      throw new DatabaseRoutingError(
        `SHOP_DATABASES is not valid (${result.error.issues.map((i) => `${i.path.join(".") || "value"}: ${i.message}`).join("; ")}): set it to an object such as {"big.myshopify.com": "DB_BIG"}.`,
      );
    }
    parsed = new Map(Object.entries(result.data).filter(([, binding]) => binding !== "DB"));
    parsedRoutes.set(text, parsed);
  }
  return parsed;
}

const EMPTY: ReadonlyMap<string, string> = new Map();

/** What routing reads: `DB`, `SHOP_DATABASES` and the bindings it names. */
export type DatabaseEnv = Pick<Env, "DB" | "SHOP_DATABASES">;

function binding(env: DatabaseEnv, name: string, shop: string): D1Database {
  const db = (env as unknown as Record<string, unknown>)[name];
  const isD1 =
    typeof db === "object" &&
    db !== null &&
    typeof (db as D1Database).prepare === "function" &&
    typeof (db as D1Database).batch === "function";
  if (!isD1) {
    throw new DatabaseRoutingError(
      `SHOP_DATABASES routes ${shop} to ${name}, but the Worker has no D1 binding ${name}: add a [[d1_databases]] entry with binding = "${name}" to wrangler.toml, apply the migrations to it (wrangler d1 migrations apply ${name} --remote) and deploy again.`,
    );
  }
  return db as D1Database;
}

/** The database that holds `shop`'s data; `DB` for Stripe and Recharge events (no shop) and unrouted shops. */
export function shopDatabase(env: DatabaseEnv, shop: string | null | undefined): D1Database {
  if (shop === null || shop === undefined) return env.DB;
  const name = routes(env).get(shop);
  return name === undefined ? env.DB : binding(env, name, shop);
}

/**
 * The database an event is stored in (its ledger row, subject index, rows and alerts): its shop's,
 * except compliance webhooks, which are privacy requests for the `privacy` job in the shared one.
 */
export function eventDatabase(env: DatabaseEnv, shop: string | null, resource: string | null): D1Database {
  return resource === "compliance" ? env.DB : shopDatabase(env, shop);
}

/** The database of everything that belongs to no single shop. */
export function sharedDatabase(env: Pick<Env, "DB">): D1Database {
  return env.DB;
}

/** Every database with shop data, `DB` first, each once: for reads that total over all shops. */
export function everyDatabase(env: DatabaseEnv): Array<{ name: string; db: D1Database }> {
  const out = [{ name: "DB", db: env.DB }];
  for (const [shop, name] of routes(env)) {
    if (!out.some((d) => d.name === name)) out.push({ name, db: binding(env, name, shop) });
  }
  return out;
}

/**
 * `env` whose D1 bindings count their queries into `meter`, for a job that stops taking new work
 * before Cloudflare's 1,000 queries per invocation and leaves the rest to its next run.
 */
export function meteredDatabases<E extends DatabaseEnv>(env: E, meter: QueryMeter): E {
  const out: Record<string, unknown> = { ...env, DB: meteredD1(env.DB, meter) };
  const done = new Set(["DB"]);
  for (const [shop, name] of routes(env)) {
    if (done.has(name)) continue;
    done.add(name);
    out[name] = meteredD1(binding(env, name, shop), meter);
  }
  return out as E;
}

/** The shops routed away from `DB` (jobs that only read `DB` say they skip them). */
export function routedShops(env: DatabaseEnv): string[] {
  return [...routes(env).keys()];
}
