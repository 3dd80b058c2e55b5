/**
 * The cost bench (`npm run bench -- cost`, bench/cost.mjs): for each kind of event (./kinds.ts),
 * COST_EVENTS signed webhooks go through the real pipeline in workerd: the ingress app (one fetch
 * invocation each), a queue that keeps what ingress sends, and the consumer (`worker.queue`, in
 * batches of 50 as wrangler.toml sets), every invocation under the limits layer of
 * test/fakes/limits.ts, which counts what Cloudflare bills. Priced with ../shared/PLATFORM-LIMITS.md
 * and printed beside the kind's floor; D1 rows written are also broken down by the table each
 * statement writes. Lines starting `COST| ` are the bench's output.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { it, vi } from "vitest";
import { app } from "../../src/ingress/app";
import { type InvocationReport, limitedQueue, onInvocationEnd, onStatement, queueOps } from "../../test/fakes/limits";
import { drain, requestFor, SimulatedQueue } from "../../test/helpers/pipeline-run";
import { KINDS } from "./kinds";

const settings = env as unknown as { COST_EVENTS?: string; COST_CPU_URL?: string };
const N = Number(settings.COST_EVENTS ?? 200);
/** wrangler.toml's max_batch_size for commerce-events. */
const BATCH = 50;

/** Dollars per unit (../shared/PLATFORM-LIMITS.md, Workers Paid beyond the allowance). */
const PRICE = {
  request: 0.3e-6,
  cpuMs: 0.02e-6,
  queueOp: 0.4e-6,
  r2ClassA: 4.5e-6,
  r2ClassB: 0.36e-6,
  d1RowRead: 0.001e-6,
  d1RowWritten: 1e-6,
  doRequest: 0.15e-6,
  doRowWritten: 1e-6,
  aePoint: 0.25e-6,
};

const out = console.log.bind(console);
const print = (line: string) => out(`COST| ${line}`);

/** CPU ms the local workerd processes have used so far, from bench/cost.mjs (NaN when run without it). */
async function workerdCpuMs(): Promise<number> {
  if (!settings.COST_CPU_URL) return Number.NaN;
  const res = await fetch(settings.COST_CPU_URL);
  return ((await res.json()) as { ms: number }).ms;
}

interface Bill {
  events: number;
  requests: number;
  ingressCpuMs: number;
  consumerCpuMs: number;
  queueOps: number;
  r2ClassA: number;
  r2ClassB: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  doRequests: number;
  doRowsRead: number;
  doRowsWritten: number;
  aePoints: number;
  /** Floor's own rows (entity rows + ledger row), summed over events. */
  floorRows: number;
  floorQueueOps: number;
  byTable: Map<string, { written: number; changes: number; statements: number }>;
}

const dollars = (b: Bill) =>
  b.requests * PRICE.request +
  (b.ingressCpuMs + b.consumerCpuMs) * PRICE.cpuMs +
  b.queueOps * PRICE.queueOp +
  b.r2ClassA * PRICE.r2ClassA +
  b.r2ClassB * PRICE.r2ClassB +
  b.d1RowsRead * PRICE.d1RowRead +
  b.d1RowsWritten * PRICE.d1RowWritten +
  b.doRequests * PRICE.doRequest +
  b.doRowsRead * PRICE.d1RowRead +
  b.doRowsWritten * PRICE.d1RowWritten +
  b.aePoints * PRICE.aePoint;

/**
 * The floor of one event: one Worker request for ingress and 1/50 of a consumer batch's, the queue
 * operations of its one message (write, read, delete per 64 KB), one R2 put (its raw object), and
 * its ledger row plus its own entity rows (its object's row and the child rows its payload lists:
 * an order's line items, a product's variants, a Recharge charge's line items), each written
 * once with no index entry. No CPU, no reads, no Durable Object, no Analytics Engine point.
 */
const floorDollars = (b: Bill) =>
  b.events * (1 + 1 / BATCH) * PRICE.request +
  b.floorQueueOps * PRICE.queueOp +
  b.events * PRICE.r2ClassA +
  b.floorRows * PRICE.d1RowWritten;

/** The table a write statement writes (its target), else "(read)". */
function targetTable(sql: string): string {
  const m =
    /\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+["`[]?(\w+)/i.exec(
      sql.replace(/--[^\n]*/g, ""),
    );
  return m?.[1] ?? "(read)";
}

async function schemaCounts(): Promise<Map<string, { indexes: number; triggers: number }>> {
  const rows = await env.DB.prepare(
    "SELECT tbl_name AS t, sum(type = 'index') AS i, sum(type = 'trigger') AS g FROM sqlite_master WHERE type IN ('index','trigger') GROUP BY tbl_name",
  ).all<{ t: string; i: number; g: number }>();
  return new Map(rows.results.map((r) => [r.t, { indexes: r.i, triggers: r.g }]));
}

function muteLogs(): () => void {
  const spies = (["log", "info", "debug", "warn"] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation(() => {}),
  );
  return () => {
    for (const s of spies) s.mockRestore();
  };
}

async function measureKind(kindIndex: number): Promise<Bill> {
  const kind = KINDS[kindIndex];
  if (kind === undefined) throw new Error(`no kind ${kindIndex}`);
  // The order update resends the orders the create run made (same run number), newer.
  const run = kind.name === "shopify order update" ? 1 : kindIndex + 1;
  const events = Array.from({ length: N }, (_, i) => kind.build(i, run));
  // Signed before the measurement starts, so signing is not counted as ingress CPU.
  const requests = await Promise.all(events.map((e) => requestFor(e.delivery)));
  const queue = new SimulatedQueue();
  const bound = { ...env, EVENTS: limitedQueue(queue.binding) } as Env;
  const bill: Bill = {
    events: N,
    requests: 0,
    ingressCpuMs: 0,
    consumerCpuMs: 0,
    queueOps: 0,
    r2ClassA: 0,
    r2ClassB: 0,
    d1RowsRead: 0,
    d1RowsWritten: 0,
    doRequests: 0,
    doRowsRead: 0,
    doRowsWritten: 0,
    aePoints: 0,
    floorRows: events.reduce((s, e) => s + 1 + e.ownRows, 0),
    floorQueueOps: 0,
    byTable: new Map(),
  };
  const stopInvocations = onInvocationEnd((r: InvocationReport) => {
    if (r.kind === "fetch" || r.kind === "queue") bill.requests++;
    if (r.kind.startsWith("ShopCoordinator.") || r.kind.startsWith("SubjectIndex.")) bill.doRequests++;
    bill.doRowsRead += r.doRowsRead;
    bill.doRowsWritten += r.doRowsWritten;
    bill.queueOps += r.queueWrites;
    bill.r2ClassA += r.r2ClassA;
    bill.r2ClassB += r.r2ClassB;
    bill.d1RowsRead += r.d1RowsRead;
    bill.d1RowsWritten += r.d1RowsWritten;
    bill.aePoints += r.aePoints;
  });
  const stopStatements = onStatement((s) => {
    const t = targetTable(s.sql);
    const e = bill.byTable.get(t) ?? { written: 0, changes: 0, statements: 0 };
    e.written += s.rowsWritten;
    e.changes += t === "(read)" ? 0 : s.changes;
    e.statements++;
    bill.byTable.set(t, e);
  });
  const unmute = muteLogs();
  try {
    const cpu0 = await workerdCpuMs();
    for (const req of requests) {
      const res = await app.fetch(req, bound, createExecutionContext());
      if (res.status !== 200) throw new Error(`${kind.name}: ingress answered ${res.status}: ${await res.text()}`);
    }
    const cpu1 = await workerdCpuMs();
    // Reads and deletes: one of each per 64 KB of every message delivered (the queue, not the Worker, does them).
    const perMessage = queue.pending.map((m) => queueOps(m.body));
    const sent = perMessage.reduce((a, b) => a + b, 0);
    const drained = await drain(queue, bound, bound, BATCH);
    const cpu2 = await workerdCpuMs();
    if (drained.deliveries !== N || drained.deadLettered.length > 0) {
      throw new Error(
        `${kind.name}: ${drained.deliveries} deliveries for ${N} events, ${drained.deadLettered.length} dead`,
      );
    }
    bill.queueOps += 2 * sent;
    bill.floorQueueOps = 3 * sent;
    bill.ingressCpuMs = cpu1 - cpu0;
    bill.consumerCpuMs = cpu2 - cpu1;
  } finally {
    unmute();
    stopInvocations();
    stopStatements();
  }
  return bill;
}

const f = (n: number, d = 2) => (Number.isNaN(n) ? "n/a" : n.toFixed(d));

it("bills each kind of event through ingress, queue and consumer", async () => {
  print(`${N} events of each kind; consumer batches of ${BATCH}; prices of ../shared/PLATFORM-LIMITS.md`);
  print(
    "floor per event: 1 ingress request + 1/50 consumer request, 3 queue operations per 64 KB of its message, 1 R2 put, " +
      "its ledger row and its own entity rows (order + line items, product + variants, Recharge charge + line items, else 1) written once without index entries",
  );
  print(
    "CPU: the workerd processes' CPU time (/proc, user + system) across each phase: the Worker plus the local D1, R2 and test runner it hosts, so an upper bound; not in the floor",
  );
  const schema = await schemaCounts();
  const bills: [string, Bill][] = [];
  for (const [i, kind] of KINDS.entries()) bills.push([kind.name, await measureKind(i)]);

  const head =
    "kind                    req/ev  CPU ms/ev (in+cons)  queue ops  R2 A  R2 B  D1 read  D1 written  floor rows  DO req  DO written  AE pts   $/M events  floor $/M   × floor";
  print(head);
  let worst = { ratio: 0, kind: "" };
  for (const [name, b] of bills) {
    const per = (x: number) => x / b.events;
    const cost = (dollars(b) / b.events) * 1e6;
    const floor = (floorDollars(b) / b.events) * 1e6;
    const ratio = cost / floor;
    if (!(ratio <= worst.ratio)) worst = { ratio, kind: name };
    print(
      `${name.padEnd(22)} ${f(per(b.requests)).padStart(6)}  ${`${f(per(b.ingressCpuMs))}+${f(per(b.consumerCpuMs))}`.padStart(19)}  ${f(per(b.queueOps)).padStart(9)}  ${f(per(b.r2ClassA)).padStart(4)}  ${f(per(b.r2ClassB)).padStart(4)}  ${f(per(b.d1RowsRead), 1).padStart(7)}  ${f(per(b.d1RowsWritten)).padStart(10)}  ${f(per(b.floorRows)).padStart(10)}  ${f(per(b.doRequests)).padStart(6)}  ${f(per(b.doRowsWritten)).padStart(10)}  ${f(per(b.aePoints)).padStart(6)}  ${f(cost).padStart(11)}  ${f(floor).padStart(9)}  ${f(ratio).padStart(7)}×`,
    );
  }
  print("");
  print(
    "D1 rows written per event by the table each statement writes: a statement's rows_written include its indexes' entries and its triggers' rows; " +
      "stmt = statements per event, changes = meta.changes (local D1 counts trigger rows in it too), idx/trg = indexes (with autoindexes) and triggers on the table",
  );
  for (const [name, b] of bills) {
    const parts = [...b.byTable.entries()]
      .filter(([, e]) => e.written > 0)
      .sort((x, y) => y[1].written - x[1].written)
      .map(([t, e]) => {
        const s = schema.get(t) ?? { indexes: 0, triggers: 0 };
        return `${t} ${f(e.written / b.events)} (${f(e.statements / b.events)} stmt, ${f(e.changes / b.events)} changes, ${s.indexes} idx, ${s.triggers} trg)`;
      });
    print(`  ${name}: ${f(b.d1RowsWritten / b.events)} = ${parts.join("; ")}`);
  }
  print("");
  print(`cost: worst ${f(worst.ratio)}× floor (${worst.kind})`);
});
