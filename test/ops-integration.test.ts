import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { storeShop } from "../src/durable/shop-credentials";
import {
  DEAD_EVENT_ID,
  QUARANTINED_FIXED_ID,
  QUARANTINED_INVALID_ID,
  SEED_SHOP,
  seedDeadLetter,
  seedQuarantined,
  seedStatements,
} from "./helpers/ops-seed";
import { ledgerRow, waitFor } from "./helpers/storage";

const BASE = "https://pipeline.test";
const SEALED_TOKEN = "shpat_ops_page_must_never_show_this";

function browser(path: string, init: RequestInit & { cookie?: string; base?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("accept", "text/html");
  if (init.cookie) headers.set("cookie", init.cookie);
  return exports.default.fetch(new Request(`${init.base ?? BASE}${path}`, { ...init, headers, redirect: "manual" }));
}

function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  };
}

async function signIn(base = BASE): Promise<{ cookie: string; setCookie: string }> {
  const res = await browser("/ops/sign-in", { method: "POST", base, ...form({ token: "test-admin-token" }) });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/ops");
  const setCookie = res.headers.get("set-cookie") ?? "";
  return { cookie: setCookie.split(";")[0] ?? "", setCookie };
}

const csrfOf = (html: string) => /name="csrf" value="([0-9a-f]{64})"/.exec(html)?.[1] ?? "";

beforeAll(async () => {
  const now = Date.now();
  await env.DB.batch(seedStatements(now).map((s) => env.DB.prepare(s)));
  const dead = seedDeadLetter(now);
  await env.LAKE.put(dead.key, dead.body, { customMetadata: dead.customMetadata });
  for (const q of seedQuarantined(now)) await env.LAKE.put(q.key, q.body, { customMetadata: q.customMetadata });
  const stored = await storeShop(env, { shop: "sealed-shop.myshopify.com", token: SEALED_TOKEN, name: "Sealed" });
  expect(stored.ok).toBe(true);
});

describe("/ops sign-in", () => {
  it("shows a browser the sign-in form, and an API client a 401 error body", async () => {
    const page = await browser("/ops");
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('action="/ops/sign-in"');
    const api = await exports.default.fetch(new Request(`${BASE}/ops`));
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ ok: false, error: { code: "unauthorized" } });
  });

  it("refuses a wrong token and sets a signed, HttpOnly, SameSite=Strict, Secure cookie for the right one", async () => {
    const wrong = await browser("/ops/sign-in", { method: "POST", ...form({ token: "nope" }) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const { setCookie } = await signIn();
    expect(setCookie).toMatch(/^ops_session=\d{13}\.[0-9a-f]{32}\.[0-9a-f]{64}; /);
    for (const part of ["Max-Age=28800", "Path=/ops", "HttpOnly", "Secure", "SameSite=Strict", "Expires="]) {
      expect(setCookie).toContain(part);
    }
    const local = await signIn("http://localhost:8787");
    expect(local.setCookie).not.toContain("Secure");
  });

  it("a session opens the page; a tampered, expired or foreign cookie does not", async () => {
    const { cookie } = await signIn();
    const ok = await browser("/ops", { cookie });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("no-store");
    const [name, value = ""] = cookie.split("=");
    const [exp = "", nonce = "", mac = ""] = value.split(".");
    const tampered = `${name}=${exp}.${nonce}.${mac.replace(/^./, mac[0] === "0" ? "1" : "0")}`;
    const expired = `${name}=${String(Date.now() - 1000)}.${nonce}.${mac}`;
    for (const bad of [tampered, expired, "ops_session=garbage"]) {
      expect((await browser("/ops", { cookie: bad })).status, bad).toBe(401);
    }
    // The session is for the page, not the API: the API keeps to bearer tokens.
    expect((await browser("/admin/status", { cookie })).status).toBe(401);
  });

  it("signs out only with the session's CSRF token", async () => {
    const { cookie } = await signIn();
    const html = await (await browser("/ops", { cookie })).text();
    const csrf = csrfOf(html);
    expect(csrf).not.toBe("");
    expect((await browser("/ops/sign-out", { method: "POST", cookie, ...form({ csrf: "0".repeat(64) }) })).status).toBe(
      403,
    );
    const out = await browser("/ops/sign-out", { method: "POST", cookie, ...form({ csrf }) });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/^ops_session=; Max-Age=0; .*Path=\/ops/);
  });
});

describe("/ops page", () => {
  it("shows the seeded numbers per source and shop, and never a token", async () => {
    const res = await exports.default.fetch(
      new Request(`${BASE}/ops`, { headers: { authorization: "Bearer test-admin-token" } }),
    );
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).not.toContain(SEALED_TOKEN);
    expect(html).not.toContain("test-admin-token");
    const row = (source: string, shop: string) =>
      new RegExp(`<tr data-source="${source}" data-shop="${shop.replaceAll(".", "\\.")}">(.*?)</tr>`, "s").exec(
        html,
      )?.[1] ?? "";
    const shopRow = row("shopify", SEED_SHOP);
    expect(shopRow).toMatch(/data-status="applied">5</);
    expect(shopRow).toContain('data-total="5"');
    expect(shopRow).toContain("fresh");
    const stripe = row("stripe", "");
    expect(stripe).toMatch(/data-status="applied">3</);
    expect(stripe).toMatch(/data-status="failed">1</);
    expect(row("recharge", "")).toContain("silent: 3000 min / limit 1440 min");
    expect(html).toContain(seedDeadLetter(Date.now()).key);
    // Failing checks first.
    expect(html.indexOf("recharge silent for 50 h")).toBeLessThan(html.indexOf("no duplicate deliveries"));
    expect(html).toContain("bf_seed_1");
    expect(html).toMatch(/420 \/ 1000 lines/);
    expect(html).toContain("Recharge has been silent for 50 h");
    expect(html).toMatch(/<td class="num">2<\/td><td class="num">0<\/td><td class="num">2<\/td>/);
  });

  it("Replay needs the CSRF token and a same-origin post, then sends the dead letter back and it applies", async () => {
    const { cookie } = await signIn();
    const csrf = csrfOf(await (await browser("/ops", { cookie })).text());
    const key = seedDeadLetter(Date.now()).key;
    expect((await browser("/ops/replay", { method: "POST", cookie, ...form({ key }) })).status).toBe(403);
    const foreign = await browser("/ops/replay", {
      method: "POST",
      cookie,
      body: form({ key, csrf }).body,
      headers: { ...form({}).headers, origin: "https://evil.example" },
    });
    expect(foreign.status).toBe(403);
    expect((await browser("/ops/replay", { method: "POST", ...form({ key, csrf }) })).status).toBe(401);
    expect((await ledgerRow("stripe", DEAD_EVENT_ID))?.status).toBe("failed");

    const res = await browser("/ops/replay", { method: "POST", cookie, ...form({ key, csrf }) });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/ops?replayed=${encodeURIComponent(`stripe ${DEAD_EVENT_ID}`)}`);
    const row = await waitFor(async () => {
      const r = await ledgerRow("stripe", DEAD_EVENT_ID);
      return r?.status === "applied" ? r : null;
    });
    expect(row.origin).toBe("webhook");
    const charge = await env.DB.prepare(
      "SELECT amount_minor, currency FROM stripe_charges WHERE id = 'ch_ops_seed_1'",
    ).first();
    expect(charge).toEqual({ amount_minor: 2599, currency: "USD" });
    const page = await (await browser(`/ops?replayed=x`, { cookie })).text();
    expect(page).toMatch(new RegExp(`${DEAD_EVENT_ID}</code></td><td class="ledger-status">applied<`));

    const missing = await browser("/ops/replay", {
      method: "POST",
      cookie,
      ...form({ key: "dead-letter/none.json", csrf }),
    });
    expect(decodeURIComponent(missing.headers.get("location") ?? "")).toContain("No object at dead-letter/none.json");
  });
  it("Replay on a quarantined event applies one that is valid now, and shows why another stays quarantined", async () => {
    const { cookie } = await signIn();
    const before = await (await browser("/ops", { cookie })).text();
    const csrf = csrfOf(before);
    const [fixed, invalid] = seedQuarantined(Date.now());
    if (!fixed || !invalid) throw new Error("no seed");
    const rowOf = (html: string, key: string) =>
      new RegExp(`<tr data-key="${key.replaceAll(".", "\\.")}">(.*?)</tr>`, "s").exec(html)?.[1] ?? "";
    for (const q of [fixed, invalid]) {
      expect(rowOf(before, q.key)).toContain(
        '<td class="ledger-status">quarantined</td><td class="why">invalid_payload</td>',
      );
      expect(rowOf(before, q.key)).toContain("Replay</button>");
    }
    // The same CSRF and origin checks as a dead letter's Replay.
    expect((await browser("/ops/replay", { method: "POST", cookie, ...form({ key: fixed.key }) })).status).toBe(403);

    for (const q of [fixed, invalid]) {
      const res = await browser("/ops/replay", { method: "POST", cookie, ...form({ key: q.key, csrf }) });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe(
        `/ops?replayed=${encodeURIComponent(`stripe ${q.eventId}`)}&from=quarantine`,
      );
    }
    const applied = await waitFor(async () => {
      const r = await ledgerRow("stripe", QUARANTINED_FIXED_ID);
      return r?.status === "applied" ? r : null;
    });
    expect(applied.r2_key).toMatch(/^raw\/stripe\/charges\/events\/dt=.*\/evt_ops_quarantined_fixed\.json$/);
    const still = await waitFor(async () => {
      const r = await ledgerRow("stripe", QUARANTINED_INVALID_ID);
      return r?.note?.startsWith("still invalid_payload") ? r : null;
    });
    expect(still).toMatchObject({ status: "quarantined", r2_key: invalid.key });
    expect(
      await env.DB.prepare(
        "SELECT id, amount_minor, currency FROM stripe_charges WHERE id IN ('ch_ops_seed_q1', 'ch_ops_seed_q2')",
      ).all(),
    ).toMatchObject({ results: [{ id: "ch_ops_seed_q1", amount_minor: 1999, currency: "USD" }] });

    const page = await (await browser("/ops?replayed=x&from=quarantine", { cookie })).text();
    expect(page).toContain("from quarantine. Reload: its row shows applied, or why it is still quarantined.");
    expect(rowOf(page, fixed.key)).toContain('<td class="ledger-status">applied</td>');
    expect(rowOf(page, fixed.key)).not.toContain("Replay</button>");
    expect(rowOf(page, invalid.key)).toContain('<td class="ledger-status">quarantined</td>');
    expect(rowOf(page, invalid.key)).toMatch(/<td class="why">still invalid_payload after a replay at [^<]*amount/);
    expect(rowOf(page, invalid.key)).toContain("Replay</button>");
  });
});
