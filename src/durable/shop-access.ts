/**
 * Where and as whom the coordinator calls a shop's Admin API: the token from the
 * `SHOPIFY_ACCESS_TOKENS` secret (a JSON object shop-domain → token, validated with
 * zod) and the endpoint from the `SHOPIFY_ADMIN_URL` template and `SHOPIFY_API_VERSION`.
 * The secret is re-read on every lookup rather than cached, so a rotated token takes
 * effect on the next call without restarting the object.
 */
import { z } from "zod";

export const DEFAULT_ADMIN_URL = "https://{shop}/admin/api/{version}/graphql.json";
export const DEFAULT_API_VERSION = "2026-01";

/** A `*.myshopify.com`-style host name: lower-case labels, no scheme, no path. */
export const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;

const tokensSchema = z.record(z.string().regex(SHOP_DOMAIN), z.string().min(1));

export type ShopAccess =
  | { ok: true; token: string }
  | { ok: false; reason: "secret_invalid" | "shop_missing"; message: string };

export function shopAccess(env: Pick<Env, "SHOPIFY_ACCESS_TOKENS">, shop: string): ShopAccess {
  let parsed: unknown;
  try {
    parsed = JSON.parse(env.SHOPIFY_ACCESS_TOKENS || "{}");
  } catch {
    return { ok: false, reason: "secret_invalid", message: "SHOPIFY_ACCESS_TOKENS is not valid JSON." };
  }
  const tokens = tokensSchema.safeParse(parsed);
  if (!tokens.success) {
    return {
      ok: false,
      reason: "secret_invalid",
      message:
        'SHOPIFY_ACCESS_TOKENS must be a JSON object of shop domain → Admin API token, e.g. {"shop.myshopify.com":"shpat_…"}.',
    };
  }
  const token = tokens.data[shop];
  if (!token) {
    return {
      ok: false,
      reason: "shop_missing",
      message: `No Admin API token for shop "${shop}" in SHOPIFY_ACCESS_TOKENS. Add it with \`wrangler secret put SHOPIFY_ACCESS_TOKENS\` (locally: .dev.vars).`,
    };
  }
  return { ok: true, token };
}

export function apiVersion(env: Pick<Env, "SHOPIFY_API_VERSION">): string {
  return env.SHOPIFY_API_VERSION?.trim() || DEFAULT_API_VERSION;
}

/** The GraphQL endpoint of a shop, from the template (so tests and local runs can point at a fake). */
export function adminUrl(env: Pick<Env, "SHOPIFY_ADMIN_URL">, shop: string, version: string): string {
  return (env.SHOPIFY_ADMIN_URL?.trim() || DEFAULT_ADMIN_URL)
    .replaceAll("{shop}", encodeURIComponent(shop))
    .replaceAll("{version}", encodeURIComponent(version));
}

/** Bulk query operations allowed at once per shop: five from API version 2026-01, one before. */
export function bulkConcurrency(version: string): number {
  if (version === "unstable") return 5;
  return /^\d{4}-\d{2}$/.test(version) && version >= "2026-01" ? 5 : 1;
}
