/**
 * `ops doctor`'s verdicts, pure: each area of a deployment compared with what it should be, as
 * findings that say what is wrong and the command that fixes it. Nothing here does I/O, so each
 * rule is read (and tested) on its own; cli/commands/doctor.ts gathers the inputs.
 */
import type { QueueInfo } from "./cloudflare.ts";
import type { Deployment, LifecycleRule } from "./deployment.ts";

export type Verdict = "ok" | "warn" | "fail" | "skip";

export interface Finding {
  area: string;
  verdict: Verdict;
  what: string;
  /** The command (or the step) that fixes it. */
  fix?: string;
}

/** What `GET /admin/doctor` answers (src/ingress/admin/doctor.ts). */
export interface WorkerReport {
  secrets: Array<{ name: string; set: boolean; problem: string | null; off: string | null }>;
  settings: Array<{ name: string; problem: string }>;
  bindings: Array<{ binding: string; kind: string; present: boolean }>;
  databases: Array<{ binding: string; migrations: string[]; problem: string | null }>;
  upstream: {
    stripe: Probe | null;
    recharge: Probe | null;
    shops: Array<{ shop: string; origin: string } & Probe>;
  };
  lastEvents: Array<{ source: string; lastReceivedAt: string | null; limitMinutes: number }>;
  schedules: string[];
}

interface Probe {
  ok: boolean;
  rejected: boolean;
  message: string | null;
}

/** Where the pipeline runs: fixes differ between `npm start` and a deployment. */
export interface Target {
  local: boolean;
  /** The base URL sources deliver to (for `webhooks apply --address`). */
  address: string;
}

const SECRET_HINTS: Record<string, string> = {
  CREDENTIALS_KEY: "value k1:$(openssl rand -base64 32); after a rotation keep the old key after the new one: k2:…,k1:…",
  PRIVACY_HASH_KEY: "value $(openssl rand -hex 32)",
  STRIPE_WEBHOOK_SECRET: "the endpoint's signing secret, whsec_…, from the Stripe Dashboard or `ops webhooks apply`",
  STRIPE_API_KEY: "a Stripe key that may read events (sk_… or a restricted rk_… key)",
  RECHARGE_API_TOKEN: "a Recharge API token with read access",
  SHOPIFY_ACCESS_TOKENS: 'JSON such as {"shop.myshopify.com":"shpat_…"}; or add shops with `npm run ops -- shops add`',
  ALERT_WEBHOOK_URL: "a Slack-compatible incoming webhook URL, https://…",
};

function secretFix(name: string, target: Target): string {
  const how = target.local
    ? `set ${name} in .dev.vars, then restart \`npm start\``
    : `npx wrangler secret put ${name}`;
  const hint = SECRET_HINTS[name];
  return hint ? `${how}  (${hint})` : how;
}

export function secretFindings(r: WorkerReport, target: Target): Finding[] {
  const area = "secrets";
  const out: Finding[] = r.secrets.map((s): Finding => {
    if (s.problem) return { area, verdict: "fail", what: `${s.name}: ${s.problem}`, fix: secretFix(s.name, target) };
    if (s.off) return { area, verdict: "warn", what: `${s.name} not set: ${s.off}`, fix: secretFix(s.name, target) };
    return { area, verdict: "ok", what: `${s.name} set` };
  });
  const probe = (name: string, source: string, p: Probe | null) => {
    if (p === null) return;
    if (p.ok) out.push({ area, verdict: "ok", what: `${source} accepts ${name}` });
    else if (p.rejected)
      out.push({ area, verdict: "fail", what: `${source} refuses ${name}: ${p.message}`, fix: secretFix(name, target) });
    else out.push({ area, verdict: "warn", what: `${name} could not be checked: ${p.message}` });
  };
  probe("STRIPE_API_KEY", "Stripe", r.upstream.stripe);
  probe("RECHARGE_API_TOKEN", "Recharge", r.upstream.recharge);
  for (const s of r.upstream.shops) {
    if (s.ok) out.push({ area, verdict: "ok", what: `Shopify accepts the token of ${s.shop}` });
    else if (!s.rejected) out.push({ area, verdict: "warn", what: `the token of ${s.shop} could not be checked: ${s.message}` });
    else {
      const sealedUnderOldKey = /CREDENTIALS_KEY no longer holds|does not open with key/.test(s.message ?? "");
      out.push({
        area,
        verdict: "fail",
        what: `the token of ${s.shop} does not work: ${s.message}`,
        fix: sealedUnderOldKey
          ? `put the key it was sealed with back into CREDENTIALS_KEY after the new one (${secretFix("CREDENTIALS_KEY", target).split("  (")[0]}), then re-seal: curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" ${target.address}/admin/shops/reseal`
          : `npm run ops -- shops add ${s.shop} --token -   (paste a current Admin API token of the app${s.origin === "secret" ? "; a shop added so wins over SHOPIFY_ACCESS_TOKENS" : ""})`,
      });
    }
  }
  return out;
}

export function settingFindings(r: WorkerReport, target: Target): Finding[] {
  const area = "settings and bindings";
  const deploy = target.local ? "restart `npm start`" : "npm run deploy";
  const out: Finding[] = r.settings.map((s) => ({
    area,
    verdict: "fail" as const,
    what: `${s.name}: ${s.problem}`,
    fix: `correct ${s.name} in wrangler.toml [vars] (or add the binding it names), then ${deploy}`,
  }));
  for (const b of r.bindings) {
    out.push(
      b.present
        ? { area, verdict: "ok", what: `${b.binding} bound (${b.kind})` }
        : {
            area,
            verdict: b.binding === "METRICS" ? "warn" : "fail",
            what: `${b.binding} (${b.kind}) is not bound`,
            fix: `keep its entry in wrangler.toml (docs/configuration.md lists the bindings), then ${deploy}`,
          },
    );
  }
  return out;
}

export function migrationFindings(r: WorkerReport, d: Deployment, target: Target): Finding[] {
  const area = "d1 migrations";
  const out: Finding[] = [];
  for (const db of r.databases) {
    const fix = `npx wrangler d1 migrations apply ${db.binding} ${target.local ? "--local" : "--remote"}`;
    if (db.problem) {
      out.push({ area, verdict: "fail", what: `${db.binding}: ${db.problem}`, fix });
      continue;
    }
    const applied = new Set(db.migrations);
    const missing = d.migrations.filter((m) => !applied.has(m));
    const unknown = db.migrations.filter((m) => !d.migrations.includes(m));
    if (missing.length > 0) {
      out.push({
        area,
        verdict: "fail",
        what: `${db.binding}: ${missing.length} of ${d.migrations.length} migrations not applied (${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", …" : ""})`,
        fix,
      });
    } else out.push({ area, verdict: "ok", what: `${db.binding}: all ${d.migrations.length} migrations applied` });
    if (unknown.length > 0) {
      out.push({
        area,
        verdict: "warn",
        what: `${db.binding} has migrations this checkout lacks (${unknown.join(", ")})`,
        fix: "run ops doctor, and deploy, from an up-to-date checkout",
      });
    }
  }
  return out;
}

export function lastEventFindings(r: WorkerReport, now: Date): Finding[] {
  const area = "last events";
  return r.lastEvents.map((e): Finding => {
    const name = e.source[0]?.toUpperCase() + e.source.slice(1);
    const check = `check the deliveries of ${name}'s webhooks in its dashboard, and \`npm run ops -- webhooks plan --source ${e.source}\``;
    if (e.lastReceivedAt === null) {
      return { area, verdict: "warn", what: `${e.source}: no webhook received yet`, fix: check };
    }
    const minutes = Math.floor((now.getTime() - Date.parse(e.lastReceivedAt)) / 60_000);
    const ago = minutes < 1 ? "just now" : minutes < 120 ? `${minutes} min ago` : `${Math.floor(minutes / 60)} h ago`;
    if (minutes > e.limitMinutes) {
      return {
        area,
        verdict: "fail",
        what: `${e.source}: last webhook ${ago} (${e.lastReceivedAt}), past its ${e.limitMinutes} min freshness limit`,
        fix: check,
      };
    }
    return { area, verdict: "ok", what: `${e.source}: last webhook ${ago}` };
  });
}

const scriptOf = (x: { script?: string; script_name?: string }) => x.script ?? x.script_name;

export function queueFindings(d: Deployment, events: QueueInfo | null, dlq: QueueInfo | null): Finding[] {
  const area = "queues";
  const deploy = "npm run deploy";
  const out: Finding[] = [];
  for (const [name, q] of [
    [d.queue, events],
    [d.deadLetterQueue, dlq],
  ] as const) {
    if (q === null) {
      out.push({ area, verdict: "fail", what: `${name} does not exist`, fix: `npx wrangler queues create ${name}, then ${deploy}` });
      continue;
    }
    const consumer = q.consumers?.find((c) => (c.type ?? "worker") === "worker" && scriptOf(c) === d.worker);
    if (!consumer) {
      out.push({
        area,
        verdict: "fail",
        what: `${name} has no consumer ${d.worker}: its messages are never ${name === d.queue ? "applied" : "written to dead-letter/"}`,
        fix: deploy,
      });
    } else if (name === d.queue && consumer.dead_letter_queue !== d.deadLetterQueue) {
      out.push({
        area,
        verdict: "fail",
        what: `${name}'s consumer has ${consumer.dead_letter_queue ? `dead-letter queue ${consumer.dead_letter_queue}` : "no dead-letter queue"}, not ${d.deadLetterQueue}: events that exhaust their retries would be lost`,
        fix: deploy,
      });
    } else {
      out.push({ area, verdict: "ok", what: `${name} consumed by ${d.worker}${name === d.queue ? `, dead letters to ${d.deadLetterQueue}` : ""}` });
    }
    if (name === d.queue && !q.producers?.some((p) => scriptOf(p) === d.worker)) {
      out.push({ area, verdict: "fail", what: `${d.worker} does not send to ${name}`, fix: deploy });
    }
  }
  return out;
}

export function cronFindings(
  r: WorkerReport,
  d: Deployment,
  deployed: { found: true; value: string[] } | { found: false; status: number; message: string },
): Finding[] {
  const area = "cron triggers";
  if (!deployed.found) {
    return [
      {
        area,
        verdict: "fail",
        what: `cannot read ${d.worker}'s triggers (${deployed.message}): is the Worker deployed to this account?`,
        fix: "npm run deploy",
      },
    ];
  }
  const have = new Set(deployed.value);
  const missing = r.schedules.filter((c) => !have.has(c));
  const extra = deployed.value.filter((c) => !r.schedules.includes(c));
  const out: Finding[] = [];
  if (missing.length > 0) {
    out.push({
      area,
      verdict: "fail",
      what: `${missing.length} of ${r.schedules.length} triggers missing: ${missing.map((c) => `"${c}"`).join(", ")} (their jobs never run; Workers Free allows 5 per account)`,
      fix: "npx wrangler triggers deploy   (on Workers Paid; npm run deploy does it too)",
    });
  } else out.push({ area, verdict: "ok", what: `all ${r.schedules.length} triggers set` });
  if (extra.length > 0) {
    out.push({
      area,
      verdict: "warn",
      what: `triggers no job answers to: ${extra.map((c) => `"${c}"`).join(", ")}`,
      fix: "npx wrangler triggers deploy   (sets exactly the triggers of wrangler.toml)",
    });
  }
  return out;
}

/** A rule's fields in a fixed order, so two rules compare by content. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

export function lifecycleFindings(
  d: Deployment,
  deployed: { found: true; value: LifecycleRule[] } | { found: false; status: number; message: string },
): Finding[] {
  const area = "r2 lifecycle rules";
  const fix = "npm run lake -- lifecycle --apply";
  if (!deployed.found) {
    return deployed.status === 404
      ? [
          {
            area,
            verdict: "fail",
            what: `bucket ${d.bucket} not found (${deployed.message})`,
            fix: `npx wrangler r2 bucket create ${d.bucket}, then ${fix}`,
          },
        ]
      : [{ area, verdict: "fail", what: `cannot read ${d.bucket}'s lifecycle rules: ${deployed.message}`, fix }];
  }
  const out: Finding[] = [];
  for (const want of d.lifecycleRules) {
    const have = deployed.value.find((r) => r.id === want.id);
    if (!have) out.push({ area, verdict: "fail", what: `rule ${want.id} is not set on ${d.bucket}`, fix });
    else if (canonical(have) !== canonical(want))
      out.push({ area, verdict: "fail", what: `rule ${want.id} differs from lake/lifecycle.json`, fix });
    else out.push({ area, verdict: "ok", what: `rule ${want.id} set` });
  }
  const extra = deployed.value.filter((r) => !d.lifecycleRules.some((w) => w.id === r.id));
  if (extra.length > 0) {
    out.push({
      area,
      verdict: "warn",
      what: `rules not in lake/lifecycle.json: ${extra.map((r) => r.id).join(", ")} (--apply replaces them)`,
      fix: `add them to lake/lifecycle.json to keep them, then ${fix}`,
    });
  }
  return out;
}

/** The account checks need the Cloudflare API; without a token they are skipped, and say how to run them. */
export function accountSkipped(): Finding[] {
  const fix =
    "export CLOUDFLARE_API_TOKEN=… CLOUDFLARE_ACCOUNT_ID=…   (a token with Workers Scripts Read, Queues Read and Workers R2 Storage Read), then run ops doctor again";
  return ["queues", "cron triggers", "r2 lifecycle rules"].map((area) => ({
    area,
    verdict: "skip" as const,
    what: "not checked: needs the Cloudflare API",
    fix,
  }));
}


/** One source's (or shop's) subscriptions against `webhooks plan`. */
export function webhookFinding(
  source: string,
  scope: string,
  summary: string,
  inSync: boolean,
  target: Target,
): Finding {
  const label = scope === "account" ? source : `${source} ${scope}`;
  return inSync
    ? { area: "webhooks", verdict: "ok", what: `${label}: as \`webhooks plan\` wants (${summary})` }
    : {
        area: "webhooks",
        verdict: "fail",
        what: `${label}: not as \`webhooks plan\` wants: ${summary}`,
        fix: `npm run ops -- webhooks apply --source ${source}${scope === "account" ? "" : ` --shop ${scope}`} --address ${target.address}`,
      };
}
