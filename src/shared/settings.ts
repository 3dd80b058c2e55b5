/**
 * The scheduled jobs' settings, read from `[vars]` once per run. A malformed value
 * falls back to its default with a warning rather than failing the job: a typo in a
 * threshold should not stop reconciliation, and the log line says what was ignored.
 */
import type { Source } from "./envelope";
import { log } from "./log";

export interface CronSettings {
  lookbackMs: number;
  /** A cap on list pages per scope and run; the run's budget decides before it (src/cron/reconcile/budget.ts). */
  maxPages: number;
  /** Wall time a reconcile run pages for, inside the 30 s of a Cron Trigger more frequent than hourly. */
  reconcileRunMs: number;
  /** Consecutive runs a scope's lag must grow over before `reconcile_lag_growing` fires. */
  reconcileLagAlertRuns: number;
  stripeTypes: string[];
  alertDedupMs: number;
  stripeFailedChargeMinor: number;
  rechargeFailedAttempts: number;
  quarantinePerHour: number;
  freshnessLimitMs: Record<Source, number>;
  moneyToleranceMinor: number;
  volumeDropRatio: number;
  duplicateRatioFail: number;
}

const MINUTE = 60_000;
const DEFAULT_FRESHNESS_MINUTES: Record<Source, number> = { shopify: 120, stripe: 720, recharge: 1440 };

function num(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  if (Number.isFinite(n) && n >= min && n <= max) return n;
  log.warn("ignoring invalid setting", { name, value: value.slice(0, 64), fallback });
  return fallback;
}

/** `shopify=120,stripe=720`: per-source minutes; unnamed sources keep their defaults. */
function freshness(value: string | undefined): Record<Source, number> {
  const out = { ...DEFAULT_FRESHNESS_MINUTES };
  for (const part of (value ?? "").split(",")) {
    const [k = "", v = ""] = part.split("=").map((s) => s.trim());
    if (k === "") continue;
    if (k === "shopify" || k === "stripe" || k === "recharge")
      out[k] = num(`FRESHNESS_LIMIT_MINUTES.${k}`, v, out[k], 1, 525_600);
    else log.warn("ignoring unknown source in FRESHNESS_LIMIT_MINUTES", { source: k.slice(0, 32) });
  }
  return { shopify: out.shopify * MINUTE, stripe: out.stripe * MINUTE, recharge: out.recharge * MINUTE };
}

const STRIPE_TYPE = /^[a-z0-9_.*]+$/;

/** Parsed once per `env` object (per isolate in production), so the consumer's alert hook pays nothing. */
const cache = new WeakMap<object, CronSettings>();

export function cronSettings(env: Env): CronSettings {
  const cached = cache.get(env);
  if (cached) return cached;
  const settings = parse(env);
  cache.set(env, settings);
  return settings;
}

function parse(env: Env): CronSettings {
  const types = (env.STRIPE_RECONCILE_TYPES ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  const validTypes = types.filter((t) => STRIPE_TYPE.test(t)).slice(0, 20);
  if (validTypes.length !== types.length) log.warn("STRIPE_RECONCILE_TYPES: kept the first 20 valid types");
  return {
    lookbackMs: num("RECONCILE_LOOKBACK_MINUTES", env.RECONCILE_LOOKBACK_MINUTES, 60, 0, 43_200) * MINUTE,
    maxPages: Math.floor(num("RECONCILE_MAX_PAGES", env.RECONCILE_MAX_PAGES, 1_000, 1, 10_000)),
    reconcileRunMs: num("RECONCILE_RUN_SECONDS", env.RECONCILE_RUN_SECONDS, 20, 1, 840) * 1000,
    reconcileLagAlertRuns: Math.floor(num("RECONCILE_LAG_ALERT_RUNS", env.RECONCILE_LAG_ALERT_RUNS, 4, 2, 96)),
    stripeTypes: validTypes,
    alertDedupMs: num("ALERT_DEDUP_MINUTES", env.ALERT_DEDUP_MINUTES, 180, 0, 525_600) * MINUTE,
    stripeFailedChargeMinor: num(
      "ALERT_STRIPE_FAILED_CHARGE_MINOR",
      env.ALERT_STRIPE_FAILED_CHARGE_MINOR,
      10_000,
      0,
      1e15,
    ),
    rechargeFailedAttempts: num("ALERT_RECHARGE_FAILED_ATTEMPTS", env.ALERT_RECHARGE_FAILED_ATTEMPTS, 2, 1, 1000),
    quarantinePerHour: num("ALERT_QUARANTINE_PER_HOUR", env.ALERT_QUARANTINE_PER_HOUR, 5, 1, 1e9),
    freshnessLimitMs: freshness(env.FRESHNESS_LIMIT_MINUTES),
    moneyToleranceMinor: num("DQ_MONEY_TOLERANCE_MINOR", env.DQ_MONEY_TOLERANCE_MINOR, 1, 0, 1e9),
    volumeDropRatio: num("DQ_VOLUME_DROP_RATIO", env.DQ_VOLUME_DROP_RATIO, 0.5, 0, 1),
    duplicateRatioFail: num("DQ_DUPLICATE_RATIO_FAIL", env.DQ_DUPLICATE_RATIO_FAIL, 0.25, 0, 100),
  };
}
