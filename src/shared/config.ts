/** Reads settings from `Env`: secrets must be set (no built-in defaults), numeric vars are parsed once. */

import { secretList } from "./crypto";
import { notConfigured } from "./errors";

export type SecretName = "SHOPIFY_WEBHOOK_SECRET" | "STRIPE_WEBHOOK_SECRET" | "RECHARGE_WEBHOOK_SECRET" | "ADMIN_TOKEN";

/** The comma-separated values of a required secret; throws a 503 naming it when unset. */
export function requireSecrets(env: Env, name: SecretName): string[] {
  const values = secretList(env[name]);
  if (values.length === 0) throw notConfigured(name);
  return values;
}

export function intVar(value: string | undefined, fallback: number, min = 1): number {
  const n = Number.parseInt(value ?? "", 10);
  return Number.isFinite(n) && n >= min ? n : fallback;
}

export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

export function maxBodyBytes(env: Env): number {
  return intVar(env.MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES);
}
