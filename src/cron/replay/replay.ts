/**
 * The `replay` job: re-sends archived raw events of an event-time range through the queue with
 * origin `replay`, which is how the normalized tables are rebuilt (or a new column filled). It
 * lists R2 by the `dt=`/`hour=` partitions of the range only, per source and resource, never
 * the whole bucket, and reads the event's identity from the listing's custom metadata, so it
 * reads no object: each message carries the raw key as `bodyKey` and the consumer reads it
 * once. Progress (hour, prefix, list cursor) is kept on the `replay_runs` row after every page,
 * so a run that stops resumes there; REPLAY_BATCH_EVENTS events are sent per run. The
 * consumer's newest-wins rule keeps a replayed old event from overwriting newer rows, and its
 * erased-subject check keeps an erased person erased.
 */
import { z } from "zod";
import { type Envelope, SOURCES, type Source } from "../../shared/envelope";
import { describeError, log } from "../../shared/log";
import { RESOURCES } from "../../shared/topics";
import { sharedDatabase } from "../../tables/database";
import { withLease } from "../lease";

export const replayFilterSchema = z
  .object({
    source: z.enum(SOURCES).optional(),
    resource: z
      .string()
      .regex(/^[a-z_]{1,40}$/)
      .optional(),
    shop: z.string().min(1).max(255).optional(),
    from: z.iso.datetime({ offset: false }),
    to: z.iso.datetime({ offset: false }),
  })
  .strict()
  .refine((f) => Date.parse(f.from) <= Date.parse(f.to), { message: "from must not be after to" })
  .refine((f) => Date.parse(f.to) - Date.parse(f.from) <= 3 * 366 * 86_400_000, { message: "at most 3 years" });
export type ReplayFilter = z.infer<typeof replayFilterSchema>;

const cursorSchema = z.object({ hour: z.number().int(), prefix: z.number().int(), list: z.string().nullable() });
type Cursor = z.infer<typeof cursorSchema>;

export interface ReplayOptions {
  /** Events sent per run (tests pass a small number to see a replay resume). */
  batchEvents?: number;
}

export interface ReplayRunReport {
  replayId: string;
  status: string;
  listed: number;
  sent: number;
}

export type ReplayResult =
  | { skipped: true; runId: string; heldBy: string | null }
  | { skipped: false; runId: string; replays: ReplayRunReport[] };

const HOUR_MS = 3_600_000;
const SEND_BATCH = 100;
/** R2 list calls per run: most hour prefixes of a range are empty, so events alone do not bound a run. */
const MAX_LISTS_PER_RUN = 2_000;

/** The (source, resource) pairs a filter covers, in a fixed order. */
export function replayPrefixes(f: Pick<ReplayFilter, "source" | "resource">): Array<[Source, string]> {
  const sources = f.source ? [f.source] : SOURCES;
  return sources.flatMap((s) =>
    RESOURCES[s].filter((r) => f.resource === undefined || r === f.resource).map((r) => [s, r] as [Source, string]),
  );
}

function hourPrefix(source: Source, resource: string, hourMs: number): string {
  const iso = new Date(hourMs).toISOString();
  return `raw/${source}/${resource}/events/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
}

/** Records a replay; the job (or the request that created it) sends it. */
export async function createReplay(db: D1Database, filter: ReplayFilter, now: string): Promise<string> {
  const id = `rp-${crypto.randomUUID()}`;
  await db
    .prepare(
      `INSERT INTO replay_runs (id, filter, status, cursor, created_at, updated_at) VALUES (?1, ?2, 'pending', NULL, ?3, ?3)`,
    )
    .bind(id, JSON.stringify(filter), now)
    .run();
  return id;
}

export async function runReplay(
  env: Env,
  run: { runId: string; now: Date },
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const n = options.batchEvents ?? Number(env.REPLAY_BATCH_EVENTS);
  const budget = { left: Number.isInteger(n) && n > 0 ? n : 10_000 };
  const outcome = await withLease(sharedDatabase(env), "replay", run.runId, run.now, async () => {
    const rows = await sharedDatabase(env)
      .prepare(
        "SELECT id, filter, cursor, listed, sent FROM replay_runs WHERE status IN ('pending', 'running') ORDER BY created_at, id LIMIT 10",
      )
      .all<{ id: string; filter: string; cursor: string | null; listed: number; sent: number }>();
    const replays: ReplayRunReport[] = [];
    for (const row of rows.results) {
      if (budget.left <= 0) break;
      try {
        replays.push(await advance(env, row, budget));
      } catch (err) {
        const error = describeError(err);
        log.error("replay failed", { replayId: row.id, error });
        await sharedDatabase(env)
          .prepare("UPDATE replay_runs SET status = 'failed', error = ?2, updated_at = ?3 WHERE id = ?1")
          .bind(row.id, error.slice(0, 1000), new Date().toISOString())
          .run();
        replays.push({ replayId: row.id, status: "failed", listed: row.listed, sent: row.sent });
      }
    }
    return replays;
  });
  if (outcome.skipped) return { skipped: true, runId: run.runId, heldBy: outcome.heldBy };
  return { skipped: false, runId: run.runId, replays: outcome.value };
}

async function advance(
  env: Env,
  row: { id: string; filter: string; cursor: string | null; listed: number; sent: number },
  budget: { left: number },
): Promise<ReplayRunReport> {
  const filter = replayFilterSchema.parse(JSON.parse(row.filter));
  const prefixes = replayPrefixes(filter);
  const fromMs = Date.parse(filter.from);
  const toMs = Date.parse(filter.to);
  const firstHour = Math.floor(fromMs / HOUR_MS) * HOUR_MS;
  const hours = Math.floor(toMs / HOUR_MS) - Math.floor(fromMs / HOUR_MS) + 1;
  let cursor: Cursor = row.cursor ? cursorSchema.parse(JSON.parse(row.cursor)) : { hour: 0, prefix: 0, list: null };
  let { listed, sent } = row;

  const save = async (status: "running" | "completed") => {
    const now = new Date().toISOString();
    await sharedDatabase(env)
      .prepare(
        `UPDATE replay_runs SET status = ?2, cursor = ?3, listed = ?4, sent = ?5, updated_at = ?6,
         completed_at = CASE WHEN ?2 = 'completed' THEN ?6 ELSE completed_at END WHERE id = ?1`,
      )
      .bind(row.id, status, JSON.stringify(cursor), listed, sent, now)
      .run();
  };

  let lists = 0;
  while (budget.left > 0 && cursor.hour < hours && lists < MAX_LISTS_PER_RUN) {
    const pair = prefixes[cursor.prefix];
    if (pair === undefined) {
      cursor = { hour: cursor.hour + 1, prefix: 0, list: null };
      continue;
    }
    const [source, resource] = pair;
    lists++;
    const page = await env.LAKE.list({
      prefix: hourPrefix(source, resource, firstHour + cursor.hour * HOUR_MS),
      cursor: cursor.list ?? undefined,
      limit: Math.min(1000, Math.max(budget.left, 1)),
      include: ["customMetadata"],
    });
    const envelopes: Envelope[] = [];
    for (const o of page.objects) {
      const e = await envelopeOf(env, o, source, row.id);
      if (e === null) continue;
      const at = Date.parse(e.eventAt);
      if (at < fromMs || at > toMs) continue;
      if (filter.shop !== undefined && e.shop !== filter.shop) continue;
      envelopes.push(e);
    }
    listed += page.objects.length;
    for (let i = 0; i < envelopes.length; i += SEND_BATCH) {
      await env.EVENTS.sendBatch(
        envelopes.slice(i, i + SEND_BATCH).map((body) => ({ body, contentType: "json" as const })),
      );
    }
    sent += envelopes.length;
    budget.left -= page.objects.length;
    cursor = page.truncated
      ? { ...cursor, list: page.cursor }
      : { hour: cursor.hour, prefix: cursor.prefix + 1, list: null };
    // Saved after every page that sent something (a crash re-sends at most one page: harmless).
    if (envelopes.length > 0) await save("running");
  }
  const done = cursor.hour >= hours;
  await save(done ? "completed" : "running");
  return { replayId: row.id, status: done ? "completed" : "running", listed, sent };
}

/** The envelope of a raw object, from its custom metadata (or its wrapper, for an object without). */
async function envelopeOf(env: Env, o: R2Object, source: Source, replayId: string): Promise<Envelope | null> {
  let m = o.customMetadata ?? {};
  // Objects archived before their metadata named the API version have it in the wrapper's head.
  if (!m.event_id || !m.topic || !m.event_at || m.api_version === undefined) {
    const body = await env.LAKE.get(o.key, { range: { offset: 0, length: 1024 } });
    if (!body) return null;
    const text = await body.text();
    // The wrapper's head is plain JSON before the verbatim payload.
    const head =
      /^\{"event_id":"([^"]+)","source":"[a-z]+","topic":"([^"]+)","shop":(null|"[^"]*"),"received_at":"([^"]+)","event_at":"([^"]+)"(?:,"api_version":(null|"[^"]*"))?/.exec(
        text,
      );
    if (!head) return null;
    m = {
      event_id: head[1] as string,
      topic: head[2] as string,
      shop: head[3] === "null" ? "" : (head[3] as string).slice(1, -1),
      received_at: head[4] as string,
      event_at: head[5] as string,
      api_version: head[6] === undefined || head[6] === "null" ? "" : head[6].slice(1, -1),
    };
  }
  return {
    v: 1,
    source,
    topic: m.topic as string,
    eventId: m.event_id as string,
    shop: m.shop ? m.shop : null,
    receivedAt: m.received_at ?? (m.event_at as string),
    eventAt: m.event_at as string,
    apiVersion: m.api_version ? m.api_version : null,
    origin: "replay",
    bodyKey: o.key,
    replayId,
  };
}

/** `GET /admin/replay/:id`: a replay's progress, `applied` counted by the consumer. */
export async function replayStatus(db: D1Database, id: string) {
  return db
    .prepare(
      `SELECT id AS replayId, status, filter, listed, sent, min(applied, sent) AS applied, created_at AS createdAt,
         completed_at AS completedAt, error FROM replay_runs WHERE id = ?1`,
    )
    .bind(id)
    .first<Record<string, unknown>>();
}
