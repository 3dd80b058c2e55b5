/**
 * A shop's webhook subscriptions, for `npm run ops -- webhooks plan|apply|list` (admin token):
 *   GET  /admin/shops/:shop/webhooks → every subscription of this app on the shop, each with the API
 *        version Shopify serializes it in, and `pinnedVersion` (SHOPIFY_API_VERSION). Shopify takes a
 *        subscription's version from the app's configuration; no call can set it (docs/shopify-versions.md).
 *   POST /admin/shops/:shop/webhooks {action: "create", topic, uri} | {action: "update", id, uri}
 *        | {action: "delete", id} → the mutation's result; 422 with Shopify's userErrors
 * Calls go through the shop's coordinator (its token and rate budget), so the CLI never holds a
 * shop token. Subscriptions are created without `includeFields`: the full payload is archived.
 */
import type { Context } from "hono";
import { z } from "zod";
import { type AdminGraphqlResult, shopAdminGraphql } from "../../durable/coordinator-client";
import { apiVersion, SHOP_DOMAIN } from "../../durable/shop-access";
import { AppError } from "../../shared/errors";

type Ctx = Context<{ Bindings: Env }>;

const LIST = `query WebhookSubscriptions($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes { id topic uri includeFields apiVersion { handle } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const CREATE = `mutation WebhookCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: { uri: $uri }) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}`;
const UPDATE = `mutation WebhookUpdate($id: ID!, $uri: String!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: { uri: $uri }) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}`;
const DELETE = `mutation WebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}`;

const subscriptionSchema = z.object({
  id: z.string(),
  topic: z.string(),
  uri: z.string().nullable(),
  includeFields: z.array(z.string()).nullable().optional(),
  apiVersion: z.object({ handle: z.string() }).nullish(),
});
const listSchema = z.object({
  webhookSubscriptions: z.object({
    nodes: z.array(subscriptionSchema),
    pageInfo: z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() }),
  }),
});
const userErrorsSchema = z.array(z.object({ message: z.string() })).default([]);

const actionSchema = z.discriminatedUnion("action", [
  z.object({ action: z.literal("create"), topic: z.string().regex(/^[A-Z][A-Z0-9_]{2,80}$/), uri: z.url().max(2000) }),
  z.object({
    action: z.literal("update"),
    id: z.string().startsWith("gid://shopify/WebhookSubscription/"),
    uri: z.url().max(2000),
  }),
  z.object({ action: z.literal("delete"), id: z.string().startsWith("gid://shopify/WebhookSubscription/") }),
]);

function shopOf(c: Ctx): string {
  const shop = c.req.param("shop") ?? "";
  if (!SHOP_DOMAIN.test(shop)) throw new AppError(400, "bad_request", `"${shop.slice(0, 100)}" is not a shop domain.`);
  return shop;
}

function failure(c: Ctx, result: Extract<AdminGraphqlResult, { ok: false }>): Response {
  if (result.error.kind === "config") throw new AppError(503, "not_configured", result.error.message);
  return c.json({ ok: false, error: { code: "upstream", message: `Shopify: ${result.error.message}` } }, 502);
}

export async function listShopWebhooks(c: Ctx): Promise<Response> {
  const shop = shopOf(c);
  const nodes: z.infer<typeof subscriptionSchema>[] = [];
  let after: string | null = null;
  for (let page = 0; page < 20; page++) {
    const result = await shopAdminGraphql(c.env, shop, LIST, { after }, { estimatedCost: 12 });
    if (!result.ok) return failure(c, result);
    const parsed = listSchema.safeParse(result.data);
    if (!parsed.success)
      return c.json({ ok: false, error: { code: "upstream", message: "Shopify answered an unexpected shape" } }, 502);
    nodes.push(...parsed.data.webhookSubscriptions.nodes);
    if (!parsed.data.webhookSubscriptions.pageInfo.hasNextPage) break;
    after = parsed.data.webhookSubscriptions.pageInfo.endCursor;
  }
  const subscriptions = nodes.map(({ apiVersion: v, ...s }) => ({ ...s, apiVersion: v?.handle ?? null }));
  return c.json({ ok: true, shop, pinnedVersion: apiVersion(c.env), subscriptions });
}

export async function changeShopWebhook(c: Ctx): Promise<Response> {
  const shop = shopOf(c);
  const parsed = actionSchema.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) {
    throw new AppError(
      400,
      "bad_request",
      'Send {"action":"create","topic":"ORDERS_CREATE","uri"} | {"action":"update","id","uri"} | {"action":"delete","id"}.',
    );
  }
  const a = parsed.data;
  const [query, variables, field] =
    a.action === "create"
      ? [CREATE, { topic: a.topic, uri: a.uri }, "webhookSubscriptionCreate"]
      : a.action === "update"
        ? [UPDATE, { id: a.id, uri: a.uri }, "webhookSubscriptionUpdate"]
        : [DELETE, { id: a.id }, "webhookSubscriptionDelete"];
  const result = await shopAdminGraphql(c.env, shop, query, variables, { estimatedCost: 10 });
  if (!result.ok) return failure(c, result);
  const payload = (result.data[field] ?? null) as Record<string, unknown> | null;
  const errors = userErrorsSchema.safeParse(payload?.userErrors);
  const messages = errors.success ? errors.data.map((e) => e.message) : ["unreadable userErrors"];
  if (!payload || messages.length > 0) {
    return c.json(
      { ok: false, error: { code: "rejected", message: `Shopify refused it: ${messages.join("; ") || "no result"}` } },
      422,
    );
  }
  return c.json({ ok: true, action: a.action, result: payload });
}
