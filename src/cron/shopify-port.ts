/**
 * How the cron reaches a shop's Admin GraphQL API: always through that shop's
 * ShopCoordinator (`adminGraphql` RPC), never directly, so reconciliation and data
 * quality spend the same rate budget as bulk exports and cannot starve them into
 * THROTTLED errors. Tests and the bench pass their own `ShopifyGraphql` instead.
 * The shops are those added at runtime (D1 `shops`) and those with a token in
 * `SHOPIFY_ACCESS_TOKENS` that were not removed (the coordinator re-reads the token itself on every call).
 */
import { z } from "zod";
import type { AdminGraphqlOptions, AdminGraphqlResult, JsonValue } from "../durable/admin-graphql";
import { activeShops as credentialedShops } from "../durable/shop-credentials";
import { log } from "../shared/log";
import { uninstalledShops } from "../tables/shop-installs";

export type ShopifyGraphql = (
  query: string,
  variables: Record<string, JsonValue>,
  options: AdminGraphqlOptions,
) => Promise<AdminGraphqlResult>;

export type ShopifyConnector = (shop: string) => ShopifyGraphql;

/** The coordinator's RPC method, as `ShopCoordinator.adminGraphql` declares it. */
interface AdminGraphqlRpc {
  adminGraphql(
    query: string,
    variables: Record<string, JsonValue>,
    options: AdminGraphqlOptions,
  ): Promise<AdminGraphqlResult>;
}

export const coordinatorConnector =
  (env: Env): ShopifyConnector =>
  (shop) => {
    // TypeScript cannot expand the RPC stub type of a recursive JSON result (TS2589), so the
    // stub is viewed through the method's declared signature instead.
    const stub = env.SHOP.getByName(shop) as unknown as AdminGraphqlRpc;
    return (query, variables, options) => stub.adminGraphql(query, variables, options);
  };

const tokensSchema = z.record(z.string(), z.string());

/** The shop domains the jobs run for: active in D1 or in the secret, not removed. */
export async function configuredShops(
  env: Pick<Env, "DB" | "CREDENTIALS_KEY" | "SHOPIFY_ACCESS_TOKENS">,
): Promise<string[]> {
  warnOnBadSecret(env);
  return credentialedShops(env);
}

function warnOnBadSecret(env: Pick<Env, "SHOPIFY_ACCESS_TOKENS">): void {
  let doc: unknown;
  try {
    doc = JSON.parse(env.SHOPIFY_ACCESS_TOKENS || "{}");
  } catch {
    log.warn("SHOPIFY_ACCESS_TOKENS is not JSON; only shops added at runtime are reconciled");
    return;
  }
  const parsed = tokensSchema.safeParse(doc);
  if (!parsed.success) {
    log.warn("SHOPIFY_ACCESS_TOKENS is not an object of shop → token; only shops added at runtime are reconciled");
  }
}

/** The configured shops that still have the app installed (`app/uninstalled` marks the others). */
export async function activeShops(
  env: Pick<Env, "SHOPIFY_ACCESS_TOKENS" | "DB" | "SHOP_DATABASES" | "CREDENTIALS_KEY">,
): Promise<string[]> {
  const gone = await uninstalledShops(env);
  return (await configuredShops(env)).filter((s) => !gone.has(s));
}
