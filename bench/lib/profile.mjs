// A CPU profile of the CPU bench's scenarios (bench/lib/cpu-scenarios.ts) as workerd runs them:
// `node bench/lib/profile.mjs <ingress|consumer|floor|minimal> [units]`. It starts bench/cpu-worker.ts
// under `wrangler dev`, warms the scenario up, then records V8's sampling profiler through the
// inspector `wrangler dev` opens, while the scenario runs `units` times (default 20,000 requests or
// 200 queue batches). Writes bench/out/<scenario>.cpuprofile (open it in Chrome DevTools) and prints
// the functions with the most self time. Local only.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BATCHED, startCpuWorker } from "../cpu.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Self time per function, most first. */
function selfTimes(profile) {
  const byId = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    byId.set(profile.samples[i], (byId.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...byId.values()].reduce((a, b) => a + b, 0);
  const byName = new Map();
  for (const node of profile.nodes) {
    const f = node.callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url ? `${f.url.split("/").pop()}:${f.lineNumber + 1}` : ""}`;
    byName.set(name, (byName.get(name) ?? 0) + (byId.get(node.id) ?? 0));
  }
  return [...byName].sort((a, b) => b[1] - a[1]).map(([name, t]) => [name, (100 * t) / total]);
}

export async function profile(what, units) {
  const { server, post } = await startCpuWorker();
  try {
    const warm = Math.ceil(units / 10);
    if (BATCHED.has(what)) await post("/prepare", { from: 0, count: warm });
    await post("/run", { what, from: 0, count: warm });
    if (BATCHED.has(what)) await post("/prepare", { from: warm, count: units });
    const targets = await (await fetch(`http://127.0.0.1:${server.inspectorPort}/json`)).json();
    const url = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
    if (!url) throw new Error("no inspector target");
    // The inspector proxy accepts the DevTools origin only (Node's WebSocket takes headers: undici's extension).
    const ws = new WebSocket(url, { headers: { Origin: "https://devtools.devprod.cloudflare.dev" } });
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", () => reject(new Error(`inspector refused the connection: ${url}`)), { once: true });
    });
    let id = 0;
    const waiting = new Map();
    ws.addEventListener("message", (event) => {
      const msg = JSON.parse(String(event.data));
      waiting.get(msg.id)?.(msg);
      waiting.delete(msg.id);
    });
    const call = (method, params = {}) =>
      new Promise((resolve) => {
        waiting.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      });
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval: 50 });
    await call("Profiler.start");
    await post("/run", { what, from: warm, count: units });
    const { result } = await call("Profiler.stop");
    ws.close();
    const out = join(root, "bench", "out");
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `${what}.cpuprofile`), JSON.stringify(result.profile));
    return selfTimes(result.profile);
  } finally {
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const what = process.argv[2] ?? "consumer";
  const units = Number(process.argv[3] ?? (BATCHED.has(what) ? 200 : 20_000));
  const top = await profile(what, units);
  console.log(`self time of ${what} in workerd (${units} units; bench/out/${what}.cpuprofile):`);
  for (const [name, pct] of top.slice(0, 30)) console.log(`${pct.toFixed(1).padStart(5)} %  ${name}`);
}
