/**
 * `replay` sends dead-lettered events (or, where the pipeline supports it, a time range) back
 * through the queue; `redrive` replays every dead letter, or those of one source or day.
 */
import { type Command, Option } from "commander";
import { AdminApi } from "../lib/admin.ts";
import { CheckFailed, UsageError } from "../lib/errors.ts";
import { json, out } from "../lib/print.ts";

const DAY = /^\d{4}-\d{2}-\d{2}$/;

interface Held {
  key: string;
  source: string | null;
  topic: string | null;
  eventId: string | null;
}

function isoTime(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(Date.parse(value))) throw new UsageError(`--${name} must be an ISO-8601 time, got "${value}"`);
  return value;
}

export function replayCommands(program: Command): void {
  program
    .command("replay")
    .description("send events back through the queue: one dead letter by --key, or a --from/--to event-time range")
    .option("--key <key>", "a dead-letter/… object key")
    .addOption(new Option("--source <source>", "range: one source").choices(["shopify", "stripe", "recharge"]))
    .option("--resource <resource>", "range: one resource (orders, charges, …)")
    .option("--shop <shop>", "range: one shop")
    .option("--from <time>", "range: event time from (UTC ISO-8601)")
    .option("--to <time>", "range: event time to (UTC ISO-8601)")
    .option("--json", "print the answer as JSON")
    .action(
      async (
        opts: { key?: string; source?: string; resource?: string; shop?: string; from?: string; to?: string; json?: boolean },
        cmd: Command,
      ) => {
        const range = opts.from !== undefined || opts.to !== undefined;
        if (opts.key && range) throw new UsageError("give --key or --from/--to, not both");
        if (!opts.key && !range) throw new UsageError("give --key dead-letter/… or --from and --to");
        if (opts.key && !opts.key.startsWith("dead-letter/")) throw new UsageError("--key must start with dead-letter/");
        if (range && (opts.from === undefined || opts.to === undefined)) throw new UsageError("a range needs both --from and --to");
        const body = opts.key
          ? { key: opts.key }
          : {
              from: isoTime("from", opts.from),
              to: isoTime("to", opts.to),
              ...(opts.source ? { source: opts.source } : {}),
              ...(opts.resource ? { resource: opts.resource } : {}),
              ...(opts.shop ? { shop: opts.shop } : {}),
            };
        const answer = await AdminApi.fromOptions(cmd.optsWithGlobals()).ok("POST", "/admin/replay", body);
        if (opts.json) return json(answer);
        const { ok: _ok, ...rest } = answer as Record<string, unknown>;
        out(`replay accepted: ${Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`).join(" ")}`);
      },
    );

  program
    .command("redrive")
    .description("replay every dead letter, or those of one source (and day)")
    .addOption(new Option("--source <source>", "one source").choices(["shopify", "stripe", "recharge", "unknown"]))
    .option("--day <YYYY-MM-DD>", "the day the messages died (needs --source)")
    .option("--limit <n>", "at most this many (1-1000)", "1000")
    .option("--dry-run", "list what would be replayed, send nothing")
    .action(async (opts: { source?: string; day?: string; limit: string; dryRun?: boolean }, cmd: Command) => {
      if (opts.day !== undefined && !DAY.test(opts.day)) throw new UsageError("--day must be YYYY-MM-DD");
      if (opts.day !== undefined && !opts.source) throw new UsageError("--day needs --source");
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError("--limit must be 1-1000");
      const api = AdminApi.fromOptions(cmd.optsWithGlobals());
      const q = new URLSearchParams({ limit: String(limit) });
      if (opts.source) q.set("source", opts.source);
      if (opts.day) q.set("day", opts.day);
      const listed = await api.ok<{ objects: Held[]; truncated: boolean }>("GET", `/admin/dead-letters?${q}`);
      if (listed.objects.length === 0) return out("no dead letters to redrive");
      let sent = 0;
      const failed: string[] = [];
      for (const o of listed.objects) {
        if (opts.dryRun) {
          out(`would replay ${o.key} (${o.source ?? "?"} ${o.topic ?? "?"})`);
          continue;
        }
        const answer = await api.call("POST", "/admin/replay", { key: o.key });
        if (answer.status >= 200 && answer.status < 300) {
          sent++;
          out(`replayed ${o.key}`);
        } else {
          failed.push(o.key);
          out(`not replayed ${o.key}: HTTP ${answer.status}`);
        }
      }
      if (opts.dryRun) return out(`${listed.objects.length} dead letter(s) would be replayed`);
      out(`${sent} replayed, ${failed.length} refused${listed.truncated ? "; more remain, run it again" : ""}`);
      if (failed.length > 0) throw new CheckFailed(`${failed.length} dead letter(s) could not be replayed`);
    });
}
