// The admin reads of the ledger seek by source (src/ingress/admin/ledger-sql.ts, plans checked in
// test/node/admin-plans.test.ts); what they answer stays as it was: /admin/events without a source
// is the newest rows over every source and database, one event needs its source, and the status,
// doctor and ops pages' last events and hourly counts come from the newest rows of each source.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../src/index";
import type { DoctorReport } from "../src/ingress/admin/doctor";
import { opsData } from "../src/ingress/admin/ops-data";
import type { RecentEvent } from "../src/ingress/admin/recent-events";
import type { PipelineStatus } from "../src/ingress/admin/status";
import { adminRequest } from "./helpers/requests";

const ROUTED = "routed-shop.myshopify.com";

interface Seed {
  source: "shopify" | "stripe" | "recharge";
  id: string;
  at: string;
  eventAt?: string;
  status?: string;
  origin?: string;
  shop?: string | null;
}

const at = (hour: number, minute = 0) =>
  `2031-03-10T${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}:00.000Z`;

// Ties in received_at across sources and databases; the newest of each source in a different database.
const SEEDS: Seed[] = [
  { source: "shopify", id: "s1", at: at(9), shop: "a.myshopify.com" },
  { source: "shopify", id: "s2", at: at(11), shop: "a.myshopify.com", status: "failed" },
  { source: "shopify", id: "s3", at: at(12), shop: ROUTED, eventAt: at(7) },
  { source: "shopify", id: "s4", at: at(12), shop: "a.myshopify.com", eventAt: at(6), origin: "reconcile" },
  { source: "shopify", id: "s5", at: at(10, 30), shop: ROUTED, status: "quarantined" },
  { source: "stripe", id: "t1", at: at(12), status: "archived" },
  { source: "stripe", id: "t2", at: at(8), status: "failed" },
  { source: "stripe", id: "t3", at: at(13), eventAt: at(12, 59), origin: "replay" },
  { source: "stripe", id: "t4", at: at(11), eventAt: at(11) },
  { source: "recharge", id: "r1", at: at(10), origin: "bulk" },
  { source: "recharge", id: "r2", at: at(10, 30), origin: "bulk", status: "failed" },
];

function database(s: Seed): D1Database {
  return s.shop === ROUTED ? env.DB_ROUTED : env.DB;
}

beforeAll(async () => {
  for (const s of SEEDS)
    await database(s)
      .prepare(
        `INSERT INTO webhook_events (source, event_id, topic, shop, received_at, event_at, origin, status, first_seen_at, updated_at)
         VALUES (?1, ?2, 'topic', ?3, ?4, ?5, ?6, ?7, ?4, ?4)`,
      )
      .bind(s.source, s.id, s.shop ?? null, s.at, s.eventAt ?? s.at, s.origin ?? "webhook", s.status ?? "applied")
      .run();
});

/** What the endpoint answered before: every matching row, received_at DESC then event_id, cut to limit. */
function expected(f: { source?: string; status?: string; limit: number }): string[] {
  return SEEDS.filter(
    (s) => (!f.source || s.source === f.source) && (!f.status || (s.status ?? "applied") === f.status),
  )
    .sort((a, b) => (a.at === b.at ? (a.id < b.id ? -1 : 1) : a.at < b.at ? 1 : -1))
    .slice(0, f.limit)
    .map((s) => s.id);
}

async function events(query: string): Promise<{ status: number; ids: string[]; rows: RecentEvent[] }> {
  const res = await worker.fetch(adminRequest(`/admin/events?${query}`), env, createExecutionContext());
  const body = (await res.json()) as { events?: RecentEvent[] };
  return { status: res.status, ids: (body.events ?? []).map((e) => e.event_id), rows: body.events ?? [] };
}

describe("GET /admin/events", () => {
  it("without a source: the newest rows over every source and database, received_at DESC then event_id", async () => {
    expect((await events("limit=500")).ids).toEqual(expected({ limit: 500 }));
    expect((await events("limit=500")).ids).toEqual(["t3", "s3", "s4", "t1", "s2", "t4", "r2", "s5", "r1", "s1", "t2"]);
    for (const limit of [1, 2, 3, 4, 6]) expect((await events(`limit=${limit}`)).ids).toEqual(expected({ limit }));
  });

  it("with a status and no source: that status's newest rows of every source", async () => {
    for (const status of ["failed", "applied", "archived", "quarantined", "retrying"])
      for (const limit of [1, 2, 50])
        expect((await events(`status=${status}&limit=${limit}`)).ids, `${status} ${limit}`).toEqual(
          expected({ status, limit }),
        );
    expect((await events("status=failed")).ids).toEqual(["s2", "r2", "t2"]);
  });

  it("with a source, and a status: that source's newest rows", async () => {
    for (const source of ["shopify", "stripe", "recharge"])
      for (const status of [undefined, "failed", "applied"])
        for (const limit of [1, 2, 50]) {
          const q = `source=${source}${status ? `&status=${status}` : ""}&limit=${limit}`;
          expect((await events(q)).ids, q).toEqual(expected({ source, status, limit }));
        }
  });

  it("one event by source and eventId, in whichever database holds it; eventId alone is refused", async () => {
    const one = await events("source=shopify&eventId=s3");
    expect(one.rows).toEqual([
      expect.objectContaining({
        source: "shopify",
        event_id: "s3",
        shop: ROUTED,
        status: "applied",
        received_at: at(12),
      }),
    ]);
    expect((await events("source=stripe&eventId=t2&limit=1")).ids).toEqual(["t2"]);
    expect((await events("source=stripe&eventId=t2&status=failed")).ids).toEqual(["t2"]);
    expect((await events("source=stripe&eventId=t2&status=applied")).ids).toEqual([]);
    expect((await events("source=recharge&eventId=s3")).ids).toEqual([]);
    const alone = await events("eventId=s3");
    expect(alone.status).toBe(400);
  });
});

describe("last events and hourly counts", () => {
  it("GET /admin/status: per source the newest received_at over every database, and that event's event time", async () => {
    const res = await worker.fetch(adminRequest("/admin/status"), env, createExecutionContext());
    const status = (await res.json()) as PipelineStatus;
    expect(status.lastEvents).toEqual([
      { source: "recharge", lastReceivedAt: at(10, 30), lastEventAt: at(10, 30) },
      // s3 (DB_ROUTED, event time 07:00) and s4 (DB, 06:00) were both received at 12:00.
      { source: "shopify", lastReceivedAt: at(12), lastEventAt: at(7) },
      { source: "stripe", lastReceivedAt: at(13), lastEventAt: at(12, 59) },
    ]);
  });

  it("GET /admin/doctor: the last webhook delivery per source, past newer reconcile, replay and bulk rows", async () => {
    const res = await worker.fetch(adminRequest("/admin/doctor"), env, createExecutionContext());
    const report = (await res.json()) as DoctorReport;
    expect(report.lastEvents.map((e) => [e.source, e.lastReceivedAt])).toEqual([
      ["shopify", at(12)], // s3 in DB_ROUTED; s4 at 12:00 in DB is a reconcile row
      ["stripe", at(12)], // t1; t3 at 13:00 is a replay
      ["recharge", null], // bulk rows only
    ]);
  });

  it("/ops: events per hour of every source and shop over the last 24 h", async () => {
    const ops = await opsData(env, new Date("2031-03-10T12:30:00.000Z"));
    const perHour = (source: string, shop: string) =>
      ops.streams.find((s) => s.source === source && s.shop === shop)?.perHour.slice(-6);
    // The last six hours: 07, 08, 09, 10, 11, 12.
    expect(perHour("shopify", "a.myshopify.com")).toEqual([0, 0, 1, 0, 1, 1]);
    expect(perHour("shopify", ROUTED)).toEqual([0, 0, 0, 1, 0, 1]);
    expect(perHour("stripe", "")).toEqual([0, 1, 0, 0, 1, 1]); // t3 at 13:00 is past `now`
    expect(perHour("recharge", "")).toEqual([0, 0, 0, 2, 0, 0]);
  });
});
