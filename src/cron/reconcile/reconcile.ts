/**
 * The `reconcile` job: Stripe, Recharge and every configured Shopify shop, each under
 * its own lease (`reconcile:stripe`, `reconcile:recharge`, `reconcile:shopify:{shop}`),
 * so an overlapping run skips only the scopes still in progress and a slow shop does
 * not hold back the others. One scope failing is recorded in the report and does not
 * stop the rest; its cursor stays at its last committed page and the next run goes on from there.
 *
 * A run is one invocation and its pages are governed by that invocation's budget
 * (./budget.ts: wall time, subrequests, D1 queries), shared fairly between scopes: the scopes a
 * run served longest ago go first (a scope the last run had no budget left for starts the next
 * one; among equals, the one furthest behind), every scope gets a first page and then an even
 * share of what is left, and a second pass gives what remains to those still behind. A scope a
 * run cannot afford to start is reported `deferred`. After the pages, each scope's lag is read
 * from its cursors (./positions.ts) into the report, and a lag that grew over the last runs
 * raises `reconcile_lag_growing` (./lag-alert.ts).
 */
import { apiVersion } from "../../durable/shop-access";
import type { Source } from "../../shared/envelope";
import { log } from "../../shared/log";
import { cronSettings } from "../../shared/settings";
import { meteredDatabases, sharedDatabase } from "../../tables/database";
import { withLease } from "../lease";
import { storeReconcileReport } from "../reports";
import { activeShops, coordinatorConnector, type ShopifyConnector, type ShopifyGraphql } from "../shopify-port";
import { bufferedMetrics, meteredSubrequests, RunBudget, type ScopeBudget, type Spent } from "./budget";
import { lagGrowing, raiseLagAlerts } from "./lag-alert";
import { lagSeconds, positionOf, readPositions } from "./positions";
import { reconcileRecharge } from "./recharge";
import { reconcileShopifyShop } from "./shopify";
import { reconcileStripe } from "./stripe";
import { errorText, type ReconcileContext, type ScopeReport, scopeReport, totals } from "./types";
import { ThrottledError } from "./upstream";

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
    const r = await withLease(sharedDatabase(ctx.env), lease, ctx.runId, ctx.now, async () => {
      const report = await fn();
      // The scope's budget knows how many pages it took and why it stopped; a report left partial
      // after its budget saw the main listing done was stopped by what the run had left, else by the
      // page cap of a listing paged on its own (inventory, ./shopify-inventory.ts).
      const b = ctx.budget;
      const stoppedBy =
        report.status === "partial" && b.stoppedBy === "done"
          ? (b.run.shortOf(b.largestPage) ?? "max_pages")
          : b.stoppedBy;
      return { ...report, pages: b.pages, stoppedBy };
    });
    if (!r.skipped) {
      const t = totals(r.value);
      log.info("reconcile scope done", {
        runId: ctx.runId,
        source,
        scope,
        status: r.value.status,
        pages: r.value.pages,
        stoppedBy: r.value.stoppedBy,
        ...t,
      });
      return r.value;
    }
    log.info("reconcile skipped: another run is in progress", { runId: ctx.runId, lease, heldBy: r.heldBy });
    return skipped(source, scope, `another run (${r.heldBy ?? "unknown"}) holds ${lease}`);
  } catch (err) {
    const error = errorText(err);
    log.error("reconcile scope failed", { runId: ctx.runId, source, scope, error });
    return {
      ...skipped(source, scope, "failed; the cursor stays at its last committed page"),
      status: "error",
      error,
      pages: ctx.budget.pages,
    };
  }
}

/** A scope the run may reconcile: how to run it with its share of the budget. */
interface Planned {
  source: Source;
  scope: string;
  run: (ctx: ReconcileContext) => Promise<ScopeReport>;
}

/** Counts and limits one Shopify shop's calls: each is a subrequest, none waits past the run's budget. */
function budgeted(graphql: ShopifyGraphql, shop: string, budget: () => ScopeBudget): ShopifyGraphql {
  return async (query, variables, options) => {
    const b = budget();
    b.subrequest();
    // The coordinator takes a positive wait only; 1 ms means "only if the points are there now".
    const r = await graphql(query, variables, { ...options, maxWaitMs: Math.max(1, Math.round(b.waitMs())) });
    // The coordinator could not get the points in time: Shopify's throttle wins, the scope resumes next run.
    if (!r.ok && r.error.kind === "timeout") throw new ThrottledError(`no rate budget for ${shop} within the run`);
    return r;
  };
}

const add = (a: ScopeReport, b: ScopeReport): ScopeReport => {
  const resources = { ...a.resources };
  for (const [name, t] of Object.entries(b.resources)) {
    const was = resources[name];
    resources[name] = was
      ? {
          lookedAt: was.lookedAt + t.lookedAt,
          missing: was.missing + t.missing,
          stale: was.stale + t.stale,
          repaired: was.repaired + t.repaired,
        }
      : t;
  }
  return {
    ...b,
    windowFrom: a.windowFrom ?? b.windowFrom,
    apiCalls: a.apiCalls + b.apiCalls,
    apiCost: a.apiCost + b.apiCost,
    pages: a.pages + b.pages,
    resources,
  };
};

export async function runReconcile(
  input: Env,
  run: { runId: string; now: Date },
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  // The scheduled time, not the wall clock: the report lands in the partition of the run it belongs to.
  const startedAt = run.now.toISOString();
  const settings = cronSettings(input);
  const budget = new RunBudget(settings.reconcileRunMs, settings.maxPages);
  const metrics = bufferedMetrics(input);
  const env = meteredSubrequests(meteredDatabases(metrics.env, budget.meter), () => {
    budget.subrequests++;
  });
  const wants = (s: Source) => options.sources === undefined || options.sources.includes(s);
  const reports = new Map<string, ScopeReport>();
  const planned: Planned[] = [];
  const order: string[] = [];
  const keyOf = (source: Source, scope: string) => `${source}\u0000${scope}`;
  // Scopes without credentials: reported skipped, with no lag (they are not reconciled at all).
  const unconfigured = new Set<string>();
  const plan = (source: Source, scope: string, unusable: string | null, run: Planned["run"]) => {
    order.push(keyOf(source, scope));
    if (unusable === null) planned.push({ source, scope, run });
    else {
      unconfigured.add(keyOf(source, scope));
      reports.set(keyOf(source, scope), skipped(source, scope, unusable));
    }
  };

  if (wants("stripe")) {
    const key = input.STRIPE_API_KEY?.trim() ?? "";
    plan("stripe", "events", key === "" ? "STRIPE_API_KEY is not set" : null, (ctx) => reconcileStripe(ctx, key));
  }
  if (wants("recharge")) {
    const token = input.RECHARGE_API_TOKEN?.trim() ?? "";
    plan("recharge", "subscriptions+charges", token === "" ? "RECHARGE_API_TOKEN is not set" : null, (ctx) =>
      reconcileRecharge(ctx, token),
    );
  }
  if (wants("shopify")) {
    const connect = options.connector ?? coordinatorConnector(input);
    const version = apiVersion(input);
    // An uninstalled shop is skipped (its token no longer works, and its data may be due for erasure).
    const shops = (await activeShops(env)).filter((s) => options.shops === undefined || options.shops.includes(s));
    for (const shop of shops) {
      const graphql = connect(shop);
      plan("shopify", shop, null, (ctx) =>
        reconcileShopifyShop(
          ctx,
          shop,
          budgeted(graphql, shop, () => ctx.budget),
          version,
        ),
      );
    }
  }
  budget.reserveScopes(order.length);

  // Longest unserved first; among equals, furthest behind; then the configured order.
  const before = await readPositions(sharedDatabase(env));
  const rank = (p: Planned) => {
    const at = positionOf(before, p.source, p.scope);
    return { servedAt: at?.servedAt ?? "", position: at?.position ?? "" };
  };
  const queue = planned
    .map((p, i) => ({ p, i, ...rank(p) }))
    .sort((a, b) =>
      a.servedAt !== b.servedAt
        ? a.servedAt < b.servedAt
          ? -1
          : 1
        : a.position !== b.position
          ? a.position < b.position
            ? -1
            : 1
          : a.i - b.i,
    )
    .map((x) => x.p);

  const ctxFor = (b: ScopeBudget): ReconcileContext => ({ env, settings, runId: run.runId, now: run.now, budget: b });
  // The most a scope's start and first page have cost this run: a scope is started only if that much is left.
  let firstPage: Spent = { subrequests: 40, d1Queries: 15, ms: 250 };
  const largest = new Map<string, Spent>();
  const behind: Planned[] = [];
  for (const [i, p] of queue.entries()) {
    const k = keyOf(p.source, p.scope);
    // The run's first scope always starts: a run too short for one scope would never make progress.
    const short = i === 0 ? null : budget.shortOf(firstPage);
    if (short !== null) {
      reports.set(k, deferred(p.source, p.scope, short));
      continue;
    }
    const b = budget.scope(1 / (queue.length - i));
    const spentBefore = budget.spent();
    const report = await guarded(ctxFor(b), p.source, p.scope, () => p.run(ctxFor(b)));
    const spent = budget.spent();
    // Learned from scopes that were quiet (one page, done): a throttled scope's wait says nothing of the next.
    if (report.pages <= 1 && report.stoppedBy === "done") {
      firstPage = {
        subrequests: Math.max(firstPage.subrequests, spent.subrequests - spentBefore.subrequests),
        d1Queries: Math.max(firstPage.d1Queries, spent.d1Queries - spentBefore.d1Queries),
        ms: Math.max(firstPage.ms, spent.ms - spentBefore.ms),
      };
    }
    reports.set(k, report);
    largest.set(k, b.largestPage);
    if (report.stoppedBy === "share") behind.push(p);
  }
  // What the first pass left goes to the scopes that stopped at their share, in the same order.
  for (const p of behind) {
    const k = keyOf(p.source, p.scope);
    const page = largest.get(k);
    if (budget.shortOf(page ?? firstPage) !== null) continue;
    const b = budget.scope(1, page);
    const more = await guarded(ctxFor(b), p.source, p.scope, () => p.run(ctxFor(b)));
    const first = reports.get(k);
    reports.set(k, first && more.status !== "skipped" ? add(first, more) : (first ?? more));
  }

  // How far behind each scope is now, from the cursors its pages committed.
  const after = await readPositions(sharedDatabase(env));
  const scopes: ScopeReport[] = [];
  for (const k of order) {
    const r = reports.get(k);
    if (r === undefined) continue;
    const at = positionOf(after, r.source, r.scope);
    scopes.push(unconfigured.has(k) ? r : { ...r, lagSeconds: lagSeconds(at?.position ?? null, run.now) });
  }

  const reportKey = await storeReconcileReport(
    env,
    { runId: run.runId, startedAt, finishedAt: new Date().toISOString() },
    scopes,
  );
  // Scopes that stopped behind: does their lag keep growing?
  const behindNow = scopes.filter((s) => s.stoppedBy !== null && s.stoppedBy !== "done" && s.stoppedBy !== "deferred");
  const drafts = await lagGrowing(sharedDatabase(env), behindNow, settings.reconcileLagAlertRuns);
  if (drafts.length > 0) {
    await sharedDatabase(env).batch(
      raiseLagAlerts(sharedDatabase(env), drafts, run.now.toISOString(), settings.alertDedupMs),
    );
    log.warn("reconcile falling behind", { runId: run.runId, scopes: drafts.map((d) => d.key).join(", ") });
  }
  // The run's points, summed: a few per source and topic, whatever the pages.
  try {
    metrics.flush();
  } catch (err) {
    log.warn("analytics engine points not written", { runId: run.runId, error: errorText(err) });
  }
  log.info("reconcile run budget", { runId: run.runId, ...budget.spent() });
  return { runId: run.runId, reportKey, scopes };
}

function deferred(source: Source, scope: string, short: string): ScopeReport {
  return scopeReport(source, scope, {
    status: "skipped",
    stoppedBy: "deferred",
    note: `deferred: the run's budget (${short}) was spent on the scopes before it; the next run starts with it`,
  });
}
