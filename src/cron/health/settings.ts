/**
 * The health job's thresholds, from `[vars]`; a malformed value falls back to its default (the
 * job must not stop over a typo), with a warning naming it.
 */
import type { Source } from "../../shared/envelope";
import { log } from "../../shared/log";

export interface HealthSettings {
  windowMs: number;
  retryBacklog: number;
  errorRate: number;
  minEvents: number;
  lagMs: number;
  silenceMs: Record<Source, number>;
  rechargeFailedDeliveries: number;
}

const MINUTE = 60_000;

function num(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  if (Number.isFinite(n) && n >= min && n <= max) return n;
  log.warn("ignoring invalid setting", { name, value: value.slice(0, 64), fallback });
  return fallback;
}

function perSource(name: string, value: string | undefined, defaults: Record<Source, number>): Record<Source, number> {
  const out = { ...defaults };
  for (const part of (value ?? "").split(",")) {
    const [k = "", v = ""] = part.split("=").map((s) => s.trim());
    if (k === "shopify" || k === "stripe" || k === "recharge") out[k] = num(`${name}.${k}`, v, out[k], 1, 525_600);
    else if (k !== "") log.warn(`ignoring unknown source in ${name}`, { source: k.slice(0, 32) });
  }
  return { shopify: out.shopify * MINUTE, stripe: out.stripe * MINUTE, recharge: out.recharge * MINUTE };
}

export function healthSettings(env: Env): HealthSettings {
  return {
    windowMs: 5 * MINUTE,
    retryBacklog: num("HEALTH_RETRY_BACKLOG", env.HEALTH_RETRY_BACKLOG, 25, 1, 1e9),
    errorRate: num("HEALTH_ERROR_RATE", env.HEALTH_ERROR_RATE, 0.05, 0, 1),
    minEvents: num("HEALTH_MIN_EVENTS", env.HEALTH_MIN_EVENTS, 20, 1, 1e9),
    lagMs: num("HEALTH_LAG_MINUTES", env.HEALTH_LAG_MINUTES, 15, 1, 10_080) * MINUTE,
    silenceMs: perSource("HEALTH_SILENCE_MINUTES", env.HEALTH_SILENCE_MINUTES, {
      shopify: 30,
      stripe: 60,
      recharge: 120,
    }),
    rechargeFailedDeliveries: num(
      "HEALTH_RECHARGE_FAILED_DELIVERIES",
      env.HEALTH_RECHARGE_FAILED_DELIVERIES,
      10,
      1,
      19,
    ),
  };
}
