/**
 * Shapes shared by the data-quality checks. Every check reads a time window that ends
 * at `now` (the run's scheduled time), never "whatever is latest": a run can be repeated
 * for the same hour with the same answer, and tests can aim a check at a window only
 * they have written to. A check that cannot run reports WARN with the reason instead of
 * failing the whole run.
 */
import type { DqOutcome } from "../../shared/schema/cron";
import type { CronSettings } from "../../shared/settings";
import type { ShopifyConnector } from "../shopify-port";

export interface DqContext {
  env: Env;
  settings: CronSettings;
  now: Date;
  /** How to reach a shop's Admin API (count parity); the coordinator in production. */
  connector: ShopifyConnector;
  /** Shops to check parity for; the configured ones in production. */
  shops: readonly string[];
}

export interface DqResult {
  check: string;
  /** A source, `source/resource`, a shop domain, a table relation, or `all`. */
  subject: string;
  outcome: DqOutcome;
  /** The measured number the outcome was decided on. */
  value: number | null;
  threshold: number | null;
  message: string;
  details?: Record<string, number | string | null | string[]>;
}

export type DqCheck = (ctx: DqContext) => Promise<DqResult[]>;

export const HOUR_MS = 3600_000;
export const DAY_MS = 24 * HOUR_MS;

/** The start of `now`'s hour, as ms. */
export function hourFloor(now: Date): number {
  return Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** `bad` out of `total`: PASS at 0, WARN up to `warnRatio`, FAIL above. */
export function ratioOutcome(bad: number, total: number, warnRatio: number): DqOutcome {
  if (bad === 0) return "PASS";
  return total > 0 && bad / total <= warnRatio ? "WARN" : "FAIL";
}
