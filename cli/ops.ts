#!/usr/bin/env node
/**
 * The operator CLI (`npm run ops -- <command>`): talks to the pipeline's admin API and to the
 * sources' APIs. Runs in Node outside the Worker. Exit codes: 0 done, 1 a check or request
 * failed, 2 bad usage with a one-line reason.
 */
import { Command, CommanderError } from "commander";
import { backfillCommand } from "./commands/backfill.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { replayCommands } from "./commands/replay.ts";
import { sessionsCommand } from "./commands/sessions.ts";
import { shopsCommand } from "./commands/shops.ts";
import { statusCommands } from "./commands/status.ts";
import { webhooksCommand } from "./commands/webhooks.ts";
import { DEFAULT_URL } from "./lib/admin.ts";
import { CheckFailed, EXIT_FAILED, EXIT_USAGE, UsageError } from "./lib/errors.ts";

const program = new Command("ops")
  .description("Operate the commerce pipeline: shops, webhooks, backfills, replays, status, ops sessions and a deployment check.")
  .option("--url <url>", `the pipeline's base URL (default $OPS_URL or ${DEFAULT_URL}); token from $ADMIN_TOKEN`)
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text.split("\n")[0] + "\n") });

shopsCommand(program);
webhooksCommand(program);
backfillCommand(program);
replayCommands(program);
statusCommands(program);
sessionsCommand(program);
doctorCommand(program);
for (const cmd of program.commands) {
  cmd.exitOverride();
  for (const sub of cmd.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = exitCodeOf(err);
}

function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; otherwise commander already printed its one-line reason.
    return err.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof CheckFailed) {
    process.stderr.write(`failed: ${err.message}\n`);
    return EXIT_FAILED;
  }
  process.stderr.write(`failed: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT_FAILED;
}
