import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** The database `SHOP_DATABASES` routes routed-shop.myshopify.com to (vitest.config.ts). */
      DB_ROUTED: D1Database;
    }
  }
}
