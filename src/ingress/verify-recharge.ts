/**
 * Recharge signs each delivery twice:
 * - `X-Recharge-Webhook-Signature: t=<epoch>,v1=<hex>`: HMAC-SHA256 of `${t}.${body}`
 *   keyed by the client secret, valid for 48 hours (replay protection);
 * - legacy `X-Recharge-Hmac-Sha256`: hex SHA-256 of `secret + body` (a plain hash, not an HMAC).
 * When the timestamped header is present it must verify: falling back to the
 * legacy one would let a replayed old delivery through.
 */
import { concatBytes, hmacSha256, sha256, timingSafeEqualDigest, toHex, utf8 } from "../shared/crypto";
import { fail, type VerifyResult } from "./verify-result";

export const RECHARGE_TOLERANCE_SECONDS = 48 * 60 * 60;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

export interface RechargeSignatureHeaders {
  timestamped: string | null;
  legacy: string | null;
}

export async function verifyRecharge(
  body: Uint8Array,
  headers: RechargeSignatureHeaders,
  secrets: readonly string[],
  nowSeconds: number,
): Promise<VerifyResult> {
  if (headers.timestamped) return verifyTimestamped(body, headers.timestamped, secrets, nowSeconds);
  if (headers.legacy) return verifyLegacy(body, headers.legacy, secrets);
  return fail({ reason: "missing_signature" });
}

async function verifyTimestamped(
  body: Uint8Array,
  header: string,
  secrets: readonly string[],
  nowSeconds: number,
): Promise<VerifyResult> {
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") timestamp = value;
    else if (key === "v1" && HEX_SHA256.test(value)) signatures.push(value.toLowerCase());
  }
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) {
    return fail({ reason: "malformed_signature" });
  }
  const age = Math.abs(nowSeconds - Number(timestamp));
  if (age > RECHARGE_TOLERANCE_SECONDS) {
    return fail({
      reason: "timestamp_out_of_tolerance",
      ageSeconds: age,
      toleranceSeconds: RECHARGE_TOLERANCE_SECONDS,
    });
  }
  const signed = concatBytes(utf8(`${timestamp}.`), body);
  let matched = false;
  for (const secret of secrets) {
    const expected = toHex(await hmacSha256(secret, signed));
    for (const given of signatures) if (timingSafeEqualDigest(expected, given)) matched = true;
  }
  return matched ? { ok: true } : fail({ reason: "signature_mismatch" });
}

async function verifyLegacy(body: Uint8Array, header: string, secrets: readonly string[]): Promise<VerifyResult> {
  const given = header.trim().toLowerCase();
  if (!HEX_SHA256.test(given)) return fail({ reason: "malformed_signature" });
  let matched = false;
  for (const secret of secrets) {
    const expected = toHex(await sha256(concatBytes(utf8(secret), body)));
    if (timingSafeEqualDigest(expected, given)) matched = true;
  }
  return matched ? { ok: true } : fail({ reason: "signature_mismatch" });
}
