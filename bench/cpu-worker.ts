/**
 * Bench Worker for bench/cpu.mjs: runs the CPU bench's scenarios (bench/lib/cpu-scenarios.ts) inside
 * workerd, where a deployed Worker runs, so WebCrypto costs what it costs there (signed and digested
 * on the request's thread, not through Node's crypto job queue). The driver reads the workerd
 * process's CPU time from /proc around each `/run`; the batches a run uses are built by `/prepare`
 * before it, outside the measured call. Logging is off, as in the Node run. Local only.
 */
import { type CpuScenarios, cpuScenarios } from "./lib/cpu-scenarios";

const quiet = () => {};
console.log = quiet;
console.info = quiet;
console.warn = quiet;

let scenarios: CpuScenarios | undefined;

type What = "ingress" | "floor" | "verified" | "consumer" | "minimal" | "digest";

export default {
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/health") return new Response("ok");
    const body = (await request.json()) as {
      vars?: Record<string, string>;
      what?: What;
      from?: number;
      count?: number;
    };
    if (path === "/setup") {
      scenarios = await cpuScenarios(body.vars ?? {});
      return Response.json({ ok: true });
    }
    if (scenarios === undefined) return new Response("POST /setup first", { status: 409 });
    const from = body.from ?? 0;
    const count = body.count ?? 0;
    if (path === "/prepare") {
      scenarios.prepare(from, count);
      return Response.json({ ok: true });
    }
    if (path === "/run" && body.what !== undefined) {
      const fn = scenarios[body.what];
      for (let i = from; i < from + count; i++) await fn(i);
      return Response.json({ refused: scenarios.refused() });
    }
    return new Response("not found", { status: 404 });
  },
};
