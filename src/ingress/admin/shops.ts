/**
 * Shops at runtime (admin token):
 *   GET    /admin/shops             → every shop (D1 and the SHOPIFY_ACCESS_TOKENS fallback), no tokens
 *   POST   /admin/shops {shop, token} → tries the token through the shop's coordinator
 *          (`shop { name myshopifyDomain currencyCode }`), then stores it sealed with name and currency; 422 when Shopify refuses it
 *   DELETE /admin/shops/:shop       → stops its exports and erases its token; its data stays
 *   POST   /admin/shops/reseal      → re-seals every token under CREDENTIALS_KEY's first key
 * A token travels only in the POST body; no answer, log line or error message carries it.
 */
import type { Context } from "hono";
import { z } from "zod";
import { SHOP_DOMAIN } from "../../durable/shop-access";
import { listShops, removeShop, resealShops, storeShop } from "../../durable/shop-credentials";
import { AppError, errorBody } from "../../shared/errors";
import { log } from "../../shared/log";
import { keyRing } from "../../shared/sealed";

type Ctx = Context<{ Bindings: Env }>;

const addSchema = z.object({
  shop: z.string().regex(SHOP_DOMAIN).max(255),
  token: z.string().min(1).max(1000),
});

export async function shopsList(c: Ctx): Promise<Response> {
  return c.json({ ok: true, shops: await listShops(c.env) });
}

export async function shopsAdd(c: Ctx): Promise<Response> {
  const parsed = addSchema.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) {
    throw new AppError(400, "bad_request", 'Send {"shop": "<shop>.myshopify.com", "token": "<Admin API token>"}.');
  }
  const { shop, token } = parsed.data;
  // Refuse before calling Shopify when the token could not be stored anyway.
  const ring = await keyRing(c.env.CREDENTIALS_KEY);
  if (!ring.ok) throw new AppError(503, "not_configured", ring.message);
  const check = await c.env.SHOP.getByName(shop).checkToken(token);
  if (!check.ok) {
    log.warn("shop token refused", { shop, reason: check.message });
    return c.json(
      {
        ok: false,
        error: { code: "credential_rejected", message: `Shopify refused the token for ${shop}: ${check.message}` },
      },
      422,
    );
  }
  const stored = await storeShop(c.env, { shop, token, name: check.name, currency: check.currency });
  if (!stored.ok) throw new AppError(503, "not_configured", stored.message);
  log.info("shop added", { shop, keyId: stored.record.keyId });
  return c.json({ ok: true, shop: stored.record }, 201);
}

export async function shopsRemove(c: Ctx): Promise<Response> {
  const shop = c.req.param("shop") ?? "";
  if (!SHOP_DOMAIN.test(shop)) throw new AppError(400, "bad_request", `"${shop.slice(0, 100)}" is not a shop domain.`);
  const known = (await listShops(c.env)).find((s) => s.shop === shop);
  if (!known) return c.json(errorBody("not_found", `No shop ${shop}.`), 404);
  // Removed first, so the coordinator reads the removal when it drops its kept token.
  const record = await removeShop(c.env, shop);
  const { canceled } = await c.env.SHOP.getByName(shop).stopJobs();
  log.info("shop removed", { shop, canceledJobs: canceled.length });
  return c.json({ ok: true, shop: record, canceledJobs: canceled });
}

export async function shopsReseal(c: Ctx): Promise<Response> {
  const ring = await keyRing(c.env.CREDENTIALS_KEY);
  if (!ring.ok) throw new AppError(503, "not_configured", ring.message);
  return c.json({ ok: true, keyId: ring.keys[0]?.id, resealed: await resealShops(c.env) });
}
