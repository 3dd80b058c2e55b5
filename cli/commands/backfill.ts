/** `backfill <shop>`: starts a Shopify bulk backfill and follows it with a live progress line until it ends. */
import type { Command } from "commander";
import { AdminApi } from "../lib/admin.ts";
import { CheckFailed, UsageError } from "../lib/errors.ts";
import { json, out } from "../lib/print.ts";
import { shopDomain } from "./shops.ts";

const RESOURCES = ["orders", "customers", "products"];

interface Operation {
  resource: string;
  status: string;
  linesRead: number;
  objectCount: number | null;
  rowsApplied: number;
  error: string | null;
}

interface Backfill {
  id: string;
  status: "running" | "failed" | "canceled" | "completed";
  operations: Operation[];
}

function progressLine(b: Backfill): string {
  const parts = b.operations.map((o) => {
    const of = o.objectCount === null ? "" : `/${o.objectCount}`;
    return `${o.resource} ${o.status} ${o.linesRead}${of} lines, ${o.rowsApplied} rows`;
  });
  return `${b.id} ${b.status}: ${parts.join("; ")}`;
}

export function backfillCommand(program: Command): void {
  program
    .command("backfill")
    .description("export a shop's history with Shopify bulk operations and follow it until done")
    .argument("<shop>", "the shop's myshopify.com domain")
    .option("--resources <list>", `comma-separated: ${RESOURCES.join(", ")}`, RESOURCES.join(","))
    .option("--since <time>", "only objects updated at or after this ISO-8601 time, e.g. 2026-01-01T00:00:00Z")
    .option("--interval <seconds>", "seconds between progress reads", "2")
    .option("--no-wait", "start it and print its id without following it")
    .option("--json", "print the final answer as JSON")
    .action(
      async (
        domain: string,
        opts: { resources: string; since?: string; interval: string; wait: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const shop = shopDomain(domain);
        const resources = opts.resources.split(",").map((r) => r.trim());
        const unknown = resources.filter((r) => !RESOURCES.includes(r));
        if (unknown.length > 0 || resources.length === 0) {
          throw new UsageError(`--resources takes ${RESOURCES.join(", ")}; got ${unknown.join(", ") || "nothing"}`);
        }
        if (opts.since !== undefined && Number.isNaN(Date.parse(opts.since))) {
          throw new UsageError(`--since must be an ISO-8601 time, got "${opts.since}"`);
        }
        const interval = Number(opts.interval);
        if (!(interval > 0 && interval <= 600)) throw new UsageError("--interval must be 0-600 seconds");
        const api = AdminApi.fromOptions(cmd.optsWithGlobals());
        const started = await api.ok<{ backfillId: string }>("POST", "/admin/backfill", {
          shop,
          resources,
          ...(opts.since === undefined ? {} : { since: opts.since }),
        });
        if (!opts.wait) {
          if (opts.json) return json(started);
          return out(`started ${started.backfillId}; follow it with GET /admin/backfill/${started.backfillId}`);
        }
        const live = process.stdout.isTTY === true;
        let last = "";
        for (;;) {
          const { backfill } = await api.ok<{ backfill: Backfill }>("GET", `/admin/backfill/${started.backfillId}`);
          const line = progressLine(backfill);
          if (live) process.stdout.write(`\r\x1b[2K${line}`);
          else if (line !== last) out(line);
          last = line;
          if (backfill.status !== "running") {
            if (live) out();
            if (opts.json) json(backfill);
            if (backfill.status !== "completed") {
              const errors = backfill.operations.map((o) => o.error).filter(Boolean);
              throw new CheckFailed(`backfill ${backfill.id} ${backfill.status}${errors.length ? `: ${errors.join("; ")}` : ""}`);
            }
            return;
          }
          await new Promise((r) => setTimeout(r, interval * 1000));
        }
      },
    );
}
