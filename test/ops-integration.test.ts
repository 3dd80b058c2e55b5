import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
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
    // The cookie captured before sign-out is refused after it: the page and every form action.
    expect((await browser("/ops", { cookie })).status).toBe(401);
    expect((await browser("/ops/people?email=a@example.com", { cookie })).status).toBe(401);
    const key = seedDeadLetter(Date.now()).key;
    expect((await browser("/ops/replay", { method: "POST", cookie, ...form({ key, csrf }) })).status).toBe(401);
    expect((await browser("/ops/sign-out-everywhere", { method: "POST", cookie, ...form({ csrf }) })).status).toBe(401);
  });
});

/** The text of the first cell of `html` whose tag carries `attr` (e.g. `data-label="why"`), tags stripped. */
function cellOf(html: string, attr: string): string | null {
  const m = new RegExp(`<td[^>]*${attr}[^>]*>(.*?)</td>`, "s").exec(html);
  return m ? (m[1] ?? "").replace(/<[^>]+>/g, "") : null;
}

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
    expect(cellOf(shopRow, 'data-status="applied"')).toBe("5");
    expect(shopRow).toContain('data-total="5"');
    expect(shopRow).toContain("fresh");
    const stripe = row("stripe", "");
    expect(cellOf(stripe, 'data-status="applied"')).toBe("3");
    expect(cellOf(stripe, 'data-status="failed"')).toBe("1");
    expect(row("recharge", "")).toContain("silent · limit 1440 min");
    expect(row("recharge", "")).toContain('title="silent for 3000 min; limit 1440 min"');
    // Times read as how long ago, with the UTC time on hover.
    expect(row("recharge", "")).toMatch(
      /<time datetime="[^"]+Z" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">2 days ago<\/time>/,
    );
    expect(html).toContain(seedDeadLetter(Date.now()).key);
    // Failing checks first.
    expect(html.indexOf("recharge silent for 50 h")).toBeLessThan(html.indexOf("no duplicate deliveries"));
    expect(html).toContain("bf_seed_1");
    expect(html).toMatch(/420 \/ 1000 lines/);
    expect(html).toContain("Recharge has been silent for 50 h");
    const reconcile = html.slice(html.indexOf('id="reconcile"'));
    expect([cellOf(reconcile, 'data-label="missing"'), cellOf(reconcile, 'data-label="stale"')]).toEqual(["2", "0"]);
    expect(cellOf(reconcile, 'data-label="repaired"')).toBe("2");
    expect(html).toMatch(/id="tile-dead-letters"[^>]*>.*?1 held back/s);
    expect(html).toMatch(/id="tile-quarantine"[^>]*>.*?2 held back/s);
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
    const deadRow =
      new RegExp(`<tr data-key="${seedDeadLetter(Date.now()).key.replaceAll(".", "\\.")}">(.*?)</tr>`, "s").exec(
        page,
      )?.[1] ?? "";
    expect(cellOf(deadRow, 'data-label="event id"')).toBe(DEAD_EVENT_ID);
    expect(cellOf(deadRow, 'data-label="ledger now"')).toBe("applied");

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
      expect(cellOf(rowOf(before, q.key), 'data-label="ledger now"')).toBe("quarantined");
      expect(cellOf(rowOf(before, q.key), 'data-label="why"')).toBe("invalid_payload");
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
      return r?.note?.startsWith("invalid_payload when replayed") ? r : null;
    });
    expect(still).toMatchObject({ status: "quarantined", r2_key: invalid.key });
    expect(
      await env.DB.prepare(
        "SELECT id, amount_minor, currency FROM stripe_charges WHERE id IN ('ch_ops_seed_q1', 'ch_ops_seed_q2')",
      ).all(),
    ).toMatchObject({ results: [{ id: "ch_ops_seed_q1", amount_minor: 1999, currency: "USD" }] });

    const page = await (await browser("/ops?replayed=x&from=quarantine", { cookie })).text();
    expect(page).toContain("from quarantine. Reload: its row shows applied, or why it is still quarantined.");
    expect(cellOf(rowOf(page, fixed.key), 'data-label="ledger now"')).toBe("applied");
    expect(rowOf(page, fixed.key)).not.toContain("Replay</button>");
    expect(cellOf(rowOf(page, invalid.key), 'data-label="ledger now"')).toBe("quarantined");
    expect(cellOf(rowOf(page, invalid.key), 'data-label="why"')).toMatch(/^invalid_payload when replayed at .*amount/);
    expect(rowOf(page, invalid.key)).toContain("Replay</button>");
  });
});

describe("revocable sessions", () => {
  const bearer = (path: string, init: RequestInit = {}) =>
    exports.default.fetch(
      new Request(`${BASE}${path}`, { ...init, headers: { authorization: "Bearer test-admin-token" } }),
    );
  const opens = async (cookie: string) => (await browser("/ops", { cookie })).status === 200;

  it("sign out everywhere from the page ends every session; the bearer token still works", async () => {
    const a = await signIn();
    const b = await signIn();
    expect([await opens(a.cookie), await opens(b.cookie)]).toEqual([true, true]);
    const csrf = csrfOf(await (await browser("/ops", { cookie: a.cookie })).text());
    expect(
      (
        await browser("/ops/sign-out-everywhere", {
          method: "POST",
          cookie: a.cookie,
          ...form({ csrf: "0".repeat(64) }),
        })
      ).status,
    ).toBe(403);
    const res = await browser("/ops/sign-out-everywhere", { method: "POST", cookie: a.cookie, ...form({ csrf }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toMatch(/^ops_session=; Max-Age=0; /);
    expect(await res.text()).toMatch(/Signed out everywhere: \d+ session\(s\) ended\./);
    expect([await opens(a.cookie), await opens(b.cookie)]).toEqual([false, false]);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM ops_sessions").first()).toEqual({ n: 0 });
    expect((await bearer("/admin/status")).status).toBe(200);
    expect((await bearer("/ops")).status).toBe(200);
  });

  it("GET /admin/sessions lists open sessions without ids; POST /admin/sessions/revoke-all ends them", async () => {
    await env.DB.prepare("DELETE FROM ops_sessions").run();
    const a = await signIn();
    const b = await signIn();
    // The API is bearer-only: a session cookie opens the page, not the API.
    expect((await browser("/admin/sessions", { cookie: a.cookie })).status).toBe(401);
    expect((await browser("/admin/sessions/revoke-all", { method: "POST", cookie: a.cookie })).status).toBe(401);
    const listed = await bearer("/admin/sessions");
    const text = await listed.text();
    const body = JSON.parse(text) as { open: number; sessions: Array<Record<string, string>> };
    expect(body.open).toBe(2);
    expect(Object.keys(body.sessions[0] ?? {}).sort()).toEqual(["createdAt", "expiresAt"]);
    for (const { cookie } of [a, b]) expect(text).not.toContain(cookie.split(".")[1]);

    const revoked = await bearer("/admin/sessions/revoke-all", { method: "POST" });
    expect(await revoked.json()).toEqual({ ok: true, revoked: 2 });
    expect([await opens(a.cookie), await opens(b.cookie)]).toEqual([false, false]);
    expect(await bearer("/admin/sessions/revoke-all", { method: "POST" }).then((r) => r.json())).toEqual({
      ok: true,
      revoked: 0,
    });
  });

  it("stores only a hash of the session id, prunes expired rows on write, and logs no token or session", async () => {
    const logged: string[] = [];
    for (const level of ["log", "warn", "error", "info", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(" "));
      });
    }
    try {
      const past = new Date(Date.now() - 60_000).toISOString();
      await env.DB.prepare("INSERT INTO ops_sessions (id_hash, created_at, expires_at) VALUES ('expired-row', ?1, ?1)")
        .bind(past)
        .run();
      const answers: string[] = [];
      const wrong = await browser("/ops/sign-in", { method: "POST", ...form({ token: "not-the-token-xyz" }) });
      answers.push(await wrong.text());
      const { cookie } = await signIn();
      const sessionId = cookie.split(".")[1] ?? "";
      expect(sessionId).toMatch(/^[0-9a-f]{32}$/);
      expect(
        await env.DB.prepare("SELECT count(*) AS n FROM ops_sessions WHERE id_hash = 'expired-row'").first(),
      ).toEqual({ n: 0 });
      const rows = await env.DB.prepare("SELECT * FROM ops_sessions").all();
      expect(JSON.stringify(rows.results)).not.toContain(sessionId);

      const page = await browser("/ops", { cookie });
      answers.push(await page.text());
      const csrf = csrfOf(answers.at(-1) ?? "");
      const out = await browser("/ops/sign-out", { method: "POST", cookie, ...form({ csrf }) });
      answers.push(await out.text());
      answers.push(await (await browser("/ops", { cookie })).text());
      answers.push(await (await bearer("/admin/sessions")).text());
      answers.push(await (await bearer("/admin/sessions/revoke-all", { method: "POST" })).text());

      const secrets = ["test-admin-token", "not-the-token-xyz", sessionId, cookie.split("=")[1] ?? ""];
      const leaks = [...answers, ...logged].filter((line) => secrets.some((secret) => line.includes(secret)));
      expect(leaks, "tokens or session ids in answers or logs").toEqual([]);
      expect(logged.join("\n")).toContain("ops sign-in");
      expect(logged.join("\n")).toContain("ops sign-out");
    } finally {
      vi.restoreAllMocks();
    }
  });
});
