/**
 * The Stripe API version the pipeline speaks, and which payload versions it can read.
 *
 * `STRIPE_API_VERSION` is sent as `Stripe-Version` on every Stripe REST call (reconciliation,
 * backfills, checkout line items, thin-event objects, the operator CLI) and set as `api_version` on
 * the webhook endpoint `ops webhooks apply` creates, so listings, fetched objects and webhooks share
 * one shape. An event still carries the version it was rendered in (`api_version`): events listed
 * from `/v1/events` keep the account's default of the day they were created, and an endpoint made
 * before the pin keeps its own. So every payload is read by the rules of its own version:
 *
 * - `legacy`: 2022-08-01 up to and including the acacia releases (2024-09-30 … 2025-02-24). The
 *   invoice carries `charge`, `payment_intent` and `subscription`; a charge and a payment intent
 *   carry `invoice`; a subscription's current period sits on the subscription.
 * - `basil`: 2025-03-31.basil and every later release (basil, clover, dahlia, endive). Those links
 *   are gone: an invoice names its payments only through `invoice_payment` objects, its
 *   subscription under `parent.subscription_details`, and the current period is per item.
 *   Clover, dahlia and endive changed none of the fields the pipeline reads.
 * - `unversioned`: an event without `api_version` (Stripe has set it on every event since 2014, so
 *   in practice events the pipeline itself wrapped before it recorded a version): read as either
 *   shape, whichever fields are present.
 *
 * Anything else (older dated versions, preview or dashboard versions, an unknown release name) has
 * no rules here and is quarantined with a reason that names it. Since acacia a release name's
 * monthly versions only add fields (Stripe's versioning policy), so a new monthly version of a known
 * release is read by that release's rules. No imports: the operator CLI reads this file too.
 */
export const STRIPE_API_VERSION = "2026-10-28.endive";

export type StripeRules = "legacy" | "basil" | "unversioned";

/** Dated versions before the named releases that the mappers read (each reads `latest_charge`, 2022-08-01+). */
const LEGACY_DATED = new Set(["2022-08-01", "2022-11-15", "2023-08-16", "2023-10-16", "2024-04-10", "2024-06-20"]);

/** Release name → its rules and first version (a version dated before its release's first is not one). */
const RELEASES: Record<string, { rules: "legacy" | "basil"; first: string }> = {
  acacia: { rules: "legacy", first: "2024-09-30" },
  basil: { rules: "basil", first: "2025-03-31" },
  clover: { rules: "basil", first: "2025-09-30" },
  dahlia: { rules: "basil", first: "2026-03-25" },
  endive: { rules: "basil", first: "2026-09-30" },
};

export type StripeVersionVerdict = { ok: true; rules: StripeRules } | { ok: false; detail: string };

/** The rules for a payload's `api_version` (null or absent: unversioned). */
export function stripeRulesFor(version: string | null | undefined): StripeVersionVerdict {
  if (version === null || version === undefined) return { ok: true, rules: "unversioned" };
  if (LEGACY_DATED.has(version)) return { ok: true, rules: "legacy" };
  const m = /^(\d{4}-\d{2}-\d{2})\.([a-z]+)$/.exec(version);
  const release = m ? RELEASES[m[2] as string] : undefined;
  if (m && release && (m[1] as string) >= release.first) return { ok: true, rules: release.rules };
  return {
    ok: false,
    detail: `unsupported Stripe API version ${JSON.stringify(version.slice(0, 40))}: the mappers have rules for 2022-08-01 to 2024-06-20 and the acacia, basil, clover, dahlia and endive releases`,
  };
}
