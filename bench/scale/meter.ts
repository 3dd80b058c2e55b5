/**
 * Measures one job of the scale run: every invocation that ends while it runs (reported by the
 * limits layer, test/fakes/limits.ts `onInvocationEnd`) is counted, with its D1 queries,
 * subrequests, Analytics Engine points, wall time and D1 rows. A job is driven step by step
 * (one step is one or a few invocations: a job run, a queue batch, an alarm) until its own
 * notion of done holds, at most MAX_STEPS steps and JOB_BUDGET_MS of wall time, so a job that
 * never finishes is reported, not waited on. Whatever it throws is its FAIL reason; the layer's
 * record of limits crossed and caught is drained here, so the run goes on to the next job.
 * The app's own logs are muted while a job runs (millions of lines at full scale); the error
 * lines that name a crossed limit are kept as the reason.
 */
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { type InvocationReport, onInvocationEnd, takeSwallowedLimits } from "../../test/fakes/limits";
import { takeCensus } from "./census";

/** Invocations (job runs, alarms, queue batches) a job may take to finish. */
export const MAX_STEPS = 2_000;
/** Wall time a job may take before it is reported as not finished. */
export const JOB_BUDGET_MS =
  Number((env as unknown as { SCALE_JOB_MINUTES?: string }).SCALE_JOB_MINUTES ?? 60) * 60_000;
/**
 * Wall time past which an invocation fails, by what it is: 30 s for a Cron Trigger more frequent
 * than hourly (privacy and replay every 10 minutes, reconcile every 15, health every 5, backfill
 * every minute) and for a webhook; 300 s for what may run 15 minutes (hourly and daily jobs, queue
 * batches, Durable Object alarms), whose CPU wrangler.toml caps at 300 s (`[limits] cpu_ms`). Wall
 * time on this machine bounds CPU time from above.
 */
export function wallLimitMs(kind: string): number {
  if (/^job (compact|lake-upkeep|data-quality|retention)$/.test(kind)) return 300_000;
  if (kind === "queue" || kind.startsWith("ShopCoordinator.")) return 300_000;
  return 30_000;
}

export interface JobLine {
  name: string;
  finished: boolean;
  steps: number;
  invocations: Map<string, number>;
  max: { d1Queries: number; subrequests: number; aePoints: number; wallMs: number };
  /** The kind of invocation that ran longest. */
  longest: string;
  /** Invocations past the wall time their schedule allows, as "kind: seconds". */
  overWall: string[];
  rowsRead: number;
  rowsWritten: number;
  /** Limits crossed, as "kind: limit". */
  crossed: string[];
  error: string | null;
  note: string;
  ms: number;
  /** The statements of the first invocation that crossed a limit, most run first (./census.ts). */
  census: string | null;
}

export interface Driver {
  /** Did the job finish? Read from its result or D1 (never counted: outside any invocation). */
  done(): Promise<boolean>;
  /** One step: one or a few invocations. */
  step(): Promise<void>;
  /** A line of context for the table (what was done, how much). */
  note?(): Promise<string>;
}

const out = console.log.bind(console);
/** Prints a line of the scale run's own output (the app's logs are muted while a job runs). */
export const print = (line: string) => out(`SCALE| ${line}`);

/** Errors the app logged while the current job ran (a job that swallows a failure still logs it). */
export const loggedErrors: string[] = [];

function muteLogs(keep: (line: string) => void): () => void {
  loggedErrors.length = 0;
  const quiet = (["log", "info", "debug"] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation(() => {}),
  );
  const kept = (["warn", "error"] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      const line = args.map(String).join(" ");
      if (/platform limit exceeded|LimitExceeded/.test(line)) keep(line);
      if (level === "error" && loggedErrors.length < 20) loggedErrors.push(line.slice(0, 600));
    }),
  );
  return () => {
    for (const s of [...quiet, ...kept]) s.mockRestore();
  };
}

/** Runs `fn` (seeding through the consumer) with the app's logs muted. */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const unmute = muteLogs(() => {});
  try {
    return await fn();
  } finally {
    unmute();
  }
}

function newLine(name: string): JobLine {
  return {
    name,
    finished: false,
    steps: 0,
    invocations: new Map(),
    max: { d1Queries: 0, subrequests: 0, aePoints: 0, wallMs: 0 },
    longest: "",
    overWall: [],
    rowsRead: 0,
    rowsWritten: 0,
    crossed: [],
    error: null,
    note: "",
    ms: 0,
    census: null,
  };
}

function record(line: JobLine, r: InvocationReport): void {
  const kind = r.kind.replace(/^ShopCoordinator\./, "DO.");
  line.invocations.set(kind, (line.invocations.get(kind) ?? 0) + 1);
  line.max.d1Queries = Math.max(line.max.d1Queries, r.d1Queries);
  line.max.subrequests = Math.max(line.max.subrequests, r.subrequests);
  line.max.aePoints = Math.max(line.max.aePoints, r.aePoints);
  if (r.wallMs > line.max.wallMs) line.longest = r.kind;
  if (r.wallMs > wallLimitMs(r.kind)) {
    line.overWall.push(`${r.kind} ran ${(r.wallMs / 1000).toFixed(1)} s (> ${wallLimitMs(r.kind) / 1000} s)`);
  }
  line.max.wallMs = Math.max(line.max.wallMs, r.wallMs);
  line.rowsRead += r.d1RowsRead;
  line.rowsWritten += r.d1RowsWritten;
  if (r.exceeded !== null) line.crossed.push(`${r.kind}: ${r.exceeded}`);
}

/** The first source frames of an error's stack: where in the code it was thrown. */
export function codePath(err: unknown): string {
  const stack = err instanceof Error ? (err.stack ?? "") : "";
  const frames = stack
    .split("\n")
    .filter((l) => /\/src\//.test(l))
    .slice(0, 3)
    .map((l) =>
      l
        .trim()
        .replace(/^at /, "")
        .replace(/\(?[^ ]*\/(src\/[^:)]+):(\d+):\d+\)?/, "$1:$2"),
    );
  return frames.join(" < ");
}

/** Drives `driver` to done under the budgets and returns the job's line. */
export async function measure(name: string, driver: Driver): Promise<JobLine> {
  const line = newLine(name);
  const limitLogs: string[] = [];
  const stop = onInvocationEnd((r) => record(line, r));
  const unmute = muteLogs((l) => limitLogs.push(l));
  const started = performance.now();
  takeCensus();
  try {
    while (!(await driver.done())) {
      if (line.steps >= MAX_STEPS) throw new Error(`not finished after ${MAX_STEPS} steps`);
      if (performance.now() - started > JOB_BUDGET_MS)
        throw new Error(`not finished after ${JOB_BUDGET_MS / 60_000} min`);
      // A limit crossed (even if the job caught it) would be crossed again by every later run.
      if (line.crossed.length > 0) break;
      line.steps++;
      await driver.step();
    }
    line.finished = line.crossed.length === 0 && (await driver.done());
  } catch (err) {
    line.error = `${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`.slice(0, 600);
    const where = codePath(err);
    if (where) line.error += ` [at ${where}]`;
    // A job that reports its parts' failures in a summary (compact: "failed for 5 tables") logged why.
    if (loggedErrors.length > 0) line.error += `; first error logged: ${loggedErrors[0]}`;
  } finally {
    stop();
    unmute();
    takeSwallowedLimits();
    line.census = takeCensus();
    line.ms = performance.now() - started;
  }
  if (limitLogs.length > 0 && line.error === null) line.error = firstLimitMessage(limitLogs[0] as string);
  try {
    line.note = (await driver.note?.()) ?? "";
  } catch (err) {
    line.note = `note failed: ${String(err)}`;
  }
  return line;
}

function firstLimitMessage(logLine: string): string {
  const m = /platform limit exceeded[^"\\]*/.exec(logLine);
  const where = /"(job|msg)":"([^"]+)"/.exec(logLine)?.[2];
  return `${m?.[0] ?? logLine.slice(0, 300)}${where ? ` (logged: ${where})` : ""}`.slice(0, 600);
}

export function passed(line: JobLine): boolean {
  return line.finished && line.error === null && line.crossed.length === 0 && line.overWall.length === 0;
}

/** Why a line FAILs, in a few words (empty when it passes). */
export function failReasons(line: JobLine): string[] {
  const reasons: string[] = [];
  if (line.crossed.length > 0) reasons.push(`limit crossed: ${[...new Set(line.crossed)].join(", ")}`);
  if (line.error !== null) reasons.push(line.error);
  if (!line.finished && line.error === null && line.crossed.length === 0) reasons.push("not finished");
  if (line.overWall.length > 0) reasons.push(`an invocation ${line.overWall[0]}`);
  return reasons;
}
