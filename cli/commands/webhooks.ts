/**
 * `webhooks plan|apply|list`: registers the pipeline's webhooks with Shopify (per shop),
 * Stripe (one endpoint) and Recharge (one per topic). `plan` shows the diff and changes
 * nothing; `apply` makes it so and is idempotent (a second run finds nothing to do).
 */
import { type Command, Option } from "commander";
import {
  RECHARGE_WEBHOOK_TOPICS,
  SHOPIFY_COMPLIANCE_TOPICS,
  SHOPIFY_WEBHOOK_TOPICS,
  STRIPE_WEBHOOK_EVENTS,
  shopifyTopicEnum,
} from "../../src/shared/subscriptions.ts";
import { STRIPE_API_VERSION } from "../../src/shared/stripe-version.ts";
import { AdminApi } from "../lib/admin.ts";
import { CheckFailed, UsageError } from "../lib/errors.ts";
import { json, out } from "../lib/print.ts";
import {
  endpointInSync,
  inSync,
  isOurs,
  type Plan,
  planEndpoint,
  planTopics,
  type Subscription,
} from "../webhooks/plan.ts";
import { rechargeStore, shopifyStore, stripeEndpoints, type TopicStore } from "../webhooks/sources.ts";
import { shopDomain } from "./shops.ts";

type Mode = "plan" | "apply" | "list";
type Source = "shopify" | "stripe" | "recharge";

interface Options {
  source?: Source[];
  shop?: string[];
  address?: string;
  check?: boolean;
  json?: boolean;
  url?: string;
}

const SHOPIFY_ENUMS = SHOPIFY_WEBHOOK_TOPICS.map(shopifyTopicEnum);
const restTopic = (e: string) => SHOPIFY_WEBHOOK_TOPICS.find((t) => shopifyTopicEnum(t) === e) ?? e;
const COMPLIANCE_NOTE = `note: the compliance topics ${SHOPIFY_COMPLIANCE_TOPICS.join(", ")} are declared in the app's configuration (shopify.app.toml [webhooks] compliance_topics, uri .../webhooks/shopify), not by API`;

/**
 * Our Shopify subscriptions delivered in another API version than the pipeline pins. Shopify takes a
 * subscription's version from the app's configuration, so `apply` cannot change it: it is reported.
 */
function shopifyVersionLines(subs: readonly Subscription[], pinned: string | null, target: string): string[] {
  if (pinned === null) return [];
  return subs
    .filter((s) => isOurs(s.address, target) && s.apiVersion && s.apiVersion !== pinned)
    .map(
      (s) =>
        `  ! ${s.topics.map(restTopic).join(",")} ${s.id} is delivered in API version ${s.apiVersion}, SHOPIFY_API_VERSION is ${pinned}: set [webhooks] api_version = "${pinned}" in shopify.app.toml`,
    );
}

function baseAddress(opts: Options): string {
  const raw = opts.address ?? opts.url ?? process.env.OPS_URL ?? "http://localhost:8787";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--address must be the Worker's public URL, got "${raw}"`);
  }
  return url.origin;
}

interface Outcome {
  source: Source;
  scope: string;
  inSync: boolean;
  lines: string[];
  plan: unknown;
}

async function runTopics(
  mode: Mode,
  source: Source,
  scope: string,
  store: TopicStore,
  wanted: readonly string[],
  target: string,
  show: (t: string) => string,
): Promise<Outcome> {
  const existing = await store.list();
  const lines: string[] = [];
  if (mode === "list") {
    for (const s of existing) lines.push(`  ${s.id}  ${s.topics.map(show).join(",")}  ${s.address}`);
    return { source, scope, inSync: true, lines, plan: existing };
  }
  const plan: Plan = planTopics(existing, wanted, target);
  const sync = inSync(plan);
  lines.push(
    `  ${plan.ok.length} ok, ${plan.missing.length} missing, ${plan.wrongAddress.length} wrong address, ${plan.extra.length} extra, ${plan.foreign.length} not ours (left alone)`,
  );
  for (const m of plan.missing) lines.push(`  + ${show(m.topic)} → ${target}`);
  for (const w of plan.wrongAddress) lines.push(`  ~ ${show(w.topic)} ${w.id}: ${w.from} → ${target}`);
  for (const x of plan.extra) lines.push(`  - ${x.topics.map(show).join(",")} ${x.id} at ${x.address}`);
  if (mode === "apply" && !sync) {
    for (const m of plan.missing) await store.create(m.topic, target);
    for (const w of plan.wrongAddress) await store.update(w.id, w.topic, target);
    for (const x of plan.extra) await store.remove(x.id);
    const after = planTopics(await store.list(), wanted, target);
    if (!inSync(after)) throw new CheckFailed(`${source} ${scope}: still out of sync after apply`);
    lines.push(`  applied: ${plan.missing.length} created, ${plan.wrongAddress.length} moved, ${plan.extra.length} removed`);
  }
  return { source, scope, inSync: sync, lines, plan };
}

async function runStripe(mode: Mode, base: string, key: string, target: string): Promise<Outcome> {
  const api = stripeEndpoints(base, key);
  const existing = await api.list();
  const lines: string[] = [];
  if (mode === "list") {
    for (const e of existing) lines.push(`  ${e.id}  ${e.address}  ${e.topics.length} events`);
    return { source: "stripe", scope: "account", inSync: true, lines, plan: existing };
  }
  const plan = planEndpoint(existing, STRIPE_WEBHOOK_EVENTS, target);
  const sync = endpointInSync(plan);
  if (!plan.keep) lines.push(`  + endpoint ${target} with ${STRIPE_WEBHOOK_EVENTS.length} events`);
  else {
    lines.push(`  endpoint ${plan.keep.id} at ${plan.keep.address}${plan.move ? ` (wrong address → ${target})` : ""}`);
    if (plan.missingEvents.length) lines.push(`  + events: ${plan.missingEvents.join(", ")}`);
    if (plan.extraEvents.length) lines.push(`  - events: ${plan.extraEvents.join(", ")}`);
    if (plan.keep.apiVersion !== STRIPE_API_VERSION) {
      lines.push(
        `  renders events in API version ${plan.keep.apiVersion ?? "of the account default"}, not the pinned ${STRIPE_API_VERSION}: ` +
          "Stripe cannot change an endpoint's version (the consumer reads each supported version by its own rules); " +
          "to move it, delete the endpoint and apply again (a new signing secret)",
      );
    }
  }
  for (const x of plan.extra) lines.push(`  - endpoint ${x.id} at ${x.address}`);
  lines.push(`  ${plan.foreign.length} endpoint(s) of other integrations left alone`);
  if (mode === "apply" && !sync) {
    if (!plan.keep) {
      const made = await api.create(target, STRIPE_WEBHOOK_EVENTS);
      lines.push(`  created ${made.id}`);
      if (made.secret) {
        lines.push(`  new signing secret (shown once): ${made.secret}`);
        lines.push(
          "  add it to STRIPE_WEBHOOK_SECRET beside the old one: npx wrangler secret put STRIPE_WEBHOOK_SECRET, value <old secret>,<new secret>",
        );
      }
    } else {
      await api.update(plan.keep.id, target, STRIPE_WEBHOOK_EVENTS);
      lines.push(`  updated ${plan.keep.id} (its signing secret is unchanged)`);
    }
    for (const x of plan.extra) await api.remove(x.id);
    if (!endpointInSync(planEndpoint(await api.list(), STRIPE_WEBHOOK_EVENTS, target))) {
      throw new CheckFailed("stripe: still out of sync after apply");
    }
  }
  return { source: "stripe", scope: "account", inSync: sync, lines, plan };
}

async function run(mode: Mode, opts: Options): Promise<void> {
  const explicit = opts.source !== undefined;
  const sources: Source[] = opts.source ?? ["shopify", "stripe", "recharge"];
  const address = baseAddress(opts);
  if (mode === "apply" && !address.startsWith("https://")) {
    throw new UsageError(`sources deliver only to https: give --address https://… (got ${address})`);
  }
  const outcomes: Outcome[] = [];
  const skipped: string[] = [];
  // Check every credential before changing anything.
  const stripeKey = process.env.STRIPE_API_KEY ?? "";
  const rechargeToken = process.env.RECHARGE_API_TOKEN ?? "";
  if (explicit && sources.includes("stripe") && !stripeKey) throw new UsageError("--source stripe needs STRIPE_API_KEY");
  if (explicit && sources.includes("recharge") && !rechargeToken) throw new UsageError("--source recharge needs RECHARGE_API_TOKEN");
  if (sources.includes("shopify")) {
    const api = AdminApi.fromOptions(opts);
    let shops = opts.shop?.map(shopDomain);
    if (!shops) {
      const listed = await api.ok<{ shops: Array<{ shop: string; status: string }> }>("GET", "/admin/shops");
      shops = listed.shops.filter((s) => s.status === "active").map((s) => s.shop);
      if (shops.length === 0) skipped.push("shopify: no active shops (add one with `shops add`)");
    }
    for (const shop of shops) {
      const store = shopifyStore(api, shop);
      const target = `${address}/webhooks/shopify`;
      const outcome = await runTopics(mode, "shopify", shop, store, SHOPIFY_ENUMS, target, restTopic);
      outcome.lines.push(...shopifyVersionLines(store.listed(), store.pinned(), target));
      outcomes.push(outcome);
    }
  }
  if (sources.includes("stripe")) {
    if (!stripeKey) skipped.push("stripe: skipped, set STRIPE_API_KEY (a key that may write webhook endpoints)");
    else outcomes.push(await runStripe(mode, process.env.STRIPE_API_BASE || "https://api.stripe.com", stripeKey, `${address}/webhooks/stripe`));
  }
  if (sources.includes("recharge")) {
    if (!rechargeToken) skipped.push("recharge: skipped, set RECHARGE_API_TOKEN");
    else {
      const store = rechargeStore(process.env.RECHARGE_API_BASE || "https://api.rechargeapps.com", rechargeToken);
      outcomes.push(await runTopics(mode, "recharge", "account", store, RECHARGE_WEBHOOK_TOPICS, `${address}/webhooks/recharge`, (t) => t));
    }
  }
  if (opts.json) {
    json({ mode, outcomes: outcomes.map(({ lines: _l, ...o }) => o), skipped });
  } else {
    for (const o of outcomes) {
      out(`${o.source} ${o.scope}: ${mode === "list" ? "subscriptions" : o.inSync ? "in sync" : mode === "apply" ? "changed" : "changes needed"}`);
      for (const l of o.lines) out(l);
    }
    for (const s of skipped) out(s);
    if (sources.includes("shopify") && mode !== "list") out(COMPLIANCE_NOTE);
  }
  if (mode === "plan" && opts.check && outcomes.some((o) => !o.inSync)) {
    throw new CheckFailed("webhooks are not as the pipeline needs them (run `webhooks apply`)");
  }
}

export function webhooksCommand(program: Command): void {
  const webhooks = program.command("webhooks").description("register the pipeline's webhooks with Shopify, Stripe and Recharge");
  const common = (cmd: Command) =>
    cmd
      .addOption(new Option("--source <source...>", "only these sources").choices(["shopify", "stripe", "recharge"]))
      .option("--shop <domain...>", "Shopify: only these shops (default: every active shop)")
      .option("--address <url>", "the Worker's public base URL the sources deliver to (default: --url)")
      .option("--json", "print the result as JSON");
  common(webhooks.command("plan").description("show missing, extra and wrong-address subscriptions; change nothing"))
    .option("--check", "exit 1 when anything would change")
    .action(async (opts: Options, cmd: Command) => run("plan", { ...cmd.optsWithGlobals(), ...opts }));
  common(webhooks.command("apply").description("create, move and remove subscriptions until the plan is empty (idempotent)")).action(
    async (opts: Options, cmd: Command) => run("apply", { ...cmd.optsWithGlobals(), ...opts }),
  );
  common(webhooks.command("list").description("the subscriptions each source has now")).action(async (opts: Options, cmd: Command) =>
    run("list", { ...cmd.optsWithGlobals(), ...opts }),
  );
}
