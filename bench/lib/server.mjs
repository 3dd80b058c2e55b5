// Starts `wrangler dev` for a config on a free port and waits until it answers; used by the benches.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function freePort() {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs `wrangler dev` with local state in a fresh temp dir. Returns { url, stop }. */
export async function startWrangler({ config = "wrangler.toml", envFile, migrate = false } = {}) {
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), "bench-state-"));
  const common = ["--config", config, "--persist-to", persist];
  if (migrate) await run("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...common]);
  const args = [
    "dev",
    ...common,
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--log-level",
    "error",
    "--show-interactive-dev-session=false",
  ];
  if (envFile) args.push("--env-file", envFile);
  const child = spawn("wrangler", args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  let output = "";
  const collect = (d) => {
    output += d;
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    const ok = await fetch(`${url}/health`)
      .then((r) => r.status < 500)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`wrangler dev did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "1" } });
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`))));
  });
}
