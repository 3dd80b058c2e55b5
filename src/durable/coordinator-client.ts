/**
 * How the rest of the project calls Shopify's Admin API: through the shop's coordinator,
 * so every caller (bulk exports, reconciliation, webhook registration) draws on one rate
 * budget. A thin typed wrapper over the RPC stub: the stub's mapped types are deep enough
 * that TypeScript gives up on them in generic positions, so callers get the plain type.
 */
import type { AdminGraphqlOptions, AdminGraphqlResult, JsonValue } from "./admin-graphql";

export type { AdminGraphqlOptions, AdminGraphqlResult, JsonValue };

export async function shopAdminGraphql(
  env: Pick<Env, "SHOP">,
  shop: string,
  query: string,
  variables: Record<string, JsonValue> = {},
  options: AdminGraphqlOptions = {},
): Promise<AdminGraphqlResult> {
  const result: AdminGraphqlResult = await env.SHOP.getByName(shop).adminGraphql(query, variables, options);
  return result;
}
