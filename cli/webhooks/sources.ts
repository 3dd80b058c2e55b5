/**
 * Where each source keeps its webhook subscriptions, behind one small interface:
 * Shopify through the pipeline (`/admin/shops/:shop/webhooks`, the shop's coordinator holds the
 * token), Stripe `/v1/webhook_endpoints` with `STRIPE_API_KEY` (a key that may write webhook
 * endpoints), Recharge `/webhooks` with `RECHARGE_API_TOKEN`. Bases come from `STRIPE_API_BASE`
 * and `RECHARGE_API_BASE` like the Worker's, so a local run can use fakes.
 */
import type { AdminApi } from "../lib/admin.ts";
import { errorMessage } from "../lib/admin.ts";
import { CheckFailed } from "../lib/errors.ts";
import { STRIPE_API_VERSION } from "../../src/shared/stripe-version.ts";
import type { Subscription } from "./plan.ts";

export interface TopicStore {
  list(): Promise<Subscription[]>;
  create(topic: string, address: string): Promise<void>;
  update(id: string, topic: string, address: string): Promise<void>;
  remove(id: string): Promise<void>;
}

/** A shop's subscriptions, and the API version the pipeline pins (SHOPIFY_API_VERSION) when the Worker names it. */
export function shopifyStore(
  api: AdminApi,
  shop: string,
): TopicStore & { pinned(): string | null; listed(): Subscription[] } {
  const path = `/admin/shops/${shop}/webhooks`;
  let pinned: string | null = null;
  let last: Subscription[] = [];
  return {
    pinned: () => pinned,
    /** What the latest list() answered. */
    listed: () => last,
    async list() {
      const body = await api.ok<{
        pinnedVersion?: string;
        subscriptions: Array<{ id: string; topic: string; uri: string | null; apiVersion?: string | null }>;
      }>("GET", path);
      pinned = body.pinnedVersion ?? null;
      last = body.subscriptions.map((s) => ({
        id: s.id,
        topics: [s.topic],
        address: s.uri ?? "",
        apiVersion: s.apiVersion ?? null,
      }));
      return last;
    },
    async create(topic, address) {
      await api.ok("POST", path, { action: "create", topic, uri: address });
    },
    async update(id, _topic, address) {
      await api.ok("POST", path, { action: "update", id, uri: address });
    },
    async remove(id) {
      await api.ok("POST", path, { action: "delete", id });
    },
  };
}

async function upstream<T>(what: string, url: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new CheckFailed(`${what}: cannot reach ${new URL(url).origin}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) throw new CheckFailed(`${what}: HTTP ${res.status}: ${body ? errorMessage(body) : text.slice(0, 200)}`);
  return body as T;
}

export function rechargeStore(base: string, token: string): TopicStore {
  const headers = { "x-recharge-access-token": token, "x-recharge-version": "2021-11", "content-type": "application/json" };
  const root = base.replace(/\/+$/, "");
  return {
    async list() {
      const body = await upstream<{ webhooks: Array<{ id: number | string; topic: string; address: string }> }>(
        "Recharge GET /webhooks",
        `${root}/webhooks?limit=250`,
        { headers },
      );
      return body.webhooks.map((w) => ({ id: String(w.id), topics: [w.topic], address: w.address }));
    },
    async create(topic, address) {
      await upstream("Recharge POST /webhooks", `${root}/webhooks`, { method: "POST", headers, body: JSON.stringify({ topic, address }) });
    },
    async update(id, _topic, address) {
      await upstream(`Recharge PUT /webhooks/${id}`, `${root}/webhooks/${id}`, { method: "PUT", headers, body: JSON.stringify({ address }) });
    },
    async remove(id) {
      await upstream(`Recharge DELETE /webhooks/${id}`, `${root}/webhooks/${id}`, { method: "DELETE", headers });
    },
  };
}

export interface StripeEndpoints {
  list(): Promise<Subscription[]>;
  create(address: string, events: readonly string[]): Promise<{ id: string; secret: string | null }>;
  update(id: string, address: string, events: readonly string[]): Promise<void>;
  remove(id: string): Promise<void>;
}

export function stripeEndpoints(base: string, key: string): StripeEndpoints {
  const root = base.replace(/\/+$/, "");
  const headers = {
    authorization: `Bearer ${key}`,
    "content-type": "application/x-www-form-urlencoded",
    "stripe-version": STRIPE_API_VERSION,
  };
  const form = (address: string, events: readonly string[], create = false) => {
    const f = new URLSearchParams({ url: address });
    // Stripe renders an endpoint's events in its api_version, fixed at creation (it cannot be updated).
    if (create) f.set("api_version", STRIPE_API_VERSION);
    for (const e of events) f.append("enabled_events[]", e);
    return f.toString();
  };
  return {
    async list() {
      const body = await upstream<{
        data: Array<{ id: string; url: string; enabled_events: string[]; api_version?: string | null }>;
      }>(
        "Stripe GET /v1/webhook_endpoints",
        `${root}/v1/webhook_endpoints?limit=100`,
        { headers },
      );
      return body.data.map((e) => ({
        id: e.id,
        topics: e.enabled_events,
        address: e.url,
        apiVersion: e.api_version ?? null,
      }));
    },
    async create(address, events) {
      const body = await upstream<{ id: string; secret?: string }>("Stripe POST /v1/webhook_endpoints", `${root}/v1/webhook_endpoints`, {
        method: "POST",
        headers,
        body: form(address, events, true),
      });
      return { id: body.id, secret: body.secret ?? null };
    },
    async update(id, address, events) {
      await upstream(`Stripe POST /v1/webhook_endpoints/${id}`, `${root}/v1/webhook_endpoints/${id}`, {
        method: "POST",
        headers,
        body: form(address, events),
      });
    },
    async remove(id) {
      await upstream(`Stripe DELETE /v1/webhook_endpoints/${id}`, `${root}/v1/webhook_endpoints/${id}`, { method: "DELETE", headers });
    },
  };
}
