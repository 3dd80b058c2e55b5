// The analytics_subscription_mrr snapshot is read by ranges of subscriptions (src/cron/compact/kpis.ts)
// because D1 pushes a range of the view's PARTITION BY columns past its window function (LAG) into
// both arms of the view: each range then seeks the history table's primary key and costs its own
// rows. A keyset on the view's own columns is not pushed, and each page evaluated and sorted the
// whole view. The migrations are applied to an in-memory SQLite (node:sqlite, as in indexes.test.ts)
// and each statement the snapshot runs is planned with EXPLAIN QUERY PLAN.
import type { DatabaseSync } from "node:sqlite";
import { beforeAll, describe, expect, it } from "vitest";
import { kpiBoundSql, kpiGroupSql, kpiOrder, kpiRangeSql, kpiSelect } from "../../src/cron/compact/kpi-sql";
import { KPI_VIEWS, type KpiRanges, type KpiView } from "../../src/cron/compact/kpi-views";
import { migratedDatabase } from "./harness/schema-db";

let db: DatabaseSync;

beforeAll(() => {
  db = migratedDatabase();
});

const plan = (sql: string): string[] =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail);

const MRR = KPI_VIEWS.find((v) => v.table === "analytics_subscription_mrr") as KpiView;
const PK = "sqlite_autoindex_subscription_mrr_history_1";
/** A read of the history table that is not a seek of its primary key (a SCAN, or a seek of the source alone). */
const fullRead = (line: string) =>
  /^SCAN (h|subscription_mrr_history)\b/.test(line) ||
  (/^SEARCH (h|subscription_mrr_history)\b/.test(line) && !line.includes("subscription_id"));

describe("analytics_subscription_mrr snapshot ranges", () => {
  it("is the one view read by ranges: of subscription ids within each source of subscription_mrr_history", () => {
    expect(KPI_VIEWS.filter((v) => v.ranges !== null).map((v) => [v.table, v.ranges])).toEqual([
      [MRR.table, { table: "subscription_mrr_history", group: "source", id: "subscription_id" }],
    ]);
  });

  const r = MRR.ranges as KpiRanges;
  // EXPLAIN QUERY PLAN writes `>` for `>=` too (the first range starts at its bound, later ones after it).
  for (const first of [true, false]) {
    it(`seeks the primary key for a range's rows, both arms of the view (${first ? "first range" : "a later range"})`, () => {
      const lines = plan(kpiRangeSql(MRR, r, { first, last: false }));
      const seeks = lines.filter((l) => l.startsWith("SEARCH h "));
      expect(seeks).toEqual([
        `SEARCH h USING INDEX ${PK} (source=? AND subscription_id>? AND subscription_id<?)`,
        `SEARCH h USING INDEX ${PK} (source=? AND subscription_id>? AND subscription_id<?)`,
      ]);
      expect(lines.filter(fullRead)).toEqual([]);
    });

    it(`seeks the primary key from the range's start for a source's last range (${first ? "first range" : "a later range"})`, () => {
      const lines = plan(kpiRangeSql(MRR, r, { first, last: true }));
      expect(lines.filter((l) => l.startsWith("SEARCH h "))).toEqual([
        `SEARCH h USING INDEX ${PK} (source=? AND subscription_id>?)`,
        `SEARCH h USING INDEX ${PK} (source=? AND subscription_id>?)`,
      ]);
      expect(lines.filter(fullRead)).toEqual([]);
    });

    it(`finds a range's end and the next source in the primary key (${first ? "first" : "later"})`, () => {
      expect(plan(kpiBoundSql(r, first))).toEqual([
        `SEARCH subscription_mrr_history USING COVERING INDEX ${PK} (source=? AND subscription_id>?)`,
      ]);
      expect(plan(kpiGroupSql(r, first))).toEqual([
        `SEARCH subscription_mrr_history USING COVERING INDEX ${PK} (source>?)`,
      ]);
    });
  }

  it("reads every row of the view once, in its key order, with no subscription split across ranges", () => {
    db.exec("SAVEPOINT rows");
    try {
      // States per subscription: Recharge '' (the first range starts at it), kr-3 deleted and Stripe
      // sub_b a test-mode one (both left out of the view), several states at the ranges' edges.
      const states: [source: string, id: string, states: number][] = [
        ["recharge", "", 1],
        ["recharge", "kr-1", 2],
        ["recharge", "kr-2", 3],
        ["recharge", "kr-3", 1],
        ["recharge", "kr-4", 2],
        ["recharge", "kr-5", 3],
        ["stripe", "sub_a", 2],
        ["stripe", "sub_b", 1],
      ];
      const at = "2031-01-01T00:00:00.000Z";
      for (const [source, id] of states) {
        if (source === "recharge") {
          db.prepare(
            `INSERT INTO recharge_subscriptions (id, customer_id, currency, updated_at, deleted_at, last_event_id)
             VALUES (?1, 'c', 'XPT', ?2, ?3, 'e')`,
          ).run(id, at, id === "kr-3" ? at : null);
        } else {
          db.prepare(
            `INSERT INTO stripe_subscriptions (id, customer_id, currency, livemode, event_created, updated_at, last_event_id)
             VALUES (?1, 'c', 'XPT', ?2, 1, ?3, 'e')`,
          ).run(id, id === "sub_b" ? 0 : 1, at);
        }
      }
      db.exec("DELETE FROM subscription_mrr_history");
      for (const [source, id, n] of states) {
        for (let k = 0; k < n; k++) {
          db.prepare(
            `INSERT INTO subscription_mrr_history (source, subscription_id, effective_at, paying, amount_minor, interval_unit, interval_count)
             VALUES (?1, ?2, ?3, ?4, ?5, 'month', 1)`,
          ).run(source, id, `2031-0${k + 1}-01T00:00:00.000Z`, k === 2 ? 0 : 1, 100 * (k + 1));
        }
      }
      const whole = db
        .prepare(`SELECT ${kpiSelect(MRR)} FROM analytics_subscription_mrr v ORDER BY ${kpiOrder(MRR)}`)
        .all();
      expect(whole).toHaveLength(13);
      for (const rows of [1, 2, 3, 4, 14, 15]) {
        const read: unknown[] = [];
        const next = (first: boolean, after: string) =>
          (db.prepare(kpiGroupSql(r, first)).get(after) as { group: string } | undefined)?.group ?? null;
        for (let group = next(true, ""); group !== null; group = next(false, group)) {
          let after = "";
          for (let first = true; ; first = false) {
            const bound = db.prepare(kpiBoundSql(r, first)).get(group, after, rows - 1) as { id: string } | undefined;
            const upper = bound?.id ?? null;
            const page = db
              .prepare(kpiRangeSql(MRR, r, { first, last: upper === null }))
              .all(...(upper === null ? [group, after] : [group, after, upper]));
            read.push(...page);
            if (upper === null) break;
            after = upper;
          }
        }
        expect(read, `${rows} rows a range`).toEqual(whole);
      }
    } finally {
      db.exec("ROLLBACK TO rows; RELEASE rows");
    }
  });
});
