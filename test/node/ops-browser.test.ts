/**
 * The operator's day one and day two against the real Worker under `wrangler dev`, with the
 * Shopify Admin API faked over HTTP: `ops shops add` stores a token the coordinator checked,
 * then headless Chromium (Debian's `chromium`, driven by playwright-core) signs in to /ops,
 * sees the seeded numbers, presses Replay on a dead letter, sees it applied, and signs out.
 * Screenshots go to test-output/ops/. Skipped only when /usr/bin/chromium is missing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEAD_EVENT_ID, SEED_SHOP, seedDeadLetter, seedStatements } from "../helpers/ops-seed";
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
  const cli = (args: string[], input?: string) => runCli(["--url", worker.url, ...args], { ADMIN_TOKEN }, input);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await upstreams.start();
    shopToken = upstreams.addShop(NEW_SHOP).token;
    const now = Date.now();
    await worker.prepare(async (env) => {
      await env.DB.batch(seedStatements(now).map((s) => env.DB.prepare(s)));
      const dead = seedDeadLetter(now);
      await env.LAKE.put(dead.key, dead.body, { customMetadata: dead.customMetadata });
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
    expect(graphql[1]?.body).toContain("shop { name myshopifyDomain }");
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
    const html = await page.content();
    expect(html).not.toContain(shopToken);
    expect(html).not.toContain(ADMIN_TOKEN);

    await page.click("header button");
    await page.waitForSelector("#token");
    expect((await context.cookies()).find((c) => c.name === "ops_session")).toBeUndefined();
    const after = await page.goto(`${worker.url}/ops`);
    expect(after?.status()).toBe(401);
    await page.screenshot({ path: join(SHOTS, "4-signed-out.png") });
    await context.close();
    expect(readdirSync(SHOTS).filter((f) => f.endsWith(".png")).length).toBeGreaterThanOrEqual(4);
    expect(readFileSync(join(SHOTS, "2-dashboard.png")).byteLength).toBeGreaterThan(10_000);
  }, 60_000);
});
