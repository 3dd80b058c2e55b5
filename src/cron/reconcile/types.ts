/**
 * Shapes shared by the reconcilers: what a run is given, what each source/scope reports,
 * and the window arithmetic. A window is (from, to]: `from` is the stored cursor minus
 * the lookback (or a page-limited run's resume point), `to` is now minus a settle delay,
 * so an event still on its way through a webhook is not "repaired" a second time.
 */
import { z } from "zod";
import type { Source } from "../../shared/envelope";
import { describeError } from "../../shared/log";
import type { ReconcileStatus } from "../../shared/schema/cron";
import type { CronSettings } from "../../shared/settings";
import type { ScopeBudget, StopReason } from "./budget";

export interface ReconcileContext {
  env: Env;
  settings: CronSettings;
  runId: string;
  now: Date;
  /** The scope's share of the run's budget: pages are taken while it allows (./budget.ts). */
  budget: ScopeBudget;
}

export interface Tally {
  lookedAt: number;
  missing: number;
  stale: number;
  repaired: number;
}

export interface ScopeReport {
  source: Source;
  /** `events`, `subscriptions+charges`, or a shop domain. */
  scope: string;
  status: ReconcileStatus;
  windowFrom: string | null;
  windowTo: string | null;
  apiCalls: number;
  /** Shopify: query cost points actually charged; Stripe and Recharge: requests. */
  apiCost: number;
  resources: Record<string, Tally>;
  error: string | null;
  note: string | null;
  /** List pages read this run (a Shopify page lists every resource still behind). */
  pages: number;
  /** Why the scope stopped paging: `done` (caught up), a budget limit, `throttled`, `deferred`. */
  stoppedBy: StopReason | null;
  /** How far behind the scope is after the run: now less the oldest change it has yet to reconcile. */
  lagSeconds: number | null;
}

/** A scope's report before any work: status ok, nothing counted; `fields` override the defaults. */
export function scopeReport(source: Source, scope: string, fields: Partial<ScopeReport> = {}): ScopeReport {
  return {
    source,
    scope,
    status: "ok",
    windowFrom: null,
    windowTo: null,
    apiCalls: 0,
    apiCost: 0,
    resources: {},
    error: null,
    note: null,
    pages: 0,
    stoppedBy: null,
    lagSeconds: null,
    ...fields,
  };
}

export const emptyTally = (): Tally => ({ lookedAt: 0, missing: 0, stale: 0, repaired: 0 });

export function totals(report: ScopeReport): Tally {
  const t = emptyTally();
  for (const r of Object.values(report.resources)) {
    t.lookedAt += r.lookedAt;
    t.missing += r.missing;
    t.stale += r.stale;
    t.repaired += r.repaired;
  }
  return t;
}

/** Webhooks usually land within seconds; two minutes keeps in-flight ones out of the window. */
export const SETTLE_MS = 2 * 60 * 1000;

/** An ascending list stopped at its page limit: the next run resumes at `resumeFrom`, up to `windowTo`. */
export const ascendingPartial = z.object({ windowTo: z.iso.datetime(), resumeFrom: z.iso.datetime() });
export type AscendingPartial = z.infer<typeof ascendingPartial>;

export interface Window {
  from: string;
  to: string;
}

/** The window for an ascending (oldest-first) list, from the stored cursor and any partial progress. */
export function ascendingWindow(
  cursor: string | null,
  partial: AscendingPartial | null,
  now: Date,
  lookbackMs: number,
): Window {
  if (partial !== null) return { from: partial.resumeFrom, to: partial.windowTo };
  const base = cursor === null ? now.getTime() : Math.min(Date.parse(cursor), now.getTime());
  return {
    from: new Date(base - lookbackMs).toISOString(),
    to: new Date(Math.max(base - lookbackMs, now.getTime() - SETTLE_MS)).toISOString(),
  };
}

/** A scope's error as its report keeps it: the cause first, without the bound values of a failed query. */
export function errorText(err: unknown): string {
  return describeError(err);
}
