/**
 * `ops doctor` against the real Worker under `wrangler dev` and the sources' and Cloudflare's
 * APIs faked over HTTP. A deployment that is right passes with exit 0; then one case per problem
 * the doctor can find, each asserting the problem's line and the command printed to fix it.
 * Problems of the account and the sources are made in the fakes on a healthy pipeline; problems
 * of the Worker's own settings need a second pipeline started with them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHOPIFY_WEBHOOK_TOPICS } from "../../src/shared/subscriptions";
import { ADMIN_TOKEN, DevWorker, ROOT, runCli, type SeedBindings } from "./harness/dev-worker";
import { Upstreams } from "./harness/upstreams";

const WORKER = "commerce-edge-pipeline";
const SHOP = "doctor-shop.myshopify.com";
const ADDRESS = "https://pipeline.example";
const CRONS = JSON.parse(
  /^crons\s*=\s*(\[.*\])/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))?.[1] ?? "[]",
) as string[];
const RULES = (JSON.parse(readFileSync(join(ROOT, "lake/lifecycle.json"), "utf8")) as { rules: Array<{ id: string }> })
  .rules;

/** Ledger rows of webhook deliveries received `minutesAgo`, one per source given. */
async function seedDeliveries(env: SeedBindings, minutesAgo: Record<string, number>): Promise<void> {
  const rows = Object.entries(minutesAgo).map(([source, minutes]) => {
    const at = new Date(Date.now() - minutes * 60_000).toISOString();
    return env.DB.prepare(
      `INSERT INTO webhook_events (source, event_id, topic, resource, shop, received_at, event_at, origin, status, first_seen_at, updated_at)
       VALUES ('${source}', 'doctor_${source}', 'orders/create', NULL, ${source === "shopify" ? `'${SHOP}'` : "NULL"}, '${at}', '${at}', 'webhook', 'applied', '${at}', '${at}')`,
    );
  });
  await env.DB.batch(rows);
}

describe("ops doctor", () => {
  const upstreams = new Upstreams();
  const cliEnv = () => ({
    ADMIN_TOKEN,
    STRIPE_API_KEY: upstreams.stripe.key,
    STRIPE_API_BASE: `${upstreams.base}/stripe`,
    RECHARGE_API_TOKEN: upstreams.recharge.token,
    RECHARGE_API_BASE: `${upstreams.base}/recharge`,
    CLOUDFLARE_API_TOKEN: upstreams.cloudflare.token,
    CLOUDFLARE_ACCOUNT_ID: upstreams.cloudflare.account,
    CLOUDFLARE_API_BASE_URL: `${upstreams.base}/cloudflare/client/v4`,
  });
  const workerVars = () => ({
    SHOPIFY_ADMIN_URL: `${upstreams.base}/shopify/{shop}/admin/api/{version}/graphql.json`,
    STRIPE_API_KEY: upstreams.stripe.key,
    STRIPE_API_BASE: `${upstreams.base}/stripe`,
    RECHARGE_API_TOKEN: upstreams.recharge.token,
    RECHARGE_API_BASE: `${upstreams.base}/recharge`,
    ALERT_WEBHOOK_URL: "https://hooks.example/alerts",
  });

  beforeAll(async () => {
    await upstreams.start();
    upstreams.addShop(SHOP);
    const cf = upstreams.cloudflare;
    cf.addQueue("commerce-events", WORKER, "commerce-events-dlq");
    cf.addQueue("commerce-events-dlq", WORKER, undefined, false);
    cf.schedules.set(WORKER, [...CRONS]);
    cf.lifecycle.set("commerce-lake", structuredClone(RULES));
  }, 30_000);
  afterAll(async () => {
    await upstreams.stop();
  });

  describe("a pipeline whose own settings are right", () => {
    const worker = new DevWorker();
    const doctor = (env: Record<string, string> = cliEnv()) =>
      runCli(["--url", worker.url, "doctor", "--address", ADDRESS], env);

    beforeAll(async () => {
      await worker.prepare((env) => seedDeliveries(env, { shopify: 5, stripe: 5, recharge: 5 }));
      await worker.start(workerVars());
      const added = await runCli(
        ["--url", worker.url, "shops", "add", SHOP, "--token", "-"],
        { ADMIN_TOKEN },
        `${upstreams.shops.get(SHOP)?.token}\n`,
      );
      expect(added.code, added.stderr).toBe(0);
      const applied = await runCli(["--url", worker.url, "webhooks", "apply", "--address", ADDRESS], cliEnv());
      expect(applied.code, applied.stderr).toBe(0);
    }, 150_000);
    afterAll(async () => {
      await worker.stop();
    }, 30_000);

    it("passes a deployment with nothing wrong: every area checked, exit 0", async () => {
      const run = await doctor();
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(/^ {2}(FAIL|warn|skip) /m);
      for (const line of [
        "  ok    CREDENTIALS_KEY set",
        "  ok    Stripe accepts STRIPE_API_KEY",
        "  ok    Recharge accepts RECHARGE_API_TOKEN",
        `  ok    Shopify accepts the token of ${SHOP}`,
        `  ok    shopify ${SHOP}: as \`webhooks plan\` wants`,
        "  ok    recharge: as `webhooks plan` wants",
        "  ok    stripe: as `webhooks plan` wants",
        "  ok    commerce-events consumed by commerce-edge-pipeline, dead letters to commerce-events-dlq",
        "  ok    commerce-events-dlq consumed by commerce-edge-pipeline",
        `  ok    all ${CRONS.length} triggers set`,
        "  ok    rule raw-to-infrequent-access-after-30-days set",
        "  ok    DB: all ",
        "  ok    shopify: last webhook 5 min ago",
      ])
        expect(run.stdout).toContain(line);
      expect(run.stdout).toMatch(/\n0 problem\(s\), 0 warning\(s\), 0 not checked\n$/);
    }, 60_000);

    it("a Shopify subscription deleted at the shop: webhooks apply for that shop", async () => {
      const shop = upstreams.shops.get(SHOP);
      const gone = shop?.webhooks.shift();
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain(
          `  FAIL  shopify ${SHOP}: not as \`webhooks plan\` wants: ${SHOPIFY_WEBHOOK_TOPICS.length - 1} ok, 1 missing`,
        );
        expect(run.stdout).toContain(
          `        fix: npm run ops -- webhooks apply --source shopify --shop ${SHOP} --address ${ADDRESS}`,
        );
        expect(run.stderr).toBe("failed: 1 problem(s) found; each is printed above with its fix\n");
      } finally {
        if (gone) shop?.webhooks.unshift(gone);
      }
    }, 60_000);

    it("Stripe's endpoint removed: webhooks apply for Stripe", async () => {
      const removed = upstreams.stripe.endpoints.splice(0);
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain("  FAIL  stripe: not as `webhooks plan` wants: no endpoint");
        expect(run.stdout).toContain(`        fix: npm run ops -- webhooks apply --source stripe --address ${ADDRESS}`);
      } finally {
        upstreams.stripe.endpoints.push(...removed);
      }
    }, 60_000);

    it("a Recharge webhook at an old address: webhooks apply for Recharge", async () => {
      const hook = upstreams.recharge.webhooks[0];
      if (!hook) throw new Error("no Recharge webhook");
      const address = hook.address;
      hook.address = "https://old-host.example/webhooks/recharge";
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain(
          "  FAIL  recharge: not as `webhooks plan` wants: 15 ok, 0 missing, 1 wrong address, 0 extra",
        );
        expect(run.stdout).toContain(
          `        fix: npm run ops -- webhooks apply --source recharge --address ${ADDRESS}`,
        );
      } finally {
        hook.address = address;
      }
    }, 60_000);

    it("the queue has no consumer: deploy binds it", async () => {
      const q = upstreams.cloudflare.queues.find((x) => x.queue_name === "commerce-events");
      const consumers = q?.consumers.splice(0) ?? [];
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain(
          "  FAIL  commerce-events has no consumer commerce-edge-pipeline: its messages are never applied\n        fix: npm run deploy",
        );
      } finally {
        q?.consumers.push(...consumers);
      }
    }, 60_000);

    it("the consumer has no dead-letter queue: deploy sets it", async () => {
      const consumer = upstreams.cloudflare.queues.find((x) => x.queue_name === "commerce-events")?.consumers[0];
      const dlq = consumer?.dead_letter_queue;
      if (consumer) delete consumer.dead_letter_queue;
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain(
          "  FAIL  commerce-events's consumer has no dead-letter queue, not commerce-events-dlq: events that exhaust their retries would be lost\n        fix: npm run deploy",
        );
      } finally {
        if (consumer) consumer.dead_letter_queue = dlq;
      }
    }, 60_000);

    it("the dead-letter queue does not exist: create it, then deploy", async () => {
      const at = upstreams.cloudflare.queues.findIndex((x) => x.queue_name === "commerce-events-dlq");
      const [dlq] = upstreams.cloudflare.queues.splice(at, 1);
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain(
          "  FAIL  commerce-events-dlq does not exist\n        fix: npx wrangler queues create commerce-events-dlq, then npm run deploy",
        );
      } finally {
        if (dlq) upstreams.cloudflare.queues.push(dlq);
      }
    }, 60_000);

    it("a cron trigger missing (Workers Free's five): triggers deploy", async () => {
      upstreams.cloudflare.schedules.set(WORKER, CRONS.slice(0, 5));
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain(`  FAIL  ${CRONS.length - 5} of ${CRONS.length} triggers missing: "${CRONS[5]}"`);
        expect(run.stdout).toContain("        fix: npx wrangler triggers deploy");
      } finally {
        upstreams.cloudflare.schedules.set(WORKER, [...CRONS]);
      }
    }, 60_000);

    it("the Worker is not deployed to the account: deploy", async () => {
      upstreams.cloudflare.schedules.delete(WORKER);
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain(
          `  FAIL  cannot read ${WORKER}'s triggers (This Worker does not exist on your account.)`,
        );
        expect(run.stdout).toContain("        fix: npm run deploy");
      } finally {
        upstreams.cloudflare.schedules.set(WORKER, [...CRONS]);
      }
    }, 60_000);

    it("a lifecycle rule changed in the dashboard: lifecycle --apply", async () => {
      const changed = structuredClone(RULES) as Array<Record<string, unknown>>;
      (changed[0] as { enabled: boolean }).enabled = false;
      upstreams.cloudflare.lifecycle.set("commerce-lake", changed);
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        expect(run.stdout).toContain(
          `  FAIL  rule ${RULES[0]?.id} differs from lake/lifecycle.json\n        fix: npm run lake -- lifecycle --apply`,
        );
      } finally {
        upstreams.cloudflare.lifecycle.set("commerce-lake", structuredClone(RULES));
      }
    }, 60_000);

    it("no lifecycle rules at all: lifecycle --apply", async () => {
      upstreams.cloudflare.lifecycle.set("commerce-lake", []);
      try {
        const run = await doctor();
        expect(run.code).toBe(1);
        for (const rule of RULES) expect(run.stdout).toContain(`  FAIL  rule ${rule.id} is not set on commerce-lake`);
      } finally {
        upstreams.cloudflare.lifecycle.set("commerce-lake", structuredClone(RULES));
      }
    }, 60_000);

    it("a Cloudflare token without the read permissions: says which it needs", async () => {
      const run = await doctor({ ...cliEnv(), CLOUDFLARE_API_TOKEN: "not-the-token" });
      expect(run.code).toBe(1);
      expect(run.stdout).toContain("the Cloudflare API refused CLOUDFLARE_API_TOKEN");
      expect(run.stdout).toContain("Workers Scripts Read, Queues Read and Workers R2 Storage Read");
    }, 60_000);

    it("without the sources' and Cloudflare's credentials it says what it did not check, and how to", async () => {
      const run = await doctor({ ADMIN_TOKEN });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("  skip  stripe: not checked without STRIPE_API_KEY");
      expect(run.stdout).toContain("        fix: export CLOUDFLARE_API_TOKEN=… CLOUDFLARE_ACCOUNT_ID=…");
      expect(run.stdout).toMatch(/\n0 problem\(s\), 0 warning\(s\), 5 not checked\n$/);
    }, 60_000);
  });

  describe("a pipeline whose own settings are wrong", () => {
    const worker = new DevWorker();
    let run: { code: number; stdout: string; stderr: string } = { code: -1, stdout: "", stderr: "" };
    const lines = () => run.stdout.split("\n");
    /** The line holding `what`, and the fix printed under it. */
    const problem = (what: string) => {
      const at = lines().findIndex((l) => l.includes(what));
      return { line: lines()[at] ?? "", fix: (lines()[at + 1] ?? "").trim() };
    };

    beforeAll(async () => {
      await worker.prepare(async (env) => {
        // The newest migration was never applied; Stripe last delivered 20 h ago, Recharge never.
        const newest = (await import("node:fs"))
          .readdirSync(join(ROOT, "migrations"))
          .filter((f) => f.endsWith(".sql"))
          .sort()
          .at(-1);
        await env.DB.batch([env.DB.prepare(`DELETE FROM d1_migrations WHERE name = '${newest}'`)]);
        await seedDeliveries(env, { shopify: 5, stripe: 20 * 60 });
      });
      await worker.start({
        ...workerVars(),
        PRIVACY_HASH_KEY: "",
        CREDENTIALS_KEY: "k1:this-is-not-base64!",
        STRIPE_WEBHOOK_SECRET: "stripe-secret-pasted-without-its-prefix",
        STRIPE_API_KEY: "sk_test_revoked",
        RECHARGE_API_TOKEN: "rc_revoked",
        SHOPIFY_ACCESS_TOKENS: JSON.stringify({ [SHOP]: "shpat_revoked" }),
        ALERT_WEBHOOK_URL: "http://hooks.example/alerts",
        SHOP_DATABASES: JSON.stringify({ "big-shop.myshopify.com": "DB_BIG" }),
        // A version older than any the mappers have rules for.
        SHOPIFY_API_VERSION: "2023-04",
        // Half a catalog: every compact run would fail on it.
        LAKE_CATALOG_URI: "https://catalog.cloudflarestorage.com/0123456789abcdef/commerce-lake",
      });
      run = await runCli(["--url", worker.url, "doctor", "--address", ADDRESS], { ADMIN_TOKEN });
    }, 150_000);
    afterAll(async () => {
      await worker.stop();
    }, 30_000);

    it("exits 1 and counts the problems", () => {
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/\n12 problem\(s\), 2 warning\(s\), 5 not checked: run each fix/);
    });

    it("a required secret not set", () => {
      expect(problem("PRIVACY_HASH_KEY: not set").line).toBe(
        "  FAIL  PRIVACY_HASH_KEY: not set: every event retries until it is set",
      );
      expect(problem("PRIVACY_HASH_KEY: not set").fix).toBe(
        "fix: set PRIVACY_HASH_KEY in .dev.vars, then restart `npm start`  (value $(openssl rand -hex 32))",
      );
    });

    it("a malformed key ring", () => {
      expect(problem("CREDENTIALS_KEY: malformed").line).toContain(
        'CREDENTIALS_KEY: malformed key ring: CREDENTIALS_KEY entry "k1" is not base64.',
      );
      expect(problem("CREDENTIALS_KEY: malformed").fix).toContain("k1:$(openssl rand -base64 32)");
    });

    it("a Stripe webhook secret that is not a signing secret", () => {
      expect(problem("STRIPE_WEBHOOK_SECRET:").line).toContain("a value does not start with whsec_");
      expect(problem("STRIPE_WEBHOOK_SECRET:").fix).toContain("set STRIPE_WEBHOOK_SECRET in .dev.vars");
    });

    it("a Stripe key Stripe refuses", () => {
      expect(problem("Stripe refuses STRIPE_API_KEY").line).toContain(
        "HTTP 401 (the credential is refused): Invalid API Key provided.",
      );
      expect(problem("Stripe refuses STRIPE_API_KEY").fix).toContain("set STRIPE_API_KEY in .dev.vars");
    });

    it("a Recharge token Recharge refuses", () => {
      expect(problem("Recharge refuses RECHARGE_API_TOKEN").line).toContain("HTTP 401");
    });

    it("a shop token Shopify refuses", () => {
      expect(problem(`the token of ${SHOP} does not work`).line).toContain("  FAIL  ");
      expect(problem(`the token of ${SHOP} does not work`).fix).toBe(
        `fix: npm run ops -- shops add ${SHOP} --token -   (paste a current Admin API token of the app; a shop added so wins over SHOPIFY_ACCESS_TOKENS)`,
      );
    });

    it("a lake catalog configured in part", () => {
      expect(problem("LAKE_CATALOG_TOKEN:").line).toContain("LAKE_CATALOG_WAREHOUSE");
      expect(problem("LAKE_CATALOG_TOKEN:").fix).toContain("LAKE_CATALOG_TOKEN");
    });

    it("an alert URL that cannot be posted to", () => {
      expect(problem("ALERT_WEBHOOK_URL: not an https URL").line).toContain("FAIL");
    });

    it("a Shopify API version the pipeline has no rules for", () => {
      expect(problem("SHOPIFY_API_VERSION:").line).toContain("2023-04 is not a version this pipeline maps (2024-10");
      expect(problem("SHOPIFY_API_VERSION:").fix).toBe(
        "fix: correct SHOPIFY_API_VERSION in wrangler.toml [vars] (or add the binding it names), then restart `npm start`",
      );
    });

    it("SHOP_DATABASES naming a binding the Worker lacks", () => {
      expect(problem("SHOP_DATABASES:").line).toContain("the Worker has no D1 binding DB_BIG");
      expect(problem("SHOP_DATABASES:").fix).toBe(
        "fix: correct SHOP_DATABASES in wrangler.toml [vars] (or add the binding it names), then restart `npm start`",
      );
    });

    it("a D1 migration not applied", () => {
      expect(problem("DB: 1 of").line).toMatch(/FAIL {2}DB: 1 of \d+ migrations not applied \(\d{4}_[a-z_]+\.sql\)/);
      expect(problem("DB: 1 of").fix).toBe("fix: npx wrangler d1 migrations apply DB --local");
    });

    it("a source silent past its freshness limit, and one never heard from", () => {
      expect(problem("stripe: last webhook").line).toMatch(
        /FAIL {2}stripe: last webhook 20 h ago \(.*\), past its 720 min freshness limit/,
      );
      expect(problem("stripe: last webhook").fix).toContain("npm run ops -- webhooks plan --source stripe");
      expect(problem("recharge: no webhook").line).toBe("  warn  recharge: no webhook received yet");
    });

    it("never prints a secret's value", () => {
      for (const value of [
        "this-is-not-base64",
        "sk_test_revoked",
        "rc_revoked",
        "shpat_revoked",
        "stripe-secret-pasted",
      ])
        expect(run.stdout + run.stderr).not.toContain(value);
    });
  });
});
