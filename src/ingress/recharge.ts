/**
 * `POST /webhooks/recharge`: verify, then derive a stable event id (Recharge sends
 * none) from topic + body, and the event time from the object's `updated_at`.
 */
import { requireSecrets } from "../shared/config";
import { concatBytes, sha256, toHex, utf8 } from "../shared/crypto";
import { toUtcIso } from "../shared/time";
import { API_VERSION_HEADER, optionalHeader, requiredHeader, TOPIC_HEADER } from "./headers";
import type { IntakeFn } from "./intake";
import { signatureRefused } from "./refusal";
import { verifyRecharge } from "./verify-recharge";

export const rechargeIntake: IntakeFn = async ({ env, headers, body, text, nowMs }) => {
  const verdict = await verifyRecharge(
    body,
    { timestamped: headers.get("x-recharge-webhook-signature"), legacy: headers.get("x-recharge-hmac-sha256") },
    requireSecrets(env, "RECHARGE_WEBHOOK_SECRET"),
    Math.floor(nowMs / 1000),
  );
  if (!verdict.ok) throw signatureRefused("recharge", verdict);

  const topic = requiredHeader(headers, "X-Recharge-Topic", TOPIC_HEADER);
  const digest = toHex(await sha256(concatBytes(utf8(`${topic}\n`), body)));
  return {
    source: "recharge",
    topic,
    eventId: `rc_${digest.slice(0, 40)}`,
    shop: null,
    eventAt: text === null ? null : rechargeUpdatedAt(text),
    apiVersion: optionalHeader(headers, "X-Recharge-Version", API_VERSION_HEADER),
  };
};

/**
 * `updated_at` of the wrapped object (`{"subscription": {...}}`). Recharge writes
 * UTC; a time without a zone is read as UTC so every redelivery maps to the same key.
 */
export function rechargeUpdatedAt(text: string): string | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof doc !== "object" || doc === null) return null;
  const inner = Object.values(doc as Record<string, unknown>).find((v) => typeof v === "object" && v !== null);
  const updated =
    (inner as Record<string, unknown> | undefined)?.updated_at ?? (doc as Record<string, unknown>).updated_at;
  if (typeof updated !== "string" || updated.length > 64) return null;
  return toUtcIso(updated) ?? toUtcIso(`${updated}Z`);
}
