/**
 * The soak, short: 1,000 signed deliveries across the three sources (5 % redelivered, 10 % out
 * of order, 1 % claim-checked, 1 % verified but invalid) posted 20 at a time to the Worker and
 * consumed by the real local queue. Then the soak's checks (test/helpers/soak-checks.ts, the
 * same ones `npm run soak` runs on 10,000 against wrangler dev) and the lag percentiles.
 */
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { commerceDeliveries, newestVersions } from "./helpers/commerce-events";
import { requestFor } from "./helpers/pipeline-run";
import { ADMIN_TOKEN, RECHARGE_SECRET, SHOPIFY_SECRET, STRIPE_SECRET } from "./helpers/requests";
import { type Accepted, checkSoak, percentiles, type Store, soakFailures } from "./helpers/soak-checks";

const SEED = 1000;
const COUNT = 1000;
const CONCURRENCY = 20;

const store: Store = {
  all: async <T>(sql: string, params: unknown[] = []) =>
    (
      await env.DB.prepare(sql)
        .bind(...params)
        .all<T>()
    ).results,
  text: async (key) => (await env.LAKE.get(key))?.text() ?? null,
  keys: async (prefix) => {
    const out: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await env.LAKE.list({ prefix, cursor, limit: 1000 });
      out.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return out;
  },
};

afterEach(() => vi.restoreAllMocks());

/** Every console line of the run (the Worker, its consumer and the tests share this isolate), still printed. */
function recordLogs(): string[] {
  const lines: string[] = [];
  for (const level of ["log", "warn", "error"] as const) {
    const original = console[level].bind(console);
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
      original(...args);
    });
  }
  return lines;
}

describe("soak (1,000 events)", { timeout: 300_000 }, () => {
  it("loses nothing, stores nothing twice, keeps the newest versions, leaks no secret", async () => {
    const tag = `soak${Date.now().toString(36)}`;
    const deliveries = commerceDeliveries({
      seed: SEED,
      count: COUNT,
      tag,
      shops: [`${tag}-a.myshopify.com`, `${tag}-b.myshopify.com`],
    });
    const logs = recordLogs();
    const answers: string[] = [];
    const accepted: Array<Accepted & { at: number }> = [];
    let next = 0;
    const post = async () => {
      while (next < deliveries.length) {
        const delivery = deliveries[next++];
        if (!delivery) break;
        const res = await exports.default.fetch(await requestFor(delivery));
        const text = await res.text();
        answers.push(text);
        const body = JSON.parse(text) as { eventId?: string };
        accepted.push({ delivery, status: res.status, eventId: body.eventId ?? null, at: Date.now() });
      }
    };
    // Watch the ledger while it fills: the first time a row is seen is when it became readable.
    const firstSeen = new Map<string, number>();
    let lastRowid = (await env.DB.prepare("SELECT max(rowid) AS r FROM webhook_events").first<{ r: number }>())?.r ?? 0;
    let posting = true;
    const watch = async () => {
      const deadline = Date.now() + 180_000;
      for (;;) {
        const rows = await env.DB.prepare(
          "SELECT rowid AS r, source, event_id FROM webhook_events WHERE rowid > ?1 ORDER BY rowid",
        )
          .bind(lastRowid)
          .all<{ r: number; source: string; event_id: string }>();
        const now = Date.now();
        for (const row of rows.results) {
          firstSeen.set(`${row.source}/${row.event_id}`, now);
          lastRowid = row.r;
        }
        const want = new Set(accepted.filter((a) => a.eventId).map((a) => `${a.delivery.source}/${a.eventId}`));
        if (!posting && [...want].every((k) => firstSeen.has(k))) return;
        if (now > deadline) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const watching = watch();
    await Promise.all(Array.from({ length: CONCURRENCY }, post));
    posting = false;
    await watching;

    expect(accepted.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.delivery.topic}`)).toEqual([]);
    // Let the last batches commit their table rows, then check everything.
    await new Promise((r) => setTimeout(r, 500));
    const newest = newestVersions(deliveries);
    expect(newest.size).toBeGreaterThan(500);
    const report = await checkSoak(
      store,
      accepted,
      newest,
      [SHOPIFY_SECRET, STRIPE_SECRET, RECHARGE_SECRET, ADMIN_TOKEN, env.PRIVACY_HASH_KEY],
      { exclusive: true },
    );
    const lags = accepted
      .filter((a) => !a.delivery.redelivery && a.eventId)
      .map((a) => (firstSeen.get(`${a.delivery.source}/${a.eventId}`) ?? Number.NaN) - a.at);
    console.log(
      `soak ${COUNT} (seed ${SEED}): ${report.distinctEvents} events, ${report.checkedObjects} R2 objects scanned, lag ms`,
      percentiles(lags.filter((l) => !Number.isNaN(l))),
    );
    // Nor in any answer (error bodies included) or log line.
    const secrets = [SHOPIFY_SECRET, STRIPE_SECRET, RECHARGE_SECRET, ADMIN_TOKEN, env.PRIVACY_HASH_KEY];
    const leaks = [...answers, ...logs].filter((line) => secrets.some((s) => line.includes(s)));
    expect(leaks, "secrets in answers or logs").toEqual([]);
    expect(logs.length).toBeGreaterThan(900);
    expect(soakFailures(report), `seed ${SEED}`).toEqual([]);
    expect(report.distinctEvents).toBeGreaterThan(900);
  });
});
