import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configuredShops } from "../src/cron/shopify-port";
import { durableSql, JobStore } from "../src/durable/job-store";
import { resolveShopAccess } from "../src/durable/shop-credentials";
import { shops } from "../src/shared/schema/shops";
import { keyRing, open, seal } from "../src/shared/sealed";
import { consumeBodies } from "./cron-helpers";
import { adminRequest, drive, fakeShop, settings, useFakeShopify, withSetting } from "./fakes/coordinator-harness";
import { FaultInjector, giveFaults } from "./fakes/faulty-env";
import productsFixture from "./fixtures/shopify/products__create.json?raw";
import { expectMatchesMigration } from "./helpers/schema-match";

useFakeShopify();

const NEXT_KEY = "test-next:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";
let logged: string[] = [];

beforeEach(async () => {
  settings.SHOPIFY_ACCESS_TOKENS = "{}";
  await env.DB.prepare("DELETE FROM shops").run();
  logged = [];
  for (const level of ["log", "warn", "error", "info"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    });
  }
});
afterEach(() => {
  settings.SHOPIFY_ACCESS_TOKENS = "{}";
});

/** A shop whose fake Admin API knows a token that is not in SHOPIFY_ACCESS_TOKENS. */
function runtimeShop(name: string, options: Parameters<typeof fakeShop>[2] = {}) {
  const made = fakeShop(name, { orders: 1, customers: 1, products: 1 }, options);
  settings.SHOPIFY_ACCESS_TOKENS = "{}";
  return made;
}

async function storedRow(shop: string) {
  return env.DB.prepare("SELECT * FROM shops WHERE shop = ?").bind(shop).first<Record<string, string | null>>();
}

describe("sealed tokens (AES-GCM key ring)", () => {
  it("opens what it sealed, only for the same row, with any key of the ring", async () => {
    const ring = await keyRing(env.CREDENTIALS_KEY);
    if (!ring.ok) throw new Error(ring.message);
    const sealed = await seal(ring.keys, "shpat_secret_value", "shops/a.myshopify.com");
    expect(sealed.keyId).toBe("test-current");
    expect(sealed.sealed).not.toContain("shpat");
    expect(await open(ring.keys, sealed, "shops/a.myshopify.com")).toEqual({
      ok: true,
      plaintext: "shpat_secret_value",
    });
    expect(await open(ring.keys, sealed, "shops/b.myshopify.com")).toEqual({ ok: false, reason: "corrupt" });
    const rotated = await keyRing(`${NEXT_KEY},${env.CREDENTIALS_KEY}`);
    if (!rotated.ok) throw new Error(rotated.message);
    expect(await open(rotated.keys, sealed, "shops/a.myshopify.com")).toMatchObject({ ok: true });
    const onlyNext = await keyRing(NEXT_KEY);
    if (!onlyNext.ok) throw new Error(onlyNext.message);
    expect(await open(onlyNext.keys, sealed, "shops/a.myshopify.com")).toEqual({ ok: false, reason: "unknown_key" });
  });

  it("refuses a malformed key ring without echoing key material", async () => {
    for (const bad of ["", "nokeyid", "k1:c2hvcnQ=", "k1:!!!notbase64", `${NEXT_KEY},${NEXT_KEY}`]) {
      const ring = await keyRing(bad);
      expect(ring.ok, bad).toBe(false);
      if (!ring.ok) expect(ring.message).not.toContain("c2hvcnQ");
    }
  });

  it("matches its drizzle definition", async () => {
    await expectMatchesMigration(shops);
  });
});

describe("POST/GET/DELETE /admin/shops", () => {
  it("checks the token through the coordinator, stores it sealed, and the coordinator uses it", async () => {
    const { shop, fake } = runtimeShop("runtime-one");
    const res = await adminRequest("POST", "/admin/shops", { shop, token: fake.token });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    expect(text).not.toContain(fake.token);
    expect(JSON.parse(text)).toMatchObject({
      ok: true,
      shop: { shop, status: "active", origin: "d1", keyId: "test-current" },
    });
    expect(fake.stats.requests).toBe(1);

    const row = await storedRow(shop);
    expect(row).toMatchObject({ status: "active", key_id: "test-current", name: shop });
    expect(JSON.stringify(row)).not.toContain(fake.token);
    expect(await resolveShopAccess(env, shop)).toEqual({ ok: true, token: fake.token });

    const answer = await env.SHOP.getByName(shop).adminGraphql("{ shop { name } }", {}, {});
    expect(answer.ok).toBe(true);
    expect(await configuredShops(env)).toContain(shop);

    const listed = await adminRequest("GET", "/admin/shops");
    const listText = await listed.text();
    expect(listText).not.toContain(fake.token);
    expect(JSON.parse(listText).shops).toEqual([expect.objectContaining({ shop, status: "active", origin: "d1" })]);
    expect(logged.join("\n")).not.toContain(fake.token);
    expect(logged.join("\n")).toContain("shop added");
  });

  it("keeps the shop's currency, which prices a product that arrives before the shop's first order", async () => {
    const made = fakeShop("runtime-yen", { orders: 1, customers: 1, products: 1, currency: "JPY" });
    settings.SHOPIFY_ACCESS_TOKENS = "{}";
    const res = await adminRequest("POST", "/admin/shops", { shop: made.shop, token: made.fake.token });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(((await res.json()) as { shop: { currency: string } }).shop.currency).toBe("JPY");
    expect(await storedRow(made.shop)).toMatchObject({ currency: "JPY" });

    const body = productsFixture.replaceAll('"19.99"', '"1999"');
    const product = {
      v: 1,
      source: "shopify",
      topic: "products/create",
      eventId: "shop-currency-product-1",
      shop: made.shop,
      receivedAt: "2026-11-21T10:00:01.000Z",
      eventAt: "2026-11-21T10:00:00.000Z",
      apiVersion: "2026-01",
      origin: "webhook",
      body,
    };
    const consumed = await consumeBodies([product]);
    expect(consumed.retryMessages).toEqual([]);
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM shopify_orders WHERE shop = ?1").bind(made.shop).first("n"),
    ).toBe(0);
    const variants = await env.DB.prepare(
      "SELECT id, currency, price_minor FROM shopify_product_variants WHERE shop = ?1 ORDER BY id",
    )
      .bind(made.shop)
      .all<{ id: string; currency: string | null; price_minor: number | null }>();
    expect(variants.results.length).toBeGreaterThan(0);
    // JPY has no minor unit: ¥1999 is 1999 minor units, not 199900.
    for (const v of variants.results) expect(v, v.id).toMatchObject({ currency: "JPY", price_minor: 1999 });
  });

  it("refuses a token Shopify rejects with 422 and stores nothing", async () => {
    const { shop } = runtimeShop("runtime-bad");
    const res = await adminRequest("POST", "/admin/shops", { shop, token: "shpat_wrong_token_value" });
    const text = await res.text();
    expect(res.status).toBe(422);
    expect(JSON.parse(text).error.code).toBe("credential_rejected");
    expect(text).not.toContain("shpat_wrong_token_value");
    expect(await storedRow(shop)).toBeNull();
    expect(logged.join("\n")).not.toContain("shpat_wrong_token_value");
  });

  it("refuses a token of another shop, bad bodies, and a missing key ring", async () => {
    const { shop, fake } = runtimeShop("runtime-mine");
    fake.data.shop.myshopifyDomain = "elsewhere.myshopify.com";
    const res = await adminRequest("POST", "/admin/shops", { shop, token: fake.token });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain("belongs to elsewhere.myshopify.com");
    expect((await adminRequest("POST", "/admin/shops", { shop: "Not A Domain", token: "x" })).status).toBe(400);
    expect((await adminRequest("POST", "/admin/shops", "not json")).status).toBe(400);
    await withSetting("CREDENTIALS_KEY", "", async () => {
      const r = await adminRequest("POST", "/admin/shops", { shop, token: "shpat_x" });
      expect(r.status).toBe(503);
      expect(await r.text()).toContain("CREDENTIALS_KEY");
    });
    expect(await storedRow(shop)).toBeNull();
  });

  it("lists fallback shops from the secret beside runtime ones, and removal wins over the secret", async () => {
    const { shop, fake } = runtimeShop("runtime-fallback");
    settings.SHOPIFY_ACCESS_TOKENS = JSON.stringify({ [shop]: fake.token });
    const listed = await (await adminRequest("GET", "/admin/shops")).json<{ shops: unknown[] }>();
    expect(listed.shops).toEqual([expect.objectContaining({ shop, origin: "secret", status: "active", keyId: null })]);
    expect(await resolveShopAccess(env, shop)).toEqual({ ok: true, token: fake.token });

    const removed = await adminRequest("DELETE", `/admin/shops/${shop}`);
    expect(removed.status).toBe(200);
    expect(await removed.json()).toMatchObject({ ok: true, shop: { shop, status: "removed" }, canceledJobs: [] });
    expect(await resolveShopAccess(env, shop)).toMatchObject({ ok: false, reason: "shop_removed" });
    expect(await configuredShops(env)).not.toContain(shop);
    const answer = await env.SHOP.getByName(shop).adminGraphql("{ shop { name } }", {}, {});
    expect(!answer.ok && answer.error.message).toContain("was removed");
    expect((await adminRequest("DELETE", "/admin/shops/unknown.myshopify.com")).status).toBe(404);
  });

  it("removing a shop erases its token and stops its exports; adding it again re-activates it", async () => {
    const { shop, fake } = runtimeShop("runtime-remove");
    expect((await adminRequest("POST", "/admin/shops", { shop, token: fake.token })).status).toBe(201);
    const started = await adminRequest("POST", "/admin/backfill", { shop, resources: ["orders"] });
    expect(started.status).toBe(202);
    const res = await adminRequest("DELETE", `/admin/shops/${shop}`);
    const body = await res.json<{ canceledJobs: string[] }>();
    expect(body.canceledJobs).toHaveLength(1);
    const row = await storedRow(shop);
    expect(row).toMatchObject({ status: "removed", token_sealed: null, iv: null, key_id: null });
    const op = await env.DB.prepare("SELECT status, error FROM bulk_operations WHERE shop = ?").bind(shop).first();
    expect(op).toEqual({ status: "canceled", error: "the shop was removed" });
    expect((await adminRequest("POST", "/admin/shops", { shop, token: fake.token })).status).toBe(201);
    expect(await resolveShopAccess(env, shop)).toEqual({ ok: true, token: fake.token });
  });

  it("stopping a shop's exports while D1 refuses their rows keeps them pending, and the next run writes them", async () => {
    // The export stays submitted (Shopify never finishes it here): only the stop writes D1.
    const { shop, fake } = runtimeShop("runtime-stop-d1", { bulkAutoAdvance: false });
    expect((await adminRequest("POST", "/admin/shops", { shop, token: fake.token })).status).toBe(201);
    expect((await adminRequest("POST", "/admin/backfill", { shop, resources: ["orders"] })).status).toBe(202);
    const stub = env.SHOP.getByName(shop);
    const injector = new FaultInjector({ seed: 1, rate: 1, targets: ["DB"], calls: ["DB.batch"], modes: ["throw"] });
    const stopped = await runInDurableObject(stub, async (instance, state) => {
      giveFaults(instance, env, injector);
      const { canceled } = await instance.stopJobs();
      return { canceled, pending: new JobStore(durableSql(state.storage)).pendingMirrors().map((j) => j.status) };
    });
    expect(stopped).toEqual({ canceled: [expect.any(String)], pending: ["canceled"] });
    const op = () => env.DB.prepare("SELECT status, error FROM bulk_operations WHERE shop = ?").bind(shop).first();
    expect((await op())?.status).not.toBe("canceled");

    // D1 answers again: the next run (the alarm set a minute out, or a pass already under way) writes it.
    injector.setEnabled(false);
    await drive(stub, async () => (await op())?.status === "canceled");
    expect(await op()).toEqual({ status: "canceled", error: "the shop was removed" });
    const left = await runInDurableObject(stub, (_i, state) =>
      new JobStore(durableSql(state.storage)).pendingMirrors(),
    );
    expect(left).toEqual([]);
  });

  it("re-seals under a new first key, after which the old key can go", async () => {
    const { shop, fake } = runtimeShop("runtime-rotate");
    expect((await adminRequest("POST", "/admin/shops", { shop, token: fake.token })).status).toBe(201);
    await withSetting("CREDENTIALS_KEY", `${NEXT_KEY},${env.CREDENTIALS_KEY}`, async () => {
      const res = await adminRequest("POST", "/admin/shops/reseal");
      expect(await res.json()).toEqual({ ok: true, keyId: "test-next", resealed: 1 });
    });
    expect((await storedRow(shop))?.key_id).toBe("test-next");
    await withSetting("CREDENTIALS_KEY", NEXT_KEY, async () => {
      expect(await resolveShopAccess(env, shop)).toEqual({ ok: true, token: fake.token });
    });
    expect(await resolveShopAccess(env, shop)).toMatchObject({ ok: false, reason: "credentials_unreadable" });
  });
});
