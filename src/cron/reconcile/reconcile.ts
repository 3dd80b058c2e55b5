/**
 * The `reconcile` job: Stripe, Recharge and every configured Shopify shop, each under
 * its own lease (`reconcile:stripe`, `reconcile:recharge`, `reconcile:shopify:{shop}`),
 * so an overlapping run skips only the scopes still in progress and a slow shop does
 * not hold back the others. One scope failing is recorded in the report and does not
 * stop the rest; its cursor stays put and the next run retries the same window.
 */
import { apiVersion } from "../../durable/shop-access";
import type { Source } from "../../shared/envelope";
import { log } from "../../shared/log";
import { cronSettings } from "../../shared/settings";
import { sharedDatabase } from "../../tables/database";
import { withLease } from "../lease";
import { storeReconcileReport } from "../reports";
import { activeShops, coordinatorConnector, type ShopifyConnector } from "../shopify-port";
import { reconcileRecharge } from "./recharge";
import { reconcileShopifyShop } from "./shopify";
import { reconcileStripe } from "./stripe";
import { errorText, type ReconcileContext, type ScopeReport, scopeReport, totals } from "./types";

export interface ReconcileOptions {
  sources?: readonly Source[];
  shops?: readonly string[];
  /** How to reach a shop's Admin API; the coordinator unless a test or bench passes its own. */
  connector?: ShopifyConnector;
}

export interface ReconcileResult {
  runId: string;
  reportKey: string;
  scopes: ScopeReport[];
}

function skipped(source: Source, scope: string, note: string): ScopeReport {
  return scopeReport(source, scope, { status: "skipped", note });
}

async function guarded(
  ctx: ReconcileContext,
  source: Source,
  scope: string,
  fn: () => Promise<ScopeReport>,
): Promise<ScopeReport> {
  const lease = `reconcile:${source}${source === "shopify" ? `:${scope}` : ""}`;
  try {
    const r = await withLease(sharedDatabase(ctx.env), lease, ctx.runId, ctx.now, fn);
    if (!r.skipped) {
      const t = totals(r.value);
      log.info("reconcile scope done", { runId: ctx.runId, source, scope, status: r.value.status, ...t });
      return r.value;
    }
    log.info("reconcile skipped: another run is in progress", { runId: ctx.runId, lease, heldBy: r.heldBy });
    return skipped(source, scope, `another run (${r.heldBy ?? "unknown"}) holds ${lease}`);
  } catch (err) {
    const error = errorText(err);
    log.error("reconcile scope failed", { runId: ctx.runId, source, scope, error });
    return { ...skipped(source, scope, "failed; the cursor was not advanced"), status: "error", error };
  }
}

export async function runReconcile(
  env: Env,
  run: { runId: string; now: Date },
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  // The scheduled time, not the wall clock: the report lands in the partition of the run it belongs to.
  const startedAt = run.now.toISOString();
  const ctx: ReconcileContext = { env, settings: cronSettings(env), runId: run.runId, now: run.now };
  const wants = (s: Source) => options.sources === undefined || options.sources.includes(s);
  const scopes: ScopeReport[] = [];

  if (wants("stripe")) {
    const key = env.STRIPE_API_KEY?.trim() ?? "";
    scopes.push(
      key === ""
        ? skipped("stripe", "events", "STRIPE_API_KEY is not set")
        : await guarded(ctx, "stripe", "events", () => reconcileStripe(ctx, key)),
    );
  }
  if (wants("recharge")) {
    const token = env.RECHARGE_API_TOKEN?.trim() ?? "";
    scopes.push(
      token === ""
        ? skipped("recharge", "subscriptions+charges", "RECHARGE_API_TOKEN is not set")
        : await guarded(ctx, "recharge", "subscriptions+charges", () => reconcileRecharge(ctx, token)),
    );
  }
  if (wants("shopify")) {
    const connect = options.connector ?? coordinatorConnector(env);
    const version = apiVersion(env);
    // An uninstalled shop is skipped (its token no longer works, and its data may be due for erasure).
    const shops = (await activeShops(env)).filter((s) => options.shops === undefined || options.shops.includes(s));
    for (const shop of shops) {
      scopes.push(await guarded(ctx, "shopify", shop, () => reconcileShopifyShop(ctx, shop, connect(shop), version)));
    }
  }

  const reportKey = await storeReconcileReport(
    env,
    { runId: run.runId, startedAt, finishedAt: new Date().toISOString() },
    scopes,
  );
  return { runId: run.runId, reportKey, scopes };
}
