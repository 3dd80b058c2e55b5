/**
 * `GET /admin/people?email=` (admin token; also behind the ops page's person form): one person's
 * profile from the identity graph and their orders, charges, subscriptions and disputes across
 * Shopify, Stripe and Recharge, read from the `customer_activity` view (each row attributed once:
 * through an identity, else through the email). Emails are compared normalized (trim, lower).
 */
import { z } from "zod";
import { AppError } from "../../shared/errors";

const querySchema = z.object({ email: z.string().trim().min(3).max(320).includes("@") });

export interface PersonActivity {
  activity: "order" | "subscription" | "charge" | "dispute";
  source: string;
  shop: string;
  id: string;
  reference: string | null;
  status: string;
  currency: string | null;
  amountMinor: number | null;
  occurredAt: string | null;
  attributedBy: string;
  isTest: boolean;
}

export interface PersonView {
  profileId: string;
  email: string;
  emails: string[];
  identities: Array<{ source: string; externalId: string; shop: string; email: string | null; matchedBy: string }>;
  orders: PersonActivity[];
  subscriptions: PersonActivity[];
  charges: PersonActivity[];
  disputes: PersonActivity[];
}

export function parsePeopleQuery(query: Record<string, string | undefined>): string {
  const parsed = querySchema.safeParse(query);
  if (!parsed.success) throw new AppError(400, "bad_request", "Give ?email=<an email address>.");
  return parsed.data.email.toLowerCase();
}

/** The person owning this (normalized) email, or null when no profile holds it. */
export async function lookUpPerson(db: D1Database, email: string): Promise<PersonView | null> {
  const profile = await db
    .prepare(
      `SELECT p.id AS profileId, p.email AS email FROM customer_profile_emails e
       JOIN customer_profiles p ON p.id = e.profile_id WHERE e.email = ?1`,
    )
    .bind(email)
    .first<{ profileId: string; email: string }>();
  if (!profile) return null;
  const [emails, identities, activity] = await db.batch([
    db
      .prepare("SELECT email FROM customer_profile_emails WHERE profile_id = ?1 ORDER BY email")
      .bind(profile.profileId),
    db
      .prepare(
        `SELECT source, external_id AS externalId, shop, email, matched_by AS matchedBy FROM customer_identities
         WHERE profile_id = ?1 ORDER BY source, shop, external_id`,
      )
      .bind(profile.profileId),
    db
      .prepare(
        `SELECT activity, source, shop, id, reference, status, currency, amount_minor AS amountMinor,
           occurred_at AS occurredAt, attributed_by AS attributedBy, is_test AS isTest
         FROM customer_activity WHERE profile_id = ?1 ORDER BY occurred_at DESC, source, id LIMIT 500`,
      )
      .bind(profile.profileId),
  ]);
  type Row = Omit<PersonActivity, "isTest"> & { isTest: number | boolean };
  const rows: PersonActivity[] = ((activity?.results ?? []) as Row[]).map((r) => ({
    ...r,
    id: String(r.id),
    reference: r.reference === null ? null : String(r.reference),
    isTest: r.isTest === 1 || r.isTest === true,
  }));
  const of = (kind: PersonActivity["activity"]) => rows.filter((r) => r.activity === kind);
  return {
    profileId: profile.profileId,
    email: profile.email,
    emails: ((emails?.results ?? []) as Array<{ email: string }>).map((e) => e.email),
    identities: (identities?.results ?? []) as PersonView["identities"],
    orders: of("order"),
    subscriptions: of("subscription"),
    charges: of("charge"),
    disputes: of("dispute"),
  };
}
