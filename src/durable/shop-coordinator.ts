/**
 * ShopCoordinator: one SQLite-backed Durable Object per shop (`idFromName(shopDomain)`).
 * It will own the shop's Shopify rate budget, bulk exports and backfill cursors.
 * For now it only answers what it is, so the binding and class are deployed and
 * migrations are in place.
 */
import { DurableObject } from "cloudflare:workers";

export class ShopCoordinator extends DurableObject<Env> {
  async describe(): Promise<{ shop: string | null; features: string[] }> {
    return { shop: (await this.ctx.storage.get<string>("shop")) ?? null, features: [] };
  }
}
