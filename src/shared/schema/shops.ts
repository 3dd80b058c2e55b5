/** drizzle-orm definition of `shops`, column for column `migrations/0030_shops.sql` (the SQL file is the source of truth). */
import { sqliteTable, text } from "drizzle-orm/sqlite-core";

export const SHOP_STATUSES = ["active", "removed"] as const;

export const shops = sqliteTable("shops", {
  shop: text("shop").primaryKey().notNull(),
  status: text("status", { enum: SHOP_STATUSES }).notNull(),
  name: text("name"),
  keyId: text("key_id"),
  iv: text("iv"),
  tokenSealed: text("token_sealed"),
  addedAt: text("added_at").notNull(),
  updatedAt: text("updated_at").notNull(),
  removedAt: text("removed_at"),
  /** Added by migrations/0110_shop_currency.sql. */
  currency: text("currency"),
});
