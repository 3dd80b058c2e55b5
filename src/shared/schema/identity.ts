/**
 * Drizzle definitions of the cross-source identity tables; they must match
 * migrations/0006_identity.sql exactly (a test compares them with `PRAGMA table_info`).
 * The SQL file is the source of truth, because wrangler applies it; these give typed rows
 * to readers. The consumer writes these tables with raw SQL (src/tables/identity.ts):
 * its statements are INSERT … SELECT over CTEs, which drizzle's builder does not express.
 */
import { index, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const IDENTITY_SOURCES = ["shopify", "stripe", "recharge"] as const;
export const MATCHED_BY = ["email", "shopify_customer_id"] as const;
export const CONFLICT_KINDS = ["email_in_other_profile", "moved_by_shopify_link"] as const;

export const customerProfiles = sqliteTable(
  "customer_profiles",
  {
    id: text("id").primaryKey().notNull(),
    email: text("email").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    lastEventId: text("last_event_id").notNull(),
  },
  (t) => [
    uniqueIndex("customer_profiles_by_email").on(t.email),
    index("customer_profiles_by_lake_day").on(t.updatedAt, t.id),
  ],
);

export const customerProfileEmails = sqliteTable(
  "customer_profile_emails",
  {
    email: text("email").primaryKey().notNull(),
    profileId: text("profile_id").notNull(),
    createdAt: text("created_at").notNull(),
    lastEventId: text("last_event_id").notNull(),
  },
  (t) => [
    index("customer_profile_emails_by_profile").on(t.profileId),
    index("customer_profile_emails_by_lake_day").on(t.createdAt, t.email),
  ],
);

export const customerIdentities = sqliteTable(
  "customer_identities",
  {
    source: text("source", { enum: IDENTITY_SOURCES }).notNull(),
    externalId: text("external_id").notNull(),
    /** Shopify shop domain; '' for Stripe and Recharge. */
    shop: text("shop").notNull(),
    profileId: text("profile_id").notNull(),
    email: text("email"),
    shopifyCustomerId: text("shopify_customer_id"),
    matchedBy: text("matched_by", { enum: MATCHED_BY }).notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    lastEventId: text("last_event_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.externalId, t.shop] }),
    index("customer_identities_by_profile").on(t.profileId),
    index("customer_identities_by_shopify_customer").on(t.shopifyCustomerId),
    // No index by shop (dropped by migrations/0169): shop/redact walks the identities by rowid.
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("customer_identities_by_lake_day").on(t.updatedAt, t.source, t.externalId, t.shop),
  ],
);

export const customerIdentityConflicts = sqliteTable(
  "customer_identity_conflicts",
  {
    source: text("source", { enum: IDENTITY_SOURCES }).notNull(),
    externalId: text("external_id").notNull(),
    shop: text("shop").notNull(),
    kind: text("kind", { enum: CONFLICT_KINDS }).notNull(),
    /** The profile owning the email (email_in_other_profile), or the one left (moved_by_shopify_link). */
    otherProfileId: text("other_profile_id").notNull(),
    /** Where the identity is. */
    profileId: text("profile_id").notNull(),
    email: text("email"),
    firstSeenAt: text("first_seen_at").notNull(),
    lastSeenAt: text("last_seen_at").notNull(),
    lastEventId: text("last_event_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.externalId, t.shop, t.kind, t.otherProfileId] }),
    // migrations/0140: the lake reads a changed day as an index range, in key order.
    index("customer_identity_conflicts_by_lake_day").on(
      t.lastSeenAt,
      t.source,
      t.externalId,
      t.shop,
      t.kind,
      t.otherProfileId,
    ),
  ],
);

export type CustomerProfileRow = typeof customerProfiles.$inferSelect;
export type CustomerProfileEmailRow = typeof customerProfileEmails.$inferSelect;
export type CustomerIdentityRow = typeof customerIdentities.$inferSelect;
export type CustomerIdentityConflictRow = typeof customerIdentityConflicts.$inferSelect;

export const IDENTITY_TABLES = [
  customerProfiles,
  customerProfileEmails,
  customerIdentities,
  customerIdentityConflicts,
] as const;
