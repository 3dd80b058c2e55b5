// The admin reads of the ledger (src/ingress/admin/ledger-sql.ts) must seek: at a large brand
// webhook_events holds ~1M rows a day, 90M at the default retention, and an admin page or `ops
// replay --wait` that reads it whole on every request reads all of them. The migrations are applied
// to an in-memory SQLite (node:sqlite, without sqlite_stat1 as on D1); EXPLAIN QUERY PLAN of each
// statement must SEARCH webhook_events by an index and never SCAN it. Each statement also answers
// what the statement it replaced answered, on a seeded ledger (ties in received_at included).
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { beforeAll, describe, expect, it } from "vitest";
import { LAST_WEBHOOKS } from "../../src/cron/quality/sql";
import {
  HOURLY_COUNTS_SQL,
  LAST_EVENTS_SQL,
  LEDGER_STATUSES,
  type LedgerStatus,
  type RecentEventsFilter,
  recentEventsQuery,
} from "../../src/ingress/admin/ledger-sql";
import { SOURCES, type Source } from "../../src/shared/envelope";
import { migratedDatabase } from "./harness/schema-db";

let db: DatabaseSync;

beforeAll(() => {
  db = migratedDatabase();
});

/** The plan's detail lines; parameters stay unbound (EXPLAIN QUERY PLAN does not need them). */
function plan(sql: string): string[] {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[];
  return rows.map((r) => r.detail);
}

/** The indexes the plan seeks webhook_events by, one per access; fails on any other access to it. */
function ledgerSeeks(sql: string): string[] {
  const lines = plan(sql).filter((l) => /\bwebhook_events\b/.test(l));
  const text = lines.join("\n");
  expect(text).not.toMatch(/SCAN webhook_events\b/);
  const seeks = lines.map((l) => /^SEARCH webhook_events USING (?:COVERING )?INDEX (\S+) \(.+\)$/.exec(l)?.[1]);
  expect(seeks, text).not.toContain(undefined);
  expect(seeks.length, text).toBeGreaterThan(0);
  return seeks as string[];
}

const PK = "sqlite_autoindex_webhook_events_1";
const BY_RECEIVED = "webhook_events_by_received";
const BY_STATUS = "webhook_events_held";
const HELD: LedgerStatus[] = ["retrying", "quarantined", "failed"];
const COMMON: LedgerStatus[] = ["applied", "archived"];

describe("admin ledger reads seek webhook_events", () => {
  it("GET /admin/events: source and eventId read the primary key, with or without a status", () => {
    expect(ledgerSeeks(recentEventsQuery({ source: "stripe", eventId: "evt_1", limit: 1 }).sql)).toEqual([PK]);
    for (const status of LEDGER_STATUSES)
      expect(ledgerSeeks(recentEventsQuery({ source: "stripe", status, eventId: "evt_1", limit: 1 }).sql)).toEqual([
        PK,
      ]);
  });

  it("GET /admin/events: a source's newest rows walk (source, received_at); a held status seeks (status, source)", () => {
    expect(ledgerSeeks(recentEventsQuery({ source: "shopify", limit: 50 }).sql)).toEqual([BY_RECEIVED]);
    for (const status of COMMON)
      expect(ledgerSeeks(recentEventsQuery({ source: "shopify", status, limit: 50 }).sql)).toEqual([BY_RECEIVED]);
    for (const status of HELD)
      expect(ledgerSeeks(recentEventsQuery({ source: "shopify", status, limit: 50 }).sql)).toEqual([BY_STATUS]);
    // Newest first from the index: only the tie-break (event_id) is sorted, so LIMIT stops the walk.
    expect(plan(recentEventsQuery({ source: "shopify", limit: 50 }).sql)).toContain(
      "USE TEMP B-TREE FOR LAST TERM OF ORDER BY",
    );
  });

  it("GET /admin/events without a source: one seek per source, the same as with one", () => {
    expect(ledgerSeeks(recentEventsQuery({ limit: 50 }).sql)).toEqual([BY_RECEIVED, BY_RECEIVED, BY_RECEIVED]);
    for (const status of COMMON)
      expect(ledgerSeeks(recentEventsQuery({ status, limit: 50 }).sql)).toEqual([
        BY_RECEIVED,
        BY_RECEIVED,
        BY_RECEIVED,
      ]);
    for (const status of HELD)
      expect(ledgerSeeks(recentEventsQuery({ status, limit: 50 }).sql)).toEqual([BY_STATUS, BY_STATUS, BY_STATUS]);
  });

  it("GET /admin/status and /admin/doctor: last events are probes per source on (source, received_at)", () => {
    expect(ledgerSeeks(LAST_EVENTS_SQL).every((i) => i === BY_RECEIVED)).toBe(true);
    expect(ledgerSeeks(LAST_WEBHOOKS)).toEqual([BY_RECEIVED]);
  });

  it("/ops events per hour: a range of (source, received_at) per source", () => {
    expect(ledgerSeeks(HOURLY_COUNTS_SQL)).toEqual([BY_RECEIVED]);
    expect(plan(HOURLY_COUNTS_SQL)).toContain(
      `SEARCH webhook_events USING INDEX ${BY_RECEIVED} (source=? AND received_at>?)`,
    );
  });
});

/** The statements these replaced, as they were: each read the whole ledger. */
const OLD_RECENT = `SELECT source, event_id, topic, shop, status, r2_key, received_at, event_at, deliveries, attempts, error,
  note, updated_at FROM webhook_events
  WHERE (?1 IS NULL OR source = ?1) AND (?2 IS NULL OR status = ?2) AND (?4 IS NULL OR event_id = ?4)
  ORDER BY received_at DESC, event_id LIMIT ?3`;
const OLD_LAST_EVENTS =
  "SELECT source, max(received_at) AS lastReceivedAt, max(event_at) AS lastEventAt FROM webhook_events GROUP BY source ORDER BY source";
const OLD_LAST_WEBHOOK =
  "SELECT source, max(received_at) AS last FROM webhook_events WHERE origin = 'webhook' GROUP BY source";
const OLD_HOURLY = `SELECT source, coalesce(shop, '') AS shop, substr(received_at, 1, 13) AS hour, count(*) AS n
  FROM webhook_events WHERE received_at >= ?1 GROUP BY source, coalesce(shop, ''), hour`;

const all = (sql: string, ...params: SQLInputValue[]) =>
  db.prepare(sql).all(...params) as Array<Record<string, unknown>>;

describe("admin ledger reads answer as before", () => {
  const ORIGINS = ["webhook", "reconcile", "bulk", "replay"];
  const SHOPS = ["a.myshopify.com", "b.myshopify.com", null];
  beforeAll(() => {
    // 900 rows: 40 instants over three days (many rows share one), every status and origin.
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const insert = db.prepare(
      `INSERT INTO webhook_events (source, event_id, topic, shop, received_at, event_at, origin, status, first_seen_at, updated_at)
       VALUES (?1, ?2, 'topic', ?3, ?4, ?5, ?6, ?7, ?4, ?4)`,
    );
    for (let i = 0; i < 900; i++) {
      const source = SOURCES[next(3)] as Source;
      const at = new Date(Date.UTC(2026, 10, 20) + next(40) * 107 * 60_000).toISOString();
      const eventAt = new Date(Date.parse(at) - next(600) * 60_000).toISOString();
      // Mostly applied and archived, as a real ledger is; every status present.
      const status = (
        next(10) < 8 ? ["applied", "archived"][next(2)] : ["retrying", "quarantined", "failed"][next(3)]
      ) as string;
      const origin = source === "recharge" ? "bulk" : (ORIGINS[next(4)] as string);
      insert.run(
        source,
        `e${String(next(100_000)).padStart(6, "0")}_${i}`,
        SHOPS[next(3)] ?? null,
        at,
        eventAt,
        origin,
        status,
      );
    }
  });

  it("GET /admin/events: the same rows in the same order for every filter and limit", () => {
    const ids = all("SELECT source, event_id FROM webhook_events ORDER BY rowid LIMIT 5") as Array<{
      source: Source;
      event_id: string;
    }>;
    let compared = 0;
    for (const source of [undefined, ...SOURCES])
      for (const status of [undefined, ...LEDGER_STATUSES])
        for (const limit of [1, 7, 50, 500]) {
          const eventIds = source === undefined ? [undefined] : [undefined, "missing", ...ids.map((r) => r.event_id)];
          for (const eventId of eventIds) {
            const f: RecentEventsFilter = { limit };
            if (source) f.source = source;
            if (status) f.status = status;
            if (eventId) f.eventId = eventId;
            const { sql, params } = recentEventsQuery(f);
            const before = all(OLD_RECENT, source ?? null, status ?? null, limit, eventId ?? null);
            expect(all(sql, ...params), JSON.stringify(f)).toEqual(before);
            if (before.length > 0) compared++;
          }
        }
    expect(compared).toBeGreaterThan(100);
  });

  it("GET /admin/status: the newest received_at per source, and that event's event time", () => {
    const now = all(LAST_EVENTS_SQL);
    const before = all(OLD_LAST_EVENTS);
    expect(now.map((r) => [r.source, r.lastReceivedAt])).toEqual(before.map((r) => [r.source, r.lastReceivedAt]));
    for (const r of now) {
      const newest = all(
        "SELECT max(event_at) AS e FROM webhook_events WHERE source = ?1 AND received_at = ?2",
        r.source as string,
        r.lastReceivedAt as string,
      );
      expect(r.lastEventAt).toBe(newest[0]?.e);
    }
    // A source with no rows has no line, as before.
    db.exec("SAVEPOINT s; DELETE FROM webhook_events WHERE source = 'stripe'");
    try {
      expect(all(LAST_EVENTS_SQL).map((r) => r.source)).toEqual(["recharge", "shopify"]);
      expect(all(OLD_LAST_EVENTS).map((r) => r.source)).toEqual(["recharge", "shopify"]);
    } finally {
      db.exec("ROLLBACK TO s; RELEASE s");
    }
  });

  it("GET /admin/doctor: the last webhook delivery per source, null for one with none", () => {
    const byDoctor = new Map(all(LAST_WEBHOOKS, "", "9999-12-31T23:59:59.999Z").map((r) => [r.source, r.last]));
    const before = all(OLD_LAST_WEBHOOK);
    for (const source of SOURCES)
      expect(byDoctor.get(source) ?? null).toBe(before.find((r) => r.source === source)?.last ?? null);
    expect(byDoctor.get("recharge")).toBeNull(); // only bulk rows
    expect(byDoctor.get("shopify")).not.toBeNull();
  });

  it("/ops events per hour: the same counts", () => {
    const key = (r: Record<string, unknown>) => `${r.source}|${r.shop}|${r.hour}|${r.n}`;
    for (const since of ["2026-11-20T00", "2026-11-21T13", "2026-11-23T00"]) {
      const now = all(HOURLY_COUNTS_SQL, since).map(key).sort();
      expect(now).toEqual(all(OLD_HOURLY, since).map(key).sort());
      if (since !== "2026-11-23T00") expect(now.length).toBeGreaterThan(0);
    }
  });
});
