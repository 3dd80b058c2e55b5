/**
 * Stripe reconciliation: list events created in the window with the Events API
 * (`GET /v1/events?created[gt]&created[lte]`, 100 per page, newest first, paged with
 * `starting_after`) and send each event the ledger has never seen down the normal path,
 * under its own Stripe id, so a webhook that arrives late is still a duplicate of it,
 * not a second event. Events are immutable, so there is no "stale" here. Newest-first
 * order means a run stopped part-way (its budget, src/cron/reconcile/budget.ts, or Stripe's
 * rate limit) has covered the top of its window: every page records how far down it reached,
 * and the next run finishes the rest before the cursor moves.
 * The Events API keeps 30 days: when the window would start before that (the pipeline was
 * off, or this is the first run after a long pause), the part Stripe no longer has is handed to a
 * history backfill of every Stripe object list created in that gap (src/cron/backfills.ts), the
 * events window starts where the Events API still reaches, and the report's note says so.
 * Requests carry the pinned `Stripe-Version`; a listed event keeps the version it was rendered in
 * (`api_version`), which the consumer maps it by.
 */
import { z } from "zod";
import { EVENT_ID_PATTERN } from "../../shared/envelope";
import { API_BACKFILL_RESOURCES } from "../../shared/schema/backfills";
import { STRIPE_API_VERSION } from "../../shared/stripe-version";
import { fromUnixSeconds } from "../../shared/time";
import { sharedDatabase } from "../../tables/database";
import { startApiBackfill } from "../backfills";
import { losslessView, parseRaw, rawArray, stringifyRaw } from "../raw-json";
import { ScopeCursors } from "./cursors";
import { type RepairEvent, sendRepairs } from "./emit";
import { seenEventIds } from "./stored-versions";
import { emptyTally, type ReconcileContext, type ScopeReport, SETTLE_MS, scopeReport } from "./types";
import { type CallCounter, getText, ThrottledError } from "./upstream";

const digits = z.string().regex(/^\d{1,12}$/);
const eventSchema = z.object({
  id: z.string().regex(EVENT_ID_PATTERN),
  object: z.literal("event"),
  type: z.string().regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/),
  created: digits,
  api_version: z.string().max(32).nullish(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});
/** The lossless view: numbers arrive as their source text. */
const listSchema = z.object({ object: z.literal("list"), data: z.array(eventSchema), has_more: z.boolean() });

/** A window stopped part-way: (windowFrom, reachedDown] is still to do, then the cursor moves to windowTo. */
const stripePartial = z.object({
  windowFrom: z.iso.datetime(),
  windowTo: z.iso.datetime(),
  reachedDown: z.iso.datetime(),
});
type StripePartial = z.infer<typeof stripePartial>;

const SCOPE = { resource: "events" };
/**
 * Stripe lists an event as soon as it exists and never changes it, so a window only
 * needs a short overlap with the previous one, not Shopify's search-index lookback:
 * re-listing an hour of a busy account every 15 minutes would cost pages for nothing.
 */
const OVERLAP_MS = 5 * 60 * 1000;
const PAGE_SIZE = 100;
/** How far back the Events API reaches (30 days), less an hour so a window never starts at its edge. */
const EVENTS_REACH_MS = 30 * 24 * 3600 * 1000 - 3600 * 1000;

/** Whole seconds of an ISO time (Stripe filters on unix seconds). */
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export async function reconcileStripe(ctx: ReconcileContext, key: string): Promise<ScopeReport> {
  const { env, settings, now } = ctx;
  const tally = emptyTally();
  const counter: CallCounter = { calls: 0 };
  const cursors = await ScopeCursors.read(sharedDatabase(env), "stripe", "");
  const stored = cursors.get(SCOPE.resource, stripePartial);
  const nowMs = now.getTime();
  const cursorMs = stored.cursor === null ? null : Math.min(Date.parse(stored.cursor), nowMs);
  // A first run starts one lookback back; later runs overlap the previous window briefly.
  let from =
    stored.partial?.windowFrom ??
    new Date(
      cursorMs === null ? nowMs - settings.lookbackMs : cursorMs - Math.min(settings.lookbackMs, OVERLAP_MS),
    ).toISOString();
  let gapNote: string | null = null;
  const reach = new Date(nowMs - EVENTS_REACH_MS).toISOString();
  if (from < reach) {
    gapNote = await listGap(sharedDatabase(env), from, reach, now);
    from = reach;
  }
  const windowTo = stored.partial?.windowTo ?? new Date(Math.max(cursorMs ?? 0, nowMs - SETTLE_MS)).toISOString();
  const to = stored.partial?.reachedDown ?? windowTo;
  await cursors.firstWindows(
    sharedDatabase(env),
    [{ resource: SCOPE.resource, partial: { windowFrom: from, windowTo, reachedDown: windowTo } }],
    now.toISOString(),
  );
  const report = scopeReport("stripe", "events", { windowFrom: from, windowTo, resources: { events: tally } });

  const base = (env.STRIPE_API_BASE || "https://api.stripe.com").replace(/\/+$/, "");
  const db = sharedDatabase(env);
  // Commits a window stopped part-way: (windowFrom, reachedDown] is what is left of it.
  const partialAt = (lowest: number): StripePartial => ({
    windowFrom: from,
    windowTo,
    // Events of the lowest second may continue on the next page: keep that second in the rest.
    reachedDown: new Date(Math.max(lowest, seconds(from) + 1) * 1000).toISOString(),
  });
  // While a window is unfinished the cursor stays (a first run has none yet: its window's start stands in).
  let startingAfter: string | null = null;
  let lowest = seconds(to);
  let complete = false;
  let throttled: string | null = null;
  counter.onCall = () => ctx.budget.subrequest();
  counter.deadline = ctx.budget.deadline();
  while (ctx.budget.nextPage()) {
    const url = new URL(`${base}/v1/events`);
    url.searchParams.set("created[gt]", String(seconds(from)));
    url.searchParams.set("created[lte]", String(seconds(to)));
    url.searchParams.set("limit", String(PAGE_SIZE));
    for (const type of settings.stripeTypes) url.searchParams.append("types[]", type);
    if (startingAfter !== null) url.searchParams.set("starting_after", startingAfter);
    let text: string;
    try {
      text = await getText(url, { Authorization: `Bearer ${key}`, "Stripe-Version": STRIPE_API_VERSION }, counter);
    } catch (err) {
      if (!(err instanceof ThrottledError)) throw err;
      ctx.budget.throttled();
      throttled = err.message;
      break;
    }
    const raw = parseRaw(text);
    const list = listSchema.parse(losslessView(raw));
    const items = rawArray(raw, "data") ?? [];

    tally.lookedAt += list.data.length;
    const seen = await seenEventIds(
      db,
      "stripe",
      list.data.map((e) => e.id),
    );
    const repairs: RepairEvent[] = [];
    list.data.forEach((e, i) => {
      lowest = Math.min(lowest, Number(e.created));
      const item = items[i];
      if (seen.has(e.id) || item === undefined) return;
      tally.missing++;
      repairs.push({
        source: "stripe",
        topic: e.type,
        eventId: e.id,
        shop: null,
        eventAt: fromUnixSeconds(Number(e.created)) ?? now.toISOString(),
        apiVersion: e.api_version ?? null,
        body: stringifyRaw(item),
      });
    });
    tally.repaired += await sendRepairs(env, repairs, now.toISOString());
    const last = list.data.at(-1);
    if (!list.has_more || last === undefined) {
      complete = true;
      break;
    }
    startingAfter = last.id;
    // Every page is committed: a run stopped anywhere after it resumes below what it reached.
    await db.batch(
      cursors.write(
        db,
        [{ resource: SCOPE.resource, window: { from, to: windowTo }, partial: partialAt(lowest) }],
        now.toISOString(),
      ),
    );
  }

  report.apiCalls = counter.calls;
  report.apiCost = counter.calls;
  report.pages = ctx.budget.pages;
  report.note = gapNote;
  if (complete) {
    ctx.budget.finished();
    await db.batch(
      cursors.write(
        db,
        [{ resource: SCOPE.resource, window: { from, to: windowTo }, partial: null }],
        now.toISOString(),
      ),
    );
  } else {
    report.status = "partial";
    const below = partialAt(lowest).reachedDown;
    const why =
      throttled !== null
        ? `rate limited by Stripe (${throttled}); the next run continues below ${below}`
        : `stopped by ${ctx.budget.stoppedBy ?? "the run's budget"} after ${ctx.budget.pages} pages; the next run continues below ${below}`;
    report.note = [gapNote, why].filter((n) => n !== null).join("; ");
  }
  return report;
}

/** Hands (since, until] to a history backfill of every Stripe list; says what was done for the report. */
async function listGap(db: D1Database, since: string, until: string, now: Date): Promise<string> {
  const started = await startApiBackfill(db, {
    source: "stripe",
    resources: [...API_BACKFILL_RESOURCES.stripe],
    since,
    until,
    requestedBy: "reconcile",
    now,
  });
  const gap = `cursor older than the Events API's 30 days: ${since} to ${until}`;
  if (started.ok) return `${gap} is listed by backfill ${started.backfillId}`;
  const running = [...new Set(started.running.map((r) => r.backfillId))].join(", ");
  return `${gap} not listed: backfill ${running} is running for ${started.running.map((r) => r.resource).join(", ")}; start one for the gap when it is done`;
}
