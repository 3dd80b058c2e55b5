/** `sessions list|revoke-all`: the /ops browser sessions; revoke-all signs every browser out. */
import type { Command } from "commander";
import { AdminApi } from "../lib/admin.ts";
import { json, out, table } from "../lib/print.ts";

interface OpenSession {
  createdAt: string;
  expiresAt: string;
}

export function sessionsCommand(program: Command): void {
  const sessions = program.command("sessions").description("the ops page's browser sessions");

  sessions
    .command("list")
    .description("the open sessions: when each signed in and when it expires (never an id)")
    .option("--json", "print the answer as JSON")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const body = await AdminApi.fromOptions(cmd.optsWithGlobals()).ok<{ open: number; sessions: OpenSession[] }>(
        "GET",
        "/admin/sessions",
      );
      if (opts.json) return json(body);
      if (body.open === 0) return out("no open sessions");
      out(table(["signed in", "expires"], body.sessions.map((s) => [s.createdAt, s.expiresAt])));
    });

  sessions
    .command("revoke-all")
    .description("sign out everywhere: every browser session ends now (bearer tokens keep working)")
    .option("--json", "print the answer as JSON")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const body = await AdminApi.fromOptions(cmd.optsWithGlobals()).ok<{ revoked: number }>(
        "POST",
        "/admin/sessions/revoke-all",
      );
      if (opts.json) return json(body);
      out(`revoked ${body.revoked} session(s); every browser must sign in again`);
    });
}
