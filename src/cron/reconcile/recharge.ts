/**
 * Recharge reconciliation: list subscriptions and charges updated in the window
 * (API 2021-11, oldest change first, 250 per page, `next_cursor` paging), compare id +
 * updated_at with the `recharge_*` tables, and send each missing or stale object as a
 * webhook-shaped body (`{"subscription": {...}}`) with origin `reconcile`. The topic is
 * chosen from the object's status (a cancelled subscription as `subscription/cancelled`,
 * a failed charge as `charge/failed`, ...) so alert rules see a missed event as such;
 * charges in no such state use `charge/updated`, a topic Recharge itself does not send.
 * A quiet run costs one request per resource, plus `GET /store` once a day: the store's currency,
 * kept for subscriptions without one (src/tables/recharge-store.ts).
 */
import { z } from "zod";
import { toUtcIso } from "../../shared/time";
import { sharedDatabase } from "../../tables/database";
import { refreshRechargeStore } from "../../tables/recharge-store";
import { losslessView, parseRaw, rawArray, stringifyRaw } from "../raw-json";
import { ScopeCursors } from "./cursors";
import { type RepairEvent, reconcileEventId, sendRepairs } from "./emit";
import { drift, storedVersions, type VersionedTable } from "./stored-versions";
import {
  type AscendingPartial,
  ascendingPartial,
  ascendingWindow,
  emptyTally,
  type ReconcileContext,
  type ScopeReport,
  scopeReport,
  type Tally,
} from "./types";
import { type CallCounter, getText, ThrottledError } from "./upstream";

interface RechargeResource {
  resource: "subscriptions" | "charges";
  wrapper: "subscription" | "charge";
  table: VersionedTable;
  topic(status: string): string;
}

const RESOURCES: readonly RechargeResource[] = [
  {
    resource: "subscriptions",
    wrapper: "subscription",
    table: "recharge:subscriptions",
    topic: (s) => (s === "cancelled" ? "subscription/cancelled" : "subscription/updated"),
  },
  {
    resource: "charges",
    wrapper: "charge",
    table: "recharge:charges",
    topic: (s) =>
      s === "error"
        ? "charge/failed"
        : s === "success"
          ? "charge/paid"
          : s === "refunded" || s === "partially_refunded"
            ? "charge/refunded"
            : "charge/updated",
  },
];

export const RECHARGE_API_VERSION = "2021-11";
const PAGE_SIZE = 250;

/** The lossless view of an item: numbers are their source text. Only what reconciliation reads is checked. */
const itemSchema = z.object({
  id: z.string().regex(/^\d{1,24}$/),
  updated_at: z.string().min(10).max(40),
  status: z.string().max(64).nullish(),
});

type Item = z.infer<typeof itemSchema>;
const nextCursor = z.string().min(1).max(2048).nullish();
const PAGE_SCHEMAS: Record<RechargeResource["resource"], z.ZodType<{ next: string | null; items: Item[] }>> = {
  subscriptions: z
    .object({ next_cursor: nextCursor, subscriptions: z.array(itemSchema) })
    .transform((p) => ({ next: p.next_cursor ?? null, items: p.subscriptions })),
  charges: z
    .object({ next_cursor: nextCursor, charges: z.array(itemSchema) })
    .transform((p) => ({ next: p.next_cursor ?? null, items: p.charges })),
};

/** Recharge filters take `YYYY-MM-DDTHH:MM:SS`, read as UTC. */
const rechargeTime = (iso: string) => iso.slice(0, 19);
/** Recharge writes `+00:00` (2021-11) or no zone (2021-01, meaning UTC). */
const normalized = (v: string) => toUtcIso(v) ?? toUtcIso(`${v}Z`);

export async function reconcileRecharge(ctx: ReconcileContext, token: string): Promise<ScopeReport> {
  const counter: CallCounter = {
    calls: 0,
    onCall: () => ctx.budget.subrequest(),
    deadline: ctx.budget.deadline(),
  };
  const report = scopeReport("recharge", "subscriptions+charges");
  const notes: string[] = [];
  const starts = new Map<RechargeResource, string>();
  // Before any upstream call: a first run failing on subscriptions must not lose the charges' first window.
  const cursors = await ScopeCursors.read(sharedDatabase(ctx.env), "recharge", "");
  const firsts: Array<{ resource: string; partial: AscendingPartial }> = [];
  for (const r of RESOURCES) {
    const stored = cursors.get(r.resource, ascendingPartial);
    const window = ascendingWindow(stored.cursor, stored.partial, ctx.now, ctx.settings.lookbackMs);
    starts.set(r, window.from);
    firsts.push({ resource: r.resource, partial: { windowTo: window.to, resumeFrom: window.from } });
  }
  await cursors.firstWindows(sharedDatabase(ctx.env), firsts, ctx.now.toISOString());
  // The store's currency, for subscriptions whose payload names none (at most once a day).
  const base = (ctx.env.RECHARGE_API_BASE || "https://api.rechargeapps.com").replace(/\/+$/, "");
  const store = await refreshRechargeStore(
    sharedDatabase(ctx.env),
    base,
    (url) => getText(url, { "X-Recharge-Access-Token": token, "X-Recharge-Version": RECHARGE_API_VERSION }, counter),
    ctx.now,
  );
  if (store.error !== null) notes.push(`store currency: ${store.error}`);
  else if (store.filled > 0) notes.push(`store currency ${store.currency} given to ${store.filled} subscriptions`);
  // The resource furthest behind first, so one that is always behind cannot keep the other from its pages.
  const order = [...RESOURCES].sort((a, b) => (starts.get(a) ?? "").localeCompare(starts.get(b) ?? ""));
  for (const r of RESOURCES) report.resources[r.resource] = emptyTally();
  let complete = true;
  for (const r of order) {
    const tally = report.resources[r.resource] ?? emptyTally();
    const outcome = await reconcileResource(ctx, token, r, cursors, tally, counter);
    report.windowFrom =
      report.windowFrom === null || outcome.from < report.windowFrom ? outcome.from : report.windowFrom;
    report.windowTo = report.windowTo === null || outcome.to > report.windowTo ? outcome.to : report.windowTo;
    if (!outcome.complete) {
      complete = false;
      report.status = "partial";
      const why = outcome.throttled ?? `stopped by ${ctx.budget.stoppedBy ?? "the run's budget"}`;
      notes.push(`${r.resource}: ${why}, resuming at ${outcome.resumeFrom}`);
    }
  }
  if (complete) ctx.budget.finished();
  report.apiCalls = counter.calls;
  report.apiCost = counter.calls;
  report.pages = ctx.budget.pages;
  report.note = notes.length > 0 ? notes.join("; ") : null;
  return report;
}

async function reconcileResource(
  ctx: ReconcileContext,
  token: string,
  r: RechargeResource,
  cursors: ScopeCursors,
  tally: Tally,
  counter: CallCounter,
): Promise<{ from: string; to: string; complete: boolean; resumeFrom: string | null; throttled: string | null }> {
  const { env, settings, now } = ctx;
  const stored = cursors.get(r.resource, ascendingPartial);
  const window = ascendingWindow(stored.cursor, stored.partial, now, settings.lookbackMs);
  const base = (env.RECHARGE_API_BASE || "https://api.rechargeapps.com").replace(/\/+$/, "");
  const headers = { "X-Recharge-Access-Token": token, "X-Recharge-Version": RECHARGE_API_VERSION };
  const schema = PAGE_SCHEMAS[r.resource];

  let url = new URL(`${base}/${r.resource}`);
  url.searchParams.set("updated_at_min", rechargeTime(window.from));
  url.searchParams.set("updated_at_max", rechargeTime(window.to));
  url.searchParams.set("limit", String(PAGE_SIZE));
  url.searchParams.set("sort_by", "updated_at-asc");
  const db = sharedDatabase(env);
  // A window stopped part-way resumes at the newest change it reached (ascending order).
  const partialAt = (lastSeen: string | null): AscendingPartial => ({
    windowTo: window.to,
    resumeFrom: lastSeen ?? window.from,
  });
  let lastSeen: string | null = null;
  let complete = false;
  let throttled: string | null = null;
  while (ctx.budget.nextPage()) {
    let text: string;
    try {
      text = await getText(url, headers, counter);
    } catch (err) {
      if (!(err instanceof ThrottledError)) throw err;
      ctx.budget.throttled();
      throttled = `rate limited by Recharge (${err.message})`;
      break;
    }
    const raw = parseRaw(text);
    const parsed = schema.parse(losslessView(raw));
    const list = parsed.items;
    const items = rawArray(raw, r.resource) ?? [];
    tally.lookedAt += list.length;
    const versions = await storedVersions(
      db,
      r.table,
      list.map((i) => i.id),
      null,
    );
    const repairs: RepairEvent[] = [];
    list.forEach((item, i) => {
      const updatedAt = normalized(item.updated_at);
      const rawItem = items[i];
      if (updatedAt === null || rawItem === undefined) return;
      if (lastSeen === null || updatedAt > lastSeen) lastSeen = updatedAt;
      const d = drift(versions.get(item.id), updatedAt);
      if (d === "in_sync") return;
      tally[d]++;
      const eventId = reconcileEventId(r.resource, item.id, updatedAt);
      if (eventId === null) return;
      repairs.push({
        source: "recharge",
        topic: r.topic((item.status ?? "").toLowerCase()),
        eventId,
        shop: null,
        eventAt: updatedAt,
        apiVersion: RECHARGE_API_VERSION,
        body: `{${JSON.stringify(r.wrapper)}:${stringifyRaw(rawItem)}}`,
      });
    });
    tally.repaired += await sendRepairs(env, repairs, now.toISOString());
    if (parsed.next === null) {
      complete = true;
      break;
    }
    // Every page is committed: a run stopped anywhere after it resumes at what it reached.
    await db.batch(
      cursors.write(db, [{ resource: r.resource, window, partial: partialAt(lastSeen) }], now.toISOString()),
    );
    // With a cursor Recharge accepts only `limit` beside it: the filters ride inside the cursor.
    url = new URL(`${base}/${r.resource}`);
    url.searchParams.set("cursor", parsed.next);
    url.searchParams.set("limit", String(PAGE_SIZE));
  }
  if (complete) {
    await db.batch(cursors.write(db, [{ resource: r.resource, window, partial: null }], now.toISOString()));
  }
  return {
    from: window.from,
    to: window.to,
    complete,
    resumeFrom: complete ? null : partialAt(lastSeen).resumeFrom,
    throttled,
  };
}
