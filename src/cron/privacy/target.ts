/**
 * Who a privacy request is about, resolved against the stored rows: the customer ids per source,
 * the e-mail addresses and the identity profiles. `customers/redact` and `customers/data_request`
 * stay inside their shop (Shopify is the controller of that shop's data only); an erasure from
 * `POST /admin/privacy/erase` follows the identity graph across Shopify, Stripe and Recharge.
 */
import type { SubjectKind } from "../../mapping/subjects";
import type { PrivacyKind, PrivacySubject } from "../../tables/privacy-requests";
import { emailHash } from "../../tables/subjects";

/** An index subject; shop '*' matches every shop. */
export interface TargetSubject {
  kind: SubjectKind;
  id: string;
  shop: string;
}

export interface Target {
  /** Only this shop's Shopify rows and objects (compliance webhooks); null: every shop and source. */
  scopeShop: string | null;
  emails: string[];
  shopify: Array<{ shop: string; id: string }>;
  stripe: string[];
  recharge: string[];
  orders: Array<{ shop: string; id: string }>;
  profiles: string[];
  subjects: TargetSubject[];
}

interface IdentityRow {
  source: "shopify" | "stripe" | "recharge";
  external_id: string;
  shop: string;
  profile_id: string;
  email: string | null;
}

const uniq = <T>(xs: T[], key: (x: T) => string = String): T[] => [
  ...new Map(xs.map((x) => [key(x), x] as const)).values(),
];

/** The request's subjects as `db` knows them (its identity graph links the person's other ids). */
export async function resolveTarget(env: Env, db: D1Database, kind: PrivacyKind, s: PrivacySubject): Promise<Target> {
  const scoped = kind !== "erase";
  const emails: string[] = s.email === null ? [] : [s.email];
  const shopify: Target["shopify"] =
    s.shopifyCustomerId !== null && s.shop !== null ? [{ shop: s.shop, id: s.shopifyCustomerId }] : [];
  let identities: IdentityRow[] = [];
  const profiles: string[] = [];

  for (const c of shopify) {
    const r = await db
      .prepare("SELECT profile_id FROM customer_identities WHERE source = 'shopify' AND external_id = ?1 AND shop = ?2")
      .bind(c.id, c.shop)
      .first<{ profile_id: string }>();
    if (r) profiles.push(r.profile_id);
  }
  if (!scoped) {
    for (const e of emails) {
      const r = await db
        .prepare("SELECT profile_id FROM customer_profile_emails WHERE email = ?1")
        .bind(e)
        .first<{ profile_id: string }>();
      if (r) profiles.push(r.profile_id);
    }
  }
  const stripe: string[] = [];
  const recharge: string[] = [];
  if (!scoped && profiles.length > 0) {
    const marks = profiles.map((_, i) => `?${i + 1}`).join(", ");
    identities = (
      await db
        .prepare(
          `SELECT source, external_id, shop, profile_id, email FROM customer_identities WHERE profile_id IN (${marks})`,
        )
        .bind(...profiles)
        .all<IdentityRow>()
    ).results;
    const profileEmails = await db
      .prepare(`SELECT email FROM customer_profile_emails WHERE profile_id IN (${marks})`)
      .bind(...profiles)
      .all<{ email: string }>();
    emails.push(...profileEmails.results.map((r) => r.email));
    for (const i of identities) {
      if (i.email) emails.push(i.email);
      if (i.source === "shopify") shopify.push({ shop: i.shop, id: i.external_id });
      else if (i.source === "stripe") stripe.push(i.external_id);
      else recharge.push(i.external_id);
    }
  }

  const t: Target = {
    scopeShop: scoped ? s.shop : null,
    emails: uniq(emails),
    shopify: uniq(shopify, (c) => `${c.shop}\u0000${c.id}`),
    stripe: uniq(stripe),
    recharge: uniq(recharge),
    orders: s.shop === null ? [] : s.orders.map((id) => ({ shop: s.shop as string, id })),
    profiles: uniq(profiles),
    subjects: [],
  };
  const emailShop = scoped ? (s.shop ?? "") : "*";
  t.subjects = [
    ...t.shopify.map((c) => ({ kind: "shopify_customer" as const, id: c.id, shop: c.shop })),
    ...t.stripe.map((id) => ({ kind: "stripe_customer" as const, id, shop: "" })),
    ...t.recharge.map((id) => ({ kind: "recharge_customer" as const, id, shop: "" })),
    ...(await Promise.all(
      t.emails.map(async (e) => ({ kind: "email" as const, id: await emailHash(env, e), shop: emailShop })),
    )),
  ];
  return t;
}

/** Whether an index subject (kind, id, shop) is one of the target's. */
export function targetMatcher(subjects: readonly TargetSubject[]): (kind: string, id: string, shop: string) => boolean {
  const keys = new Set(subjects.map((s) => `${s.kind}\u0000${s.id}\u0000${s.shop}`));
  return (kind, id, shop) => keys.has(`${kind}\u0000${id}\u0000${shop}`) || keys.has(`${kind}\u0000${id}\u0000*`);
}

/** One target from each database's (an erase covers every database; each has its own identity graph). */
export function mergeTargets(targets: readonly Target[]): Target {
  const [first, ...rest] = targets;
  if (first === undefined) throw new Error("mergeTargets needs at least one target");
  const all = <K extends keyof Target>(k: K) => targets.flatMap((t) => t[k] as unknown[]);
  const json = (x: unknown) => JSON.stringify(x);
  if (rest.length === 0) return first;
  return {
    scopeShop: first.scopeShop,
    emails: uniq(all("emails") as string[]),
    shopify: uniq(all("shopify") as Target["shopify"], json),
    stripe: uniq(all("stripe") as string[]),
    recharge: uniq(all("recharge") as string[]),
    orders: uniq(all("orders") as Target["orders"], json),
    profiles: uniq(all("profiles") as string[]),
    subjects: uniq(all("subjects") as TargetSubject[], json),
  };
}
