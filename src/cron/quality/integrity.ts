/**
 * Integrity of the normalized tables, over rows written in the last 7 days (by their
 * `updated_at`), so the cost stays bounded as history grows: line items whose order is
 * missing, Recharge charges whose subscription line points at no stored subscription,
 * identities whose profile is missing, and orders whose parts do not add up to their
 * total. A table another migration has not created yet yields WARN "not available"
 * rather than a guess. An orphan can be transient (a child event applied before its
 * parent's), so up to 1 % is WARN, above it FAIL.
 */

import { sharedDatabase } from "../../tables/database";
import { DAY_MS, type DqCheck, type DqResult, iso, ratioOutcome } from "./types";

const WINDOW_MS = 7 * DAY_MS;
const ORPHAN_WARN_RATIO = 0.01;
const SAMPLE = 5;

async function tableColumns(db: D1Database, table: string): Promise<Array<{ name: string; pk: number }> | null> {
  const exists = await db
    .prepare("SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = ?1")
    .bind(table)
    .first<{ one: number }>();
  if (!exists) return null;
  // PRAGMA takes no bound parameters; `table` is one of this module's literals.
  const { results } = await db.prepare(`PRAGMA table_info(${table})`).all<{ name: string; pk: number }>();
  return results;
}

function notAvailable(check: string, subject: string, why: string): DqResult {
  return { check, subject, outcome: "WARN", value: null, threshold: null, message: `not available: ${why}` };
}

function orphanResult(subject: string, what: string, bad: number, total: number, sample: string[]): DqResult {
  return {
    check: "referential_integrity",
    subject,
    outcome: ratioOutcome(bad, total, ORPHAN_WARN_RATIO),
    value: bad,
    threshold: ORPHAN_WARN_RATIO,
    message: bad === 0 ? `all ${total} ${what} resolve` : `${bad} of ${total} ${what} point at nothing`,
    details: { checked: total, orphans: bad, sample },
  };
}

/** A count query (`total`, `bad`) and a sample query (`ref`), both over the same rows. */
async function orphans(
  db: D1Database,
  subject: string,
  what: string,
  q: { count: string; sample: string; binds: string[] },
): Promise<DqResult> {
  const row = await db
    .prepare(q.count)
    .bind(...q.binds)
    .first<{ total: number; bad: number | null }>();
  const bad = row?.bad ?? 0;
  const sample =
    bad === 0
      ? []
      : (
          await db
            .prepare(q.sample)
            .bind(...q.binds)
            .all<{ ref: string }>()
        ).results.map((r) => r.ref);
  return orphanResult(subject, what, bad, row?.total ?? 0, sample);
}

export const referentialIntegrity: DqCheck = async ({ env, now }) => {
  const db = sharedDatabase(env);
  const from = iso(now.getTime() - WINDOW_MS);
  const to = now.toISOString();
  const results: DqResult[] = [];

  const lineFrom = `FROM shopify_order_line_items li LEFT JOIN shopify_orders o ON o.shop = li.shop AND o.id = li.order_id
       WHERE li.updated_at >= ?1 AND li.updated_at <= ?2`;
  results.push(
    await orphans(db, "shopify_order_line_items→shopify_orders", "line items", {
      count: `SELECT COUNT(*) AS total, SUM(CASE WHEN o.id IS NULL THEN 1 ELSE 0 END) AS bad ${lineFrom}`,
      sample: `SELECT DISTINCT li.shop || '/' || li.order_id AS ref ${lineFrom} AND o.id IS NULL LIMIT ${SAMPLE}`,
      binds: [from, to],
    }),
  );

  const chargeFrom = `FROM recharge_charge_line_items li JOIN recharge_charges c ON c.id = li.charge_id
       LEFT JOIN recharge_subscriptions s ON s.id = li.purchase_item_id
       WHERE li.purchase_item_type = 'subscription' AND li.purchase_item_id IS NOT NULL
         AND c.deleted_at IS NULL AND c.updated_at >= ?1 AND c.updated_at <= ?2`;
  results.push(
    await orphans(db, "recharge_charges→recharge_subscriptions", "subscription charge lines", {
      count: `SELECT COUNT(*) AS total, SUM(CASE WHEN s.id IS NULL THEN 1 ELSE 0 END) AS bad ${chargeFrom}`,
      sample: `SELECT DISTINCT c.id || ':' || li.purchase_item_id AS ref ${chargeFrom} AND s.id IS NULL LIMIT ${SAMPLE}`,
      binds: [from, to],
    }),
  );

  results.push(await identities(db, [from, to]));
  return results;
};

/** Identities whose profile row is missing, when the identity tables exist. */
async function identities(db: D1Database, window: string[]): Promise<DqResult> {
  const subject = "customer_identities→customer_profiles";
  const identityCols = await tableColumns(db, "customer_identities");
  const profileCols = await tableColumns(db, "customer_profiles");
  if (identityCols === null || profileCols === null) {
    return notAvailable("referential_integrity", subject, "the identity tables do not exist yet");
  }
  const profilePk = profileCols.filter((c) => c.pk > 0);
  if (!identityCols.some((c) => c.name === "profile_id") || profilePk.length !== 1) {
    return notAvailable("referential_integrity", subject, "customer_identities has no profile_id column");
  }
  const pk = profilePk[0]?.name ?? "id";
  if (!/^[a-z_]+$/.test(pk)) return notAvailable("referential_integrity", subject, "unexpected profile key");
  const windowed = identityCols.some((c) => c.name === "updated_at");
  const from = `FROM customer_identities i LEFT JOIN customer_profiles p ON p.${pk} = i.profile_id
       WHERE ${windowed ? "i.updated_at >= ?1 AND i.updated_at <= ?2" : "?1 IS NOT NULL AND ?2 IS NOT NULL"}`;
  return orphans(db, subject, "identities", {
    count: `SELECT COUNT(*) AS total, SUM(CASE WHEN p.${pk} IS NULL THEN 1 ELSE 0 END) AS bad ${from}`,
    sample: `SELECT i.source || ':' || i.external_id || ' → ' || i.profile_id AS ref ${from} AND p.${pk} IS NULL LIMIT ${SAMPLE}`,
    binds: window,
  });
}

/**
 * Σ(line price × quantity) + shipping + tax − discounts = total, per order, within the
 * tolerance. Orders with taxes included in prices satisfy it without the tax term, so
 * either form passes (the row does not say which applies). Tips and duties are not in
 * the columns: orders with them show as mismatches, which is why up to 1 % is WARN.
 */
export const moneyIntegrity: DqCheck = async ({ env, now, settings }) => {
  const tol = settings.moneyToleranceMinor;
  const mismatch = `lines IS NULL
    OR (abs(lines + shipping + tax - discounts - total) > ?3 AND abs(lines + shipping - discounts - total) > ?3)`;
  const orders = `WITH o AS (
       SELECT o.shop, o.id, o.total_price_minor AS total,
         coalesce(o.total_shipping_minor, 0) AS shipping, coalesce(o.total_tax_minor, 0) AS tax,
         coalesce(o.total_discounts_minor, 0) AS discounts,
         (SELECT SUM(li.price_minor * li.quantity) FROM shopify_order_line_items li
           WHERE li.shop = o.shop AND li.order_id = o.id) AS lines
       FROM shopify_orders o
       WHERE o.updated_at >= ?1 AND o.updated_at <= ?2 AND o.deleted_at IS NULL
         AND o.total_price_minor IS NOT NULL)`;
  const binds = [iso(now.getTime() - WINDOW_MS), now.toISOString(), tol] as const;
  const row = await sharedDatabase(env)
    .prepare(`${orders} SELECT COUNT(*) AS total, SUM(CASE WHEN ${mismatch} THEN 1 ELSE 0 END) AS bad FROM o`)
    .bind(...binds)
    .first<{ total: number; bad: number | null }>();
  const total = row?.total ?? 0;
  const bad = row?.bad ?? 0;
  const sample =
    bad === 0
      ? []
      : (
          await sharedDatabase(env)
            .prepare(`${orders} SELECT shop || '/' || id AS ref FROM o WHERE ${mismatch} LIMIT ${SAMPLE}`)
            .bind(...binds)
            .all<{ ref: string }>()
        ).results.map((r) => r.ref);
  return [
    {
      check: "money_integrity",
      subject: "shopify_orders",
      outcome: ratioOutcome(bad, total, ORPHAN_WARN_RATIO),
      value: bad,
      threshold: tol,
      message:
        bad === 0
          ? `all ${total} orders add up (lines + shipping + tax − discounts = total, ±${tol})`
          : `${bad} of ${total} orders do not add up (lines + shipping + tax − discounts ≠ total, ±${tol})`,
      details: { checked: total, mismatched: bad, sample },
    },
  ];
};
