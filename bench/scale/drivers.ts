/**
 * How each job of the scale run is driven to done through the entry points the tests use: a job
 * run is `runJob` (one scheduled invocation under the limits layer), an HTTP request is
 * `worker.fetch`, a queue batch is `worker.queue` (test/cron-helpers.ts `consumeBodies`, 50
 * messages per batch as wrangler.toml hands them over), and the coordinator's work is its alarm
 * (`runDurableObjectAlarm`). Each driver says when its job is done by the job's own record: the
 * compaction marks, the privacy tombstone, the ledger day, the replay row, the reconcile scope's
 * status, the bulk operation's row; a job that reports no progress is retried until the cap.
 */
import { createExecutionContext, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { type JobName, type JobRun, runJob } from "../../src/cron/jobs";
import worker from "../../src/index";
import type { Envelope } from "../../src/shared/envelope";
import { CaptureQueue, consumeBodies } from "../../test/cron-helpers";
import { inInvocation } from "../../test/fakes/limits";
import { type Driver, loggedErrors } from "./meter";
import { LEDGER_DAY, REPLAY_DAY, SHOP } from "./world";

const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

async function one<T>(sql: string, ...binds: unknown[]): Promise<T | null> {
  return env.DB.prepare(sql)
    .bind(...binds)
    .first<T>();
}

/** An admin request as one fetch invocation, its `waitUntil` work included (the replay's first chunk). */
export async function adminFetch(e: Env, method: string, path: string, body?: unknown): Promise<Response> {
  return inInvocation("fetch", async () => {
    const ctx = createExecutionContext();
    const request = new Request(`https://pipeline.test${path}`, {
      method,
      headers: ADMIN,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const res = await worker.fetch(request, e, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  });
}

async function job(name: JobName, e: Env = env, options: Parameters<typeof runJob>[2]["options"] = {}) {
  return runJob(e, name, { now: new Date(), options });
}

/**
 * `compact` until no table-day is marked changed and no delete is logged. `tally` collects what
 * the runs committed: for the entity tables, the rows read from D1 (each row read is appended) and
 * the bytes written (data, equality deletes, manifests, manifest list, metadata) beside the bytes
 * of the data files alone, so the note shows what a run costs against what changed.
 */
export function compactDriver(): Driver {
  const tally = { runs: 0, commits: 0, rows: 0, dataBytes: 0, bytes: 0, deferred: 0 };
  return {
    done: async () =>
      ((
        await one<{ n: number }>(
          // KPI snapshots owed (dt 'snapshot') are lake-upkeep's to make, not compaction's.
          "SELECT (SELECT count(*) FROM lake_changes WHERE dt <> 'snapshot') + (SELECT count(*) FROM lake_deletes) AS n",
        )
      )?.n ?? 0) === 0,
    step: async () => {
      const run = await job("compact");
      if (run.job !== "compact" || run.result.skipped) return;
      tally.runs++;
      tally.deferred += run.result.deferred;
      for (const t of run.result.tables) {
        if (t.snapshotId === null) continue;
        tally.commits++;
        tally.rows += t.rows;
        tally.bytes += t.bytes;
        tally.dataBytes += t.dataBytes;
      }
    },
    note: async () =>
      `${tally.commits} table commits: ${tally.rows.toLocaleString("en-US")} rows read and appended, ` +
      `${mb(tally.bytes)} written for ${mb(tally.dataBytes)} of row data (${(tally.bytes / Math.max(1, tally.dataBytes)).toFixed(2)}×)`,
  };
}

/** `lake-upkeep` until no KPI snapshot is owed a refresh (refreshed however recent: `kpiRefreshHours` 0). */
export function kpiDriver(): Driver {
  let owed = -1;
  let snapshots = 0;
  let rows = 0;
  return {
    done: async () => owed === 0,
    step: async () => {
      const run = await job("lake-upkeep", env, { kpiRefreshHours: 0 });
      if (run.job !== "lake-upkeep" || run.result.skipped) return;
      owed = run.result.owed;
      snapshots += run.result.snapshots.length;
      rows += run.result.snapshots.reduce((n, k) => n + k.rows, 0);
    },
    note: async () => `${snapshots} KPI snapshots, ${rows.toLocaleString("en-US")} rows`,
  };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** `lake-upkeep` rebuilding `table` from D1 until its rebuild commits (a part per run). */
export function rebuildDriver(table: string): Driver {
  let asked = false;
  let committed = false;
  let rows = 0;
  let files = 0;
  return {
    done: async () => committed,
    step: async () => {
      const run = await job("lake-upkeep", env, asked ? {} : { rebuild: [table] });
      asked = true;
      if (run.job !== "lake-upkeep" || run.result.skipped || run.result.rebuild === null) return;
      rows = run.result.rebuild.rows;
      files = run.result.rebuild.files;
      committed = run.result.rebuild.table === table && run.result.rebuild.committed;
    },
    note: async () => `${rows.toLocaleString("en-US")} rows in ${files} data files, one replace commit`,
  };
}

/**
 * `privacy` until D1's `archive_subjects` is empty: the ledger day's index rows, as an earlier
 * version kept them in D1, moved to the subject index shards (src/cron/privacy/move-index.ts).
 */
export function moveDriver(): Driver {
  let moved = 0;
  return {
    done: async () =>
      (await one<{ n: number }>("SELECT count(*) AS n FROM (SELECT 1 FROM archive_subjects LIMIT 1)"))?.n === 0,
    step: async () => {
      const run = await job("privacy");
      if (run.job === "privacy" && !run.result.skipped) moved += run.result.moved;
    },
    note: async () => `${moved.toLocaleString("en-US")} rows moved to the subject index shards`,
  };
}

interface Tombstone {
  status: string;
  stage: string;
  error: string | null;
  objects_rewritten: number;
  objects_deleted: number;
  rows_changed: number;
}

/** Runs without any change to a request (its stage, counts, days left) after which it is stuck. */
const STUCK_RUNS = 10;

function stuck(t: (Tombstone & { days: string | null }) | null): Error {
  const days = (JSON.parse(t?.days ?? "[]") as string[]).length;
  const logged = loggedErrors[0] ?? "none";
  return new Error(
    `stuck: ${STUCK_RUNS} runs changed nothing (stage ${t?.stage}, ${days} days to re-compact); first error logged: ${logged}`,
  );
}

/**
 * A privacy request: recorded by `start` (a request or a webhook), then `privacy` runs until its
 * stage is `compact`, then `compact` runs (which re-compact its days) until it completes.
 */
export function privacyDriver(start: () => Promise<string>): Driver {
  let requestId: string | null = null;
  let last = "";
  let still = 0;
  const tombstone = () =>
    requestId === null
      ? Promise.resolve(null)
      : one<Tombstone & { days: string | null }>(
          "SELECT r.*, w.days FROM privacy_requests r LEFT JOIN privacy_work w USING (request_id) WHERE request_id = ?1",
          requestId,
        );
  return {
    done: async () => (await tombstone())?.status === "completed",
    step: async () => {
      if (requestId === null) {
        requestId = await start();
        return;
      }
      // Erased days are committed by the hourly `compact` run (src/cron/jobs.ts `recompactForPrivacy`),
      // then lake-upkeep rebuilds the tables that held the person and deletes the older files.
      const stage = (await tombstone())?.stage;
      await job(stage === "compact" ? "compact" : stage === "lake" ? "lake-upkeep" : "privacy");
      const t = await tombstone();
      // The job records a failed run on the request and tries again next run: the same failure, forever.
      if (t?.error) throw new Error(`privacy request ${t.stage}: ${t.error}`);
      // A lake rebuild moves by its rows read and its commits, not by the request's counts.
      const lake = await one<{ p: string }>(
        "SELECT coalesce(sum(rebuild_rows), 0) || '/' || group_concat(coalesce(rebuilt_at, ''), ',') AS p FROM lake_upkeep",
      );
      const now = JSON.stringify([
        t?.stage,
        t?.objects_rewritten,
        t?.objects_deleted,
        t?.rows_changed,
        t?.days,
        lake?.p,
      ]);
      still = now === last ? still + 1 : 0;
      last = now;
      if (still >= STUCK_RUNS) throw stuck(t);
    },
    note: async () => {
      const t = await tombstone();
      return t
        ? `stage ${t.stage}; ${t.objects_rewritten} objects rewritten, ${t.objects_deleted} deleted, ${t.rows_changed} D1 rows changed`
        : "no request recorded";
    },
  };
}

/** `POST /admin/privacy/erase`: the request id it answers. */
export async function requestErasure(email: string): Promise<string> {
  const res = await adminFetch(env, "POST", "/admin/privacy/erase", { email });
  if (res.status !== 202) throw new Error(`erase: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { requestId: string }).requestId;
}

/** A compliance webhook through the consumer (one queue invocation): its request id. */
export async function deliverCompliance(e: Envelope): Promise<string> {
  const result = await consumeBodies([e]);
  if (result.retryMessages.length > 0) throw new Error(`${e.topic}: the consumer retried it`);
  return `pr-${e.eventId}`;
}

/** `retention` until the ledger day holds no row. */
export function retentionDriver(): Driver {
  const left = async () =>
    (
      await one<{ n: number }>(
        "SELECT count(*) AS n FROM webhook_events WHERE received_at >= ?1 AND received_at < ?2",
        `${LEDGER_DAY}T00:00:00.000Z`,
        `${LEDGER_DAY}T23:59:59.999Z`,
      )
    )?.n ?? 0;
  let archived = 0;
  return {
    done: async () => (await left()) === 0,
    step: async () => {
      const run = await job("retention");
      if (run.job === "retention") archived += run.result.tables.reduce((n, t) => n + t.archived, 0);
    },
    note: async () =>
      `${archived.toLocaleString("en-US")} rows archived, ${(await left()).toLocaleString("en-US")} left on ${LEDGER_DAY}`,
  };
}

/** `POST /admin/replay` of the replayed day, then `replay` runs; what they send is consumed in batches of 50. */
export function replayDriver(): Driver {
  const capture = new CaptureQueue();
  const e = { ...env, EVENTS: capture } as Env;
  let replayId: string | null = null;
  let consumed = 0;
  const status = () =>
    replayId === null
      ? Promise.resolve(null)
      : one<{ status: string; sent: number; applied: number }>(
          "SELECT status, sent, applied FROM replay_runs WHERE id = ?1",
          replayId,
        );
  return {
    done: async () => (await status())?.status === "completed" && capture.sent.length === 0,
    step: async () => {
      if (replayId === null) {
        const res = await adminFetch(e, "POST", "/admin/replay", {
          source: "shopify",
          resource: "orders",
          from: `${REPLAY_DAY}T00:00:00Z`,
          to: `${REPLAY_DAY}T23:59:59Z`,
        });
        if (res.status !== 202) throw new Error(`replay: HTTP ${res.status} ${await res.text()}`);
        replayId = ((await res.json()) as { replayId: string }).replayId;
        return;
      }
      if (capture.sent.length > 0) {
        const result = await consumeBodies(capture.sent);
        if (result.retryMessages.length > 0) throw new Error(`replay: ${result.retryMessages.length} messages retried`);
        consumed += capture.sent.length;
        capture.clear();
        return;
      }
      const s = await status();
      if (s?.status === "failed") throw new Error("replay failed");
      await job("replay", e);
    },
    note: async () => {
      const s = await status();
      return `${s?.sent ?? 0} sent, ${s?.applied ?? 0} applied, ${consumed} consumed`;
    },
  };
}

/**
 * Shopify `reconcile` of the brand until it has caught up (a run ends `done`); repairs are consumed
 * in batches of 50. Each run pages under its own budget (src/cron/reconcile/budget.ts), so the note
 * says how many runs it took and why each stopped.
 */
export function reconcileDriver(): Driver {
  const capture = new CaptureQueue();
  const e = { ...env, EVENTS: capture } as Env;
  let last: JobRun | null = null;
  const runs: Array<{ pages: number; stoppedBy: string; looked: number; repaired: number; lag: number | null }> = [];
  const scope = () => (last?.job === "reconcile" ? last.result.scopes.find((s) => s.source === "shopify") : undefined);
  return {
    done: async () => scope()?.stoppedBy === "done" && scope()?.status === "ok" && capture.sent.length === 0,
    step: async () => {
      if (capture.sent.length > 0) {
        await consumeBodies(capture.sent);
        capture.clear();
        return;
      }
      last = await job("reconcile", e, { sources: ["shopify"], shops: [SHOP] });
      const s = scope();
      if (s?.status === "error" || s?.status === "skipped")
        throw new Error(`reconcile ${s.status}: ${s.error ?? s.note}`);
      if (s) {
        const t = Object.values(s.resources);
        runs.push({
          pages: s.pages,
          stoppedBy: s.stoppedBy ?? "?",
          looked: t.reduce((n, r) => n + r.lookedAt, 0),
          repaired: t.reduce((n, r) => n + r.repaired, 0),
          lag: s.lagSeconds,
        });
      }
    },
    note: async () => {
      if (runs.length === 0) return "no run";
      const sum = (f: (r: (typeof runs)[number]) => number) => runs.reduce((n, r) => n + f(r), 0);
      const stops = [...new Set(runs.map((r) => r.stoppedBy))].join(", ");
      const lags = runs.map((r) => (r.lag === null ? "?" : `${Math.round(r.lag / 60)}`)).join("→");
      return (
        `${runs.length} reconcile runs to catch up (stopped by ${stops}): ${sum((r) => r.pages)} pages, ` +
        `${sum((r) => r.looked)} looked at, ${sum((r) => r.repaired)} repaired; lag after each run (min) ${lags}`
      );
    },
  };
}

/** A bulk export of the brand's orders: `POST /admin/backfill`, then the coordinator's alarms. */
export function bulkDriver(): Driver {
  const stub = env.SHOP.getByName(SHOP);
  let started = false;
  const row = () =>
    one<{ status: string; error: string | null; lines_read: number; rows_applied: number }>(
      "SELECT status, error, lines_read, rows_applied FROM bulk_operations WHERE shop = ?1 AND resource = 'orders' ORDER BY requested_at DESC",
      SHOP,
    );
  return {
    done: async () => (await row())?.status === "completed",
    step: async () => {
      if (!started) {
        const res = await adminFetch(env, "POST", "/admin/backfill", { shop: SHOP, resources: ["orders"] });
        if (res.status !== 202) throw new Error(`backfill: HTTP ${res.status} ${await res.text()}`);
        started = true;
        return;
      }
      const r = await row();
      if (r?.status === "failed" || r?.status === "canceled") throw new Error(`bulk export ${r.status}: ${r.error}`);
      if (!(await runDurableObjectAlarm(stub))) await new Promise((ok) => setTimeout(ok, 50));
    },
    note: async () => {
      const r = await row();
      return r
        ? `${r.status}; ${r.lines_read.toLocaleString("en-US")} lines read, ${r.rows_applied.toLocaleString("en-US")} rows applied`
        : "not started";
    },
  };
}

/** A job that is done after one run that was not skipped (`data-quality`, `health`). */
export function onceDriver(name: "data-quality" | "health", describe: (run: JobRun) => string): Driver {
  let last: JobRun | null = null;
  return {
    done: async () => {
      const result: unknown = last?.result ?? null;
      return result !== null && !(result as { skipped?: boolean }).skipped;
    },
    step: async () => {
      last = await job(name);
    },
    note: async () => (last ? describe(last) : "no run"),
  };
}
