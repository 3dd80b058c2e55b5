/**
 * What one `reconcile` run may spend, and how its scopes share it. A run is one invocation of a
 * Cron Trigger more frequent than hourly: 30 s of wall time, 10,000 subrequests and 1,000 D1
 * queries (PLATFORM-LIMITS.md). Pages are taken while the scope is behind and the run can still
 * afford one more page at the most any page of that scope has cost so far; a scope's cursor is
 * committed after every page, so stopping anywhere loses nothing.
 *
 * The run counts its own spending: D1 queries through metered bindings (src/shared/d1-meter.ts),
 * subrequests as each upstream request, coordinator call, queue send and R2 call is made
 * (`meteredSubrequests`). What the run does after its last page (the report, its rows, the lag
 * alert, alert delivery) is held back from the start.
 *
 * Sharing: every scope gets its first page; beyond it, a scope takes at most an even share of what
 * is left among the scopes still to run (`share`), and a second pass gives what is still left to
 * the scopes that stopped at their share (src/cron/reconcile/reconcile.ts orders them).
 */
import type { QueryMeter } from "../../shared/d1-meter";

/** Cloudflare's per-invocation limits a run is held to. */
export const INVOCATION_LIMITS = { subrequests: 10_000, d1Queries: 1_000 } as const;

/**
 * Held back for what follows the last page: the report (one R2 put, one D1 statement per five
 * scopes, added per scope by `reserveScopes`), the positions and lag reads, raising alerts, the
 * lease releases, and the alert delivery `runJob` does after every job in the same invocation.
 */
const RESERVED = { subrequests: 150, d1Queries: 80 } as const;

/** Why a scope (or the run) stopped paging. */
export type StopReason =
  | "done"
  | "share"
  | "wall_time"
  | "subrequests"
  | "d1_queries"
  | "max_pages"
  | "throttled"
  | "deferred";

export interface Spent {
  subrequests: number;
  d1Queries: number;
  ms: number;
}

/** What a page may cost before the first one of a scope is measured (a Shopify page that repairs a little). */
const FIRST_PAGE: Spent = { subrequests: 40, d1Queries: 12, ms: 250 };

export class RunBudget {
  subrequests = 0;
  readonly meter: QueryMeter = { queries: 0 };
  private readonly started: number;
  private readonly limit: { subrequests: number; d1Queries: number };

  constructor(
    readonly wallMs: number,
    readonly maxPages: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.started = clock();
    this.limit = {
      subrequests: INVOCATION_LIMITS.subrequests - RESERVED.subrequests,
      d1Queries: INVOCATION_LIMITS.d1Queries - RESERVED.d1Queries,
    };
  }

  /** The report writes one D1 row statement per five scopes: held back before any scope runs. */
  reserveScopes(scopes: number): void {
    this.limit.d1Queries -= Math.ceil(scopes / 5);
  }

  now(): number {
    return this.clock();
  }

  spent(): Spent {
    return { subrequests: this.subrequests, d1Queries: this.meter.queries, ms: this.clock() - this.started };
  }

  left(): Spent {
    const s = this.spent();
    return {
      subrequests: this.limit.subrequests - s.subrequests,
      d1Queries: this.limit.d1Queries - s.d1Queries,
      ms: this.wallMs - s.ms,
    };
  }

  /** The first limit `cost` more would cross, or null when the run can afford it. */
  shortOf(cost: Spent): StopReason | null {
    const left = this.left();
    if (cost.ms > left.ms) return "wall_time";
    if (cost.subrequests > left.subrequests) return "subrequests";
    if (cost.d1Queries > left.d1Queries) return "d1_queries";
    return null;
  }

  /** A scope's slice: at most `share` of each remaining limit past its first page (1 = all that is left). */
  scope(share: number, largestPage: Spent = FIRST_PAGE): ScopeBudget {
    const left = this.left();
    return new ScopeBudget(
      this,
      {
        subrequests: Math.floor(left.subrequests * share),
        d1Queries: Math.floor(left.d1Queries * share),
        ms: left.ms * share,
      },
      largestPage,
    );
  }
}

export class ScopeBudget {
  pages = 0;
  stoppedBy: StopReason | null = null;
  /** The most one page of this scope has cost: the next one is assumed to cost as much. */
  largestPage: Spent;
  private readonly start: Spent;
  private pageStart: Spent;

  constructor(
    readonly run: RunBudget,
    private readonly share: Spent,
    largestPage: Spent,
  ) {
    this.start = run.spent();
    this.pageStart = this.start;
    this.largestPage = { ...largestPage };
  }

  /** Counts one subrequest (an upstream request, a coordinator call, a queue send, an R2 call). */
  subrequest(): void {
    this.run.subrequests++;
  }

  /**
   * Whether the scope may take another page; closes the page before it. Stops at the cap, at
   * the run's limits, and past the first page at the scope's share.
   */
  nextPage(): boolean {
    if (this.stoppedBy !== null) return false;
    const now = this.run.spent();
    if (this.pages > 0) {
      const page = diff(now, this.pageStart);
      this.largestPage = {
        subrequests: Math.max(this.largestPage.subrequests, page.subrequests),
        d1Queries: Math.max(this.largestPage.d1Queries, page.d1Queries),
        ms: Math.max(this.largestPage.ms, page.ms),
      };
    }
    const stop = this.refusal(now);
    if (stop !== null) {
      this.stoppedBy = stop;
      return false;
    }
    this.pages++;
    this.pageStart = now;
    return true;
  }

  private refusal(now: Spent): StopReason | null {
    if (this.pages >= this.run.maxPages) return "max_pages";
    const short = this.run.shortOf(this.largestPage);
    if (short !== null) return short;
    if (this.pages === 0) return null;
    const used = diff(now, this.start);
    const over =
      used.ms + this.largestPage.ms > this.share.ms ||
      used.subrequests + this.largestPage.subrequests > this.share.subrequests ||
      used.d1Queries + this.largestPage.d1Queries > this.share.d1Queries;
    return over ? "share" : null;
  }

  /** The scope's windows are finished. */
  finished(): void {
    this.stoppedBy ??= "done";
  }

  /** The source refused with its rate limit: stop here, the committed cursor resumes next run. */
  throttled(): void {
    this.stoppedBy = "throttled";
  }

  /** Wall-clock time (epoch ms) past which the scope must not wait on a source. */
  deadline(): number {
    return this.run.now() + this.run.left().ms;
  }

  /** How long a call may wait for a source's rate budget: what the run has left, less a page's own time. */
  waitMs(): number {
    return Math.max(0, this.run.left().ms - this.largestPage.ms / 2);
  }
}

function diff(a: Spent, b: Spent): Spent {
  return { subrequests: a.subrequests - b.subrequests, d1Queries: a.d1Queries - b.d1Queries, ms: a.ms - b.ms };
}

/**
 * `env` whose queue and bucket count each call into `budget` (sends of repairs, a claim-checked
 * body's put, the report). D1 is metered separately (`meteredDatabases`).
 */
export function meteredSubrequests<E extends Pick<Env, "EVENTS" | "LAKE">>(env: E, count: () => void): E {
  const counting = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, prop) {
        const v: unknown = Reflect.get(t, prop);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          count();
          return (v as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  return { ...env, EVENTS: counting(env.EVENTS), LAKE: counting(env.LAKE) };
}

/**
 * `env` whose Analytics Engine points are held and summed per index and blobs until `flush`: a
 * run of hundreds of pages sends repairs after each (one `accepted` point per topic each time),
 * and an invocation may write 250 points. Every point the pipeline writes is counts and sums
 * (src/shared/metrics.ts), so adding equal points' doubles loses nothing.
 */
export function bufferedMetrics<E extends Pick<Env, "METRICS">>(env: E): { env: E; flush: () => void } {
  const real = env.METRICS;
  if (real === undefined) return { env, flush: () => {} };
  const held = new Map<string, AnalyticsEngineDataPoint & { doubles: number[] }>();
  const buffer: AnalyticsEngineDataset = {
    writeDataPoint(point?: AnalyticsEngineDataPoint) {
      if (point === undefined) return;
      const key = JSON.stringify([point.indexes ?? [], point.blobs ?? []]);
      const doubles = point.doubles ?? [];
      const was = held.get(key);
      if (was === undefined) held.set(key, { ...point, doubles: [...doubles] });
      else for (const [i, d] of doubles.entries()) was.doubles[i] = (was.doubles[i] ?? 0) + d;
    },
  };
  const flush = () => {
    for (const point of held.values()) real.writeDataPoint(point);
    held.clear();
  };
  return { env: { ...env, METRICS: buffer }, flush };
}
