/**
 * `GET /admin/events`: the newest ledger rows, optionally for one source or status, for operators
 * and the demo; `source` with `eventId` reads one event's row (`ops replay` waits on it).
 */
import { z } from "zod";
import { EVENT_ID_PATTERN, SOURCES } from "../../shared/envelope";
import { AppError } from "../../shared/errors";
import { everyDatabase } from "../../tables/database";
import { LEDGER_STATUSES, recentEventsQuery } from "./ledger-sql";

const querySchema = z.object({
  source: z.enum(SOURCES).optional(),
  status: z.enum(LEDGER_STATUSES).optional(),
  eventId: z.string().regex(EVENT_ID_PATTERN).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export interface RecentEvent {
  source: string;
  event_id: string;
  topic: string;
  shop: string | null;
  status: string;
  r2_key: string | null;
  received_at: string;
  event_at: string;
  deliveries: number;
  attempts: number;
  error: string | null;
  note: string | null;
  updated_at: string;
}

export async function recentEvents(env: Env, query: Record<string, string>): Promise<RecentEvent[]> {
  const parsed = querySchema.safeParse(query);
  if (!parsed.success) {
    throw new AppError(
      400,
      "bad_request",
      `Invalid query: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}.`,
    );
  }
  const { source, status, eventId, limit } = parsed.data;
  if (eventId !== undefined && source === undefined) {
    throw new AppError(400, "bad_request", "eventId needs a source (event ids are unique per source).");
  }
  // A routed shop's ledger rows live in its own database: read each, newest first over all of them.
  const { sql, params } = recentEventsQuery({ source, status, eventId, limit });
  const perDatabase = await Promise.all(
    everyDatabase(env).map(async ({ db }) => {
      const rows = await db
        .prepare(sql)
        .bind(...params)
        .all<RecentEvent>();
      return rows.results;
    }),
  );
  return perDatabase
    .flat()
    .sort((a, b) =>
      a.received_at === b.received_at ? a.event_id.localeCompare(b.event_id) : a.received_at < b.received_at ? 1 : -1,
    )
    .slice(0, limit);
}
