/**
 * Bench Worker for bench/consumer.mjs (run by `wrangler dev` with bench/consumer.wrangler.toml, on
 * the project's migrations and bindings). POST /run {mode, batches, size, run} builds queue batches
 * of realistic Shopify orders (5 line items each) and applies them to local D1 and R2, timing
 * inside the Worker (its clock moves at each I/O, which is all this measures):
 * - `pipeline`: the real consumer, `consumeEvents` (one D1 batch per queue batch);
 * - `naive`: the same archive put, mapping and rows, but message by message and one statement per
 *   row (order, each line item, identity rows, subject index, ledger), each its own D1 round trip;
 * - `archive`: only the archive put both modes make, six at a time as the consumer makes them: the
 *   floor under both, which no change to the D1 writes can go below.
 * POST /lake-marks {on} drops or restores the lake change-mark triggers, to time their cost.
 * Both modes must ack every message, or the run is refused. The time spent waiting on D1 is also
 * reported on its own, and the R2 calls' time (summed over calls, which the consumer overlaps): the
 * R2 archive put, the mapping and the subject index rows are the same work in both modes.
 */
import { and, eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { consumeEvents } from "../src/consumers/events";
import { mapShopifyEvent, parseSubscriptionRules } from "../src/mapping/shopify";
import { putOnce, rawEventObject } from "../src/shared/archive";
import { envelopeSchema } from "../src/shared/envelope";
import { shopifyOrderLineItems, shopifyOrders } from "../src/shared/schema/shopify";
import { resourceFor } from "../src/shared/topics";
import { identityStatements } from "../src/tables/identity";
import { ledgerUpsert } from "../src/tables/ledger";
import { indexObjects } from "../src/tables/subject-index";
import { subjectsOfText } from "../src/tables/subjects";
import { makeBatch, SHOP } from "./lib/orders";

interface RunRequest {
  mode: "pipeline" | "naive" | "archive";
  batches: number;
  size: number;
  /** Distinguishes the ids of one call from every other call's (a small counter). */
  run: number;
  /** Every batch's orders come from the customers of the call's first batch (returning customers). */
  returning?: boolean;
}

/** The subject index shards the consumer writes, bound in this Worker's wrangler.toml. */
export { SubjectIndex } from "../src/durable/subject-index";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (url.pathname === "/lake-marks" && request.method === "POST") {
      const { on } = (await request.json()) as { on: boolean };
      return Response.json({ triggers: await setLakeMarks(env.DB, on) });
    }
    if (url.pathname !== "/run" || request.method !== "POST") return new Response("not found", { status: 404 });
    const req = (await request.json()) as RunRequest;
    const tag = (b: number) => String(req.run * 1000 + b).padStart(10, "0");
    const batches = Array.from({ length: req.batches }, (_, b) =>
      makeBatch(tag(b), req.size, req.returning ? tag(0) : tag(b)),
    );
    // `wrangler dev` relays every console line to its terminal at a few ms each, a cost the
    // deployed Worker does not pay (Workers Logs collects them after the invocation): the consumer's
    // one info line per event would be most of what this measured. Warnings still print.
    const info = console.log;
    console.log = () => {};
    const clock: Clock = { d1: 0, statements: 0, r2: 0, r2Calls: 0 };
    const lake = timedLake(env.LAKE, clock);
    const started = Date.now();
    let acked = 0;
    try {
      for (const batch of batches) {
        if (req.mode === "pipeline")
          await consumeEvents(batch.batch, { ...env, DB: timedBatches(env.DB, clock), LAKE: lake });
        else if (req.mode === "archive") await archiveOnly(batch.batch, lake);
        else await naiveConsume(batch.batch, { ...env, LAKE: lake }, clock);
        acked += batch.acked();
      }
    } finally {
      console.log = info;
    }
    const ms = Date.now() - started;
    const events = req.batches * req.size;
    if (acked !== events) return Response.json({ error: `${events - acked} messages not acked` }, { status: 500 });
    return Response.json({
      mode: req.mode,
      events,
      ms,
      d1Ms: clock.d1,
      statements: clock.statements,
      r2Ms: clock.r2,
      r2Calls: clock.r2Calls,
    });
  },
} satisfies ExportedHandler<Env>;

// ---- lake change marks ------------------------------------------------------------------------

/** The lake change-mark triggers (migration 0020), kept while dropped so they can be put back. */
let droppedTriggers: string[] = [];

/** Drops (`on` false) or restores the `*_lake_*` triggers, to time the consumer without them. */
async function setLakeMarks(db: D1Database, on: boolean): Promise<number> {
  if (on) {
    const restore = droppedTriggers;
    droppedTriggers = [];
    if (restore.length > 0) await db.batch(restore.map((text) => db.prepare(text)));
    return restore.length;
  }
  const r = await db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\\_lake\\_%' ESCAPE '\\'")
    .all<{ name: string; sql: string }>();
  if (r.results.length === 0) return 0;
  await db.batch(r.results.map((t) => db.prepare(`DROP TRIGGER "${t.name}"`)));
  droppedTriggers.push(...r.results.map((t) => t.sql));
  return r.results.length;
}

// ---- the naive baseline -----------------------------------------------------------------------

/** Time spent waiting on D1, kept apart so the report can show what batching changes. */
interface Clock {
  d1: number;
  /** D1 statements run. */
  statements: number;
  /** Time in R2 calls, summed over calls (overlapping calls each count), and their number. */
  r2: number;
  r2Calls: number;
}

async function timed<T>(clock: Clock, call: () => Promise<T>, statements = 1): Promise<T> {
  clock.statements += statements;
  const started = Date.now();
  try {
    return await call();
  } finally {
    clock.d1 += Date.now() - started;
  }
}

/** The consumer's D1 binding, with its batches timed (the consumer writes through batch() only). */
function timedBatches(db: D1Database, clock: Clock): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => timed(clock, () => target.batch(statements), statements.length);
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The bucket binding, with the time of every call summed. */
function timedLake(bucket: R2Bucket, clock: Clock): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        clock.r2Calls++;
        const started = Date.now();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          clock.r2 += Date.now() - started;
        }
      };
    },
  });
}

/** The same work as the consumer for these orders, one message and one row per statement at a time. */
async function naiveConsume(batch: MessageBatch<unknown>, env: Env, clock: Clock): Promise<void> {
  const d = drizzle(env.DB);
  const rules = parseSubscriptionRules(env.SUBSCRIPTION_TAGS, env.SUBSCRIPTION_SKU_PATTERNS);
  const now = new Date().toISOString();
  for (const msg of batch.messages) {
    const envelope = envelopeSchema.parse(msg.body);
    const payload = envelope.body ?? "";
    const resource = resourceFor(envelope.source, envelope.topic) ?? "orders";
    const raw = await rawEventObject(envelope, resource, payload);
    await putOnce(env.LAKE, raw);
    const meta = { shop: SHOP, eventId: envelope.eventId, eventAt: envelope.eventAt, origin: envelope.origin };
    const mapped = mapShopifyEvent("order", payload, meta, { subscriptions: rules, shopCurrency: null });
    if (!mapped.ok || mapped.rows.kind !== "order") throw new Error("bench order did not map");
    const { order, lineItems } = mapped.rows;
    const upsertOrder = d
      .insert(shopifyOrders)
      .values(order)
      .onConflictDoUpdate({
        target: [shopifyOrders.shop, shopifyOrders.id],
        set: excluded(shopifyOrders, ["shop", "id"]),
        setWhere: sql`excluded.updated_at >= ${shopifyOrders.updatedAt}`,
      });
    await timed(clock, () => upsertOrder.run());
    const dropLines = d
      .delete(shopifyOrderLineItems)
      .where(and(eq(shopifyOrderLineItems.shop, order.shop), eq(shopifyOrderLineItems.orderId, order.id)));
    await timed(clock, () => dropLines.run());
    for (const line of lineItems) {
      const insertLine = d
        .insert(shopifyOrderLineItems)
        .values(line)
        .onConflictDoUpdate({
          target: [shopifyOrderLineItems.shop, shopifyOrderLineItems.id],
          set: excluded(shopifyOrderLineItems, ["shop", "id"]),
        });
      await timed(clock, () => insertLine.run());
    }
    const event = { envelope, resource, payload, r2Key: raw.key };
    for (const statement of identityStatements(env.DB, event)) await timed(clock, () => statement.run());
    // The subject index entries the consumer writes for the archived object (its customer and
    // e-mails): shard calls, timed with the D1 writes.
    const subjects = await subjectsOfText(env, envelope.source, envelope.shop, resource, payload);
    await timed(clock, () => indexObjects(env, [{ r2Key: raw.key, subjects, redacted: false }], now));
    const ledger = ledgerUpsert(env.DB, { envelope, resource, status: "applied", r2Key: raw.key, attempts: 1, now });
    await timed(clock, () => ledger.run());
    msg.ack();
  }
}

/** The archive put of every message, as many at a time as the consumer has in flight (events.ts). */
async function archiveOnly(batch: MessageBatch<unknown>, lake: R2Bucket): Promise<void> {
  const queue = [...batch.messages];
  const worker = async () => {
    for (let msg = queue.shift(); msg !== undefined; msg = queue.shift()) {
      const envelope = envelopeSchema.parse(msg.body);
      const resource = resourceFor(envelope.source, envelope.topic) ?? "orders";
      await putOnce(lake, await rawEventObject(envelope, resource, envelope.body ?? ""));
      msg.ack();
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
}

/** `SET col = excluded.col` for every column but the key: no bound parameters, so a row fits D1's 100. */
function excluded(table: SQLiteTable, key: string[]): Record<string, SQL> {
  const set: Record<string, SQL> = {};
  for (const [name, column] of Object.entries(getTableColumns(table))) {
    if (!key.includes(column.name)) set[name] = sql`excluded.${sql.identifier(column.name)}`;
  }
  return set;
}
