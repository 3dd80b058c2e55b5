/**
 * The per-person KPI views in the lake: analytics_customer_orders and analytics_customer_ltv, and
 * the two that rank or count every person from LTV (analytics_high_value_customers,
 * analytics_repeat_rate), refreshed by one pass over ranges of profile ids that resumes across
 * `lake-upkeep` runs and commits the four tables when its last range is read.
 *
 * Why ranges: both views partition by profile, and D1 (SQLite) pushes a profile-range filter into
 * every arm of analytics_customer_orders, so a range costs its own rows (1,000,000 orders: ~1 s per
 * 44,000 orders), where a keyset page (`ORDER BY … LIMIT`) evaluated the whole view again (7.8 s a
 * page, 200 pages). SQLite does not push a filter into an aggregate over a windowed view, so the
 * LTV range reads the view's own SQL, taken from `sqlite_master`, with the range applied to its
 * input: one definition, the migration's.
 *
 * The top decile and the repeat rate need every person, so they are computed here from the LTV rows
 * as they stream, the way the views define them: ntile(10) over a currency puts its first ceil(n/10)
 * rows (ltv_minor DESC, profile_id) in decile 1; the rate is rounded by D1 itself. The tests compare
 * all four with the views.
 *
 * Progress: the range reached and the files written sit in `lake_upkeep` (the rows of the orders and
 * LTV tables, as a rebuild's do, so the sweep keeps the files), the running decile and counts in one
 * R2 object beside the tables (`…/kpi/.people-pass.json`; a top decile of 30,000 people is past a D1
 * row's 2 MB). A pass whose state is lost starts again.
 */
import { z } from "zod";
import { dataFileFromJson, dataFileList, dataFileToJson } from "../../lake/data-file";
import { type CommitReport, commitRebuild, type LakeIo, openTable, TableChange } from "../../lake/table-writer";
import { log } from "../../shared/log";
import { kpiOrder, kpiSelect } from "./kpi-sql";
import { KPI_VIEWS, type KpiView } from "./kpi-views";
import { AS_OF, kpiValues, overwriteKpi } from "./kpis";
import { lakeSpecOf, quote } from "./tables";

/** Profiles in the first range: ~35,000 orders at the scale run's 3.3 orders a person, ~2 s of D1. */
export const PROFILES_PER_RANGE = 10_000;
/** Orders a range aims at (the next range's profiles follow the last one's orders a person): a range's rows are held in memory. */
const RANGE_ROWS = 30_000;

const view = (name: string): KpiView => {
  const spec = KPI_VIEWS.find((v) => v.table === name);
  if (spec === undefined) throw new Error(`kpi: no view ${name}`);
  return spec;
};
export const ORDERS = view("analytics_customer_orders");
export const LTV = view("analytics_customer_ltv");
export const HIGH_VALUE = view("analytics_high_value_customers");
export const REPEAT_RATE = view("analytics_repeat_rate");
/** The four views this pass refreshes together. */
export const PEOPLE_VIEWS: readonly KpiView[] = [ORDERS, LTV, HIGH_VALUE, REPEAT_RATE];

/** A person in a currency's running top decile: what analytics_high_value_customers lists. */
const topRowSchema = z.object({
  profile_id: z.string(),
  currency: z.string(),
  orders: z.string().nullable(),
  ltv_minor: z.string().nullable(),
  first_order_at: z.string().nullable(),
});
type TopRow = z.infer<typeof topRowSchema>;

const stateSchema = z.object({
  asOf: z.string(),
  /** The last profile of the ranges counted here: a state behind or ahead of D1's progress starts the pass again. */
  after: z.string(),
  /** Decile 1 of a currency has at most ceil(people / 10) rows: the running lists keep that many. */
  keep: z.number().int().positive(),
  /** The views' owed marks when the pass started: cleared at its commit unless a later write moved them. */
  marks: z.record(z.string(), z.number().int()),
  currencies: z.record(
    z.string(),
    z.object({ customers: z.number().int(), repeat: z.number().int(), top: z.array(topRowSchema) }),
  ),
});
type PassState = z.infer<typeof stateSchema>;

interface PassRow {
  table_name: string;
  rebuild_started_at: string | null;
  rebuild_after_key: string | null;
  rebuild_files: string | null;
  rebuild_base_sequence: number | null;
  rebuild_rows: number;
}

export interface PeoplePassReport {
  /** Ranges read and rows written in this run. */
  ranges: number;
  rows: number;
  /** The pass's commits, when its last range was read in this run. */
  committed: CommitReport[];
  asOf: string;
  /** The views' owed marks when the pass started (to clear once it committed). */
  marks: Record<string, number>;
}

/** The ranges' SQL: the view's key order within the range (kpis.ts reads the columns). */
function rangeSql(spec: KpiView, from: string, bounded: boolean): string {
  const range = bounded ? "profile_id > ?1 AND profile_id <= ?2" : "profile_id > ?1";
  return `SELECT ${kpiSelect(spec)} FROM ${from.replace("{range}", range)} v ORDER BY ${kpiOrder(spec)}`;
}

/** analytics_customer_ltv over one range: the view's SQL with the range applied to its input. */
async function ltvSource(db: D1Database): Promise<string> {
  const row = await db
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?1")
    .bind(LTV.table)
    .first<{ sql: string }>();
  const input = "FROM analytics_customer_orders o";
  const body = row?.sql.replace(/^CREATE VIEW\s+\S+\s+AS\s+/i, "");
  if (body === undefined || body.split(input).length !== 2) {
    throw new Error(`kpi: ${LTV.table} no longer reads "${input}" once; update src/cron/compact/kpi-people.ts`);
  }
  return `(${body.replace(input, "FROM (SELECT * FROM analytics_customer_orders WHERE {range}) o")})`;
}

/** decile 1's order: ltv_minor DESC (NULL last), then profile_id (ids are ASCII: code units order as bytes). */
function ranksBefore(a: TopRow, b: TopRow): boolean {
  if (a.ltv_minor !== b.ltv_minor) {
    if (a.ltv_minor === null) return false;
    if (b.ltv_minor === null) return true;
    return BigInt(a.ltv_minor) > BigInt(b.ltv_minor);
  }
  return a.profile_id < b.profile_id;
}

/** A currency's best `keep` rows, as a heap whose root is the worst kept. */
class Top {
  constructor(
    readonly rows: TopRow[],
    private readonly keep: number,
  ) {}

  offer(row: TopRow): void {
    const heap = this.rows;
    if (heap.length < this.keep) {
      heap.push(row);
      this.up(heap.length - 1);
    } else if (heap[0] !== undefined && ranksBefore(row, heap[0])) {
      heap[0] = row;
      this.down(0);
    }
  }

  private up(i: number): void {
    const heap = this.rows;
    for (let p = (i - 1) >> 1; i > 0 && ranksBefore(heap[p] as TopRow, heap[i] as TopRow); p = (i - 1) >> 1) {
      [heap[p], heap[i]] = [heap[i] as TopRow, heap[p] as TopRow];
      i = p;
    }
  }

  private down(i: number): void {
    const heap = this.rows;
    for (;;) {
      let worst = i;
      for (const c of [2 * i + 1, 2 * i + 2]) {
        if (c < heap.length && ranksBefore(heap[worst] as TopRow, heap[c] as TopRow)) worst = c;
      }
      if (worst === i) return;
      [heap[worst], heap[i]] = [heap[i] as TopRow, heap[worst] as TopRow];
      i = worst;
    }
  }
}

const stateKey = (io: LakeIo, ltvLocation: string) =>
  `${io.location.keyOf(ltvLocation).replace(/\/[^/]+$/, "")}/.people-pass.json`;

const passRows = async (db: D1Database) =>
  (
    await db
      .prepare(
        `SELECT table_name, rebuild_started_at, rebuild_after_key, rebuild_files, rebuild_base_sequence, rebuild_rows
         FROM lake_upkeep WHERE table_name IN (?1, ?2)`,
      )
      .bind(ORDERS.table, LTV.table)
      .all<PassRow>()
  ).results;

/** Whether a pass is under way (its ranges are read over several runs). */
export async function peoplePassRunning(db: D1Database): Promise<boolean> {
  return (await passRows(db)).some((r) => r.table_name === LTV.table && r.rebuild_started_at !== null);
}

/**
 * Reads ranges of the pass (starting it when none is under way) while `more()` allows, records its
 * progress, and commits the four tables when the last range is read.
 */
export async function peoplePassStep(
  db: D1Database,
  io: LakeIo,
  o: { owed: ReadonlyMap<string, number>; more: (rows: number) => boolean; perRange?: number },
): Promise<PeoplePassReport> {
  const orders = new TableChange(io, lakeSpecOf(ORDERS), await openTable(io, lakeSpecOf(ORDERS)), "rebuild");
  const ltv = new TableChange(io, lakeSpecOf(LTV), await openTable(io, lakeSpecOf(LTV)), "rebuild");
  const key = stateKey(io, ltv.location);
  let rows = await passRows(db);
  let ltvRow = rows.find((r) => r.table_name === LTV.table);
  let state = ltvRow?.rebuild_started_at == null ? null : await loadState(io, key, ltvRow);
  if (state === null) {
    state = await startPass(db, io, key, o);
    rows = await passRows(db);
    ltvRow = rows.find((r) => r.table_name === LTV.table);
  }
  const ordersRow = rows.find((r) => r.table_name === ORDERS.table);
  if (ltvRow === undefined || ordersRow === undefined) throw new Error("kpi: no lake_upkeep rows for the people pass");
  const tops = new Map(Object.entries(state.currencies).map(([c, s]) => [c, new Top(s.top, state.keep)]));

  const ltvFrom = await ltvSource(db);
  let after = ltvRow.rebuild_after_key === null ? "" : z.string().parse(JSON.parse(ltvRow.rebuild_after_key));
  let ended = false;
  let ranges = 0;
  let perRange = o.perRange ?? PROFILES_PER_RANGE;
  let ordersWritten = 0;
  let ltvWritten = 0;
  try {
    while (o.more(ordersWritten + ltvWritten)) {
      const bound = await db
        .prepare("SELECT id FROM customer_profiles WHERE id > ?1 ORDER BY id LIMIT 1 OFFSET ?2")
        .bind(after, perRange - 1)
        .first<{ id: string }>();
      const upper = bound?.id ?? null;
      const binds = upper === null ? [after] : [after, upper];
      const orderRows = await db
        .prepare(rangeSql(ORDERS, `(SELECT * FROM ${quote(ORDERS.table)} WHERE {range})`, upper !== null))
        .bind(...binds)
        .all<Record<string, unknown>>();
      for (const row of orderRows.results) await orders.addValues(kpiValues(ORDERS, row));
      const ltvRows = await db
        .prepare(rangeSql(LTV, ltvFrom, upper !== null))
        .bind(...binds)
        .all<Record<string, unknown>>();
      for (const row of ltvRows.results) {
        await ltv.addValues(kpiValues(LTV, row));
        const top = topRowSchema.parse(row);
        const counts = state.currencies[top.currency] ?? { customers: 0, repeat: 0, top: [] };
        state.currencies[top.currency] = counts;
        counts.customers++;
        if (top.orders !== null && BigInt(top.orders) >= 2n) counts.repeat++;
        const heap = tops.get(top.currency) ?? new Top(counts.top, state.keep);
        tops.set(top.currency, heap);
        heap.offer(top);
      }
      ranges++;
      // The next range aims at RANGE_ROWS orders, growing at most twofold (a sparse range says little).
      const aim = Math.floor((perRange * RANGE_ROWS) / Math.max(orderRows.results.length, 1));
      perRange = Math.max(1, Math.min(aim, 2 * perRange, 50_000));
      ordersWritten += orderRows.results.length;
      ltvWritten += ltvRows.results.length;
      if (upper === null) {
        ended = true;
        break;
      }
      after = upper;
    }
  } catch (err) {
    await orders.abort().catch(() => undefined);
    await ltv.abort().catch(() => undefined);
    throw err;
  }
  const files = {
    orders: [...dataFileList(ordersRow.rebuild_files), ...(await orders.finishFiles()).map(dataFileToJson)],
    ltv: [...dataFileList(ltvRow.rebuild_files), ...(await ltv.finishFiles()).map(dataFileToJson)],
  };
  const report: PeoplePassReport = {
    ranges,
    rows: ordersWritten + ltvWritten,
    committed: [],
    asOf: state.asOf,
    marks: state.marks,
  };
  if (!ended) {
    // D1 first (the sweep keeps the files it lists), then the counts: a run stopped between the two
    // leaves a state whose `after` is behind D1's, and the next run starts the pass again.
    await db.batch([
      savePass(db, ORDERS.table, after, files.orders, ordersRow.rebuild_rows + ordersWritten),
      savePass(db, LTV.table, after, files.ltv, ltvRow.rebuild_rows + ltvWritten),
    ]);
    state.after = after;
    await io.bucket.put(key, JSON.stringify(state));
    return report;
  }
  const summary = { [AS_OF]: state.asOf };
  for (const [spec, list, row] of [
    [ORDERS, files.orders, ordersRow],
    [LTV, files.ltv, ltvRow],
  ] as const) {
    const change = new TableChange(io, lakeSpecOf(spec), await openTable(io, lakeSpecOf(spec)), "rebuild");
    const all = list.map(dataFileFromJson);
    // An empty table still gets a file, so its snapshot has the schema.
    if (all.length === 0) {
      await change.addEmptyFile();
      all.push(...(await change.finishFiles()));
    }
    // An overwrite, not a replace: the rows changed (readers of changes skip a `replace`).
    report.committed.push(
      await commitRebuild(io, lakeSpecOf(spec), all, row.rebuild_base_sequence ?? 0, {
        operation: "overwrite",
        summary,
      }),
    );
  }
  for (const [spec, rows] of [
    [HIGH_VALUE, highValueRows(state, tops)],
    [REPEAT_RATE, await repeatRateRows(db, state)],
  ] as const) {
    report.committed.push(
      await overwriteKpi(io, spec, state.asOf, async (add) => {
        for (const row of rows) await add(row);
      }),
    );
  }
  await db
    .prepare(
      `UPDATE lake_upkeep SET rebuild_started_at = NULL, rebuild_after_key = NULL, rebuild_files = NULL,
         rebuild_base_sequence = NULL, rebuild_rows = 0 WHERE table_name IN (?1, ?2)`,
    )
    .bind(ORDERS.table, LTV.table)
    .run();
  await io.bucket.delete(key);
  log.info("kpi people pass committed", { asOf: state.asOf, ranges, rows: report.rows });
  return report;
}

function savePass(db: D1Database, table: string, after: string, files: string[], rows: number) {
  return db
    .prepare(
      "UPDATE lake_upkeep SET rebuild_after_key = ?2, rebuild_files = ?3, rebuild_rows = ?4 WHERE table_name = ?1",
    )
    .bind(table, JSON.stringify(after), JSON.stringify(files), rows);
}

async function startPass(
  db: D1Database,
  io: LakeIo,
  key: string,
  o: { owed: ReadonlyMap<string, number> },
): Promise<PassState> {
  const people = await db.prepare("SELECT count(*) AS n FROM customer_profiles").first<{ n: number }>();
  // People added while the pass runs may rank too: room for them beyond a tenth of today's count.
  const state: PassState = {
    asOf: new Date().toISOString(),
    after: "",
    keep: Math.ceil((people?.n ?? 0) / 10) + 1_000,
    marks: Object.fromEntries(
      PEOPLE_VIEWS.flatMap((v) => {
        const seq = o.owed.get(v.table);
        return seq === undefined ? [] : [[v.table, seq] as const];
      }),
    ),
    currencies: {},
  };
  const statements = [];
  for (const spec of [ORDERS, LTV]) {
    const base = await openTable(io, lakeSpecOf(spec));
    statements.push(
      db
        .prepare(
          `INSERT INTO lake_upkeep (table_name, rebuild_started_at, rebuild_after_key, rebuild_files, rebuild_rows,
             rebuild_base_sequence) VALUES (?1, ?2, NULL, '[]', 0, ?3)
           ON CONFLICT (table_name) DO UPDATE SET rebuild_started_at = excluded.rebuild_started_at,
             rebuild_after_key = NULL, rebuild_files = '[]', rebuild_rows = 0,
             rebuild_base_sequence = excluded.rebuild_base_sequence`,
        )
        .bind(spec.table, state.asOf, base.metadata["last-sequence-number"]),
    );
  }
  await io.bucket.put(key, JSON.stringify(state));
  await db.batch(statements);
  return state;
}

async function loadState(io: LakeIo, key: string, row: PassRow): Promise<PassState | null> {
  const object = await io.bucket.get(key);
  if (object === null) return null;
  const parsed = stateSchema.safeParse(JSON.parse(await object.text()));
  const after = row.rebuild_after_key === null ? "" : JSON.parse(row.rebuild_after_key);
  // A state of another pass, out of step with D1's progress or unreadable starts the pass again
  // (the files written so far are swept as orphans).
  return parsed.success && parsed.data.asOf === row.rebuild_started_at && parsed.data.after === after
    ? parsed.data
    : null;
}

/** Decile 1 per currency: its first ceil(n/10) people, in the snapshot's key order. */
function highValueRows(state: PassState, tops: Map<string, Top>): Record<string, unknown>[] {
  const out: TopRow[] = [];
  for (const [currency, counts] of Object.entries(state.currencies)) {
    const size = Math.ceil(counts.customers / 10);
    const ranked = [...(tops.get(currency)?.rows ?? [])].sort((a, b) => (ranksBefore(a, b) ? -1 : 1));
    if (ranked.length < size && ranked.length < counts.customers) {
      throw new Error(`kpi: the top decile of ${currency} outgrew the pass's running list; the next run starts again`);
    }
    out.push(...ranked.slice(0, size));
  }
  const byKey = (r: TopRow) => [r.profile_id, r.currency];
  return out.sort((a, b) => {
    const [x, y] = [byKey(a), byKey(b)];
    return x[0] === y[0] ? ((x[1] ?? "") < (y[1] ?? "") ? -1 : 1) : (x[0] ?? "") < (y[0] ?? "") ? -1 : 1;
  });
}

/** The repeat rate per currency, rounded by D1 as the view rounds it. */
async function repeatRateRows(db: D1Database, state: PassState): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const [currency, counts] of Object.entries(state.currencies).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const rate = await db
      .prepare("SELECT round(1.0 * ?1 / ?2, 4) AS r")
      .bind(counts.repeat, counts.customers)
      .first<{ r: number }>();
    out.push({
      currency,
      customers: String(counts.customers),
      repeat_customers: String(counts.repeat),
      repeat_rate: rate?.r ?? null,
    });
  }
  return out;
}
