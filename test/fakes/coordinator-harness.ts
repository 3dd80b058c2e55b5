/**
 * Test harness for the ShopCoordinator: one fake Admin API per shop, reached through a
 * fetch spy (the Worker, its Durable Objects and the tests share one isolate, and so one
 * `env`, which is how the fakes' tokens reach SHOPIFY_ACCESS_TOKENS without touching the
 * shared vitest config), plus helpers to drive the coordinator's alarm and read storage.
 */
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, vi } from "vitest";
import worker from "../../src/index";
import type { BulkOperationRow } from "../../src/shared/schema/operations";
import { type FaultInjector, giveFaults } from "./faulty-env";
import { FakeShopifyAdmin, type FakeShopifyOptions, fetchThroughFakes } from "./shopify-admin";
import { makeShopData, type ShopDataOptions } from "./shopify-data";

export const settings = env as unknown as Record<string, string>;
const fakes = new Map<string, FakeShopifyAdmin>();
const tokens: Record<string, string> = {};

/** Installs the fetch spy for every test of the calling file and keeps polls short. */
export function useFakeShopify(): void {
  const realFetch = globalThis.fetch;
  settings.BULK_POLL_SECONDS = "0.2";
  beforeEach(() => {
    vi.spyOn(globalThis, "fetch").mockImplementation(fetchThroughFakes(() => fakes.values(), realFetch));
  });
  afterEach(() => vi.restoreAllMocks());
}

export function fakeShop(name: string, data: ShopDataOptions, options: FakeShopifyOptions = {}) {
  const shop = `${name}.myshopify.com`;
  const fake = new FakeShopifyAdmin(shop, makeShopData(shop, data), options);
  fakes.set(shop, fake);
  tokens[shop] = fake.token;
  settings.SHOPIFY_ACCESS_TOKENS = JSON.stringify(tokens);
  return { shop, fake, stub: env.SHOP.getByName(shop) };
}

/** Replaces a shop's token in SHOPIFY_ACCESS_TOKENS (e.g. with one the fake rejects). */
export function setToken(shop: string, token: string): void {
  tokens[shop] = token;
  settings.SHOPIFY_ACCESS_TOKENS = JSON.stringify(tokens);
}

/** Runs a setting change for the duration of `fn`. */
export async function withSetting<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const before = settings[name];
  settings[name] = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete settings[name];
    else settings[name] = before;
  }
}

export async function adminRequest(method: string, path: string, body?: unknown): Promise<Response> {
  const request = new Request(`https://pipeline.test${path}`, {
    method,
    headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return worker.fetch(request, env, createExecutionContext());
}

/** Gives the coordinator's instance bindings that fail (./faulty-env.ts). */
export async function injectFaults(stub: DurableObjectStub, injector: FaultInjector): Promise<void> {
  await runInDurableObject(stub, (instance) => giveFaults(instance, env, injector));
}

/** Fires the coordinator's alarm (scheduled ones also fire on their own) until `until` holds. */
export async function drive(stub: DurableObjectStub, until: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await until()) return;
    if (Date.now() > deadline) throw new Error("timed out driving the coordinator");
    await runDurableObjectAlarm(stub);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function operations(shop: string): Promise<BulkOperationRow[]> {
  const rows = await env.DB.prepare("SELECT * FROM bulk_operations WHERE shop = ?1 ORDER BY requested_at, resource")
    .bind(shop)
    .all<Record<string, unknown>>();
  return rows.results.map(camel) as unknown as BulkOperationRow[];
}

export async function operation(shop: string, resource: string): Promise<BulkOperationRow | undefined> {
  return (await operations(shop)).find((o) => o.resource === resource);
}

export const TERMINAL = new Set(["completed", "failed", "canceled"]);

export async function allFinished(shop: string, expected: number): Promise<boolean> {
  const ops = await operations(shop);
  return ops.length === expected && ops.every((o) => TERMINAL.has(o.status));
}

export async function count(table: string, shop: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE shop = ?1`)
    .bind(shop)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

function camel(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), v]),
  );
}

export async function sha256Hex(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
