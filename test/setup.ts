import type { D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, vi } from "vitest";
import worker, { ShopCoordinator, SubjectIndex } from "../src/index";
import { app } from "../src/ingress/app";
import { inInvocation, installLimits, limitDurableObject, limitHandlers, takeSwallowedLimits } from "./fakes/limits";

// Each test file starts with empty databases: every migration in one batch per database (applied
// one batch each, as applyD1Migrations does, they took seconds of every file's setup), recorded
// in d1_migrations as wrangler records them.
async function migrate(db: D1Database, migrations: D1Migration[]): Promise<void> {
  await db.batch([
    db.prepare(
      "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)",
    ),
    ...migrations.flatMap((m) => [
      ...m.queries.map((q) => db.prepare(q)),
      db.prepare("INSERT INTO d1_migrations (name) VALUES (?1)").bind(m.name),
    ]),
  ]);
}
await Promise.all([migrate(env.DB, env.TEST_MIGRATIONS), migrate(env.DB_ROUTED, env.TEST_MIGRATIONS)]);

// Every test runs under Cloudflare's per-invocation limits (test/fakes/limits.ts): the bindings
// count and check each call, and each entry point a test calls is one invocation.
installLimits(env);
limitHandlers(worker, app as unknown as { fetch: (...a: unknown[]) => unknown });
limitDurableObject(ShopCoordinator);
// Its calls count as subrequests of the caller, stub-side: a call from another Durable Object carries no context.
limitDurableObject(SubjectIndex, env.SUBJECT_INDEX as unknown as DurableObjectNamespace);

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
