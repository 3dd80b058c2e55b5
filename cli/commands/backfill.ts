/**
 * `backfill [shop] [--source …]`: starts a history backfill (a shop's Shopify bulk exports, or
 * Stripe's or Recharge's list APIs) and follows it with a live progress line until it ends.
 */
import { type Command, Option } from "commander";
import {
  API_BACKFILL_RESOURCES,
  API_BACKFILL_SOURCES,
  type ApiBackfillSource,
  BULK_RESOURCES,
} from "../../src/shared/backfill-resources.ts";
import { AdminApi, errorMessage } from "../lib/admin.ts";
import { CheckFailed, UsageError } from "../lib/errors.ts";
import { follow } from "../lib/follow.ts";
import { json, out } from "../lib/print.ts";
import { shopDomain } from "./shops.ts";

/** Shopify's default leaves out fulfillments and refunds: each walks every order again. */
const SHOPIFY_DEFAULT = ["orders", "customers", "products"];

interface Operation {
  resource: string;
  status: string;
  linesRead: number;
  objectCount: number | null;
  rowsApplied: number;
  error: string | null;
}

interface HistoryResource {
  resource: string;
  status: string;
  pages: number;
  listed: number;
  sent: number;
  error: string | null;
}

interface Backfill {
  id: string;
  status: "running" | "failed" | "canceled" | "completed";
  /** Shopify bulk exports. */
  operations?: Operation[];
  /** Stripe and Recharge list backfills. */
  resources?: HistoryResource[];
}

function progressLine(b: Backfill): string {
  const parts = b.operations
    ? b.operations.map((o) => {
        const of = o.objectCount === null ? "" : `/${o.objectCount}`;
        return `${o.resource} ${o.status} ${o.linesRead}${of} lines, ${o.rowsApplied} rows`;
      })
    : (b.resources ?? []).map((r) => `${r.resource} ${r.status} ${r.pages} pages, ${r.listed} listed, ${r.sent} sent`);
  return `${b.id} ${b.status}: ${parts.join("; ")}`;
}

const errorsOf = (b: Backfill) => [...(b.operations ?? []), ...(b.resources ?? [])].map((o) => o.error).filter(Boolean);

interface Options {
  source: "shopify" | ApiBackfillSource;
  resources?: string;
  since?: string;
  interval: string;
  wait: boolean;
  json?: boolean;
}

/** The request body, or the one-line reason the command line is wrong. */
function requestOf(domain: string | undefined, opts: Options): Record<string, unknown> {
  const source = opts.source;
  const shopify = source === "shopify";
  if (shopify && domain === undefined) throw new UsageError("a Shopify backfill needs the shop: backfill <shop>");
  if (!shopify && domain !== undefined) {
    throw new UsageError(`a ${opts.source} backfill covers the whole account: give no shop`);
  }
  const known: readonly string[] = source === "shopify" ? BULK_RESOURCES : API_BACKFILL_RESOURCES[source];
  const resources = (opts.resources ?? (shopify ? SHOPIFY_DEFAULT : known).join(","))
    .split(",")
    .map((r) => r.trim())
    .filter((r) => r !== "");
  const unknown = resources.filter((r) => !known.includes(r));
  if (unknown.length > 0 || resources.length === 0) {
    throw new UsageError(`--resources for ${opts.source} takes ${known.join(", ")}; got ${unknown.join(", ") || "nothing"}`);
  }
  if (new Set(resources).size !== resources.length) throw new UsageError("--resources names a resource twice");
  if (opts.since !== undefined && Number.isNaN(Date.parse(opts.since))) {
    throw new UsageError(`--since must be an ISO-8601 time, got "${opts.since}"`);
  }
  const since = opts.since === undefined ? {} : { since: opts.since };
  return shopify ? { shop: shopDomain(domain as string), resources, ...since } : { source: opts.source, resources, ...since };
}

export function backfillCommand(program: Command): void {
  program
    .command("backfill")
    .description(
      "load history and follow it until done: a shop's Shopify bulk exports, or Stripe's or Recharge's objects (--source)",
    )
    .argument("[shop]", "the shop's myshopify.com domain (Shopify only)")
    .addOption(
      new Option("--source <source>", "where the history comes from")
        .choices(["shopify", ...API_BACKFILL_SOURCES])
        .default("shopify"),
    )
    .option(
      "--resources <list>",
      `comma-separated; shopify: ${BULK_RESOURCES.join(", ")} (default ${SHOPIFY_DEFAULT.join(",")}); ` +
        `stripe: ${API_BACKFILL_RESOURCES.stripe.join(", ")}; recharge: ${API_BACKFILL_RESOURCES.recharge.join(", ")} ` +
        "(default: all of the source's)",
    )
    .option("--since <time>", "only objects updated (Stripe: created) at or after this ISO-8601 time, e.g. 2026-01-01T00:00:00Z")
    .option("--interval <seconds>", "seconds between progress reads", "2")
    .option("--no-wait", "start it and print its id without following it")
    .option("--json", "print the final answer as JSON")
    .addHelpText(
      "after",
      "\nExit codes: 0 completed, 1 failed or refused (409: a backfill of that resource is already running), 2 bad usage.",
    )
    .action(async (domain: string | undefined, opts: Options, cmd: Command) => {
      const body = requestOf(domain, opts);
      const interval = Number(opts.interval);
      if (!(interval > 0 && interval <= 600)) throw new UsageError("--interval must be 0-600 seconds");
      const api = AdminApi.fromOptions(cmd.optsWithGlobals());
      const answer = await api.call<{ backfillId: string; running?: Array<{ resource: string; backfillId: string }> }>(
        "POST",
        "/admin/backfill",
        body,
      );
      if (answer.status === 409) {
        const running = (answer.body.running ?? []).map((r) => `${r.resource} (${r.backfillId})`).join(", ");
        throw new CheckFailed(
          `already running: ${running || errorMessage(answer.body)}; wait for it to end before starting another (GET /admin/backfill/<id>)`,
        );
      }
      if (answer.status < 200 || answer.status >= 300) {
        throw new CheckFailed(`POST /admin/backfill: HTTP ${answer.status}: ${errorMessage(answer.body)}`);
      }
      const started = answer.body;
      if (!opts.wait) {
        if (opts.json) return json(started);
        return out(`started ${started.backfillId}; follow it with GET /admin/backfill/${started.backfillId}`);
      }
      const backfill = await follow(
        () => api.ok<{ backfill: Backfill }>("GET", `/admin/backfill/${started.backfillId}`).then((r) => r.backfill),
        progressLine,
        (b) => b.status !== "running",
        interval,
      );
      if (opts.json) json(backfill);
      if (backfill.status !== "completed") {
        const errors = errorsOf(backfill);
        throw new CheckFailed(`backfill ${backfill.id} ${backfill.status}${errors.length ? `: ${errors.join("; ")}` : ""}`);
      }
    });
}
