// The cost bench (`npm run bench -- cost`): what Cloudflare bills per event, for each kind of
// event, counted in one run. The scenario is a vitest file (bench/cost/pipeline.cost.ts) run with
// its own config, because the limits layer that counts the bill (test/fakes/limits.ts) lives in the
// vitest workers pool. This script serves the CPU time of the workerd processes vitest starts (read
// from /proc), which the scenario reads before and after each phase, and prints the scenario's
// `COST| ` lines at the end. Only a harness error (vitest failing) makes it throw.
// COST_EVENTS (default 200): events per kind.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** Every process as pid → { ppid, name, ticks }. */
function processes() {
  const all = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const f = stat.slice(close + 2).split(" ");
      all.set(Number(entry), { ppid: Number(f[1]), name, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // the process ended while being read
    }
  }
  return all;
}

/** CPU ms used so far by the workerd processes descended from `pid`. */
function workerdCpuMs(pid) {
  const all = processes();
  const below = (p) => {
    for (let q = all.get(p)?.ppid; q !== undefined && q > 1; q = all.get(q)?.ppid) if (q === pid) return true;
    return false;
  };
  let ticks = 0;
  for (const [p, info] of all) if (info.name.startsWith("workerd") && below(p)) ticks += info.ticks;
  return (ticks * 1000) / TICKS;
}

export async function run() {
  let child;
  const server = createServer((_req, res) => {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ ms: child ? workerdCpuMs(child.pid) : Number.NaN }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/cpu`;
  const lines = [];
  const started = Date.now();
  try {
    const code = await new Promise((resolve, reject) => {
      child = spawn("npx", ["vitest", "run", "--config", "bench/cost/vitest.config.ts", "--reporter=verbose"], {
        cwd: root,
        env: { ...process.env, COST_CPU_URL: url },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let rest = "";
      child.stdout.on("data", (chunk) => {
        const text = rest + chunk.toString("utf8");
        const parts = text.split("\n");
        rest = parts.pop() ?? "";
        for (const line of parts) {
          const at = line.indexOf("COST| ");
          if (at >= 0) lines.push(line.slice(at + 6));
          else process.stdout.write(`${line}\n`);
        }
      });
      child.on("error", reject);
      child.on("close", resolve);
    });
    console.log(`\n--- cost per event (${((Date.now() - started) / 1000).toFixed(0)} s) ---`);
    for (const line of lines) console.log(line);
    if (code !== 0) throw new Error(`cost: the harness failed (vitest exited with ${code}); see the output above`);
  } finally {
    server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
