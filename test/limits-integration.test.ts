import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runJob } from "../src/cron/jobs";
import worker from "../src/index";
import {
  currentInvocation,
  type InvocationReport,
  inInvocation,
  LimitExceededError,
  type LimitName,
  onInvocationEnd,
  optOutOfLimits,
  takeSwallowedLimits,
} from "./fakes/limits";

/** Runs `fn` as one invocation and returns the limit it crossed (the error it threw). */
async function crossed(fn: () => Promise<unknown>): Promise<LimitName | null> {
  try {
    await inInvocation("test", fn);
    return null;
  } catch (err) {
    if (err instanceof LimitExceededError) return err.limit;
    throw err;
  }
}

const big = (bytes: number) => "x".repeat(bytes);

describe("the limits layer under every test", () => {
  it("catches each per-invocation limit the way production refuses it", async () => {
    expect(
      await crossed(async () => {
        for (let i = 0; i < 1001; i++) await env.DB.prepare("SELECT 1").first();
      }),
    ).toBe("d1Queries");
    // A batch counts each of its statements.
    expect(
      await crossed(async () => {
        const stmts = Array.from({ length: 600 }, () => env.DB.prepare("SELECT 1"));
        await env.DB.batch(stmts);
        await env.DB.batch(stmts);
      }),
    ).toBe("d1Queries");
    expect(
      await crossed(async () => {
        const marks = Array.from({ length: 101 }, (_, i) => `?${i + 1}`).join(", ");
        await env.DB.prepare(`SELECT ${marks}`)
          .bind(...Array.from({ length: 101 }, (_, i) => i))
          .all();
      }),
    ).toBe("boundParameters");
    expect(
      await crossed(async () => {
        await env.DB.prepare(`SELECT '${big(100_001)}'`).all();
      }),
    ).toBe("sqlBytes");
    expect(
      await crossed(async () => {
        await env.DB.prepare("SELECT length(?1)").bind(big(2_000_001)).first();
      }),
    ).toBe("valueBytes");
    // A row read back over 2 MB (built inside SQLite, so no bound value is large).
    expect(
      await crossed(async () => {
        await env.DB.prepare("SELECT hex(zeroblob(1000001)) AS h").all();
      }),
    ).toBe("valueBytes");
    expect(
      await crossed(async () => {
        for (let i = 0; i < 10_001; i++) await env.LAKE.head("limits/none");
      }),
    ).toBe("subrequests");
    expect(
      await crossed(async () => {
        for (let i = 0; i < 251; i++) env.METRICS.writeDataPoint({ indexes: ["t"], doubles: [i] });
      }),
    ).toBe("aePoints");
    expect(
      await crossed(async () => {
        await env.EVENTS.sendBatch(Array.from({ length: 101 }, () => ({ body: { v: 0 } })));
      }),
    ).toBe("batchMessages");
    expect(
      await crossed(async () => {
        await env.EVENTS.sendBatch(Array.from({ length: 3 }, () => ({ body: big(100_000) })));
      }),
    ).toBe("batchBytes");
    expect(
      await crossed(async () => {
        await env.EVENTS.send(big(128 * 1024 + 1));
      }),
    ).toBe("messageBytes");
  });

  it("counts per invocation: each entry point starts from zero, a test's own setup is not counted", async () => {
    // Outside any invocation: a test seeding data is not a Worker invocation.
    expect(currentInvocation()).toBeUndefined();
    for (let i = 0; i < 1100; i++) await env.DB.prepare("SELECT 1").first();

    const reports: InvocationReport[] = [];
    const stop = onInvocationEnd((r) => reports.push(r));
    try {
      const res = await worker.fetch(new Request("http://x/health"), env, createExecutionContext());
      expect(res.status).toBe(200);
      await runJob(env, "health", { now: new Date() });
      const batch = createMessageBatch("commerce-events", []);
      await worker.queue(batch, env);
      await getQueueResult(batch, createExecutionContext());
      const stub = env.SHOP.get(env.SHOP.idFromName("limits.myshopify.com"));
      await runInDurableObject(stub, async (instance) => {
        await instance.budgetStatus();
      });
    } finally {
      stop();
    }
    expect(reports.map((r) => r.kind)).toEqual(["fetch", "job health", "queue", "ShopCoordinator.budgetStatus"]);
    const health = reports[1] as InvocationReport;
    expect(health.d1Queries).toBeGreaterThan(0);
    expect(health.d1Queries).toBeLessThan(100);
    expect(health.exceeded).toBeNull();
  });

  it("fails the test of an invocation that caught a limit error and went on", async () => {
    await inInvocation("test", async () => {
      for (let i = 0; i < 251; i++) {
        try {
          env.METRICS.writeDataPoint({ indexes: ["t"], doubles: [i] });
        } catch {
          // as code that treats metrics as best effort would
        }
      }
    });
    // setup.ts's afterEach throws on these; taken here so this test passes.
    expect(takeSwallowedLimits()).toEqual(["test: aePoints"]);
  });

  it("lets a test opt out of a named limit, with its reason, and only until it restores it", async () => {
    expect(() => optOutOfLimits(["d1Queries"], "")).toThrow(/say why/);
    const restore = optOutOfLimits(["aePoints"], "this test writes 300 points to show the opt-out");
    try {
      expect(
        await crossed(async () => {
          for (let i = 0; i < 300; i++) env.METRICS.writeDataPoint({ indexes: ["t"], doubles: [i] });
        }),
      ).toBeNull();
    } finally {
      restore();
    }
    expect(
      await crossed(async () => {
        for (let i = 0; i < 300; i++) env.METRICS.writeDataPoint({ indexes: ["t"], doubles: [i] });
      }),
    ).toBe("aePoints");
  });
});
