/** Builders for signed webhook requests, with the secrets the test config sets. */
import { rechargeLegacySignature, rechargeTimestampedSignature, shopifySignature, stripeSignature } from "./sign";

export const SHOPIFY_SECRET = "shpss_test_current";
export const STRIPE_SECRET = "whsec_test_current";
export const RECHARGE_SECRET = "rc_test_secret";
export const ADMIN_TOKEN = "test-admin-token";
const BASE = "https://pipeline.test";

export interface ShopifyOptions {
  topic?: string | null;
  shop?: string | null;
  eventId?: string | null;
  webhookId?: string | null;
  triggeredAt?: string | null;
  apiVersion?: string | null;
  secret?: string;
  hmac?: string | null;
  headers?: Record<string, string>;
}

export async function shopifyRequest(body: string | Uint8Array, o: ShopifyOptions = {}): Promise<Request> {
  const h: Record<string, string> = {
    "Content-Type": "application/json",
    "X-Shopify-Topic": "orders/create",
    "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
    "X-Shopify-Event-Id": crypto.randomUUID(),
    "X-Shopify-Triggered-At": "2026-11-20T15:04:05.123456789Z",
    "X-Shopify-API-Version": "2026-01",
  };
  const set = (name: string, v: string | null | undefined) => {
    if (v === null) delete h[name];
    else if (v !== undefined) h[name] = v;
  };
  set("X-Shopify-Topic", o.topic);
  set("X-Shopify-Shop-Domain", o.shop);
  set("X-Shopify-Event-Id", o.eventId);
  set("X-Shopify-Webhook-Id", o.webhookId);
  set("X-Shopify-Triggered-At", o.triggeredAt);
  set("X-Shopify-API-Version", o.apiVersion);
  const hmac = o.hmac === undefined ? await shopifySignature(body, o.secret ?? SHOPIFY_SECRET) : o.hmac;
  if (hmac !== null) h["X-Shopify-Hmac-Sha256"] = hmac;
  return new Request(`${BASE}/webhooks/shopify`, { method: "POST", body, headers: { ...h, ...o.headers } });
}

export async function stripeRequest(
  body: string,
  o: { secret?: string; timestamp?: number; signature?: string | null } = {},
) {
  const sig =
    o.signature === undefined ? await stripeSignature(body, o.secret ?? STRIPE_SECRET, o.timestamp) : o.signature;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (sig !== null) headers["Stripe-Signature"] = sig;
  return new Request(`${BASE}/webhooks/stripe`, { method: "POST", body, headers });
}

export async function rechargeRequest(
  body: string,
  o: { topic?: string | null; scheme?: "legacy" | "timestamped"; secret?: string; timestamp?: number } = {},
) {
  const secret = o.secret ?? RECHARGE_SECRET;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (o.topic !== null) headers["X-Recharge-Topic"] = o.topic ?? "subscription/created";
  if (o.scheme === "timestamped") {
    const t = o.timestamp ?? Math.floor(Date.now() / 1000);
    headers["X-Recharge-Webhook-Signature"] = await rechargeTimestampedSignature(body, secret, t);
    headers["X-Recharge-Webhook-Timestamp"] = String(t);
  } else {
    headers["X-Recharge-Hmac-Sha256"] = await rechargeLegacySignature(body, secret);
  }
  return new Request(`${BASE}/webhooks/recharge`, { method: "POST", body, headers });
}

export function adminRequest(path: string, token: string | null = ADMIN_TOKEN, init: RequestInit = {}): Request {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set("Authorization", `Bearer ${token}`);
  return new Request(`${BASE}${path}`, { ...init, headers });
}

/** A Stripe Event wrapping a bare API object, as webhook deliveries carry them. */
export function stripeEvent(
  object: unknown,
  type: string,
  id = `evt_${crypto.randomUUID().replaceAll("-", "")}`,
  created = 1_763_650_000,
) {
  return JSON.stringify({
    id,
    object: "event",
    api_version: "2026-01-28.clover",
    created,
    type,
    data: { object },
    livemode: false,
  });
}
