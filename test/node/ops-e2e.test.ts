/**
 * The operator's day one and day two against the real Worker under `wrangler dev`, with the
 * Shopify Admin API faked over HTTP: `ops shops add` stores a token the coordinator checked,
 * then headless Chromium (Debian's `chromium`, driven by playwright-core) signs in to /ops,
 * sees the seeded numbers, presses Replay on a dead letter and sees it applied, presses Replay on
 * two quarantined events (one valid since a mapper fix: applied; one still invalid: stays
 * quarantined with the reason shown), signs out (the cookie captured before is refused after),
 * and signs every browser out at once. `ops replay` replays a range and a quarantined event
 * against the same Worker and follows them.
 * `ops webhooks plan|apply|list` registers every topic with Shopify (through the Worker),
 * Stripe and Recharge (fakes over HTTP), idempotently. Screenshots go to test-output/ops/.
 * The dashboard is checked at 1,400 and 390 px wide: no horizontal overflow, freshness, dead
 * letters and quarantine on the first screen, times as "3 min ago" with the UTC time on hover.
 * Skipped only when /usr/bin/chromium is missing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STRIPE_API_VERSION } from "../../src/shared/stripe-version";
import { SHOPIFY_WEBHOOK_TOPICS as SHOPIFY_TOPICS } from "../../src/shared/subscriptions";
import {
  DEAD_EVENT_ID,
  QUARANTINED_FIXED_ID,
  QUARANTINED_INVALID_ID,
  SEED_SHOP,
  seedDeadLetter,
  seedQuarantined,
  seedStatements,
} from "../helpers/ops-seed";
import { ADMIN_TOKEN, DevWorker, ROOT, runCli } from "./harness/dev-worker";
import { Upstreams } from "./harness/upstreams";

const CHROMIUM = "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser) {
  console.warn(`Skipping the browser test: ${CHROMIUM} is missing. Install it with: sudo apt-get install -y chromium`);
}
const SHOTS = join(ROOT, "test-output/ops");
const NEW_SHOP = "e2e-shop.myshopify.com";

describe.skipIf(!haveBrowser)("ops page and CLI against wrangler dev", () => {
  const upstreams = new Upstreams();
  const worker = new DevWorker();
  let browser: Browser | null = null;
  let shopToken = "";
  const sourceEnv = () => ({
    STRIPE_API_KEY: upstreams.stripe.key,
    STRIPE_API_BASE: `${upstreams.base}/stripe`,
    RECHARGE_API_TOKEN: upstreams.recharge.token,
    RECHARGE_API_BASE: `${upstreams.base}/recharge`,
  });
  const cli = (args: string[], input?: string, env: Record<string, string> = {}) =>
    runCli(["--url", worker.url, ...args], { ADMIN_TOKEN, ...env }, input);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await upstreams.start();
    shopToken = upstreams.addShop(NEW_SHOP).token;
    const now = Date.now();
    await worker.prepare(async (env) => {
      await env.DB.batch(seedStatements(now).map((s) => env.DB.prepare(s)));
      const dead = seedDeadLetter(now);
      await env.LAKE.put(dead.key, dead.body, { customMetadata: dead.customMetadata });
      for (const q of seedQuarantined(now)) await env.LAKE.put(q.key, q.body, { customMetadata: q.customMetadata });
    });
    await worker.start({
      SHOPIFY_ADMIN_URL: `${upstreams.base}/shopify/{shop}/admin/api/{version}/graphql.json`,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await worker.stop();
    await upstreams.stop();
  }, 30_000);

  it("ops shops add checks the token through the coordinator and stores it sealed; list and status show no token", async () => {
    const refused = await cli(["shops", "add", NEW_SHOP, "--token", "shpat_not_the_right_one"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("credential_rejected");
    expect(refused.stderr).not.toContain("shpat_not_the_right_one");

    const added = await cli(["shops", "add", NEW_SHOP, "--token", "-"], `${shopToken}\n`);
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    expect(added.stdout).toBe(`added ${NEW_SHOP} (${NEW_SHOP}); token sealed with key e2e\n`);
    const graphql = upstreams.requests.filter((r) =>
      r.path.startsWith(`/shopify/${NEW_SHOP}/admin/api/2026-01/graphql.json`),
    );
    expect(graphql).toHaveLength(2);
    expect(graphql[1]?.body).toContain("shop { name myshopifyDomain currencyCode }");
    expect(graphql[1]?.headers["x-shopify-access-token"]).toBe(shopToken);

    const listed = await cli(["shops", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`${NEW_SHOP.replaceAll(".", "\\.")}\\s+active\\s+d1\\s+${NEW_SHOP.replaceAll(".", "\\.")}\\s+e2e`),
    );
    const status = await cli(["status", "--check"]);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain("dead letters: 1");
    for (const out of [listed.stdout, status.stdout, added.stdout, worker.output]) expect(out).not.toContain(shopToken);
  }, 60_000);

  it("webhooks plan shows the diff and changes nothing; apply makes it so, once; list shows it", async () => {
    const shopify = upstreams.shops.get(NEW_SHOP);
    if (!shopify) throw new Error("no fake shop");
    const target = "https://pipeline.example";
    shopify.addWebhook("ORDERS_CREATE", "https://old-host.example/webhooks/shopify");
    shopify.addWebhook("ORDERS_PAID", `${target}/webhooks/shopify`);
    shopify.addWebhook("CARTS_CREATE", `${target}/webhooks/shopify`);
    shopify.addWebhook("PRODUCTS_UPDATE", "https://other-app.example/hooks");
    upstreams.stripe.addEndpoint("https://crm.example/stripe-events", ["charge.succeeded"]);
    upstreams.recharge.addWebhook("charge/paid", `${target}/webhooks/recharge`);
    upstreams.recharge.addWebhook("address/created", `${target}/webhooks/recharge`);
    upstreams.recharge.addWebhook("order/created", "https://loyalty.example/recharge");
    const changes = () =>
      upstreams.requests.filter(
        (r) =>
          (r.path.startsWith("/shopify/") && /mutation Webhook/.test(r.body)) ||
          ((r.path.startsWith("/stripe/") || r.path.startsWith("/recharge/")) && r.method !== "GET"),
      ).length;

    const plan = await cli(["webhooks", "plan", "--address", target, "--check"], undefined, sourceEnv());
    expect(plan.code, plan.stderr).toBe(1);
    expect(plan.stdout).toContain(`shopify ${NEW_SHOP}: changes needed`);
    // One topic subscribed right and one at a wrong address: every other one is missing.
    expect(plan.stdout).toContain(
      `1 ok, ${SHOPIFY_TOPICS.length - 2} missing, 1 wrong address, 1 extra, 1 not ours (left alone)`,
    );
    expect(plan.stdout).toContain(`~ orders/create gid://shopify/WebhookSubscription/`);
    expect(plan.stdout).toContain(`- CARTS_CREATE`);
    expect(plan.stdout).toContain(`+ endpoint ${target}/webhooks/stripe with 31 events`);
    expect(plan.stdout).toContain("1 ok, 15 missing, 0 wrong address, 1 extra, 1 not ours (left alone)");
    expect(plan.stdout).toContain(
      "compliance topics customers/data_request, customers/redact, shop/redact are declared in the app's configuration",
    );
    expect(changes()).toBe(0);

    const apply = await cli(["webhooks", "apply", "--address", target], undefined, sourceEnv());
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain(`applied: ${SHOPIFY_TOPICS.length - 2} created, 1 moved, 1 removed`);
    expect(apply.stdout).toMatch(/new signing secret \(shown once\): whsec_fake_we_fake_2_/);
    expect(apply.stdout).toContain("STRIPE_WEBHOOK_SECRET beside the old one");
    const ours = (uris: string[]) => uris.filter((u) => u.startsWith(target));
    expect(ours(shopify.webhooks.map((w) => w.uri))).toHaveLength(SHOPIFY_TOPICS.length);
    expect(shopify.webhooks.map((w) => w.topic).sort()).toEqual(
      [...SHOPIFY_TOPICS.map((t) => t.toUpperCase().replace(/[/.]/, "_")), "PRODUCTS_UPDATE"].sort(),
    );
    expect(shopify.webhooks.map((w) => w.topic)).toContain("CUSTOMER_TAGS_ADDED");
    // Every subscription is delivered in the pinned version: nothing to report.
    expect(apply.stdout).not.toContain("is delivered in API version");
    expect(shopify.webhooks.every((w) => w.includeFields.length === 0)).toBe(true);
    expect(upstreams.stripe.endpoints.map((e) => [e.url, e.enabled_events.length])).toEqual([
      ["https://crm.example/stripe-events", 1],
      [`${target}/webhooks/stripe`, 31],
    ]);
    // The endpoint renders its events in the pinned API version.
    expect(upstreams.stripe.endpoints.at(-1)?.api_version).toBe(STRIPE_API_VERSION);
    expect(upstreams.recharge.webhooks.map((w) => w.address).sort()).toEqual(
      [...Array(16).fill(`${target}/webhooks/recharge`), "https://loyalty.example/recharge"].sort(),
    );
    const made = changes();

    const again = await cli(["webhooks", "apply", "--address", target], undefined, sourceEnv());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain("signing secret");
    expect(again.stdout.match(/: in sync/g)).toHaveLength(3);
    expect(changes()).toBe(made);
    const check = await cli(["webhooks", "plan", "--address", target, "--check"], undefined, sourceEnv());
    expect(check.code).toBe(0);

    // A subscription in another version (the app's configuration decides it) is reported, not changed.
    const stale = shopify.webhooks.find((w) => w.topic === "CUSTOMERS_UPDATE");
    if (!stale) throw new Error("no customers/update subscription");
    stale.apiVersion = { handle: "2025-01" };
    const versions = await cli(
      ["webhooks", "plan", "--address", target, "--source", "shopify"],
      undefined,
      sourceEnv(),
    );
    expect(versions.stdout).toContain(
      `! customers/update ${stale.id} is delivered in API version 2025-01, SHOPIFY_API_VERSION is 2026-01`,
    );
    expect(changes()).toBe(made);

    const list = await cli(["webhooks", "list", "--source", "recharge"], undefined, sourceEnv());
    expect(list.code).toBe(0);
    expect(list.stdout.split("\n").filter((l) => l.includes("/webhooks/recharge"))).toHaveLength(16);

    const insecure = await cli(["webhooks", "apply", "--address", "http://pipeline.example"], undefined, sourceEnv());
    expect(insecure.code).toBe(2);
    expect(insecure.stderr.trim().split("\n")).toHaveLength(1);
    const noKey = await cli(["webhooks", "plan", "--source", "stripe", "--address", target]);
    expect(noKey).toMatchObject({ code: 2, stderr: "error: --source stripe needs STRIPE_API_KEY\n" });
    expect(worker.output).not.toContain(shopToken);
  }, 90_000);

  it("signs in, shows the seeded numbers, replays a dead letter until it is applied, and signs out", async () => {
    if (!browser) throw new Error("no browser");
    const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
    const page = await context.newPage();
    await page.goto(`${worker.url}/ops`);
    await expect.poll(() => page.locator("h2").first().textContent()).toBe("Sign in");
    await page.screenshot({ path: join(SHOTS, "1-sign-in.png") });

    await page.fill("#token", "wrong");
    await page.click("button[type=submit]");
    expect(await page.textContent(".notice")).toContain("not the admin token");
    await page.fill("#token", ADMIN_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector("#streams");
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "ops_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/ops", secure: false });
    expect(session?.expires).toBeGreaterThan(Date.now() / 1000 + 7 * 3600);

    const shopRow = page.locator(`tr[data-source="shopify"][data-shop="${SEED_SHOP}"]`);
    expect(await shopRow.locator('td[data-status="applied"]').textContent()).toBe("5");
    expect(await shopRow.locator("svg").getAttribute("data-total")).toBe("5");
    const stripeRow = page.locator('tr[data-source="stripe"][data-shop=""]');
    expect(await stripeRow.locator('td[data-status="failed"]').textContent()).toBe("1");
    expect(await page.locator('tr[data-source="recharge"]').textContent()).toContain("silent");
    expect(await page.locator("#data-quality tbody tr").first().textContent()).toContain("FAIL");
    expect(await page.locator("#backfills").textContent()).toContain("420 / 1000 lines");
    expect(await page.locator("#alerts").textContent()).toContain("Recharge has been silent for 50 h");
    const deadRow = page.locator(`#dead-letters tr[data-key="${seedDeadLetter(Date.now()).key}"]`);
    expect(await deadRow.locator(".ledger-status").textContent()).toBe("failed");
    await page.screenshot({ path: join(SHOTS, "2-dashboard.png"), fullPage: true });

    // Times read as how long ago, the UTC time on hover; the chart has a slot for every hour.
    const lastEvent = stripeRow.locator("td[data-label='last event'] time").first();
    expect(await lastEvent.textContent()).toMatch(/^(just now|\d+ min ago|\d+ h ago)$/);
    expect(await lastEvent.getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    const hours = shopRow.locator("svg g");
    expect(await hours.count()).toBe(24);
    const busy = await hours.evaluateAll((gs) => gs.filter((g) => g.getAttribute("data-count") !== "0").length);
    expect(busy).toBe(5);
    expect(await hours.last().locator("title").textContent()).toMatch(
      /^\d\d:00 UTC \(this hour so far\): \d+ events?$/,
    );

    // At a desktop's and a phone's width: nothing runs past the page or a card, and freshness,
    // dead letters and quarantine are on the first screen.
    for (const viewport of [
      { width: 1400, height: 900 },
      { width: 390, height: 844 },
    ]) {
      await page.setViewportSize(viewport);
      await page.reload();
      const overflow = await page
        .locator("html, section, table")
        .evaluateAll((els) =>
          els
            .filter((el) => el.scrollWidth > el.clientWidth + 1)
            .map((el) => `${el.tagName.toLowerCase()}#${el.id}: ${el.scrollWidth} > ${el.clientWidth}`),
        );
      expect(overflow, `at ${viewport.width} px`).toEqual([]);
      for (const tile of [
        "#fresh-shopify",
        "#fresh-stripe",
        "#fresh-recharge",
        "#tile-dead-letters",
        "#tile-quarantine",
      ]) {
        const box = await page.locator(tile).boundingBox();
        expect(box, tile).not.toBeNull();
        expect((box?.y ?? Infinity) + (box?.height ?? 0), `${tile} at ${viewport.width} px`).toBeLessThanOrEqual(
          viewport.height,
        );
      }
      expect(await page.locator("#tile-dead-letters .tile-value").textContent()).toBe("1 held back");
      expect(await page.locator("#fresh-recharge .tile-value").textContent()).toBe("silent");
      await page.screenshot({ path: join(SHOTS, `2-dashboard-${viewport.width}.png`) });
      await page.screenshot({ path: join(SHOTS, `2-dashboard-${viewport.width}-full.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 1400 });
    await page.reload();

    await deadRow.locator("button", { hasText: "Replay" }).click();
    await page.waitForSelector(".notice");
    expect(await page.textContent(".notice")).toContain(`Replay sent: stripe ${DEAD_EVENT_ID}`);
    await expect
      .poll(
        async () => {
          await page.reload();
          return page
            .locator(`#dead-letters tr[data-key="${seedDeadLetter(Date.now()).key}"] .ledger-status`)
            .textContent();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe("applied");
    await page.screenshot({ path: join(SHOTS, "3-replayed.png"), fullPage: true });

    // Quarantined events: one an earlier mapper refused is valid now, the other is still invalid.
    const [fixed, invalid] = seedQuarantined(Date.now());
    if (!fixed || !invalid) throw new Error("no seed");
    const quarantined = (key: string) => page.locator(`#quarantine tr[data-key="${key}"]`);
    expect(await quarantined(fixed.key).locator(".ledger-status").textContent()).toBe("quarantined");
    expect(await quarantined(fixed.key).locator(".why").textContent()).toBe("invalid_payload");
    await quarantined(fixed.key).locator("button", { hasText: "Replay" }).click();
    await page.waitForSelector(".notice");
    expect(await page.textContent(".notice")).toContain(`Replay sent: stripe ${QUARANTINED_FIXED_ID}, from quarantine`);
    await quarantined(invalid.key).locator("button", { hasText: "Replay" }).click();
    await page.waitForSelector(".notice");
    expect(await page.textContent(".notice")).toContain(
      `Replay sent: stripe ${QUARANTINED_INVALID_ID}, from quarantine`,
    );
    await expect
      .poll(
        async () => {
          await page.reload();
          const status = await quarantined(fixed.key).locator(".ledger-status").textContent();
          const why = await quarantined(invalid.key).locator(".why").textContent();
          return `${status} | ${why?.startsWith("invalid_payload when replayed at") ? "still invalid" : why}`;
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe("applied | still invalid");
    expect(await quarantined(fixed.key).locator("button").count()).toBe(0);
    expect(await quarantined(invalid.key).locator(".ledger-status").textContent()).toBe("quarantined");
    expect(await quarantined(invalid.key).locator(".why").textContent()).toContain("amount");
    expect(await quarantined(invalid.key).locator("button", { hasText: "Replay" }).count()).toBe(1);
    await page.locator("#quarantine").screenshot({ path: join(SHOTS, "4-quarantine-replayed.png") });
    const html = await page.content();
    expect(html).not.toContain(shopToken);
    expect(html).not.toContain(ADMIN_TOKEN);

    // Sign-out revokes the session server-side: the cookie captured before it is refused after.
    const captured = (await context.cookies()).find((c) => c.name === "ops_session");
    if (!captured) throw new Error("no session cookie");
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.waitForSelector("#token");
    expect((await context.cookies()).find((c) => c.name === "ops_session")).toBeUndefined();
    await context.addCookies([captured]);
    const after = await page.goto(`${worker.url}/ops`);
    expect(after?.status()).toBe(401);
    expect(await page.locator("h2").first().textContent()).toBe("Sign in");
    await page.screenshot({ path: join(SHOTS, "5-signed-out.png") });
    await context.close();

    // Sign out everywhere: two browsers signed in, one presses it, both are out.
    const signedIn = async () => {
      const ctx = await (browser as Browser).newContext();
      const p = await ctx.newPage();
      await p.goto(`${worker.url}/ops`);
      await p.fill("#token", ADMIN_TOKEN);
      await p.click("button[type=submit]");
      await p.waitForSelector("#streams");
      return { ctx, p };
    };
    const one = await signedIn();
    const two = await signedIn();
    await one.p.getByRole("button", { name: "Sign out everywhere" }).click();
    await one.p.waitForSelector("#token");
    expect(await one.p.textContent(".notice")).toMatch(/Signed out everywhere: [2-9]\d* session\(s\) ended\./);
    expect((await two.p.reload())?.status()).toBe(401);
    await two.p.screenshot({ path: join(SHOTS, "6-signed-out-everywhere.png") });
    await one.ctx.close();
    await two.ctx.close();
    expect(readdirSync(SHOTS).filter((f) => f.endsWith(".png")).length).toBeGreaterThanOrEqual(6);
    expect(readFileSync(join(SHOTS, "2-dashboard.png")).byteLength).toBeGreaterThan(10_000);
    expect(worker.output).not.toContain(ADMIN_TOKEN);
    expect(worker.output).not.toContain(captured.value);
  }, 90_000);

  it("ops replay follows a range replay to its end, and waits for a quarantined event's outcome", async () => {
    const now = Date.now();
    const range = await cli([
      "replay",
      "--source",
      "stripe",
      "--resource",
      "charges",
      "--from",
      new Date(now - 4 * 3_600_000).toISOString(),
      "--to",
      new Date(now).toISOString(),
      "--interval",
      "0.5",
    ]);
    expect(range.code, range.stderr).toBe(0);
    const lines = range.stdout.trim().split("\n");
    expect(lines.find((l) => / completed: /.test(l))).toMatch(
      /^rp-\S+ completed: \d+ listed, [1-9]\d* sent, \d+ applied$/,
    );

    const [, invalid] = seedQuarantined(now);
    if (!invalid) throw new Error("no seed");
    const still = await cli(["replay", "--key", invalid.key, "--interval", "0.5", "--timeout", "30"]);
    expect(still.code).toBe(1);
    expect(still.stderr).toMatch(
      new RegExp(
        `^failed: stripe ${QUARANTINED_INVALID_ID} is still invalid and stays quarantined: invalid_payload when replayed at .*amount`,
      ),
    );
  }, 60_000);
});
