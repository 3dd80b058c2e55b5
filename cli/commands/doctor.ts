/**
 * `doctor`: checks a deployment end to end and prints, under each problem, the command that
 * fixes it. From the Worker (GET /admin/doctor): secrets set and usable, settings, bindings, D1
 * migrations applied, the sources accepting the tokens held for them, the last webhook per
 * source. From the sources' APIs: the webhooks, against `webhooks plan`. From the Cloudflare API
 * (when CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID are set): the queues and their consumers,
 * the cron triggers, the bucket's lifecycle rules. Exit 1 when anything fails.
 */
import type { Command } from "commander";
import {
  RECHARGE_WEBHOOK_TOPICS,
  SHOPIFY_WEBHOOK_TOPICS,
  STRIPE_WEBHOOK_EVENTS,
  shopifyTopicEnum,
} from "../../src/shared/subscriptions.ts";
import { cloudflareAccount } from "../doctor/cloudflare.ts";
import { readDeployment } from "../doctor/deployment.ts";
import {
  accountSkipped,
  cronFindings,
  type Finding,
  lastEventFindings,
  lifecycleFindings,
  migrationFindings,
  queueFindings,
  secretFindings,
  settingFindings,
  type Target,
  type WorkerReport,
  webhookFinding,
} from "../doctor/findings.ts";
import { AdminApi, errorMessage } from "../lib/admin.ts";
import { CheckFailed, UsageError } from "../lib/errors.ts";
import { json, out } from "../lib/print.ts";
import { endpointInSync, inSync, planEndpoint, planTopics } from "../webhooks/plan.ts";
import { rechargeStore, shopifyStore, stripeEndpoints } from "../webhooks/sources.ts";

interface Options {
  url?: string;
  address?: string;
  json?: boolean;
}

const AREAS = [
  "secrets",
  "settings and bindings",
  "webhooks",
  "queues",
  "d1 migrations",
  "cron triggers",
  "r2 lifecycle rules",
  "last events",
];

const LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

function targetOf(api: AdminApi, opts: Options): Target {
  const raw = opts.address ?? api.base;
  let address: URL;
  try {
    address = new URL(raw);
  } catch {
    throw new UsageError(`--address must be the Worker's public URL, got "${raw}"`);
  }
  return { local: LOCAL_HOSTS.includes(new URL(api.base).hostname), address: address.origin };
}

const summaryOf = (p: { ok: unknown[]; missing: unknown[]; wrongAddress: unknown[]; extra: unknown[] }) =>
  `${p.ok.length} ok, ${p.missing.length} missing, ${p.wrongAddress.length} wrong address, ${p.extra.length} extra`;

async function webhookFindings(api: AdminApi, target: Target): Promise<Finding[]> {
  const found: Finding[] = [];
  const listed = await api.ok<{ shops: Array<{ shop: string; status: string }> }>("GET", "/admin/shops");
  const shops = listed.shops.filter((s) => s.status === "active").map((s) => s.shop);
  if (shops.length === 0) {
    found.push({
      area: "webhooks",
      verdict: "warn",
      what: "shopify: no active shop",
      fix: "npm run ops -- shops add <shop>.myshopify.com --token -",
    });
  }
  for (const shop of shops) {
    try {
      const plan = planTopics(
        await shopifyStore(api, shop).list(),
        SHOPIFY_WEBHOOK_TOPICS.map(shopifyTopicEnum),
        `${target.address}/webhooks/shopify`,
      );
      found.push(webhookFinding("shopify", shop, summaryOf(plan), inSync(plan), target));
    } catch (err) {
      found.push({ area: "webhooks", verdict: "warn", what: `shopify ${shop}: cannot list: ${(err as Error).message}` });
    }
  }
  const stripeKey = process.env.STRIPE_API_KEY ?? "";
  if (!stripeKey) {
    found.push({
      area: "webhooks",
      verdict: "skip",
      what: "stripe: not checked without STRIPE_API_KEY",
      fix: "STRIPE_API_KEY=sk_… npm run ops -- doctor",
    });
  } else {
    const store = stripeEndpoints(process.env.STRIPE_API_BASE || "https://api.stripe.com", stripeKey);
    const plan = planEndpoint(await store.list(), STRIPE_WEBHOOK_EVENTS, `${target.address}/webhooks/stripe`);
    const summary = plan.keep
      ? `endpoint ${plan.keep.id}${plan.move ? " at a wrong address" : ""}, ${plan.missingEvents.length} events missing, ${plan.extraEvents.length} extra, ${plan.extra.length} extra endpoints`
      : "no endpoint";
    found.push(webhookFinding("stripe", "account", summary, endpointInSync(plan), target));
  }
  const rechargeToken = process.env.RECHARGE_API_TOKEN ?? "";
  if (!rechargeToken) {
    found.push({
      area: "webhooks",
      verdict: "skip",
      what: "recharge: not checked without RECHARGE_API_TOKEN",
      fix: "RECHARGE_API_TOKEN=… npm run ops -- doctor",
    });
  } else {
    const store = rechargeStore(process.env.RECHARGE_API_BASE || "https://api.rechargeapps.com", rechargeToken);
    const plan = planTopics(await store.list(), RECHARGE_WEBHOOK_TOPICS, `${target.address}/webhooks/recharge`);
    found.push(webhookFinding("recharge", "account", summaryOf(plan), inSync(plan), target));
  }
  return found;
}

async function accountFindings(report: WorkerReport): Promise<Finding[]> {
  const account = cloudflareAccount();
  if (account === null) return accountSkipped();
  const d = readDeployment();
  try {
    const [events, dlq, schedules, lifecycle] = await Promise.all([
      account.queue(d.queue),
      account.queue(d.deadLetterQueue),
      account.schedules(d.worker),
      account.lifecycle(d.bucket),
    ]);
    return [...queueFindings(d, events, dlq), ...cronFindings(report, d, schedules), ...lifecycleFindings(d, lifecycle)];
  } catch (err) {
    return ["queues", "cron triggers", "r2 lifecycle rules"].map((area) => ({
      area,
      verdict: "fail" as const,
      what: (err as Error).message,
      fix: "check CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID (and CLOUDFLARE_API_BASE_URL), then run ops doctor again",
    }));
  }
}

const MARK: Record<Finding["verdict"], string> = { ok: "ok  ", warn: "warn", fail: "FAIL", skip: "skip" };

function print(base: string, target: Target, findings: Finding[]): void {
  out(`ops doctor: ${base} (${target.local ? "local pipeline" : "deployment"})`);
  for (const area of AREAS) {
    const mine = findings.filter((f) => f.area === area);
    if (mine.length === 0) continue;
    out();
    out(area);
    for (const f of mine) {
      out(`  ${MARK[f.verdict]}  ${f.what}`);
      if (f.fix && f.verdict !== "ok") out(`        fix: ${f.fix}`);
    }
  }
  const count = (v: Finding["verdict"]) => findings.filter((f) => f.verdict === v).length;
  out();
  out(
    `${count("fail")} problem(s), ${count("warn")} warning(s), ${count("skip")} not checked${count("fail") + count("warn") > 0 ? ": run each fix, then `npm run ops -- doctor` again" : ""}`,
  );
}

async function doctor(opts: Options): Promise<void> {
  const api = AdminApi.fromOptions(opts);
  const target = targetOf(api, opts);
  const deployment = readDeployment();
  const answer = await api.call<WorkerReport & { ok?: boolean }>("GET", "/admin/doctor");
  if (answer.status === 404) {
    throw new CheckFailed(`${api.base} has no /admin/doctor: deploy this checkout first (npm run deploy)`);
  }
  if (answer.status !== 200) throw new CheckFailed(`GET /admin/doctor: HTTP ${answer.status}: ${errorMessage(answer.body)}`);
  const report = answer.body;
  const findings = [
    ...secretFindings(report, target),
    ...settingFindings(report, target),
    ...(await webhookFindings(api, target)),
    ...(await accountFindings(report)),
    ...migrationFindings(report, deployment, target),
    ...lastEventFindings(report, new Date()),
  ];
  if (opts.json) json({ target, findings });
  else print(api.base, target, findings);
  const failed = findings.filter((f) => f.verdict === "fail").length;
  if (failed > 0) throw new CheckFailed(`${failed} problem(s) found; each is printed above with its fix`);
}

export function doctorCommand(program: Command): void {
  program
    .command("doctor")
    .description(
      "check a deployment end to end (secrets, webhooks, queues, D1 migrations, cron triggers, R2 lifecycle rules, last events) and print each fix",
    )
    .option("--address <url>", "the Worker's public base URL the sources deliver to (default: --url)")
    .option("--json", "print the findings as JSON")
    .action(async (opts: Options, cmd: Command) => doctor({ ...cmd.optsWithGlobals(), ...opts }));
}
