import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { COMPACT_TABLES } from "../src/cron/compact/tables";
import { runJob } from "../src/cron/jobs";
import worker from "../src/index";
import { sha256, toHex, utf8 } from "../src/shared/crypto";
import type { Envelope } from "../src/shared/envelope";
import { CaptureQueue, consumeBodies } from "./cron-helpers";
import { ADMIN_TOKEN, adminRequest } from "./helpers/requests";

const run = `${Date.now()}`;
let seq = 0;
const next = () => ++seq;
const shopifyId = () => `7${run.slice(-9)}${String(next()).padStart(8, "0")}`;
const shop = `rp-${run}.myshopify.com`;
const otherShop = `rp-other-${run}.myshopify.com`;

function envelope(source: Envelope["source"], topic: string, body: string, s: string | null, at: string): Envelope {
  return {
    v: 1,
    source,
    topic,
    eventId: `${source}-rp-${run}-${next()}`,
    shop: s,
    receivedAt: at,
    eventAt: at,
    apiVersion: null,
    origin: "webhook",
    body,
  };
}

const order = (s: string, id: string, customer: string, total: string, at: string, lines: number) =>
  envelope(
    "shopify",
    "orders/updated",
    `{"id":${id},"name":"#${id.slice(-4)}","email":"c${customer.slice(-4)}@example.com","customer":{"id":${customer},"email":"c${customer.slice(-4)}@example.com"},"currency":"JPY","total_price":"${total}","financial_status":"paid","source_name":"web","created_at":"2027-05-01T08:00:00Z","updated_at":"${at}","shipping_address":{"country_code":"JP","province_code":"13"},"line_items":[${Array.from(
      { length: lines },
      (_, i) => `{"id":${shopifyId()},"title":"Tea ${i}","quantity":${i + 1},"price":"1000","sku":"TEA-${i}"}`,
    ).join(",")}]}`,
    s,
    at,
  );

/** A Recharge subscription of this run at `price`, as of `time` on 2027-05-01 (created at 11:00). */
const rechargeSubscription = (topic: string, price: string, time: string) =>
  envelope(
    "recharge",
    topic,
    JSON.stringify({
      subscription: {
        id: `9${run.slice(-8)}`,
        customer_id: `8${run.slice(-8)}`,
        email: "r@example.com",
        status: "ACTIVE",
        sku: "TEA-SUB",
        price,
        currency: "USD",
        quantity: 1,
        created_at: "2027-05-01T11:00:00",
        updated_at: `2027-05-01T${time}`,
      },
    }),
    null,
    `2027-05-01T${time}Z`,
  );

async function checksum(table: string, key: readonly string[]): Promise<{ rows: number; hash: string }> {
  const r = await env.DB.prepare(`SELECT * FROM ${table} ORDER BY ${key.join(", ")}`).all<Record<string, unknown>>();
  // `origin` says how the row arrived (webhook, replay): provenance, not content.
  const text = r.results.map((row) => JSON.stringify({ ...row, origin: undefined })).join("\n");
  return { rows: r.results.length, hash: toHex(await sha256(utf8(text))) };
}

/** The identity graph by content: profiles have random ids and creation times, so they are named by their key e-mail. */
async function identityChecksum(): Promise<{ rows: number; hash: string }> {
  const r = await env.DB.prepare(
    `SELECT i.source, i.external_id, i.shop, i.email, i.shopify_customer_id, i.matched_by, p.email AS profile
     FROM customer_identities i JOIN customer_profiles p ON p.id = i.profile_id
     UNION ALL SELECT 'email', e.email, '', NULL, NULL, NULL, p.email
     FROM customer_profile_emails e JOIN customer_profiles p ON p.id = e.profile_id
     ORDER BY 1, 2, 3`,
  ).all();
  return { rows: r.results.length, hash: toHex(await sha256(utf8(JSON.stringify(r.results)))) };
}

const ENTITY_TABLES = COMPACT_TABLES.filter((t) => t.source !== "identity");

async function checksums() {
  const out: Record<string, { rows: number; hash: string }> = {};
  for (const t of ENTITY_TABLES) out[t.table] = await checksum(t.table, t.key);
  out.identity = await identityChecksum();
  return out;
}

async function replayUntilDone(e: Env, capture: CaptureQueue, replayId: string) {
  for (let i = 0; i < 200; i++) {
    const status = await env.DB.prepare("SELECT status FROM replay_runs WHERE id = ?")
      .bind(replayId)
      .first<{ status: string }>();
    if (capture.sent.length > 0) {
      const result = await consumeBodies(capture.sent);
      expect(result.retryMessages).toEqual([]);
      capture.clear();
    }
    if (status?.status === "completed") return;
    expect(status?.status).toBe("running");
    await runJob(e, "replay", { now: new Date(), options: { batchEvents: 7 } });
  }
  throw new Error("replay did not complete");
}

describe("replay by event-time range", () => {
  it("rebuilds wiped tables from the archive: per-table checksums identical, newest version kept", async () => {
    const c1 = shopifyId();
    const c2 = shopifyId();
    const o1 = shopifyId();
    const newer = order(shop, o1, c1, "3000", "2027-05-01T12:00:00Z", 3);
    const older = order(shop, o1, c1, "1000", "2027-05-01T09:00:00Z", 1);
    const T = 1_809_000_000; // 2027-04-29T...
    const stripe = (type: string, object: Record<string, unknown>) => {
      const id = `evt_rp${run}${next()}`;
      const body = JSON.stringify({ id, object: "event", type, created: T, livemode: true, data: { object } });
      return { ...envelope("stripe", type, body, null, "2027-05-01T10:30:00Z"), eventId: id };
    };
    const events = [
      envelope(
        "shopify",
        "customers/update",
        `{"id":${c1},"email":"c${c1.slice(-4)}@example.com","first_name":"Aki","created_at":"2027-04-01T10:00:00Z","updated_at":"2027-05-01T08:00:00Z"}`,
        shop,
        "2027-05-01T08:00:00Z",
      ),
      newer,
      older,
      order(shop, shopifyId(), c2, "500", "2027-05-01T13:30:00Z", 2),
      order(otherShop, shopifyId(), shopifyId(), "700", "2027-05-01T14:00:00Z", 1),
      envelope(
        "shopify",
        "products/create",
        `{"id":${shopifyId()},"title":"Sencha","status":"active","created_at":"2027-05-01T07:00:00Z","updated_at":"2027-05-01T07:00:00Z","variants":[{"id":${shopifyId()},"title":"50g","price":"1200","sku":"SEN-50"}]}`,
        shop,
        "2027-05-01T07:00:00Z",
      ),
      stripe("customer.created", {
        id: `cus_rp${run}`,
        object: "customer",
        email: "s@example.com",
        livemode: true,
        created: T,
      }),
      stripe("charge.succeeded", {
        id: `ch_rp${run}`,
        object: "charge",
        customer: `cus_rp${run}`,
        amount: 4200,
        currency: "eur",
        status: "succeeded",
        paid: true,
        livemode: true,
        created: T,
      }),
      rechargeSubscription("subscription/created", "15.00", "11:00:00"),
      // The subscription's price changes: a second MRR state.
      rechargeSubscription("subscription/updated", "18.00", "11:30:00"),
    ];
    // Outside the replayed range: must not be sent.
    const outsideId = shopifyId();
    const outside = order(shop, outsideId, c2, "900", "2027-05-03T10:00:00Z", 1);
    expect((await consumeBodies([...events, outside])).retryMessages).toEqual([]);
    const stored = await env.DB.prepare(
      "SELECT total_price_minor, line_item_count FROM shopify_orders WHERE shop = ? AND id = ?",
    )
      .bind(shop, o1)
      .first();
    expect(stored).toEqual({ total_price_minor: 3000, line_item_count: 3 });
    // The out-of-range order's rows are not part of the comparison.
    await env.DB.prepare("DELETE FROM shopify_orders WHERE id = ?1").bind(outsideId).run();
    await env.DB.prepare("DELETE FROM shopify_order_line_items WHERE order_id = ?1").bind(outsideId).run();
    const before = await checksums();
    expect(before.shopify_orders?.rows).toBe(3);
    expect(before.shopify_order_line_items?.rows).toBe(6);
    expect(before.subscription_mrr_history?.rows).toBeGreaterThanOrEqual(2);

    // Exactly the README's rebuild: the normalized tables are emptied; the MRR history is kept and
    // replay writes each of its states again (a kept state must not fail the write).
    for (const t of ENTITY_TABLES.filter((x) => x.source !== "kpi"))
      await env.DB.prepare(`DELETE FROM ${t.table}`).run();
    for (const t of [
      "customer_identity_conflicts",
      "customer_identities",
      "customer_profile_emails",
      "customer_profiles",
    ]) {
      await env.DB.prepare(`DELETE FROM ${t}`).run();
    }
    expect((await checksums()).shopify_orders?.rows).toBe(0);

    const capture = new CaptureQueue();
    const e = { ...env, EVENTS: capture } as Env;
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      adminRequest("/admin/replay", ADMIN_TOKEN, {
        method: "POST",
        body: JSON.stringify({ from: "2027-05-01T00:00:00Z", to: "2027-05-01T23:59:59Z" }),
      }),
      e,
      ctx,
    );
    expect(res.status).toBe(202);
    const { replayId } = (await res.json()) as { replayId: string };
    await waitOnExecutionContext(ctx);
    await replayUntilDone(e, capture, replayId);

    expect(await checksums()).toEqual(before);
    const progress = await worker.fetch(adminRequest(`/admin/replay/${replayId}`), env, createExecutionContext());
    const body = (await progress.json()) as { status: string; listed: number; sent: number; applied: number };
    expect(body).toMatchObject({
      ok: true,
      replayId,
      status: "completed",
      sent: events.length,
      applied: events.length,
    });
    expect(body.listed).toBe(events.length);
    const ledger = await env.DB.prepare(
      "SELECT origin, deliveries FROM webhook_events WHERE source = 'shopify' AND event_id = ?",
    )
      .bind(older.eventId)
      .first();
    // The ledger keeps what the event is; a replay is not a new delivery.
    expect(ledger).toMatchObject({ origin: "webhook" });
    const row = await env.DB.prepare("SELECT origin, total_price_minor FROM shopify_orders WHERE shop = ? AND id = ?")
      .bind(shop, o1)
      .first();
    expect(row).toEqual({ origin: "replay", total_price_minor: 3000 });
  });

  it("narrows by source and shop, lists only the range's partitions, and refuses bad ranges", async () => {
    const capture = new CaptureQueue();
    const e = { ...env, EVENTS: capture } as Env;
    const sent = order(otherShop, shopifyId(), shopifyId(), "100", "2027-05-02T06:00:00Z", 1);
    const notThisShop = order(shop, shopifyId(), shopifyId(), "100", "2027-05-02T06:10:00Z", 1);
    const stripeSameHour = {
      ...envelope(
        "stripe",
        "charge.succeeded",
        JSON.stringify({
          id: `evt_rq${run}`,
          object: "event",
          type: "charge.succeeded",
          created: 1,
          data: {
            object: {
              id: `ch_rq${run}`,
              object: "charge",
              amount: 1,
              currency: "usd",
              status: "succeeded",
              created: 1,
            },
          },
        }),
        null,
        "2027-05-02T06:20:00Z",
      ),
      eventId: `evt_rq${run}`,
    };
    expect((await consumeBodies([sent, notThisShop, stripeSameHour])).retryMessages).toEqual([]);
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      adminRequest("/admin/replay", ADMIN_TOKEN, {
        method: "POST",
        body: JSON.stringify({
          source: "shopify",
          resource: "orders",
          shop: otherShop,
          from: "2027-05-02T06:00:00Z",
          to: "2027-05-02T06:59:59Z",
        }),
      }),
      e,
      ctx,
    );
    expect(res.status).toBe(202);
    const { replayId } = (await res.json()) as { replayId: string };
    // The request sent the first chunk itself, after answering.
    await waitOnExecutionContext(ctx);
    const row = await env.DB.prepare("SELECT status, listed, sent FROM replay_runs WHERE id = ?")
      .bind(replayId)
      .first();
    expect(row).toEqual({ status: "completed", listed: 2, sent: 1 });
    expect(capture.envelopes().map((x) => [x.eventId, x.origin, x.bodyKey?.startsWith("raw/shopify/orders/")])).toEqual(
      [[sent.eventId, "replay", true]],
    );

    for (const bad of [
      { from: "2027-05-02T07:00:00Z", to: "2027-05-02T06:00:00Z" },
      { from: "2027-05-02T07:00:00Z" },
      { source: "paypal", from: "2027-05-02T06:00:00Z", to: "2027-05-02T07:00:00Z" },
      { from: "2027-05-02T06:00:00+02:00", to: "2027-05-02T07:00:00Z" },
    ]) {
      const r = await worker.fetch(
        adminRequest("/admin/replay", ADMIN_TOKEN, { method: "POST", body: JSON.stringify(bad) }),
        e,
        createExecutionContext(),
      );
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    const missing = await worker.fetch(adminRequest("/admin/replay/rp-nope"), env, createExecutionContext());
    expect(missing.status).toBe(404);
  });
});
