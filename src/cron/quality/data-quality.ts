/**
 * The `data-quality` job: runs every check for the window ending at the run's time,
 * stores the results (`dq_runs`, `dq_results`, and the report in R2), and raises an
 * alert for every FAIL in the same D1 batch. Checks with a rule of their own alert
 * under it (freshness → `source_silent`, dead letters → `dead_letter_growth`,
 * quarantine → `quarantine_growth`); every other FAIL raises `dq_fail`. One lease for
 * the whole job: the checks are cheap, and two runs of the same hour would only write
 * the same answers twice.
 */
import { drizzle } from "drizzle-orm/d1";
import { type AlertDraft, type AlertRule, raiseAlert } from "../../shared/alerts";
import { describeError, log } from "../../shared/log";
import { recordDqMetrics } from "../../shared/metrics";
import { dqResults, dqRuns } from "../../shared/schema/cron";
import { cronSettings } from "../../shared/settings";
import { sharedDatabase } from "../../tables/database";
import { withLease } from "../lease";
import { dataQualityReportKey, putJson } from "../reports";
import { activeShops, coordinatorConnector, type ShopifyConnector } from "../shopify-port";
import { moneyIntegrity, referentialIntegrity } from "./integrity";
import { deadLetters, duplicateDeliveries, quarantine } from "./ledger";
import { countParity } from "./parity";
import type { DqCheck, DqContext, DqResult } from "./types";
import { freshness, hourlyGaps, volumeDrop } from "./volume";

export const CHECKS: Record<string, DqCheck> = {
  hourly_gaps: hourlyGaps,
  volume_drop: volumeDrop,
  freshness,
  referential_integrity: referentialIntegrity,
  money_integrity: moneyIntegrity,
  dead_letters: deadLetters,
  quarantine,
  duplicate_deliveries: duplicateDeliveries,
  count_parity: countParity,
};

const OWN_RULE: Record<string, { rule: AlertRule; severity: AlertDraft["severity"] }> = {
  freshness: { rule: "source_silent", severity: "critical" },
  dead_letters: { rule: "dead_letter_growth", severity: "critical" },
  quarantine: { rule: "quarantine_growth", severity: "warning" },
};

export interface DataQualityOptions {
  connector?: ShopifyConnector;
  shops?: readonly string[];
  /** Run only these checks (by name); all by default. */
  checks?: readonly string[];
}

export type DataQualityResult =
  | { skipped: true; runId: string; heldBy: string | null }
  | { skipped: false; runId: string; reportKey: string; results: DqResult[]; pass: number; warn: number; fail: number };

export async function runDataQuality(
  env: Env,
  run: { runId: string; now: Date },
  options: DataQualityOptions = {},
): Promise<DataQualityResult> {
  const outcome = await withLease(sharedDatabase(env), "data-quality", run.runId, run.now, () =>
    dataQuality(env, run, options),
  );
  if (outcome.skipped) {
    log.info("data-quality skipped: another run is in progress", { runId: run.runId, heldBy: outcome.heldBy });
    return { skipped: true, runId: run.runId, heldBy: outcome.heldBy };
  }
  return outcome.value;
}

async function dataQuality(
  env: Env,
  run: { runId: string; now: Date },
  options: DataQualityOptions,
): Promise<DataQualityResult> {
  const startedAt = run.now.toISOString();
  const settings = cronSettings(env);
  const ctx: DqContext = {
    env,
    settings,
    now: run.now,
    connector: options.connector ?? coordinatorConnector(env),
    shops: options.shops ?? (await activeShops(env)),
  };
  const results: DqResult[] = [];
  for (const [name, check] of Object.entries(CHECKS)) {
    if (options.checks !== undefined && !options.checks.includes(name)) continue;
    try {
      results.push(...(await check(ctx)));
    } catch (err) {
      const error = describeError(err);
      log.error("data-quality check could not run", { runId: run.runId, check: name, error });
      results.push({
        check: name,
        subject: "all",
        outcome: "WARN",
        value: null,
        threshold: null,
        message: `check could not run: ${error}`,
      });
    }
  }

  const count = (o: DqResult["outcome"]) => results.filter((r) => r.outcome === o).length;
  const summary = { pass: count("PASS"), warn: count("WARN"), fail: count("FAIL") };
  const reportKey = dataQualityReportKey(run.runId, startedAt);
  const finishedAt = new Date().toISOString();
  await putJson(env.LAKE, reportKey, {
    run_id: run.runId,
    job: "data-quality",
    window_end: startedAt,
    started_at: startedAt,
    finished_at: finishedAt,
    ...summary,
    results,
  });

  const db = drizzle(sharedDatabase(env));
  const statements: D1PreparedStatement[] = [
    statement(
      sharedDatabase(env),
      db.insert(dqRuns).values({
        runId: run.runId,
        startedAt,
        finishedAt,
        windowEnd: startedAt,
        passCount: summary.pass,
        warnCount: summary.warn,
        failCount: summary.fail,
        reportKey,
      }),
    ),
  ];
  for (const r of results) {
    const row = {
      runId: run.runId,
      checkName: r.check,
      subject: r.subject,
      outcome: r.outcome,
      value: r.value,
      threshold: r.threshold,
      message: r.message,
      details: r.details === undefined ? null : JSON.stringify(r.details),
    };
    statements.push(statement(sharedDatabase(env), db.insert(dqResults).values(row).onConflictDoNothing()));
  }
  for (const r of results) {
    if (r.outcome !== "FAIL") continue;
    statements.push(...raiseAlert(sharedDatabase(env), failAlert(r), startedAt, settings.alertDedupMs));
  }
  await sharedDatabase(env).batch(statements);

  recordDqMetrics(
    env,
    results.map((r) => ({ check: r.check, subject: r.subject, outcome: r.outcome, value: r.value ?? 0 })),
  );
  log.info("data-quality run done", { runId: run.runId, ...summary, reportKey });
  return { skipped: false, runId: run.runId, reportKey, results, ...summary };
}

function failAlert(r: DqResult): AlertDraft {
  const own = OWN_RULE[r.check];
  const rule = own?.rule ?? "dq_fail";
  const source = r.subject === "shopify" || r.subject === "stripe" || r.subject === "recharge" ? r.subject : null;
  return {
    rule,
    key: own ? `${rule}:${r.subject}` : `dq_fail:${r.check}:${r.subject}`,
    severity: own?.severity ?? "warning",
    title: `Data quality ${r.check} failed for ${r.subject}: ${r.message}`,
    fields: [
      { name: "Check", value: r.check },
      { name: "Subject", value: r.subject },
      ...(r.value === null ? [] : [{ name: "Value", value: String(r.value) }]),
      ...(r.threshold === null ? [] : [{ name: "Threshold", value: String(r.threshold) }]),
    ],
    source,
    eventId: null,
  };
}

/** A drizzle query as a plain D1 statement, so it can join one D1 batch with raw ones. */
function statement(d1: D1Database, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql, params } = query.toSQL();
  return d1.prepare(sql).bind(...params);
}
