/**
 * Dating what the pipeline reads from Stripe's API (backfill listings, the objects of thin events) on
 * Stripe's clock, so that it orders against Stripe's own events.
 */

/**
 * The `created` (unix seconds) of a listed (or fetched) Stripe object's event. The page shows each object as
 * Stripe read it, at some moment while our request was in flight; Stripe's events are dated by
 * Stripe's clock, so the listing is too: the response's `Date` header (whole seconds, written after
 * the read) less the request's round trip, rounded down, less one second, so an event of a change
 * made after the read is always strictly later, whatever order the two arrive in (equal stamps go
 * to whichever lands last). Dating it by our clock after the answer came (as a local "now") would
 * let a listing beat the webhook of a change made during the request or while our clock runs ahead
 * of Stripe's, and that newer state would be lost until the object changed again. The cost of
 * erring early: a webhook of a change made in the second or so before the read can still overwrite
 * the listing, with the state of that moment; every later change has its own, later event. Without
 * a `Date` header, our clock when the request was sent stands in (exposed to clock skew).
 */
export function stripeListingCreated(answer: { date: Date | null; sentAt: number; answeredAt: number }): number {
  if (answer.date === null) return Math.floor(answer.sentAt / 1000) - 1;
  const roundTrip = Math.ceil(Math.max(0, answer.answeredAt - answer.sentAt) / 1000);
  return Math.floor(answer.date.getTime() / 1000) - roundTrip - 1;
}
