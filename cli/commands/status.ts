/** `status` and `events`: what the pipeline holds, from GET /admin/status and /admin/events. */
import { type Command, Option } from "commander";
import { AdminApi } from "../lib/admin.ts";
import { UsageError } from "../lib/errors.ts";
import { json, out, table } from "../lib/print.ts";

interface Status {
  ledger: Array<{ source: string; status: string; count: number }>;
  lastEvents: Array<{ source: string; lastReceivedAt: string; lastEventAt: string }>;
  quarantine: { objects: number; truncated: boolean };
  deadLetter: { objects: number; truncated: boolean };
  /** Absent from an older deploy's answer. */
  reconcile?: Array<{ source: string; scope: string; lagSeconds: number | null; position: string | null; unfinished: string[] }>;
}

/** A lag in seconds as minutes, hours or days. */
const behind = (s: number | null) =>
  s === null ? "" : s >= 86_400 ? `${(s / 86_400).toFixed(1)} d` : s >= 3_600 ? `${(s / 3_600).toFixed(1)} h` : `${Math.round(s / 60)} min`;

interface LedgerRow {
  source: string;
  event_id: string;
  topic: string;
  shop: string | null;
  status: string;
  received_at: string;
  attempts: number;
  error: string | null;
}

const count = (c: { objects: number; truncated: boolean }) => `${c.objects}${c.truncated ? "+" : ""}`;

export function statusCommands(program: Command): void {
  program
    .command("status")
    .description("ledger counts per source and status, last event per source, quarantine and dead letters")
    .option("--json", "print the answer as JSON")
    .option("--check", "exit 1 when any event is dead-lettered or quarantined")
    .action(async (opts: { json?: boolean; check?: boolean }, cmd: Command) => {
      const s = await AdminApi.fromOptions(cmd.optsWithGlobals()).ok<Status>("GET", "/admin/status");
      if (opts.json) json(s);
      else {
        out(table(["source", "status", "events"], s.ledger.map((r) => [r.source, r.status, r.count])));
        out();
        out(table(["source", "last received", "last event time"], s.lastEvents.map((r) => [r.source, r.lastReceivedAt, r.lastEventAt])));
        out();
        out(`dead letters: ${count(s.deadLetter)}   quarantined: ${count(s.quarantine)}`);
        if (s.reconcile && s.reconcile.length > 0) {
          out();
          out(
            table(
              ["reconcile source", "scope", "behind by", "oldest change not reconciled", "unfinished"],
              s.reconcile.map((r) => [r.source, r.scope, behind(r.lagSeconds), r.position, r.unfinished.join(", ")]),
            ),
          );
        }
      }
      if (opts.check && (s.deadLetter.objects > 0 || s.quarantine.objects > 0)) {
        process.stderr.write(`check failed: ${count(s.deadLetter)} dead letter(s), ${count(s.quarantine)} quarantined\n`);
        process.exitCode = 1;
      }
    });

  program
    .command("events")
    .description("the newest ledger rows")
    .addOption(new Option("--source <source>", "one source").choices(["shopify", "stripe", "recharge"]))
    .addOption(
      new Option("--status <status>", "one ledger status").choices(["retrying", "archived", "applied", "quarantined", "failed"]),
    )
    .option("--limit <n>", "how many (1-500)", "20")
    .option("--json", "print the answer as JSON")
    .action(async (opts: { source?: string; status?: string; limit: string; json?: boolean }, cmd: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError("--limit must be 1-500");
      const q = new URLSearchParams({ limit: String(limit) });
      if (opts.source) q.set("source", opts.source);
      if (opts.status) q.set("status", opts.status);
      const body = await AdminApi.fromOptions(cmd.optsWithGlobals()).ok<{ events: LedgerRow[] }>("GET", `/admin/events?${q}`);
      if (opts.json) return json(body);
      if (body.events.length === 0) return out("no events");
      out(
        table(
          ["received", "source", "topic", "shop", "status", "attempts", "event id", "error"],
          body.events.map((e) => [e.received_at, e.source, e.topic, e.shop, e.status, e.attempts, e.event_id, e.error?.slice(0, 60)]),
        ),
      );
    });
}
