import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, vi } from "vitest";
import worker, { ShopCoordinator } from "../src/index";
import { app } from "../src/ingress/app";
import { inInvocation, installLimits, limitDurableObject, limitHandlers, takeSwallowedLimits } from "./fakes/limits";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await applyD1Migrations(env.DB_ROUTED, env.TEST_MIGRATIONS);

// Every test runs under Cloudflare's per-invocation limits (test/fakes/limits.ts): the bindings
// count and check each call, and each entry point a test calls is one invocation.
installLimits(env);
limitHandlers(worker, app as unknown as { fetch: (...a: unknown[]) => unknown });
limitDurableObject(ShopCoordinator);

// An invocation that crossed a limit and caught the error is as broken as one that threw it.
afterEach(() => {
  const crossed = takeSwallowedLimits();
  if (crossed.length > 0) throw new Error(`invocations crossed a platform limit and went on: ${crossed.join("; ")}`);
});

// A job run a test starts directly is one scheduled invocation, as it is when a Cron Trigger starts it.
vi.mock("../src/cron/jobs", async (importOriginal) => {
  const jobs = await importOriginal<typeof import("../src/cron/jobs")>();
  return {
    ...jobs,
    runJob: (...a: Parameters<typeof jobs.runJob>) => inInvocation(`job ${a[1]}`, () => jobs.runJob(...a)),
    runScheduled: (...a: Parameters<typeof jobs.runScheduled>) =>
      inInvocation("scheduled", () => jobs.runScheduled(...a)),
  };
});

// icebird (the independent Iceberg reader the lake tests use) loads hyparquet-compressors, whose
// Snappy compiles WebAssembly at import, which workerd refuses; hyparquet's own Snappy reads the
// lake's files without it.
vi.mock("hyparquet-compressors", () => ({ compressors: {} }));
