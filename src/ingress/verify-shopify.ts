/**
 * Shopify: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body,
 * keyed by the app's client secret. Any of the configured secrets may match.
 */
import { hmacSha256, timingSafeEqualDigest, toBase64 } from "../shared/crypto";
import { fail, type VerifyResult } from "./verify-result";

const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

export async function verifyShopify(
  body: Uint8Array,
  signature: string | null,
  secrets: readonly string[],
): Promise<VerifyResult> {
  if (!signature) return fail({ reason: "missing_signature" });
  const given = signature.trim();
  if (!BASE64_SHA256.test(given)) return fail({ reason: "malformed_signature" });
  let matched = false;
  // Check every secret, not just until the first match, so timing does not reveal which one matched.
  for (const secret of secrets) {
    const expected = toBase64(await hmacSha256(secret, body));
    if (timingSafeEqualDigest(expected, given)) matched = true;
  }
  return matched ? { ok: true } : fail({ reason: "signature_mismatch" });
}
