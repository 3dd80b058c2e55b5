/**
 * `POST /webhooks/stripe`: verify with the `stripe` package, then take id, type and `created` from the
 * event. A thin event (`v2.core.event`, types `v1.charge.succeeded`…) is queued like any other under its
 * own id and type; the consumer fetches the object it names (src/tables/stripe-thin.ts).
 */
import { requireSecrets } from "../shared/config";
import { sha256, toHex } from "../shared/crypto";
import { EVENT_ID_PATTERN } from "../shared/envelope";
import type { IntakeFn } from "./intake";
import { signatureRefused } from "./refusal";
import { verifyStripe } from "./verify-stripe";

export const stripeIntake: IntakeFn = async ({ env, headers, body, nowMs }) => {
  const verdict = await verifyStripe(
    body,
    headers.get("stripe-signature"),
    requireSecrets(env, "STRIPE_WEBHOOK_SECRET"),
    nowMs,
  );
  if (!verdict.ok) throw signatureRefused("stripe", verdict);

  const event = verdict.value;
  // A verified body without a usable id still needs a stable one: hash it (it will be quarantined).
  const eventId =
    event?.id && EVENT_ID_PATTERN.test(event.id) ? event.id : `unparsed_${toHex(await sha256(body)).slice(0, 40)}`;
  return {
    source: "stripe",
    topic: event?.type && event.type.length <= 128 ? event.type : "unknown",
    eventId,
    shop: null,
    eventAt: event?.eventAt ?? null,
    apiVersion: event?.apiVersion && /^[A-Za-z0-9._-]{1,32}$/.test(event.apiVersion) ? event.apiVersion : null,
  };
};
