/**
 * Erasure in D1: the PII columns (src/mapping/pii.ts) of every row tied to the person are set to
 * NULL (ids, money, dates and statuses stay, so revenue does not move), and their identity
 * profile, its e-mails, identities and conflicts are deleted. Idempotent: a re-run changes
 * nothing (the updates only touch rows that still hold a value). Also reports the UTC days
 * of the rows it changed, whose Parquet partitions must be re-compacted.
 */
import { PII_TABLES, type PiiTable } from "../../mapping/pii";
import type { Target } from "./target";

export interface RowsErased {
  rows: number;
  days: string[];
}

interface Where {
  sql: string;
  params: string[];
}

/**
 * Lists are bound as one JSON value each and read back with json_each, so a request naming 1,000
 * orders binds as many parameters as one naming one (D1 refuses a statement over 100).
 */
const IN_LIST = "(SELECT value FROM json_each(?))";
const IN_PAIRS = "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))";
const pairs = (xs: ReadonlyArray<{ shop: string; id: string }>) => JSON.stringify(xs.map((x) => [x.shop, x.id]));

/** The rows of `spec` that belong to the target, or null when none can. */
export function whereFor(spec: PiiTable, t: Target): Where | null {
  if (t.scopeShop !== null && spec.source !== "shopify") return null;
  const parts: string[] = [];
  const params: string[] = [];
  if (spec.customer !== null) {
    if (spec.source === "shopify") {
      if (t.shopify.length > 0) {
        parts.push(`(shop, ${spec.customer}) IN ${IN_PAIRS}`);
        params.push(pairs(t.shopify));
      }
      if (spec.table === "shopify_orders" && t.orders.length > 0) {
        parts.push(`(shop, id) IN ${IN_PAIRS}`);
        params.push(pairs(t.orders));
      }
    } else {
      const ids = spec.source === "stripe" ? t.stripe : t.recharge;
      if (ids.length > 0) {
        parts.push(`${spec.customer} IN ${IN_LIST}`);
        params.push(JSON.stringify(ids));
      }
    }
  }
  if (spec.email !== null && t.emails.length > 0) {
    if (spec.shop && t.scopeShop !== null) {
      // `+shop`: the e-mail index finds the person's rows; seeking by shop read all of the shop's.
      parts.push(`(+shop = ? AND ${spec.email} IN ${IN_LIST})`);
      params.push(t.scopeShop, JSON.stringify(t.emails));
    } else {
      parts.push(`${spec.email} IN ${IN_LIST}`);
      params.push(JSON.stringify(t.emails));
    }
  }
  if (spec.parent !== undefined) {
    const parentSpec = PII_TABLES.find((p) => p.table === spec.parent?.table);
    const parent = parentSpec ? whereFor(parentSpec, t) : null;
    if (parent !== null) {
      const keys = spec.shop ? `(shop, ${spec.parent.column})` : spec.parent.column;
      const select = spec.shop ? "shop, id" : "id";
      parts.push(`${keys} IN (SELECT ${select} FROM ${spec.parent.table} WHERE ${parent.sql})`);
      params.push(...parent.params);
    }
  }
  return parts.length === 0 ? null : { sql: parts.join(" OR "), params };
}

async function daysOf(db: D1Database, table: string, where: Where): Promise<string[]> {
  const r = await db
    .prepare(`SELECT DISTINCT substr(updated_at, 1, 10) AS d FROM ${table} WHERE ${where.sql}`)
    .bind(...where.params)
    .all<{ d: string | null }>();
  return r.results.map((x) => x.d).filter((d): d is string => d !== null);
}

export async function eraseRows(db: D1Database, t: Target): Promise<RowsErased> {
  let rows = 0;
  const days = new Set<string>();
  // Children first: their match goes through the parent's e-mail, which the parent's update clears.
  const specs = [...PII_TABLES].sort((a, b) => Number(b.parent !== undefined) - Number(a.parent !== undefined));
  for (const spec of specs) {
    const where = whereFor(spec, t);
    if (where === null) continue;
    for (const d of await daysOf(db, spec.table, where)) days.add(d);
    const set = spec.columns.map((c) => `${c} = NULL`).join(", ");
    const holds = spec.columns.map((c) => `${c} IS NOT NULL`).join(" OR ");
    const r = await db
      .prepare(`UPDATE ${spec.table} SET ${set} WHERE (${where.sql}) AND (${holds})`)
      .bind(...where.params)
      .run();
    rows += r.meta.changes;
  }
  const identity = await eraseIdentity(db, t);
  for (const d of identity.days) days.add(d);
  const alerts = await eraseAlertText(db, t.emails);
  return { rows: rows + identity.rows + alerts, days: [...days].sort() };
}

/** What an erased e-mail becomes inside an alert's title and fields. */
export const ERASED_MARK = "[erased]";

/**
 * Alerts raised by events name the customer by e-mail in their title or fields (a cancelled
 * subscription, a failed charge). Those rows have no customer column, so they are found by the
 * e-mail's text, matched case-insensitively, and the e-mail is replaced by a fixed marker; the
 * rest of the alert (ids, amounts, reasons) stays. An alert already delivered cannot be recalled.
 */
async function eraseAlertText(db: D1Database, emails: string[]): Promise<number> {
  let rows = 0;
  for (const email of emails) {
    const needle = email.trim().toLowerCase();
    if (needle === "") continue;
    const found = await db
      .prepare("SELECT id, title, fields FROM alerts WHERE instr(lower(fields), ?1) > 0 OR instr(lower(title), ?1) > 0")
      .bind(needle)
      .all<{ id: string; title: string; fields: string }>();
    const pattern = new RegExp(needle.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
    for (const a of found.results) {
      const fields = JSON.parse(a.fields) as Array<{ name: string; value: string }>;
      const clean = fields.map((f) => ({ ...f, value: f.value.replace(pattern, ERASED_MARK) }));
      const r = await db
        .prepare("UPDATE alerts SET title = ?2, fields = ?3 WHERE id = ?1")
        .bind(a.id, a.title.replace(pattern, ERASED_MARK), JSON.stringify(clean))
        .run();
      rows += r.meta.changes;
    }
  }
  return rows;
}

/**
 * The identity graph: across sources, the whole profile goes (its identities, e-mails,
 * conflicts). Inside one shop, only that shop's Shopify identity goes, and the profile with it
 * when nothing else holds it.
 */
async function eraseIdentity(db: D1Database, t: Target): Promise<RowsErased> {
  const statements: Array<{ table: string; where: Where }> = [];
  if (t.scopeShop === null) {
    if (t.profiles.length > 0) {
      const p = JSON.stringify(t.profiles);
      statements.push(
        {
          table: "customer_identity_conflicts",
          where: { sql: `profile_id IN ${IN_LIST} OR other_profile_id IN ${IN_LIST}`, params: [p, p] },
        },
        { table: "customer_identities", where: { sql: `profile_id IN ${IN_LIST}`, params: [p] } },
        { table: "customer_profile_emails", where: { sql: `profile_id IN ${IN_LIST}`, params: [p] } },
        { table: "customer_profiles", where: { sql: `id IN ${IN_LIST}`, params: [p] } },
      );
    }
    if (t.emails.length > 0) {
      const e = [JSON.stringify(t.emails)];
      statements.push(
        { table: "customer_identity_conflicts", where: { sql: `email IN ${IN_LIST}`, params: e } },
        { table: "customer_profile_emails", where: { sql: `email IN ${IN_LIST}`, params: e } },
      );
    }
  } else {
    for (const c of t.shopify) {
      const one = { sql: "source = 'shopify' AND external_id = ? AND shop = ?", params: [c.id, c.shop] };
      statements.push(
        { table: "customer_identity_conflicts", where: one },
        { table: "customer_identities", where: one },
      );
    }
    for (const p of t.profiles) {
      const orphan = "NOT EXISTS (SELECT 1 FROM customer_identities WHERE profile_id = ?)";
      statements.push(
        {
          table: "customer_identity_conflicts",
          where: { sql: `(profile_id = ? OR other_profile_id = ?) AND ${orphan}`, params: [p, p, p] },
        },
        { table: "customer_profile_emails", where: { sql: `profile_id = ? AND ${orphan}`, params: [p, p] } },
        { table: "customer_profiles", where: { sql: `id = ? AND ${orphan}`, params: [p, p] } },
      );
    }
  }
  let rows = 0;
  const days = new Set<string>();
  for (const s of statements) {
    if (s.table === "customer_profiles" || s.table === "customer_identities") {
      for (const d of await daysOf(db, s.table, s.where)) days.add(d);
    }
    const r = await db
      .prepare(`DELETE FROM ${s.table} WHERE ${s.where.sql}`)
      .bind(...s.where.params)
      .run();
    rows += r.meta.changes;
  }
  return { rows, days: [...days] };
}
