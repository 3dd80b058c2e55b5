/**
 * `GET /admin/doctor`: what only the Worker can see of its own deployment, for `ops doctor`:
 * which secrets are set and whether each can work (never a value: only its name and what is
 * wrong), the bindings, the D1 migrations each database has applied, whether Stripe, Recharge and
 * every active shop accept the tokens held for them, the last event per source, and the cron
 * expressions the jobs expect. The CLI compares this with the repository (migrations/) and the
 * Cloudflare account (queues, triggers, lifecycle rules). Each upstream probe is one cheap read.
 */
import type { Context } from "hono";
import { SCHEDULES } from "../../cron/jobs";
import { LAST_WEBHOOKS } from "../../cron/quality/sql";
import { apiVersion, shopAccess } from "../../durable/shop-access";
import { listShops } from "../../durable/shop-credentials";
import { lakeCatalogConfig } from "../../lake/catalog/config";
import { isShopifyApiVersion, SHOPIFY_API_VERSIONS } from "../../mapping/shopify-versions";
import { SOURCES } from "../../shared/envelope";
import { keyRing } from "../../shared/sealed";
import { cronSettings } from "../../shared/settings";
import { STRIPE_API_VERSION } from "../../shared/stripe-version";
import { everyDatabase, sharedDatabase } from "../../tables/database";

type Ctx = Context<{ Bindings: Env }>;

export interface SecretCheck {
  name: string;
  set: boolean;
  /** Unset and required, or set and unusable: what is wrong, never the value. */
  problem: string | null;
  /** Unset and optional: what is off without it. */
  off: string | null;
}

export interface ProbeResult {
  ok: boolean;
  /** Whether the source refused the credential (as against could not be reached). */
  rejected: boolean;
  message: string | null;
}

export interface DoctorReport {
  secrets: SecretCheck[];
  settings: Array<{ name: string; problem: string }>;
  bindings: Array<{ binding: string; kind: string; present: boolean }>;
  databases: Array<{ binding: string; migrations: string[]; problem: string | null }>;
  upstream: {
    stripe: ProbeResult | null;
    recharge: ProbeResult | null;
    shops: Array<{ shop: string; origin: string } & ProbeResult>;
  };
  lastEvents: Array<{ source: string; lastReceivedAt: string | null; limitMinutes: number }>;
  schedules: string[];
}

/** Shops probed per call: each is one Durable Object call and one Admin API request. */
const MAX_SHOPS = 50;
const PROBE_MS = 10_000;

const value = (env: Env, name: string) =>
  ((env as unknown as Record<string, unknown>)[name] as string | undefined) ?? "";
const values = (text: string) =>
  text
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);

async function secretChecks(env: Env): Promise<SecretCheck[]> {
  const check = (name: string, problem: string | null, off: string | null = null): SecretCheck => ({
    name,
    set: value(env, name).trim() !== "",
    problem,
    off,
  });
  const required = (name: string, what: string) => (value(env, name).trim() === "" ? `not set: ${what}` : null);
  const out: SecretCheck[] = [
    check("SHOPIFY_WEBHOOK_SECRET", required("SHOPIFY_WEBHOOK_SECRET", "Shopify deliveries are answered 503")),
    check(
      "STRIPE_WEBHOOK_SECRET",
      required("STRIPE_WEBHOOK_SECRET", "Stripe deliveries are answered 503") ??
        (values(value(env, "STRIPE_WEBHOOK_SECRET")).some((v) => !v.startsWith("whsec_"))
          ? "a value does not start with whsec_: it is not an endpoint signing secret, so no Stripe signature can match"
          : null),
    ),
    check("RECHARGE_WEBHOOK_SECRET", required("RECHARGE_WEBHOOK_SECRET", "Recharge deliveries are answered 503")),
    check("ADMIN_TOKEN", required("ADMIN_TOKEN", "the admin API and /ops refuse everyone")),
    check("PRIVACY_HASH_KEY", required("PRIVACY_HASH_KEY", "every event retries until it is set")),
  ];
  const ring = value(env, "CREDENTIALS_KEY").trim() === "" ? null : await keyRing(value(env, "CREDENTIALS_KEY"));
  out.push(
    check(
      "CREDENTIALS_KEY",
      ring === null
        ? "not set: shops added with `ops shops add` cannot be stored or opened"
        : ring.ok
          ? null
          : `malformed key ring: ${ring.message}`,
    ),
  );
  const tokens = value(env, "SHOPIFY_ACCESS_TOKENS").trim();
  const parsed = tokens === "" ? null : shopAccess(env, "doctor-probe.myshopify.com");
  out.push(
    check(
      "SHOPIFY_ACCESS_TOKENS",
      parsed !== null && !parsed.ok && parsed.reason === "secret_invalid" ? parsed.message : null,
      tokens === "" ? "optional: shops are added with `ops shops add` instead" : null,
    ),
  );
  out.push(
    check(
      "STRIPE_API_KEY",
      null,
      value(env, "STRIPE_API_KEY") === ""
        ? "Stripe reconciliation, history backfills and checkout line items are off"
        : null,
    ),
  );
  out.push(
    check(
      "RECHARGE_API_TOKEN",
      null,
      value(env, "RECHARGE_API_TOKEN") === "" ? "Recharge reconciliation and history backfills are off" : null,
    ),
  );
  const alertUrl = value(env, "ALERT_WEBHOOK_URL").trim();
  let alertProblem: string | null = null;
  if (alertUrl !== "") {
    try {
      if (new URL(alertUrl).protocol !== "https:") alertProblem = "not an https URL: alerts cannot be delivered";
    } catch {
      alertProblem = "not a URL: alerts cannot be delivered";
    }
  }
  out.push(check("ALERT_WEBHOOK_URL", alertProblem, alertUrl === "" ? "alerts stay in D1 and nobody is told" : null));
  // The lake's catalog: all three settings or none (a partial one fails every compact run); none is
  // the default (the lake committed by path), so it is no warning.
  let catalog: ReturnType<typeof lakeCatalogConfig> = null;
  let catalogProblem: string | null = null;
  try {
    catalog = lakeCatalogConfig(env);
  } catch (err) {
    catalogProblem = err instanceof Error ? err.message : String(err);
  }
  if (catalog !== null || catalogProblem !== null) out.push(check("LAKE_CATALOG_TOKEN", catalogProblem));
  return out;
}

function bindingChecks(env: Env): DoctorReport["bindings"] {
  const has = (name: string, method: string) => {
    const b = (env as unknown as Record<string, unknown>)[name];
    return typeof b === "object" && b !== null && typeof (b as Record<string, unknown>)[method] === "function";
  };
  return [
    { binding: "DB", kind: "D1 database", present: has("DB", "prepare") },
    { binding: "LAKE", kind: "R2 bucket", present: has("LAKE", "put") },
    { binding: "EVENTS", kind: "Queue producer", present: has("EVENTS", "send") },
    { binding: "SHOP", kind: "Durable Object namespace", present: has("SHOP", "getByName") },
    { binding: "SUBJECT_INDEX", kind: "Durable Object namespace", present: has("SUBJECT_INDEX", "getByName") },
    { binding: "METRICS", kind: "Analytics Engine dataset", present: has("METRICS", "writeDataPoint") },
  ];
}

async function databaseChecks(env: Env, settings: DoctorReport["settings"]): Promise<DoctorReport["databases"]> {
  let databases: Array<{ name: string; db: D1Database }>;
  try {
    databases = everyDatabase(env);
  } catch (err) {
    settings.push({ name: "SHOP_DATABASES", problem: (err as Error).message });
    databases = [{ name: "DB", db: sharedDatabase(env) }];
  }
  return Promise.all(
    databases.map(async ({ name, db }) => {
      try {
        const r = await db.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>();
        return { binding: name, migrations: r.results.map((m) => m.name), problem: null };
      } catch (err) {
        const message = (err as Error).message;
        // No migrations table: nothing was ever applied with wrangler.
        if (/no such table/i.test(message)) return { binding: name, migrations: [], problem: null };
        return { binding: name, migrations: [], problem: `cannot read its migrations: ${message}` };
      }
    }),
  );
}

/** The source's own words from an error body (Stripe `error.message`, Recharge `errors`), else its start. */
function reason(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown }; errors?: unknown };
    const said = body.error?.message ?? body.errors;
    if (typeof said === "string") return said.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.slice(0, 300);
}

async function probe(what: string, url: string, headers: Record<string, string>): Promise<ProbeResult> {
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(PROBE_MS) });
  } catch (err) {
    return { ok: false, rejected: false, message: `cannot reach ${new URL(url).origin}: ${(err as Error).message}` };
  }
  const text = await res.text();
  if (res.ok) return { ok: true, rejected: false, message: null };
  const rejected = res.status === 401 || res.status === 403;
  return {
    ok: false,
    rejected,
    message: `${what} answered HTTP ${res.status}${rejected ? " (the credential is refused)" : ""}: ${reason(text)}`,
  };
}

async function upstreamChecks(env: Env): Promise<DoctorReport["upstream"]> {
  const stripeKey = values(env.STRIPE_API_KEY ?? "")[0];
  const rechargeToken = values(env.RECHARGE_API_TOKEN ?? "")[0];
  const stripeBase = (env.STRIPE_API_BASE || "https://api.stripe.com").replace(/\/+$/, "");
  const rechargeBase = (env.RECHARGE_API_BASE || "https://api.rechargeapps.com").replace(/\/+$/, "");
  const shops = (await listShops(env)).filter((s) => s.status === "active").slice(0, MAX_SHOPS);
  const [stripe, recharge, shopResults] = await Promise.all([
    // The reads the pipeline depends on: Stripe's event list (reconciliation), Recharge's subscriptions.
    stripeKey
      ? probe("Stripe GET /v1/events", `${stripeBase}/v1/events?limit=1`, {
          authorization: `Bearer ${stripeKey}`,
          "stripe-version": STRIPE_API_VERSION,
        })
      : null,
    rechargeToken
      ? probe("Recharge GET /subscriptions", `${rechargeBase}/subscriptions?limit=1`, {
          "x-recharge-access-token": rechargeToken,
          "x-recharge-version": "2021-11",
        })
      : null,
    Promise.all(
      shops.map(async (s) => {
        try {
          const check = await env.SHOP.getByName(s.shop).checkAccess();
          return check.ok
            ? { shop: s.shop, origin: s.origin, ok: true, rejected: false, message: null }
            : { shop: s.shop, origin: s.origin, ok: false, rejected: check.rejected === true, message: check.message };
        } catch (err) {
          return { shop: s.shop, origin: s.origin, ok: false, rejected: false, message: (err as Error).message };
        }
      }),
    ),
  ]);
  return { stripe, recharge, shops: shopResults };
}

async function lastEvents(env: Env): Promise<DoctorReport["lastEvents"]> {
  const limits = cronSettings(env).freshnessLimitMs;
  let databases: D1Database[];
  try {
    databases = everyDatabase(env).map((d) => d.db);
  } catch {
    // SHOP_DATABASES is reported with the settings; the shared database alone still answers.
    databases = [sharedDatabase(env)];
  }
  // The last webhook delivery: reconcile, bulk and replay events are not the source sending. The
  // freshness check's probe, over the whole ledger (received after '' and up to the year 9999): it
  // walks (source, received_at) newest first to the first row the source sent itself.
  const all = await Promise.all(
    databases.map((db) =>
      db.prepare(LAST_WEBHOOKS).bind("", "9999-12-31T23:59:59.999Z").all<{ source: string; last: string | null }>(),
    ),
  );
  const rows = all.flatMap((r) => r.results);
  return SOURCES.map((source) => {
    const last = rows
      .filter((r) => r.source === source && r.last)
      .map((r) => r.last as string)
      .sort()
      .at(-1);
    return { source, lastReceivedAt: last ?? null, limitMinutes: Math.round(limits[source] / 60_000) };
  });
}

/** The pinned Shopify version must be one the mappers have rules for: else its webhooks are quarantined. */
function versionChecks(env: Env): DoctorReport["settings"] {
  const version = apiVersion(env);
  if (isShopifyApiVersion(version)) return [];
  return [
    {
      name: "SHOPIFY_API_VERSION",
      problem: `${version} is not a version this pipeline maps (${SHOPIFY_API_VERSIONS.join(", ")}): webhooks delivered in it are quarantined`,
    },
  ];
}

export async function doctorReport(env: Env): Promise<DoctorReport> {
  const settings: DoctorReport["settings"] = versionChecks(env);
  const [secrets, databases, upstream, events] = await Promise.all([
    secretChecks(env),
    databaseChecks(env, settings),
    upstreamChecks(env),
    lastEvents(env),
  ]);
  return {
    secrets,
    settings,
    bindings: bindingChecks(env),
    databases,
    upstream,
    lastEvents: events,
    schedules: Object.keys(SCHEDULES),
  };
}

export async function doctorRoute(c: Ctx): Promise<Response> {
  return c.json({ ok: true, ...(await doctorReport(c.env)) });
}
