/** Signs bodies the way Shopify, Stripe and Recharge do, for tests, the demo and the bench. */
import Stripe from "stripe";

const enc = new TextEncoder();
const bytes = (b: string | Uint8Array) => (typeof b === "string" ? enc.encode(b) : b);

async function hmac(secret: string, data: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
}
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

export async function shopifySignature(body: string | Uint8Array, secret: string): Promise<string> {
  return b64(await hmac(secret, bytes(body)));
}

export async function rechargeLegacySignature(body: string | Uint8Array, secret: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", concat(enc.encode(secret), bytes(body)))));
}

export async function rechargeTimestampedSignature(
  body: string | Uint8Array,
  secret: string,
  t: number,
): Promise<string> {
  return `t=${t},v1=${hex(await hmac(secret, concat(enc.encode(`${t}.`), bytes(body))))}`;
}

export async function stripeSignature(body: string, secret: string, timestamp?: number): Promise<string> {
  return Stripe.webhooks.generateTestHeaderStringAsync({
    payload: body,
    secret,
    timestamp,
    cryptoProvider: Stripe.createSubtleCryptoProvider(),
  });
}
