/**
 * Stripe: `Stripe-Signature: t=…,v1=…[,v1=…]` over `${t}.${body}`, checked by the
 * `stripe` package's async verifier with the SubtleCrypto provider and a 300 s
 * tolerance. A body whose signature verifies but that is not JSON is reported
 * as verified-but-unparseable, so ingress can quarantine it instead of refusing.
 */
import Stripe from "stripe";
import { fail, type VerifyResult } from "./verify-result";

export const STRIPE_TOLERANCE_SECONDS = 300;
const cryptoProvider = Stripe.createSubtleCryptoProvider();

/** The fields of a Stripe event ingress needs; the rest stays in the verbatim body. */
export interface StripeEventHead {
  id: string | null;
  type: string | null;
  created: number | null;
  apiVersion: string | null;
}

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
  let lastFailure = fail({ reason: "signature_mismatch" });
  for (const secret of secrets) {
    try {
      const event = await Stripe.webhooks.constructEventAsync(
        body,
        signature,
        secret,
        STRIPE_TOLERANCE_SECONDS,
        cryptoProvider,
        nowMs,
      );
      return { ok: true, value: headOf(event) };
    } catch (err) {
      if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
        // Stripe checks the tolerance only after a signature matched.
        if (/timestamp outside the tolerance/i.test(err.message)) {
          const t = Number(/t=(\d+)/.exec(signature)?.[1] ?? 0);
          lastFailure = fail({
            reason: "timestamp_out_of_tolerance",
            ageSeconds: Math.abs(nowSeconds - t),
            toleranceSeconds: STRIPE_TOLERANCE_SECONDS,
          });
        }
        continue;
      }
      // The signature matched; only JSON parsing of the body failed.
      return { ok: true, value: null };
    }
  }
  return lastFailure;
}

function headOf(event: unknown): StripeEventHead | null {
  if (typeof event !== "object" || event === null) return null;
  const e = event as Record<string, unknown>;
  return {
    id: typeof e.id === "string" ? e.id : null,
    type: typeof e.type === "string" ? e.type : null,
    created: typeof e.created === "number" ? e.created : null,
    apiVersion: typeof e.api_version === "string" ? e.api_version : null,
  };
}
