/**
 * The pipeline under `wrangler dev`, as an operator runs it, with its state in a temporary
 * directory: migrations applied and seed data written through `getPlatformProxy` on the same
 * persistence directory first, then `wrangler dev` on free ports. Settings are passed as `--var`
 * so the run does not depend on a developer's .dev.vars. `stop()` ends the process group.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readD1Migrations } from "@cloudflare/vitest-plugin";
import { getPlatformProxy } from "wrangler";

export const ROOT = new URL("../../..", import.meta.url).pathname;
export const ADMIN_TOKEN = "e2e-admin-token";
export const CREDENTIALS_KEY = "e2e:ZTJlLWNyZWRlbnRpYWxzLWtleS0zMi1ieXRlcyEhISE=";

export interface SeedBindings {
  DB: {
    prepare(sql: string): unknown;
    batch(statements: unknown[]): Promise<unknown>;
  };
  LAKE: { put(key: string, body: string, options: { customMetadata: Record<string, string> }): Promise<unknown> };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class DevWorker {
  readonly dir = mkdtempSync(join(tmpdir(), "ops-e2e-"));
  private child: ChildProcess | null = null;
  port = 0;
  output = "";

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Applies the migrations and runs `seed` against the bindings the Worker will use. */
  async prepare(seed: (env: SeedBindings) => Promise<void>): Promise<void> {
    const proxy = await getPlatformProxy<SeedBindings>({
      configPath: join(ROOT, "wrangler.toml"),
      persist: { path: join(this.dir, "v3") },
    });
    try {
      // Recorded in d1_migrations as `wrangler d1 migrations apply` does, so `ops doctor` sees them.
      await proxy.env.DB.batch([
        proxy.env.DB.prepare(
          "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)",
        ),
      ]);
      for (const m of await readD1Migrations(join(ROOT, "migrations"))) {
        await proxy.env.DB.batch([
          ...m.queries.map((q) => proxy.env.DB.prepare(q)),
          proxy.env.DB.prepare(`INSERT INTO d1_migrations (name) VALUES ('${m.name.replaceAll("'", "''")}')`),
        ]);
      }
      await seed(proxy.env);
    } finally {
      await proxy.dispose();
    }
  }

  async start(vars: Record<string, string>): Promise<void> {
    this.port = await freePort();
    const inspector = await freePort();
    const all: Record<string, string> = {
      ADMIN_TOKEN,
      CREDENTIALS_KEY,
      SHOPIFY_WEBHOOK_SECRET: "shpss_e2e",
      STRIPE_WEBHOOK_SECRET: "whsec_e2e",
      RECHARGE_WEBHOOK_SECRET: "rc_e2e",
      SHOPIFY_ACCESS_TOKENS: "{}",
      STRIPE_API_KEY: "",
      RECHARGE_API_TOKEN: "",
      ALERT_WEBHOOK_URL: "",
      PRIVACY_HASH_KEY: "e2e-privacy-hash-key",
      ...vars,
    };
    const args = [
      join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--port",
      String(this.port),
      "--ip",
      "127.0.0.1",
      "--inspector-port",
      String(inspector),
      "--persist-to",
      this.dir,
      "--show-interactive-dev-session=false",
      "--log-level",
      "info",
      ...Object.entries(all).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ];
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout?.on("data", (d: Buffer) => {
      this.output += d.toString();
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      this.output += d.toString();
    });
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`wrangler dev exited:\n${this.output}`);
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`wrangler dev did not start:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child?.pid && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs the CLI as an operator would (`node cli/ops.ts …`) and returns its exit code and output. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
  cwd = ROOT,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "cli/ops.ts"), ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NO_COLOR: "1", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}
