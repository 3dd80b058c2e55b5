/**
 * `replay` sends events back through the queue: one dead letter or quarantined event by its key,
 * or every archived event of an event-time range (followed until it is sent); `redrive` replays
 * every dead letter (or quarantined event) of the pipeline, one source or one day.
 */
import { type Command, Option } from "commander";
import { AdminApi } from "../lib/admin.ts";
import { CheckFailed, UsageError } from "../lib/errors.ts";
import { follow } from "../lib/follow.ts";
import { json, out } from "../lib/print.ts";

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const HELD_PREFIXES = ["dead-letter/", "quarantine/"];

interface Held {
  key: string;
  source: string | null;
  topic: string | null;
  eventId: string | null;
  ledgerStatus?: string | null;
}

interface ReplayRun {
  replayId: string;
  status: "pending" | "running" | "completed" | "failed";
  listed: number;
  sent: number;
  applied: number;
  error?: string | null;
}

interface LedgerRow {
  status: string;
  r2_key: string | null;
  note: string | null;
  updated_at: string;
}

function isoTime(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(Date.parse(value))) throw new UsageError(`--${name} must be an ISO-8601 time, got "${value}"`);
  return value;
}

function seconds(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!(n > 0 && n <= max)) throw new UsageError(`--${name} must be 0-${max} seconds`);
  return n;
}

const replayLine = (r: ReplayRun) =>
  `${r.replayId} ${r.status}: ${r.listed} listed, ${r.sent} sent, ${r.applied} applied${r.error ? ` (${r.error})` : ""}`;

interface ReplayOptions {
  key?: string;
  source?: string;
  resource?: string;
  shop?: string;
  from?: string;
  to?: string;
  wait: boolean;
  interval: string;
  timeout: string;
  json?: boolean;
}

export function replayCommands(program: Command): void {
  program
    .command("replay")
    .description(
      "send events back through the queue: one dead letter or quarantined event by --key, or a --from/--to event-time range",
    )
    .option("--key <key>", "a dead-letter/… or quarantine/… object key (see `ops redrive --dry-run`)")
    .addOption(new Option("--source <source>", "range: one source").choices(["shopify", "stripe", "recharge"]))
    .option("--resource <resource>", "range: one resource (orders, charges, …)")
    .option("--shop <shop>", "range: one shop")
    .option("--from <time>", "range: event time from (UTC ISO-8601)")
    .option("--to <time>", "range: event time to (UTC ISO-8601)")
    .option("--no-wait", "print the replay's id (or the event sent) and return without following it")
    .option("--interval <seconds>", "seconds between progress reads", "2")
    .option("--timeout <seconds>", "quarantine/… keys: how long to wait for the event's outcome", "120")
    .option("--json", "print the final answer as JSON")
    .addHelpText(
      "after",
      [
        "",
        "A range replay keeps a progress line (listed, sent, applied) until every event is sent; exit 1 if it fails.",
        "A quarantine/… key re-runs the stored body through the normal apply path (after a mapper fix) and waits",
        "for its outcome: exit 0 when applied, 1 when it is still invalid (it stays quarantined; the reason is shown).",
        "A dead-letter/… key only sends the event: `ops events --source …` shows its ledger row.",
      ].join("\n"),
    )
    .action(async (opts: ReplayOptions, cmd: Command) => {
      const range = opts.from !== undefined || opts.to !== undefined;
      if (opts.key && range) throw new UsageError("give --key or --from/--to, not both");
      if (!opts.key && !range) throw new UsageError("give --key dead-letter/…|quarantine/… or --from and --to");
      if (opts.key && !HELD_PREFIXES.some((p) => opts.key?.startsWith(p))) {
        throw new UsageError("--key must start with dead-letter/ or quarantine/");
      }
      if (range && (opts.from === undefined || opts.to === undefined)) throw new UsageError("a range needs both --from and --to");
      const interval = seconds("interval", opts.interval, 600);
      const timeout = seconds("timeout", opts.timeout, 3600);
      const api = AdminApi.fromOptions(cmd.optsWithGlobals());
      if (opts.key) return replayKey(api, opts.key, { ...opts, interval, timeout });
      const started = await api.ok<{ replayId: string }>("POST", "/admin/replay", {
        from: isoTime("from", opts.from),
        to: isoTime("to", opts.to),
        ...(opts.source ? { source: opts.source } : {}),
        ...(opts.resource ? { resource: opts.resource } : {}),
        ...(opts.shop ? { shop: opts.shop } : {}),
      });
      if (!opts.wait) {
        if (opts.json) return json(started);
        return out(`replay ${started.replayId} started; follow it with GET /admin/replay/${started.replayId}`);
      }
      const run = await follow(
        () => api.ok<ReplayRun>("GET", `/admin/replay/${started.replayId}`),
        replayLine,
        (r) => r.status === "completed" || r.status === "failed",
        interval,
      );
      if (opts.json) json(run);
      if (run.status === "failed") throw new CheckFailed(`replay ${run.replayId} failed${run.error ? `: ${run.error}` : ""}`);
      if (run.applied < run.sent) {
        out(`every event is sent; the queue applies the rest (GET /admin/replay/${run.replayId} counts them)`);
      }
    });

  program
    .command("redrive")
    .description("replay every dead letter, or those of one source (and day); --quarantine: the quarantined events")
    .addOption(new Option("--source <source>", "one source").choices(["shopify", "stripe", "recharge", "unknown"]))
    .option("--day <YYYY-MM-DD>", "the day the messages died, or were quarantined (needs --source)")
    .option("--quarantine", "replay quarantined events still quarantined (after a mapper fix) instead of dead letters")
    .option("--limit <n>", "at most this many (1-1000)", "1000")
    .option("--dry-run", "list what would be replayed, send nothing")
    .action(
      async (opts: { source?: string; day?: string; quarantine?: boolean; limit: string; dryRun?: boolean }, cmd: Command) => {
        if (opts.day !== undefined && !DAY.test(opts.day)) throw new UsageError("--day must be YYYY-MM-DD");
        if (opts.day !== undefined && !opts.source) throw new UsageError("--day needs --source");
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError("--limit must be 1-1000");
        const what = opts.quarantine ? "quarantined event" : "dead letter";
        const api = AdminApi.fromOptions(cmd.optsWithGlobals());
        const q = new URLSearchParams({ limit: String(limit) });
        if (opts.source) q.set("source", opts.source);
        if (opts.day) q.set("day", opts.day);
        const listed = await api.ok<{ objects: Held[]; truncated: boolean }>(
          "GET",
          `/admin/${opts.quarantine ? "quarantine" : "dead-letters"}?${q}`,
        );
        // A quarantined event a replay already applied is done; only those still quarantined go again.
        const todo = opts.quarantine
          ? listed.objects.filter((o) => o.ledgerStatus === "quarantined" || o.ledgerStatus === null)
          : listed.objects;
        if (todo.length === 0) return out(`no ${what}s to redrive`);
        let sent = 0;
        const failed: string[] = [];
        for (const o of todo) {
          if (opts.dryRun) {
            out(`would replay ${o.key} (${o.source ?? "?"} ${o.topic ?? "?"})`);
            continue;
          }
          const answer = await api.call<{ error?: { message?: string } }>("POST", "/admin/replay", { key: o.key });
          if (answer.status >= 200 && answer.status < 300) {
            sent++;
            out(`replayed ${o.key}`);
          } else {
            failed.push(o.key);
            out(`not replayed ${o.key}: HTTP ${answer.status}${answer.body.error?.message ? `: ${answer.body.error.message}` : ""}`);
          }
        }
        if (opts.dryRun) return out(`${todo.length} ${what}(s) would be replayed`);
        const more = listed.truncated ? "; more remain, run it again" : "";
        out(`${sent} replayed, ${failed.length} refused${more}`);
        if (opts.quarantine && sent > 0) {
          out("those still invalid stay quarantined with the reason: ops events --status quarantined");
        }
        if (failed.length > 0) throw new CheckFailed(`${failed.length} ${what}(s) could not be replayed`);
      },
    );
}

/** One held-back event by key; a quarantined one is followed until the consumer decided. */
async function replayKey(
  api: AdminApi,
  key: string,
  opts: { wait: boolean; interval: number; timeout: number; json?: boolean },
): Promise<void> {
  const sent = await api.ok<{ eventId: string; source: string; sentAt?: string }>("POST", "/admin/replay", { key });
  if (!key.startsWith("quarantine/") || !opts.wait || sent.sentAt === undefined) {
    if (opts.json) return json(sent);
    return out(`replay sent: ${sent.source} ${sent.eventId}`);
  }
  const q = new URLSearchParams({ source: sent.source, eventId: sent.eventId, limit: "1" });
  const deadline = Date.now() + opts.timeout * 1000;
  for (;;) {
    const { events } = await api.ok<{ events: LedgerRow[] }>("GET", `/admin/events?${q}`);
    const row = events[0];
    if (row && row.updated_at >= sent.sentAt) {
      if (opts.json) json({ ...sent, ledger: row });
      if (row.status === "quarantined") {
        throw new CheckFailed(`${sent.source} ${sent.eventId} is still invalid and stays quarantined: ${row.note ?? "no reason recorded"}`);
      }
      return out(`applied: ${sent.source} ${sent.eventId} is ${row.status} (${row.r2_key ?? "no key"})`);
    }
    if (Date.now() > deadline) {
      throw new CheckFailed(
        `sent ${sent.source} ${sent.eventId}, but no outcome within ${opts.timeout} s; check it with ops events --source ${sent.source}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.interval * 1000));
  }
}
