// Starts `wrangler dev` for a config on a free port and waits until it answers; used by the benches.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

function listenable(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(null));
    srv.listen(port, "127.0.0.1", () => {
      const { port: bound } = srv.address();
      srv.close(() => resolve(bound));
    });
  });
}

/** Ports already handed out by this process (a port is only taken once wrangler listens on it). */
const handedOut = new Set();

/**
 * A free local port: from BENCH_PORTS (`from-to`, e.g. `9130-9139`) when set, so benches on a
 * shared machine stay in their own range; otherwise any port the system offers.
 */
export async function freePort() {
  const range = /^(\d+)-(\d+)$/.exec(process.env.BENCH_PORTS ?? "");
  if (!range) return listenable(0);
  for (let p = Number(range[1]); p <= Number(range[2]); p++) {
    if (handedOut.has(p)) continue;
    if ((await listenable(p)) !== null) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error(`no free port in BENCH_PORTS=${process.env.BENCH_PORTS}`);
}

/** Gives a port back to BENCH_PORTS once its server stopped. */
export function releasePort(port) {
  handedOut.delete(port);
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** [pid, ppid, comm, utime + stime in ticks] of every process, from /proc (Linux only). */
function processes() {
  const out = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const f = stat.slice(close + 2).split(" ");
      out.push({ pid: Number(name), ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/**
 * CPU time (ms, user + system) used so far by the workerd processes under `pid`: the runtime that
 * runs the Worker and, locally, the D1, R2 and Queues simulators beside it. Null off Linux.
 */
export function workerdCpuMs(pid) {
  let all;
  try {
    all = processes();
  } catch {
    return null;
  }
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  const ticks = all.filter((p) => tree.has(p.pid) && p.comm === "workerd").reduce((n, p) => n + p.ticks, 0);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Runs `wrangler dev` with local state in a fresh temp dir. Returns { url, stop }. */
export async function startWrangler({ config = "wrangler.toml", envFile, migrate = false } = {}) {
  const port = await freePort();
  const inspector = await freePort();
  const persist = mkdtempSync(join(tmpdir(), "bench-state-"));
  const common = ["--config", config, "--persist-to", persist];
  if (migrate) await run("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...common]);
  const args = [
    "dev",
    ...common,
    "--port",
    String(port),
    "--inspector-port",
    String(inspector),
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
    pid: child.pid,
    /** The local state directory (D1, R2 files), left in place for the caller to read. */
    persist,
    /** The port of its V8 inspector (Chrome DevTools protocol): bench/lib/profile.mjs profiles the Worker through it. */
    inspectorPort: inspector,
    /** CPU ms used by this server's workerd so far (see workerdCpuMs). */
    cpuMs: () => workerdCpuMs(child.pid),
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => {
          releasePort(port);
          releasePort(inspector);
          resolve();
        });
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
