/**
 * Reconciliation cursors, kept in `sync_cursors` (defined with the bulk tables in
 * 0004) under the name `reconcile`: the end of the last window reconciled completely,
 * per (source, shop, resource); `shop` is '' for Stripe and Recharge. A window that
 * stopped at its page limit leaves its progress under `reconcile_partial` (JSON,
 * validated with zod on read, so a row from an older deploy is ignored, not trusted).
 * Both are written only by a run that succeeded, so a failed run is simply redone; the one
 * exception is a scope's very first window, kept as partial progress before any work
 * (`firstWindows`): without it a first run that fails would be redone from a lookback
 * before the next run's time, and what changed before that would never be looked at.
 *
 * A scope's cursors are read in one query once it holds its lease, and each commit is one
 * statement (plus one when a finished window's partial goes), whatever the resources: a run
 * serves hundreds of shops, and a quiet one should cost a handful of D1 queries.
 */
import type { z } from "zod";
import type { Source } from "../../shared/envelope";
import { log } from "../../shared/log";

const CURSOR = "reconcile";
const PARTIAL = "reconcile_partial";

export interface StoredCursor<S> {
  cursor: string | null;
  partial: S | null;
}

/**
 * Where one resource's window stands: `partial` null when the window is finished (the cursor moves to
 * its end), else its progress (the cursor stays where it was, or at the window's start on a first run).
 */
export interface CursorWrite<S> {
  resource: string;
  window: { from: string; to: string };
  partial: S | null;
}

const UPSERT = `INSERT INTO sync_cursors (source, shop, resource, name, value, updated_at)
SELECT ?1, ?2, j.value ->> '$[0]', j.value ->> '$[1]', j.value ->> '$[2]', ?3 FROM json_each(?4) j WHERE true
ON CONFLICT (source, shop, resource, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`;
const DELETE_PARTIALS = `DELETE FROM sync_cursors WHERE source = ?1 AND shop = ?2 AND name = '${PARTIAL}'
  AND resource IN (SELECT value FROM json_each(?3))`;

/** One scope's cursors (a source, and a shop for Shopify), as its run reads and commits them. */
export class ScopeCursors {
  private constructor(
    private readonly source: Source,
    private readonly shop: string,
    private readonly stored: Map<string, { cursor: string | null; partial: string | null }>,
  ) {}

  static async read(db: D1Database, source: Source, shop: string): Promise<ScopeCursors> {
    const { results } = await db
      .prepare(
        `SELECT resource, name, value FROM sync_cursors WHERE source = ?1 AND shop = ?2 AND name IN ('${CURSOR}', '${PARTIAL}')`,
      )
      .bind(source, shop)
      .all<{ resource: string; name: string; value: string }>();
    const stored = new Map<string, { cursor: string | null; partial: string | null }>();
    for (const row of results) {
      const entry = stored.get(row.resource) ?? { cursor: null, partial: null };
      if (row.name === CURSOR) entry.cursor = row.value;
      else entry.partial = row.value;
      stored.set(row.resource, entry);
    }
    return new ScopeCursors(source, shop, stored);
  }

  get<S>(resource: string, partialSchema: z.ZodType<S>): StoredCursor<S> {
    const entry = this.stored.get(resource);
    const cursor = entry?.cursor ?? null;
    if (entry?.partial == null) return { cursor, partial: null };
    let doc: unknown;
    try {
      doc = JSON.parse(entry.partial);
    } catch {
      doc = undefined;
    }
    const partial = partialSchema.safeParse(doc);
    if (!partial.success)
      log.warn("ignoring unreadable partial cursor", { source: this.source, shop: this.shop, resource });
    return { cursor, partial: partial.success ? partial.data : null };
  }

  /**
   * The statements that record these windows (finished or page-limited), for one batch: one upsert
   * of every value, and a delete of the partials of finished windows when there were any. They count
   * as stored from here: a batch that fails ends the scope's run, and the next run reads them again.
   */
  write<S>(db: D1Database, writes: ReadonlyArray<CursorWrite<S>>, now: string): D1PreparedStatement[] {
    return this.record(
      db,
      writes.map((w) => ({
        resource: w.resource,
        cursor: w.partial === null ? w.window.to : (this.stored.get(w.resource)?.cursor ?? w.window.from),
        partial: w.partial,
      })),
      now,
    );
  }

  /** The statements of `write`; `cursor` null leaves the stored cursor as it is. */
  private record<S>(
    db: D1Database,
    writes: ReadonlyArray<{ resource: string; cursor: string | null; partial: S | null }>,
    now: string,
  ): D1PreparedStatement[] {
    const values: Array<[string, string, string]> = [];
    const finished: string[] = [];
    for (const w of writes) {
      if (w.cursor !== null) values.push([w.resource, CURSOR, w.cursor]);
      const entry = this.stored.get(w.resource) ?? { cursor: null, partial: null };
      if (w.cursor !== null) entry.cursor = w.cursor;
      if (w.partial !== null) {
        entry.partial = JSON.stringify(w.partial);
        values.push([w.resource, PARTIAL, entry.partial]);
      } else if (entry.partial !== null) {
        entry.partial = null;
        finished.push(w.resource);
      }
      this.stored.set(w.resource, entry);
    }
    const out: D1PreparedStatement[] = [];
    if (values.length > 0) out.push(db.prepare(UPSERT).bind(this.source, this.shop, now, JSON.stringify(values)));
    if (finished.length > 0)
      out.push(db.prepare(DELETE_PARTIALS).bind(this.source, this.shop, JSON.stringify(finished)));
    return out;
  }

  /** Keeps each resource's first window as partial progress (those with nothing stored), before any work. */
  async firstWindows<S>(db: D1Database, windows: ReadonlyArray<{ resource: string; partial: S }>, now: string) {
    const first = windows.filter((w) => {
      const entry = this.stored.get(w.resource);
      return entry === undefined || (entry.cursor === null && entry.partial === null);
    });
    const statements = this.record(
      db,
      first.map((w) => ({ resource: w.resource, cursor: null, partial: w.partial })),
      now,
    );
    if (statements.length > 0) await db.batch(statements);
  }
}
