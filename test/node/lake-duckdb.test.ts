// The lake as an analytics tool sees it. The whole pipeline (wrangler.toml, local queues, D1 and
// R2) takes a few hundred signed webhooks through the real consumer, `compact` and `lake-upkeep`
// (which refreshes the KPI snapshots) run over the admin API, and every Iceberg table under
// processed/ is read from the R2 binding through icebird, an independent Iceberg reader (version
// hint, metadata, Avro manifests, equality deletes, Parquet), into a DuckDB table typed by the
// table's Iceberg schema. DuckDB then answers the questions the D1 analytics views answer, with
// exactly the same numbers: ids and money are compared as exact text. `npm run lake -- pull` is
// checked on the same lake, and the raw archive is read with read_json and hive partitioning.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullLake } from "../../scripts/lake/pull.mjs";
import { KPI_VIEWS } from "../../src/cron/compact/kpi-views";
import { COMPACT_TABLES, type LakeTable } from "../../src/cron/compact/tables";
import type { ColumnKind } from "../../src/lake/columns";
import {
  bucketSource,
  currentFields,
  folderSource,
  icebergRows,
  type LakeRow,
  loadTable,
  readTable,
  type TableMetadataJson,
  tableMetadata,
  withLake,
} from "./iceberg-node";
import { dataSet } from "./lake-data";
import { startPipeline } from "./lake-harness";

type Row = Record<string, string | null>;
const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const normalize = (rows: readonly Record<string, unknown>[]): Row[] =>
  rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, text(v)])));

let pipeline: Awaited<ReturnType<typeof startPipeline>>;
let dir: string;
let duck: DuckDBConnection;
let deliveries = 0;
/** Per table: its metadata (by version hint) and the rows icebird read. */
const read = new Map<string, { version: number; metadata: TableMetadataJson; rows: LakeRow[] }>();
const ALL_TABLES: readonly LakeTable[] = [...COMPACT_TABLES, ...KPI_VIEWS];

async function d1(sql: string): Promise<Row[]> {
  return normalize((await pipeline.env.DB.prepare(sql).all<Record<string, unknown>>()).results);
}
async function duckdb(sql: string): Promise<Row[]> {
  return normalize((await duck.runAndReadAll(sql)).getRowObjectsJson());
}
/** Runs the compact job until nothing is left: one run takes no new table-day past its D1 query budget. */
async function compactAll(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const run = (await pipeline.admin("/admin/jobs/compact", {})) as { result: { deferred?: number } };
    if ((run.result.deferred ?? 0) === 0) return;
  }
  throw new Error("compact still deferred work after 20 runs");
}
/** Runs lake-upkeep until no KPI snapshot is owed (refreshed at once, not after hours). */
async function refreshKpis(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const run = (await pipeline.admin("/admin/jobs/lake-upkeep", { kpiRefreshHours: 0 })) as {
      result: { owed: number; failed: unknown[] };
    };
    expect(run.result.failed).toEqual([]);
    if (run.result.owed === 0) return;
  }
  throw new Error("KPI snapshots still owed after 10 lake-upkeep runs");
}
const kindsOf = (t: LakeTable) => new Map<string, ColumnKind>(t.columns.map((c) => [c.name, c.kind]));

beforeAll(async () => {
  pipeline = await startPipeline();
  const data = dataSet();
  deliveries = data.length;
  // Two waves, each compacted: the orders' later updates and cancellations (a line removed, a
  // cancellation) reach the lake in a second commit, whose equality deletes hide the first versions.
  const later = (d: (typeof data)[number]) => /^orders\/(updated|cancelled)$/.test(d.headers["X-Shopify-Topic"] ?? "");
  const first = data.filter((d) => !later(d));
  await pipeline.deliver(first);
  await pipeline.settled(first.length);
  await compactAll();
  await pipeline.deliver(data.filter(later));
  const ledger = await pipeline.settled(data.length);
  // Every event reached its tables: nothing quarantined or failed.
  expect(ledger).toEqual({ applied: data.length });
  await compactAll();
  await refreshKpis();
  dir = mkdtempSync(join(tmpdir(), "lake-"));
  await pipeline.pull("metadata/schemas/", dir);
  // The raw archive of Shopify orders, which the read_json test reads.
  await pipeline.pull("raw/shopify/orders/", dir);

  const instance = await DuckDBInstance.create(":memory:");
  duck = await instance.connect();
  await duck.run("SET TimeZone = 'UTC'");
  // SQLite sorts NULL as the smallest value; so does DuckDB with this setting.
  await duck.run("SET default_null_order = 'nulls_first_on_asc_last_on_desc'");
  const lake = bucketSource(pipeline.env.LAKE);
  // Four tables at a time: each read is a chain of small R2 requests through the harness.
  await withLake(lake, async () => {
    const queue = [...ALL_TABLES];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
          const { version, metadata } = await tableMetadata(lake, t.source, t.table);
          read.set(t.table, { version, metadata, rows: await icebergRows(t.source, t.table) });
        }
      }),
    );
  });
  for (const t of ALL_TABLES) {
    const { metadata, rows } = read.get(t.table) ?? {};
    if (metadata === undefined || rows === undefined) throw new Error(`${t.table} was not read`);
    await loadTable(duck, t.table, currentFields(metadata), kindsOf(t), rows);
  }
  // The D1 view analytics_orders, as DuckDB SQL over the lake's tables.
  await duck.run(`CREATE VIEW analytics_orders AS
    SELECT shop, id, customer_id, email, created_at, strftime(created_at, '%Y-%m') AS month, currency,
      total_price_minor, subtotal_price_minor, coalesce(total_discounts_minor, 0) AS total_discounts_minor,
      source_name, shipping_country_code, shipping_province_code,
      CASE WHEN coalesce(total_discounts_minor, 0) > 0 OR coalesce(json_array_length(discount_codes), 0) > 0
        THEN 1 ELSE 0 END AS discounted
    FROM shopify_orders
    WHERE NOT coalesce(test, false) AND deleted_at IS NULL AND cancelled_at IS NULL
      AND currency IS NOT NULL AND total_price_minor IS NOT NULL`);
}, 120_000);

afterAll(async () => {
  duck?.closeSync();
  await pipeline?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Each question: the D1 side (a view of migrations/0007 where there is one, else plain SQL over
// the D1 tables) and the DuckDB side over the lake's tables. Both order their rows fully.
const QUESTIONS: Record<string, { d1: string; duckdb: string }> = {
  "revenue by sales channel": {
    d1: `SELECT shop, source_name, currency, orders, revenue_minor, average_order_value_minor
      FROM analytics_revenue_by_source ORDER BY shop, source_name, currency`,
    duckdb: `SELECT shop, source_name, currency, count(*) AS orders, sum(total_price_minor) AS revenue_minor,
      CAST(round(sum(total_price_minor) / count(*)) AS BIGINT) AS average_order_value_minor
      FROM analytics_orders GROUP BY ALL ORDER BY shop, source_name, currency`,
  },
  "discounted orders": {
    d1: `SELECT shop, currency, discounted, orders, revenue_minor, discounts_minor, average_order_value_minor, share_of_orders
      FROM analytics_discounted_orders ORDER BY shop, currency, discounted`,
    duckdb: `SELECT shop, currency, discounted, count(*) AS orders, sum(total_price_minor) AS revenue_minor,
      sum(total_discounts_minor) AS discounts_minor,
      CAST(round(sum(total_price_minor) / count(*)) AS BIGINT) AS average_order_value_minor,
      round(count(*) / sum(count(*)) OVER (PARTITION BY shop, currency), 4) AS share_of_orders
      FROM analytics_orders GROUP BY shop, currency, discounted ORDER BY shop, currency, discounted`,
  },
  "orders by region": {
    d1: `SELECT shop, country_code, province_code, currency, orders, revenue_minor, average_order_value_minor
      FROM analytics_orders_by_region ORDER BY shop, country_code, province_code, currency`,
    duckdb: `SELECT shop, shipping_country_code AS country_code, shipping_province_code AS province_code, currency,
      count(*) AS orders, sum(total_price_minor) AS revenue_minor,
      CAST(round(sum(total_price_minor) / count(*)) AS BIGINT) AS average_order_value_minor
      FROM analytics_orders GROUP BY ALL ORDER BY shop, country_code, province_code, currency`,
  },
  "revenue by day and currency": {
    d1: `SELECT shop, substr(created_at, 1, 10) AS day, currency, count(*) AS orders, sum(total_price_minor) AS revenue_minor
      FROM analytics_orders GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    duckdb: `SELECT shop, strftime(created_at, '%Y-%m-%d') AS day, currency, count(*) AS orders,
      sum(total_price_minor) AS revenue_minor FROM analytics_orders GROUP BY ALL ORDER BY 1, 2, 3`,
  },
  "revenue net of refunds": {
    d1: `WITH rev AS (SELECT shop, currency, sum(total_price_minor) AS revenue FROM analytics_orders GROUP BY 1, 2),
      ref AS (SELECT shop, currency, sum(refunded_amount_minor) AS refunds, count(*) AS n FROM shopify_refunds
        WHERE deleted_at IS NULL GROUP BY 1, 2)
      SELECT rev.shop, rev.currency, revenue, coalesce(n, 0) AS refund_count, coalesce(refunds, 0) AS refunds,
        revenue - coalesce(refunds, 0) AS net FROM rev LEFT JOIN ref USING (shop, currency) ORDER BY 1, 2`,
    duckdb: `WITH rev AS (SELECT shop, currency, sum(total_price_minor) AS revenue FROM analytics_orders GROUP BY ALL),
      ref AS (SELECT shop, currency, sum(refunded_amount_minor) AS refunds, count(*) AS n FROM shopify_refunds
        WHERE deleted_at IS NULL GROUP BY ALL)
      SELECT rev.shop, rev.currency, revenue, coalesce(n, 0) AS refund_count, coalesce(refunds, 0) AS refunds,
        revenue - coalesce(refunds, 0) AS net FROM rev LEFT JOIN ref USING (shop, currency) ORDER BY 1, 2`,
  },
  "customer lifetime value": {
    d1: `SELECT shop, customer_id, currency, count(*) AS orders, sum(total_price_minor) AS value_minor,
      min(created_at) AS first_order_at, max(created_at) AS last_order_at
      FROM analytics_orders WHERE customer_id IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    duckdb: `SELECT shop, customer_id, currency, count(*) AS orders, sum(total_price_minor) AS value_minor,
      strftime(min(created_at), '%Y-%m-%dT%H:%M:%S.%gZ') AS first_order_at,
      strftime(max(created_at), '%Y-%m-%dT%H:%M:%S.%gZ') AS last_order_at
      FROM analytics_orders WHERE customer_id IS NOT NULL GROUP BY ALL ORDER BY 1, 2, 3`,
  },
  "first-order cohorts and repeat rate": {
    d1: `WITH c AS (SELECT shop, customer_id, substr(min(created_at), 1, 7) AS cohort, count(*) AS orders
        FROM analytics_orders WHERE customer_id IS NOT NULL GROUP BY 1, 2)
      SELECT shop, cohort, count(*) AS customers, count(*) FILTER (WHERE orders > 1) AS repeat_customers,
        round(1.0 * count(*) FILTER (WHERE orders > 1) / count(*), 4) AS repeat_rate
      FROM c GROUP BY 1, 2 ORDER BY 1, 2`,
    duckdb: `WITH c AS (SELECT shop, customer_id, strftime(min(created_at), '%Y-%m') AS cohort, count(*) AS orders
        FROM analytics_orders WHERE customer_id IS NOT NULL GROUP BY ALL)
      SELECT shop, cohort, count(*) AS customers, count(*) FILTER (WHERE orders > 1) AS repeat_customers,
        round(count(*) FILTER (WHERE orders > 1) / count(*), 4) AS repeat_rate
      FROM c GROUP BY ALL ORDER BY 1, 2`,
  },
  "revenue by UTM source and landing page": {
    d1: `SELECT shop, utm_source, utm_medium, utm_campaign, landing_site, currency, count(*) AS orders,
      sum(total_price_minor) AS revenue_minor FROM shopify_orders
      WHERE coalesce(test, 0) = 0 AND deleted_at IS NULL AND cancelled_at IS NULL
      GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`,
    duckdb: `SELECT shop, utm_source, utm_medium, utm_campaign, landing_site, currency, count(*) AS orders,
      sum(total_price_minor) AS revenue_minor FROM shopify_orders
      WHERE NOT coalesce(test, false) AND deleted_at IS NULL AND cancelled_at IS NULL
      GROUP BY ALL ORDER BY 1, 2, 3, 4, 5, 6`,
  },
  "order lines in the current state": {
    d1: `SELECT shop, order_id, count(*) AS lines, sum(quantity) AS units, sum(price_minor * quantity) AS gross_minor
      FROM shopify_order_line_items GROUP BY 1, 2 ORDER BY 1, 2`,
    duckdb: `SELECT shop, order_id, count(*) AS lines, sum(quantity) AS units, sum(price_minor * quantity) AS gross_minor
      FROM shopify_order_line_items GROUP BY ALL ORDER BY 1, 2`,
  },
  "subscription MRR": {
    d1: `SELECT currency, count(*) AS active, CAST(round(sum(price_minor * quantity
        * CASE order_interval_unit WHEN 'month' THEN 1.0 WHEN 'week' THEN 52.0 / 12 WHEN 'day' THEN 365.0 / 12 END
        / order_interval_frequency)) AS INTEGER) AS mrr_minor
      FROM recharge_subscriptions WHERE deleted_at IS NULL AND status = 'active' GROUP BY 1 ORDER BY 1`,
    duckdb: `SELECT currency, count(*) AS active, CAST(round(sum(price_minor * quantity
        * CASE order_interval_unit WHEN 'month' THEN 1.0 WHEN 'week' THEN 52.0 / 12 WHEN 'day' THEN 365.0 / 12 END
        / order_interval_frequency)) AS BIGINT) AS mrr_minor
      FROM recharge_subscriptions WHERE deleted_at IS NULL AND status = 'active' GROUP BY ALL ORDER BY 1`,
  },
  "subscription churn by cohort": {
    d1: `SELECT cohort_month, month, months_since_acquisition, cohort_customers, active_at_start, churned, churn_rate
      FROM analytics_subscription_churn_by_cohort ORDER BY cohort_month, month`,
    duckdb: `WITH RECURSIVE
      subs AS (SELECT customer_id, created_at, cancelled_at FROM recharge_subscriptions
        WHERE deleted_at IS NULL AND customer_id IS NOT NULL AND created_at IS NOT NULL),
      customers AS (SELECT customer_id, strftime(min(created_at), '%Y-%m') AS cohort_month,
        CASE WHEN count(cancelled_at) = count(*) THEN strftime(max(cancelled_at), '%Y-%m') END AS churn_month
        FROM subs GROUP BY customer_id),
      latest AS (SELECT greatest(coalesce(strftime(max(cancelled_at), '%Y-%m'), ''), strftime(max(created_at), '%Y-%m')) AS month FROM subs),
      months (cohort_month, month, months_since_acquisition) AS (
        SELECT DISTINCT cohort_month, cohort_month, 0 FROM customers
        UNION ALL
        SELECT m.cohort_month, strftime(strptime(m.month || '-01', '%Y-%m-%d') + INTERVAL 1 MONTH, '%Y-%m'),
          m.months_since_acquisition + 1
        FROM months m, latest WHERE m.month < latest.month)
      SELECT m.cohort_month, m.month, m.months_since_acquisition, count(*) AS cohort_customers,
        count(*) FILTER (WHERE c.churn_month IS NULL OR c.churn_month >= m.month) AS active_at_start,
        count(*) FILTER (WHERE c.churn_month = m.month) AS churned,
        round(count(*) FILTER (WHERE c.churn_month = m.month)
          / nullif(count(*) FILTER (WHERE c.churn_month IS NULL OR c.churn_month >= m.month), 0), 4) AS churn_rate
      FROM months m JOIN customers c ON c.cohort_month = m.cohort_month
      GROUP BY ALL ORDER BY cohort_month, month`,
  },
  "subscription retention by rebill": {
    d1: `SELECT cohort_month, rebill_number, cohort_subscriptions, subscriptions_charged, retention_rate
      FROM analytics_subscription_retention ORDER BY cohort_month, rebill_number`,
    duckdb: `WITH RECURSIVE
      subs AS (SELECT id, strftime(created_at, '%Y-%m') AS cohort_month FROM recharge_subscriptions
        WHERE deleted_at IS NULL AND created_at IS NOT NULL),
      paid AS (SELECT li.purchase_item_id AS subscription_id, count(DISTINCT ch.id) AS charges
        FROM recharge_charges ch JOIN recharge_charge_line_items li ON li.charge_id = ch.id
        WHERE ch.deleted_at IS NULL AND ch.status IN ('success', 'refunded', 'partially_refunded')
          AND li.purchase_item_id IS NOT NULL
        GROUP BY li.purchase_item_id),
      per_sub AS (SELECT s.cohort_month, coalesce(p.charges, 0) AS charges FROM subs s
        LEFT JOIN paid p ON p.subscription_id = s.id),
      rebills (cohort_month, rebill_number, most) AS (
        SELECT cohort_month, 1, max(charges) FROM per_sub GROUP BY cohort_month HAVING max(charges) >= 1
        UNION ALL
        SELECT cohort_month, rebill_number + 1, most FROM rebills WHERE rebill_number < most)
      SELECT r.cohort_month, r.rebill_number, count(*) AS cohort_subscriptions,
        count(*) FILTER (WHERE p.charges >= r.rebill_number) AS subscriptions_charged,
        round(count(*) FILTER (WHERE p.charges >= r.rebill_number) / count(*), 4) AS retention_rate
      FROM rebills r JOIN per_sub p ON p.cohort_month = r.cohort_month
      GROUP BY ALL ORDER BY cohort_month, rebill_number`,
  },
  "Stripe charges by day and currency": {
    d1: `SELECT substr(created_at, 1, 10) AS day, currency, status, count(*) AS charges, sum(amount_minor) AS amount_minor
      FROM stripe_charges GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    duckdb: `SELECT strftime(created_at, '%Y-%m-%d') AS day, currency, status, count(*) AS charges,
      sum(amount_minor) AS amount_minor FROM stripe_charges GROUP BY ALL ORDER BY 1, 2, 3`,
  },
  "Stripe invoices by status": {
    d1: `SELECT customer_id, currency, status, count(*) AS invoices, sum(total_minor) AS total_minor,
      sum(amount_paid_minor) AS paid_minor FROM stripe_invoices GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    duckdb: `SELECT customer_id, currency, status, count(*) AS invoices, sum(total_minor) AS total_minor,
      sum(amount_paid_minor) AS paid_minor FROM stripe_invoices GROUP BY ALL ORDER BY 1, 2, 3`,
  },
};

/** A column of DuckDB's parquet_schema() as the schema documents write Parquet types. */
function parquetType(c: Row): string {
  const utc = /isAdjustedToUTC=(1|true)/.test(c.logical_type ?? "");
  if (c.converted_type === "UTF8") return `${c.type} (STRING)`;
  if (c.converted_type === "JSON") return `${c.type} (JSON)`;
  if (c.converted_type === "TIMESTAMP_MICROS") return `${c.type} (TIMESTAMP(MICROS${utc ? ", UTC" : ""}))`;
  if (c.converted_type === "TIMESTAMP_MILLIS") return `${c.type} (TIMESTAMP(MILLIS${utc ? ", UTC" : ""}))`;
  return c.converted_type === null ? String(c.type) : `${c.type} (${c.converted_type})`;
}

// A KPI snapshot's columns as D1 prints them: times as ISO text, flags as 0/1.
function kpiColumns(view: (typeof KPI_VIEWS)[number]): string {
  return view.columns
    .map((c) => {
      if (c.kind === "timestamp") return `strftime(${c.name}, '%Y-%m-%dT%H:%M:%S.%gZ') AS ${c.name}`;
      if (c.kind === "boolean") return `CAST(${c.name} AS INTEGER) AS ${c.name}`;
      return c.name;
    })
    .join(", ");
}

describe("the KPI views in the lake", () => {
  for (const view of KPI_VIEWS) {
    it(`holds ${view.table} as D1 computes it, in processed/kpi/`, async () => {
      const order = view.key.join(", ");
      const expected = await d1(
        `SELECT ${view.columns.map((c) => c.name).join(", ")} FROM ${view.table} ORDER BY ${order}`,
      );
      expect(expected.length, "the data set must exercise this view").toBeGreaterThan(0);
      expect(await duckdb(`SELECT ${kpiColumns(view)} FROM ${view.table} ORDER BY ${order}`)).toEqual(expected);
      // An overwrite commit: the current snapshot holds the view as of one moment.
      const { metadata } = read.get(view.table) ?? {};
      const current = metadata?.snapshots?.find((s) => s["snapshot-id"] === metadata["current-snapshot-id"]);
      expect(current?.summary.operation, view.table).toBe("overwrite");
      expect(current?.summary["commerce.as-of"], view.table).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    });
  }

  it("types money and counts as BIGINT, ids and days as text, times as timestamps, as the schema documents say", async () => {
    for (const view of KPI_VIEWS) {
      const doc = JSON.parse(readFileSync(join(dir, "metadata", "schemas", "kpi", `${view.table}.json`), "utf8"));
      const described = await duckdb(`DESCRIBE ${view.table}`);
      expect(
        described.map((c) => [c.column_name, c.column_type]),
        view.table,
      ).toEqual(doc.columns.map((c: { name: string; duckdb_type: string }) => [c.name, c.duckdb_type]));
      expect(doc.location).toBe(`processed/kpi/${view.table}/`);
    }
    const ltv = Object.fromEntries(
      (await duckdb("DESCRIBE analytics_customer_ltv")).map((c) => [c.column_name, c.column_type]),
    );
    expect(ltv).toMatchObject({
      profile_id: "VARCHAR",
      currency: "VARCHAR",
      ltv_minor: "BIGINT",
      first_order_at: "TIMESTAMP WITH TIME ZONE",
    });
    expect(ltv).not.toHaveProperty("email");
  });

  it("gives today's MRR from subscription_mrr_history in the lake, as analytics_mrr_by_day says", async () => {
    // Today's row of the D1 view against DuckDB's own sum over each subscription's latest state.
    const expected = await d1(
      "SELECT currency, mrr_minor, paying_subscriptions FROM analytics_mrr_by_day WHERE day = date('now') ORDER BY currency",
    );
    expect(expected.length).toBeGreaterThan(0);
    const actual = await duckdb(`WITH latest AS (
        SELECT source, subscription_id, arg_max(paying, effective_at) AS paying, arg_max(amount_minor, effective_at) AS amount_minor,
          arg_max(interval_unit, effective_at) AS interval_unit, arg_max(interval_count, effective_at) AS interval_count
        FROM subscription_mrr_history WHERE CAST(effective_at AS DATE) <= current_date GROUP BY ALL),
      subs AS (SELECT 'recharge' AS source, id, currency FROM recharge_subscriptions WHERE deleted_at IS NULL AND currency IS NOT NULL
        UNION ALL SELECT 'stripe', id, currency FROM stripe_subscriptions
        WHERE deleted_at IS NULL AND currency IS NOT NULL AND coalesce(livemode, true))
      SELECT s.currency, sum(CASE WHEN l.paying = 1 THEN coalesce(CAST(round(l.amount_minor
          * CASE rtrim(lower(l.interval_unit), 's') WHEN 'day' THEN 365.0 / 12 WHEN 'week' THEN 52.0 / 12
            WHEN 'month' THEN 1.0 WHEN 'year' THEN 1.0 / 12 END / greatest(l.interval_count, 1)) AS BIGINT), 0) ELSE 0 END) AS mrr_minor,
        count(*) FILTER (WHERE l.paying = 1) AS paying_subscriptions
      FROM latest l JOIN subs s ON s.source = l.source AND s.id = l.subscription_id
      GROUP BY ALL ORDER BY currency`);
    expect(actual).toEqual(expected);
  });
});

describe("the lake read by DuckDB", () => {
  for (const [question, { d1: d1Sql, duckdb: duckSql }] of Object.entries(QUESTIONS)) {
    it(`answers "${question}" with the D1 numbers`, async () => {
      const expected = await d1(d1Sql);
      expect(expected.length, "the data set must exercise this question").toBeGreaterThan(0);
      expect(await duckdb(duckSql)).toEqual(expected);
    });
  }

  it("holds every D1 row once, every column exactly as D1 holds it", async () => {
    for (const t of COMPACT_TABLES) {
      const order = t.key.join(", ");
      // Integers and flags as exact text on both sides; times as UTC ISO text with milliseconds.
      const d1Cols = t.columns.map((c) =>
        c.kind === "int64" || c.kind === "boolean" ? `CAST(${c.name} AS TEXT) AS ${c.name}` : c.name,
      );
      const duckCols = t.columns.map((c) => {
        if (c.kind === "timestamp") return `strftime(${c.name}, '%Y-%m-%dT%H:%M:%S.%gZ') AS ${c.name}`;
        if (c.kind === "boolean") return `CAST(${c.name} AS INTEGER)::VARCHAR AS ${c.name}`;
        if (c.kind === "int64" || c.kind === "json") return `${c.name}::VARCHAR AS ${c.name}`;
        return c.name;
      });
      const times = t.columns.filter((c) => c.kind === "timestamp").map((c) => c.name);
      const expected = (await d1(`SELECT ${d1Cols.join(", ")} FROM ${t.table} ORDER BY ${order}`)).map((r) => {
        for (const c of times) if (r[c] !== null && r[c] !== undefined) r[c] = new Date(r[c]).toISOString();
        return r;
      });
      const actual = await duckdb(`SELECT ${duckCols.join(", ")} FROM ${t.table} ORDER BY ${order}`);
      expect(actual.length, t.table).toBe(expected.length);
      expect(actual, t.table).toEqual(expected);
      const [keys] = await duckdb(`SELECT count(DISTINCT (${order})) AS n FROM ${t.table}`);
      expect(keys?.n, t.table).toBe(String(expected.length));
    }
  });

  it("hides the first versions of changed orders through the second commit's equality deletes", async () => {
    // Line items of the orders changed in the second wave were appended again; the first
    // commit's lines of those orders are still in its data files, hidden by the delete file.
    const snapshots = read.get("shopify_order_line_items")?.metadata.snapshots ?? [];
    const added = snapshots.reduce((n, s) => n + Number(s.summary["added-records"] ?? 0), 0);
    const deleteFiles = snapshots.reduce((n, s) => n + Number(s.summary["added-delete-files"] ?? 0), 0);
    const [d] = await d1("SELECT count(*) AS n FROM shopify_order_line_items");
    expect(deleteFiles).toBeGreaterThanOrEqual(2);
    expect(added).toBeGreaterThan(Number(d?.n));
    expect(await duckdb("SELECT count(*) AS n FROM shopify_order_line_items")).toEqual([d]);
    // A cancelled order's row in the lake is the cancelled version only.
    expect(await duckdb("SELECT count(*) AS n FROM shopify_orders WHERE cancelled_at IS NOT NULL")).toEqual(
      await d1("SELECT count(*) AS n FROM shopify_orders WHERE cancelled_at IS NOT NULL"),
    );
  });

  it("types every column as its schema document and the table's Iceberg schema say", async () => {
    for (const t of COMPACT_TABLES) {
      const doc = JSON.parse(readFileSync(join(dir, "metadata", "schemas", t.source, `${t.table}.json`), "utf8"));
      const described = await duckdb(`DESCRIBE ${t.table}`);
      expect(
        described.map((c) => [c.column_name, c.column_type, c.null]),
        t.table,
      ).toEqual(
        doc.columns.map((c: { name: string; duckdb_type: string; nullable: boolean }) => [
          c.name,
          c.duckdb_type,
          c.nullable ? "YES" : "NO",
        ]),
      );
      expect(doc.version).toBe(1);
      expect(doc.location).toBe(`processed/${t.source}/${t.table}/`);
      const metadata = read.get(t.table)?.metadata;
      expect(metadata?.["format-version"], t.table).toBe(2);
      expect(metadata?.location, t.table).toBe(`s3://commerce-lake/processed/${t.source}/${t.table}`);
    }
    const orders = Object.fromEntries(
      (await duckdb("DESCRIBE shopify_orders")).map((c) => [c.column_name, c.column_type]),
    );
    expect(orders).toMatchObject({
      id: "VARCHAR",
      customer_id: "VARCHAR",
      created_at: "TIMESTAMP WITH TIME ZONE",
      updated_at: "TIMESTAMP WITH TIME ZONE",
      total_price_minor: "BIGINT",
      test: "BOOLEAN",
      tags: "JSON",
    });
  });

  it("round-trips 18-digit ids and millisecond timestamps exactly", async () => {
    const d = await d1("SELECT shop, id, customer_id, created_at, updated_at FROM shopify_orders ORDER BY shop, id");
    const duckRows = await duckdb(
      `SELECT shop, id, customer_id, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS created_at,
        strftime(updated_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS updated_at FROM shopify_orders ORDER BY shop, id`,
    );
    expect(duckRows).toEqual(d);
    expect(d.length).toBe(240);
    const big = d.filter((r) => typeof r.id === "string" && BigInt(r.id) > 2n ** 53n);
    expect(big.length).toBe(d.length);
    expect(big[0]?.id).toHaveLength(18);
  });

  it("pulls each table's current snapshot into a folder that reads as the bucket does, typed as documented (npm run lake -- pull)", async () => {
    const out = join(dir, "pulled");
    const pulled = await pullLake(pipeline.env.LAKE, out);
    expect(pulled.tables.map((t) => t.table).sort()).toEqual(ALL_TABLES.map((t) => t.table).sort());
    const local = folderSource(out);
    for (const t of ALL_TABLES) {
      const entry = pulled.tables.find((p) => p.table === t.table);
      const { version } = read.get(t.table) ?? {};
      expect(entry, t.table).toMatchObject({ namespace: t.source, version });
      // The same rows through icebird from the folder as from R2, and no file but the snapshot's.
      const rows = await readTable(local, t.source, t.table);
      expect(rows.length, t.table).toBe(read.get(t.table)?.rows.length);
      expect(rows, t.table).toEqual(read.get(t.table)?.rows);
      for (const key of entry?.keys ?? []) expect(existsSync(join(out, ...key.split("/"))), key).toBe(true);
    }
    // Each table's data files carry the field ids of its Iceberg schema and the Parquet types its
    // schema document names (DuckDB's own Parquet reader says what is in the file).
    for (const t of COMPACT_TABLES) {
      const key = pulled.tables
        .find((p) => p.table === t.table)
        ?.keys.find((k) => /\/data\/[^/]+-\d{5}\.parquet$/.test(k));
      expect(key, t.table).toBeDefined();
      const file = join(out, ...(key ?? "").split("/"));
      const columns = await duckdb(
        `SELECT name, type, converted_type, logical_type, field_id FROM parquet_schema('${file}') WHERE type IS NOT NULL`,
      );
      const doc = JSON.parse(readFileSync(join(dir, "metadata", "schemas", t.source, `${t.table}.json`), "utf8"));
      expect(
        columns.map((c) => [c.name, parquetType(c)]),
        t.table,
      ).toEqual(doc.columns.map((c: { name: string; type: string }) => [c.name, c.type]));
      const metadata = read.get(t.table)?.metadata;
      if (metadata === undefined) throw new Error(`${t.table} was not read`);
      const fields = currentFields(metadata);
      expect(
        columns.map((c) => [c.name, c.field_id]),
        t.table,
      ).toEqual(fields.map((f) => [f.name, String(f.id)]));
    }
    // lake.sql opens every table with DuckDB's iceberg extension, relocating the s3:// paths.
    const sql = readFileSync(pulled.sql, "utf8");
    expect(sql).toContain("LOAD iceberg;");
    for (const t of ALL_TABLES) {
      const at = join(out, "processed", t.source, t.table);
      expect(sql).toContain(
        `CREATE OR REPLACE VIEW ${t.table} AS SELECT * FROM iceberg_scan('${at}', allow_moved_paths = true);`,
      );
    }
  }, 30_000);

  it("reads the raw archive with read_json and hive partitioning", async () => {
    const glob = join(dir, "raw", "shopify", "orders", "events", "dt=*", "hour=*", "*.json");
    const [raw] = await duckdb(
      `SELECT count(*) AS events, count(DISTINCT payload.id::VARCHAR) AS orders,
        count(*) FILTER (WHERE dt <> strftime(event_at::TIMESTAMPTZ, '%Y-%m-%d')
          OR hour <> strftime(event_at::TIMESTAMPTZ, '%H')) AS misplaced
       FROM read_json('${glob}', hive_partitioning = true)`,
    );
    const [ledger] = await d1(
      `SELECT count(*) AS events, count(DISTINCT e.r2_key) AS keys, (SELECT count(*) FROM shopify_orders) AS orders
       FROM webhook_events e WHERE source = 'shopify' AND resource = 'orders'`,
    );
    expect(raw).toEqual({ events: ledger?.events, orders: ledger?.orders, misplaced: "0" });
    expect(ledger?.keys).toBe(ledger?.events);
    // The ids in the payloads are the D1 ids, digit for digit.
    const ids = await duckdb(
      `SELECT DISTINCT payload.id::VARCHAR AS id FROM read_json('${glob}', hive_partitioning = true) ORDER BY id`,
    );
    expect(ids).toEqual(await d1("SELECT DISTINCT id FROM shopify_orders ORDER BY id"));
    expect(deliveries).toBeGreaterThan(500);
  });
});
