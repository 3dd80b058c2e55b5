/**
 * Reconciliation cursors, kept in `sync_cursors` (defined with the bulk tables in
 * 0004) under the name `reconcile`: the end of the last window reconciled completely,
 * per (source, shop, resource); `shop` is '' for Stripe and Recharge. A window that
 * stopped at its page limit leaves its progress under `reconcile_partial` (JSON,
 * validated with zod on read, so a row from an older deploy is ignored, not trusted).
 * Both are written only by a run that succeeded, so a failed run is simply redone; the one
 * exception is a scope's very first window, kept as partial progress before any work
 * (`rememberFirstWindow`): without it a first run that fails would be redone from a lookback
 * before the next run's time, and what changed before that would never be looked at.
 */
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { z } from "zod";
import type { Source } from "../../shared/envelope";
import { log } from "../../shared/log";
import { syncCursors } from "../../shared/schema/operations";

export interface CursorScope {
  source: Source;
  shop: string;
  resource: string;
}

const CURSOR = "reconcile";
const PARTIAL = "reconcile_partial";

export interface StoredCursor<S> {
  cursor: string | null;
  partial: S | null;
}

export async function readCursor<S>(
  db: D1Database,
  at: CursorScope,
  partialSchema: z.ZodType<S>,
): Promise<StoredCursor<S>> {
  const rows = await drizzle(db)
    .select({ name: syncCursors.name, value: syncCursors.value })
    .from(syncCursors)
    .where(
      and(eq(syncCursors.source, at.source), eq(syncCursors.shop, at.shop), eq(syncCursors.resource, at.resource)),
    );
  const cursor = rows.find((r) => r.name === CURSOR)?.value ?? null;
  const partialText = rows.find((r) => r.name === PARTIAL)?.value;
  if (partialText === undefined) return { cursor, partial: null };
  let doc: unknown;
  try {
    doc = JSON.parse(partialText);
  } catch {
    doc = undefined;
  }
  const partial = partialSchema.safeParse(doc);
  if (!partial.success) log.warn("ignoring unreadable partial cursor", { ...at });
  return { cursor, partial: partial.success ? partial.data : null };
}

const UPSERT = `INSERT INTO sync_cursors (source, shop, resource, name, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (source, shop, resource, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`;
const DELETE = "DELETE FROM sync_cursors WHERE source = ?1 AND shop = ?2 AND resource = ?3 AND name = ?4";

/** The statements that record a finished (or page-limited) window. */
export function writeCursor<S>(
  db: D1Database,
  at: CursorScope,
  value: { cursor: string; partial: S | null; now: string },
): D1PreparedStatement[] {
  const out = [db.prepare(UPSERT).bind(at.source, at.shop, at.resource, CURSOR, value.cursor, value.now)];
  if (value.partial === null) out.push(db.prepare(DELETE).bind(at.source, at.shop, at.resource, PARTIAL));
  else
    out.push(
      db.prepare(UPSERT).bind(at.source, at.shop, at.resource, PARTIAL, JSON.stringify(value.partial), value.now),
    );
  return out;
}

/** Keeps a scope's first window as partial progress, so a failing first run is resumed from its start. */
export async function rememberFirstWindow<S>(
  db: D1Database,
  at: CursorScope,
  stored: StoredCursor<S>,
  partial: S,
  now: string,
): Promise<void> {
  if (stored.cursor !== null || stored.partial !== null) return;
  await db.prepare(UPSERT).bind(at.source, at.shop, at.resource, PARTIAL, JSON.stringify(partial), now).run();
}
