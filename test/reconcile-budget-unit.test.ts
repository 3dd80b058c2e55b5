/**
 * The reconcile run's budget (src/cron/reconcile/budget.ts) on a clock the test moves: a scope
 * pages while the run can afford a page at the most one has cost, stops at its share past its
 * first page, at the run's wall time, D1 queries and subrequests, and at the page cap.
 */
import { describe, expect, it } from "vitest";
import { bufferedMetrics, INVOCATION_LIMITS, RunBudget } from "../src/cron/reconcile/budget";

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("reconcile run budget", () => {
  it("takes pages until the next one, at the most a page has cost, would pass the run's wall time", () => {
    const c = clock();
    const run = new RunBudget(20_000, 1_000, c.now);
    const scope = run.scope(1);
    const taken: number[] = [];
    while (scope.nextPage()) {
      // Pages of 3 s, one of 6 s (a wait for Shopify's points).
      c.advance(scope.pages === 2 ? 6_000 : 3_000);
      taken.push(scope.pages);
    }
    // 3 + 6 + 3 + 3 = 15 s; a fifth page could take 6 s more: past 20 s.
    expect(taken).toEqual([1, 2, 3, 4]);
    expect(scope.stoppedBy).toBe("wall_time");
    expect(scope.largestPage.ms).toBe(6_000);
  });

  it("stops at the page cap, and at the D1 queries and subrequests the run has left", () => {
    const capped = new RunBudget(20_000, 3, clock().now).scope(1);
    let pages = 0;
    while (capped.nextPage()) pages++;
    expect(pages).toBe(3);
    expect(capped.stoppedBy).toBe("max_pages");

    const run = new RunBudget(20_000, 1_000, clock().now);
    const d1 = run.scope(1);
    while (d1.nextPage()) run.meter.queries += 100;
    // 1,000 less the 80 held back for the report and alerts: nine pages of 100.
    expect(d1.pages).toBe(9);
    expect(d1.stoppedBy).toBe("d1_queries");
    expect(run.meter.queries).toBeLessThanOrEqual(INVOCATION_LIMITS.d1Queries);

    const busy = new RunBudget(20_000, 1_000, clock().now);
    const sub = busy.scope(1);
    while (sub.nextPage()) for (let i = 0; i < 2_000; i++) sub.subrequest();
    expect(sub.pages).toBe(4);
    expect(sub.stoppedBy).toBe("subrequests");
  });

  it("gives a scope its first page whatever its share, then stops it at its share of what was left", () => {
    const c = clock();
    const run = new RunBudget(20_000, 1_000, c.now);
    // One of ten scopes: 2 s of the 20.
    const first = run.scope(1 / 10);
    while (first.nextPage()) c.advance(700);
    expect(first.pages).toBe(2);
    expect(first.stoppedBy).toBe("share");
    // A tiny share still takes one page.
    const tiny = run.scope(0.0001);
    expect(tiny.nextPage()).toBe(true);
    c.advance(700);
    expect(tiny.nextPage()).toBe(false);
    expect(tiny.stoppedBy).toBe("share");
    // The second pass gets all that is left.
    const rest = run.scope(1, first.largestPage);
    while (rest.nextPage()) c.advance(700);
    expect(rest.stoppedBy).toBe("wall_time");
    expect(run.left().ms).toBeLessThan(700);
  });

  it("a throttled or finished scope takes no more pages; waits end before the run does", () => {
    const c = clock();
    const run = new RunBudget(20_000, 1_000, c.now);
    const scope = run.scope(1);
    expect(scope.nextPage()).toBe(true);
    c.advance(4_000);
    scope.throttled();
    expect(scope.nextPage()).toBe(false);
    expect(scope.stoppedBy).toBe("throttled");
    expect(scope.deadline()).toBe(c.now() + 16_000);
    // A call may wait for a source's rate budget only for what the run has left, less half a page.
    const next = run.scope(1, { subrequests: 1, d1Queries: 1, ms: 2_000 });
    expect(next.waitMs()).toBe(15_000);
    next.finished();
    expect(next.nextPage()).toBe(false);
    expect(next.stoppedBy).toBe("done");
  });

  it("holds a run's Analytics Engine points and writes each index and blobs once, doubles summed", () => {
    const written: AnalyticsEngineDataPoint[] = [];
    const { env, flush } = bufferedMetrics({ METRICS: { writeDataPoint: (p) => p && written.push(p) } } as Pick<
      Env,
      "METRICS"
    >);
    for (let page = 0; page < 300; page++) {
      env.METRICS.writeDataPoint({
        indexes: ["stripe"],
        blobs: ["accepted", "stripe", "customer.updated"],
        doubles: [100, 5],
      });
    }
    env.METRICS.writeDataPoint({ indexes: ["stripe"], blobs: ["reconciled", "stripe", "events"], doubles: [1, 0, 2] });
    expect(written).toEqual([]);
    flush();
    expect(written).toEqual([
      { indexes: ["stripe"], blobs: ["accepted", "stripe", "customer.updated"], doubles: [30_000, 1_500] },
      { indexes: ["stripe"], blobs: ["reconciled", "stripe", "events"], doubles: [1, 0, 2] },
    ]);
  });
});
