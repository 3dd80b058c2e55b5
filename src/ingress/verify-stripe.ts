/**
 * Stripe: `Stripe-Signature: t=…,v1=…[,v1=…]` over `${t}.${body}`, checked by the `stripe`
 * package's async signature verifier (`webhooks.signature.verifyHeaderAsync`) with the SubtleCrypto
 * provider and a 300 s tolerance. The body is then read here, with zod, not by the package's event
 * constructor: that one refuses thin events (`object: "v2.core.event"`, whose `created` is ISO text
 * and whose object is only named by `related_object`), which are as verified as any other event.
 * A body whose signature verifies but that is not a JSON object is reported as
 * verified-but-unparseable, so ingress can quarantine it instead of refusing.
 */
import Stripe from "stripe";
import { z } from "zod";
import { fromUnixSeconds, toUtcIso } from "../shared/time";
import { fail, type VerifyResult } from "./verify-result";

export const STRIPE_TOLERANCE_SECONDS = 300;
const cryptoProvider = Stripe.createSubtleCryptoProvider();

/** The fields of a Stripe event ingress needs; the rest stays in the verbatim body. */
export interface StripeEventHead {
  id: string | null;
  type: string | null;
  /** When Stripe says the event happened (UTC ISO): `created`, unix seconds, or ISO text for a thin event. */
  eventAt: string | null;
  apiVersion: string | null;
  /** A thin event (`object: "v2.core.event"`): unversioned, its object is fetched by the consumer. */
  thin: boolean;
}

/** Each field on its own: a field of the wrong type is unknown, not a reason to drop the rest. */
const headSchema = z.object({
  id: z.string().nullish().catch(null),
  object: z.string().nullish().catch(null),
  type: z.string().nullish().catch(null),
  created: z.union([z.number(), z.string()]).nullish().catch(null),
  api_version: z.string().nullish().catch(null),
});

export async function verifyStripe(
  body: Uint8Array,
  signature: string | null,
  secrets: readonly string[],
  nowMs: number,
): Promise<VerifyResult<StripeEventHead | null>> {
  const nowSeconds = Math.floor(nowMs / 1000);
  if (!signature) return fail({ reason: "missing_signature" });
  if (!/(^|,)\s*t=\d+/.test(signature) || !/(^|,)\s*v1=[0-9a-f]+/i.test(signature)) {
    return fail({ reason: "malformed_signature" });
  }
  const verifier = Stripe.webhooks.signature;
  if (verifier === null) throw new Error("the stripe package has no signature verifier");
  let lastFailure = fail({ reason: "signature_mismatch" });
  for (const secret of secrets) {
    try {
      await verifier.verifyHeaderAsync(body, signature, secret, STRIPE_TOLERANCE_SECONDS, cryptoProvider, nowMs);
      return { ok: true, value: headOf(body) };
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeSignatureVerificationError)) throw err;
      // Stripe checks the tolerance only after a signature matched.
      if (/timestamp outside the tolerance/i.test(err.message)) {
        const t = Number(/t=(\d+)/.exec(signature)?.[1] ?? 0);
        lastFailure = fail({
          reason: "timestamp_out_of_tolerance",
          ageSeconds: Math.abs(nowSeconds - t),
          toleranceSeconds: STRIPE_TOLERANCE_SECONDS,
        });
      }
    }
  }
  return lastFailure;
}

/** The head of a verified body, or null when it is not a JSON object. */
export function headOf(body: Uint8Array): StripeEventHead | null {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return null;
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return null;
  const e = headSchema.parse(doc);
  const thin = e.object === "v2.core.event";
  return {
    id: e.id ?? null,
    type: e.type ?? null,
    eventAt:
      typeof e.created === "number"
        ? fromUnixSeconds(e.created)
        : typeof e.created === "string"
          ? toUtcIso(e.created)
          : null,
    // A thin event is unversioned: the object it names is fetched in the pipeline's pinned version.
    apiVersion: thin ? null : (e.api_version ?? null),
    thin,
  };
}
