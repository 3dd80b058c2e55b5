/**
 * The scale run: a large brand (./world.ts: 1M orders and 5M line items over two
 * years, 300k customers, 200k Stripe charges and invoices, 50k Recharge subscriptions with their
 * charges, a 1M-event ledger day, at SCALE = 1) is seeded directly into D1 and R2, then every
 * job runs to completion, each invocation under the limits layer installed by test/setup.ts.
 * One line per job: invocations, per-invocation maxima, D1 rows, PASS or FAIL; then
 * `scale: N/M jobs finished within limits`. Tests run in order on one storage: each job works
 * on what the jobs before it left (shop/redact, which deletes the shop, comes last). A job that
 * FAILs is a measurement, not a test failure; only a broken harness fails a test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { takeSwallowedLimits } from "../../test/fakes/limits";
import { installCensus } from "./census";
import { changeOrdersUpstream, touchOrders } from "./changes";
import {
  bulkDriver,
  compactDriver,
  deliverCompliance,
  kpiDriver,
  moveDriver,
  onceDriver,
  privacyDriver,
  rebuildDriver,
  reconcileDriver,
  replayDriver,
  requestErasure,
  retentionDriver,
} from "./drivers";
import { routeToFakeShop } from "./fake-shop";
import { type Driver, type JobLine, measure, print, quietly } from "./meter";
import { printHeader, printLine, printSummary } from "./report";
import { complianceEnvelope, redactedOrders, seedLedgerDay, seedPeople, seedReplayDay } from "./seed-events";
import { seedTables } from "./seed-tables";
import { settle } from "./settle";
import { COUNTS, ERASED, orderId, REDACTED, SCALE, SHOP } from "./world";

const lines: JobLine[] = [];

async function run(name: string, driver: Driver): Promise<void> {
  const line = await measure(name, driver);
  lines.push(line);
  printLine(line);
  await settle(line);
}

/** Runs `fn` with fetch routed to the fake Shopify. */
async function withFakeShop(fn: () => Promise<void>): Promise<void> {
  const restore = routeToFakeShop();
  try {
    await fn();
  } finally {
    restore();
  }
}

const count = (n: number) => n.toLocaleString("en-US");
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function timed(what: string, seed: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  await seed();
  print(`  seeded ${what} in ${seconds(performance.now() - started)}`);
}

beforeAll(installCensus);
afterAll(() => printSummary(lines));

// A coordinator alarm that fired on its own after a job's measurement ended: already counted as
// that job's failure when it crossed a limit there; here it must not fail the harness.
afterEach(() => {
  const late = takeSwallowedLimits();
  if (late.length > 0) print(`    harness: limits crossed after the job's measurement ended: ${late.join(", ")}`);
});

describe.sequential(`large brand at scale ${SCALE}`, () => {
  it("seeds the brand", async () => {
    const started = performance.now();
    print(`scale ${SCALE}: ${JSON.stringify(COUNTS)}`);
    for (const t of await seedTables()) print(`  seeded ${t.table}: ${count(t.rows)} in ${seconds(t.ms)}`);
    await timed(`the ledger day: ${count(COUNTS.ledgerDayEvents)} events`, seedLedgerDay);
    await timed(`the replayed day with its R2 objects: ${count(COUNTS.replayDayEvents)} events`, seedReplayDay);
    await timed("the two people's events through the consumer", () => quietly(seedPeople));
    print(`seeding took ${seconds(performance.now() - started)}`);
    printHeader();
  });

  // The ledger day's subject index rows are seeded into D1, as an earlier version kept them: the
  // privacy job moves them to the shards before it carries out any request.
  it("subject index move out of D1", () =>
    run(`subject index move (${count(COUNTS.ledgerDayEvents * 2)} rows)`, moveDriver()));

  it("compact: first full run", () => run("compact (first, full)", compactDriver()));

  it("compact after changed orders", async () => {
    await touchOrders(COUNTS.changedOrders);
    await run(`compact (${COUNTS.changedOrders} changed orders)`, compactDriver());
  });

  it("KPI snapshots", () => run("lake-upkeep (KPI snapshots)", kpiDriver()));

  it("lake-upkeep: rebuild of the line items from D1", () =>
    run("lake-upkeep (rebuild shopify_order_line_items)", rebuildDriver("shopify_order_line_items")));

  it("erasure of a person across the three sources", () =>
    run(
      "erase (200 orders, 3 sources)",
      privacyDriver(() => requestErasure(ERASED.email)),
    ));

  it("customers/data_request", () =>
    run(
      "customers/data_request",
      privacyDriver(() =>
        deliverCompliance(
          complianceEnvelope("customers/data_request", {
            shop_id: 1,
            shop_domain: SHOP,
            customer: { id: REDACTED.shopifyCustomer, email: REDACTED.email, phone: null },
            orders_requested: redactedOrders().map(orderId),
            data_request: { id: 9 },
          }),
        ),
      ),
    ));

  it("customers/redact", () =>
    run(
      `customers/redact (${COUNTS.redactedPersonOrders} orders)`,
      privacyDriver(() =>
        deliverCompliance(
          complianceEnvelope("customers/redact", {
            shop_id: 1,
            shop_domain: SHOP,
            customer: { id: REDACTED.shopifyCustomer, email: REDACTED.email, phone: null },
            orders_to_redact: redactedOrders().map(orderId),
          }),
        ),
      ),
    ));

  it("retention of the ledger day", () => run(`retention (${COUNTS.ledgerDayEvents} events)`, retentionDriver()));

  it("replay of a day", () => run(`replay (${COUNTS.replayDayEvents} events)`, replayDriver()));

  it("reconcile with orders changed upstream", async () => {
    await changeOrdersUpstream(COUNTS.reconcileChangedOrders, COUNTS.reconcileMissedShare);
    await withFakeShop(() => run(`reconcile (${COUNTS.reconcileChangedOrders} changed upstream)`, reconcileDriver()));
  });

  it("bulk export of every order", () =>
    withFakeShop(() => run(`bulk export (${COUNTS.orders} orders)`, bulkDriver())));

  it("data quality", () =>
    withFakeShop(() =>
      run(
        "data-quality",
        onceDriver("data-quality", (r) =>
          r.job === "data-quality" && !r.result.skipped
            ? `${r.result.pass} PASS, ${r.result.warn} WARN, ${r.result.fail} FAIL`
            : "skipped",
        ),
      ),
    ));

  it("pipeline health", () =>
    run(
      "health",
      onceDriver("health", (r) => (r.job === "health" ? `${r.result.raised.length} alerts raised` : "")),
    ));

  it("shop/redact of the whole shop", () =>
    run(
      "shop/redact",
      privacyDriver(() => deliverCompliance(complianceEnvelope("shop/redact", { shop_id: 1, shop_domain: SHOP }))),
    ));

  it("measured every job", () => {
    expect(lines.length).toBe(14);
  });
});
