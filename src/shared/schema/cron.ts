/**
 * drizzle-orm definitions of the operations tables in `migrations/0005_operations.sql`
 * (`sync_cursors` is defined with the bulk tables, in ./operations.ts),
 * column for column (a test compares them with `PRAGMA table_info`). The SQL file is
 * the source of truth, because wrangler applies it; these give the cron modules typed
 * rows and inserts.
 */
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { SOURCES } from "../envelope";

export const jobLeases = sqliteTable("job_leases", {
  name: text("name").primaryKey().notNull(),
  holder: text("holder").notNull(),
  acquiredAt: text("acquired_at").notNull(),
  expiresAt: text("expires_at").notNull(),
});

export const RECONCILE_STATUSES = ["ok", "partial", "skipped", "error"] as const;
export type ReconcileStatus = (typeof RECONCILE_STATUSES)[number];

export const reconcileRuns = sqliteTable(
  "reconcile_runs",
  {
    runId: text("run_id").notNull(),
    source: text("source", { enum: SOURCES }).notNull(),
    scope: text("scope").notNull(),
    status: text("status", { enum: RECONCILE_STATUSES }).notNull(),
    startedAt: text("started_at").notNull(),
    finishedAt: text("finished_at").notNull(),
    windowFrom: text("window_from"),
    windowTo: text("window_to"),
    lookedAt: integer("looked_at").notNull().default(0),
    missing: integer("missing").notNull().default(0),
    stale: integer("stale").notNull().default(0),
    repaired: integer("repaired").notNull().default(0),
    apiCalls: integer("api_calls").notNull().default(0),
    apiCost: integer("api_cost").notNull().default(0),
    error: text("error"),
    reportKey: text("report_key"),
    pages: integer("pages").notNull().default(0),
    stoppedBy: text("stopped_by"),
    lagSeconds: integer("lag_seconds"),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.source, t.scope] }),
    index("reconcile_runs_by_scope").on(t.source, t.scope, t.startedAt),
  ],
);

export const dqRuns = sqliteTable(
  "dq_runs",
  {
    runId: text("run_id").primaryKey().notNull(),
    startedAt: text("started_at").notNull(),
    finishedAt: text("finished_at").notNull(),
    windowEnd: text("window_end").notNull(),
    passCount: integer("pass_count").notNull(),
    warnCount: integer("warn_count").notNull(),
    failCount: integer("fail_count").notNull(),
    reportKey: text("report_key").notNull(),
  },
  (t) => [index("dq_runs_by_started").on(t.startedAt)],
);

/** migrations/0164: webhooks per source, resource and hour (`YYYY-MM-DDTHH`), kept past the ledger's retention. */
export const ledgerHourCounts = sqliteTable(
  "ledger_hour_counts",
  {
    source: text("source", { enum: SOURCES }).notNull(),
    resource: text("resource").notNull(),
    hour: text("hour").notNull(),
    webhooks: integer("webhooks").notNull(),
    countedAt: text("counted_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.source, t.resource, t.hour] })],
);

export const DQ_OUTCOMES = ["PASS", "WARN", "FAIL"] as const;
export type DqOutcome = (typeof DQ_OUTCOMES)[number];

export const dqResults = sqliteTable(
  "dq_results",
  {
    runId: text("run_id").notNull(),
    checkName: text("check_name").notNull(),
    subject: text("subject").notNull(),
    outcome: text("outcome", { enum: DQ_OUTCOMES }).notNull(),
    value: real("value"),
    threshold: real("threshold"),
    message: text("message").notNull(),
    details: text("details"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.checkName, t.subject] })],
);

export const ALERT_SEVERITIES = ["info", "warning", "critical"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export const ALERT_STATUSES = ["pending", "sending", "sent", "failed", "expired"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export const alerts = sqliteTable(
  "alerts",
  {
    id: text("id").primaryKey().notNull(),
    rule: text("rule").notNull(),
    alertKey: text("alert_key").notNull(),
    severity: text("severity", { enum: ALERT_SEVERITIES }).notNull(),
    title: text("title").notNull(),
    fields: text("fields").notNull(),
    source: text("source"),
    eventId: text("event_id"),
    createdAt: text("created_at").notNull(),
    lastSeenAt: text("last_seen_at").notNull(),
    occurrences: integer("occurrences").notNull().default(1),
    status: text("status", { enum: ALERT_STATUSES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: text("next_attempt_at").notNull(),
    claimedUntil: text("claimed_until"),
    sentAt: text("sent_at"),
    lastError: text("last_error"),
  },
  (t) => [index("alerts_by_key").on(t.alertKey, t.createdAt), index("alerts_by_due").on(t.status, t.nextAttemptAt)],
);
