/**
 * `GET /admin/dead-letters?source=&day=&limit=` and `GET /admin/quarantine?…`: the newest
 * held-back objects with what their custom metadata says (source, topic, event id, quarantine
 * reason) and their event's ledger row now (status, note, error: `applied` once a replay went
 * through, or why it is still held back), for the ops page and `ops redrive`. R2 lists in key
 * order, so up to 10 pages under the prefix are read and sorted by upload time; `truncated` says
 * when older objects were left unread.
 */
import { z } from "zod";
import { SOURCES } from "../../shared/envelope";
import { AppError } from "../../shared/errors";
import { DEAD_LETTER_PREFIX, QUARANTINE_PREFIX } from "../../shared/keys";
import { everyDatabase } from "../../tables/database";

const querySchema = z.object({
  source: z.enum([...SOURCES, "unknown"]).optional(),
  day: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});

export interface HeldObject {
  key: string;
  source: string | null;
  topic: string | null;
  eventId: string | null;
  /** Quarantine: why it was quarantined first (`invalid_payload`, …). */
  reason: string | null;
  uploaded: string;
  size: number;
}

/** A held-back object and its event's ledger row now. */
export type HeldWithLedger = HeldObject & {
  ledgerStatus: string | null;
  ledgerNote: string | null;
  ledgerError: string | null;
};

const MAX_PAGES = 10;

/** The listing with each object's ledger row (one bounded D1 read by primary key). */
export async function listHeldBackWithLedger(
  env: Env,
  area: "dead-letter" | "quarantine",
  query: Record<string, string | undefined>,
): Promise<{ objects: HeldWithLedger[]; truncated: boolean }> {
  const listed = await listHeldBack(env.LAKE, area, query);
  return {
    ...listed,
    objects: await withLedger(
      everyDatabase(env).map((d) => d.db),
      listed.objects,
    ),
  };
}

/** An event's ledger row is in its shop's database: each is asked (nearly always only DB). */
async function withLedger(dbs: D1Database[], objects: HeldObject[]): Promise<HeldWithLedger[]> {
  const none = { ledgerStatus: null, ledgerNote: null, ledgerError: null };
  const known = objects.filter((o) => o.source && o.eventId);
  if (known.length === 0) return objects.map((o) => ({ ...o, ...none }));
  // One bound parameter whatever the count (D1 allows 100 per statement): the keys as a JSON array.
  const keys = JSON.stringify(known.map((o) => [o.source, o.eventId]));
  const found = await Promise.all(
    dbs.map(async (db) => {
      const rows = await db
        .prepare(
          `SELECT source, event_id, status, note, error FROM webhook_events
           WHERE (source, event_id) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))`,
        )
        .bind(keys)
        .all<{ source: string; event_id: string; status: string; note: string | null; error: string | null }>();
      return rows.results;
    }),
  );
  const byEvent = new Map(found.flat().map((r) => [`${r.source}\u0000${r.event_id}`, r]));
  return objects.map((o) => {
    const r = byEvent.get(`${o.source}\u0000${o.eventId}`);
    return r ? { ...o, ledgerStatus: r.status, ledgerNote: r.note, ledgerError: r.error } : { ...o, ...none };
  });
}

export async function listHeldBack(
  bucket: R2Bucket,
  area: "dead-letter" | "quarantine",
  query: Record<string, string | undefined>,
): Promise<{ objects: HeldObject[]; truncated: boolean }> {
  const parsed = querySchema.safeParse(query);
  if (!parsed.success) {
    throw new AppError(
      400,
      "bad_request",
      "Query: source=shopify|stripe|recharge|unknown, day=YYYY-MM-DD, limit=1..1000.",
    );
  }
  const { source, day, limit } = parsed.data;
  if (day && !source) throw new AppError(400, "bad_request", "day needs a source (keys are {source}/dt={day}/).");
  let prefix = area === "dead-letter" ? DEAD_LETTER_PREFIX : QUARANTINE_PREFIX;
  if (source) prefix += `${source}/`;
  if (day) prefix += `dt=${day}/`;
  const found: HeldObject[] = [];
  let cursor: string | undefined;
  let truncated = false;
  for (let page = 0; ; page++) {
    const listed = await bucket.list({ prefix, cursor, limit: 1000, include: ["customMetadata"] });
    for (const o of listed.objects) {
      found.push({
        key: o.key,
        source: o.customMetadata?.source ?? null,
        topic: o.customMetadata?.topic ?? null,
        eventId: o.customMetadata?.event_id ?? null,
        reason: o.customMetadata?.reason ?? null,
        uploaded: o.uploaded.toISOString(),
        size: o.size,
      });
    }
    if (!listed.truncated) break;
    if (page + 1 >= MAX_PAGES) {
      truncated = true;
      break;
    }
    cursor = listed.cursor;
  }
  found.sort((a, b) => (a.uploaded < b.uploaded ? 1 : a.uploaded > b.uploaded ? -1 : a.key < b.key ? -1 : 1));
  return { objects: found.slice(0, limit), truncated: truncated || found.length > limit };
}
