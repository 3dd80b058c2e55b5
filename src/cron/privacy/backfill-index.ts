/**
 * Enters what was stored before the subject index existed: walks the ledger (`webhook_events`,
 * by rowid, up to the last row present when the index's migration ran) and indexes each row's
 * R2 object (raw event, quarantine or dead letter), a bounded chunk per `privacy` run, its
 * position kept in `subject_index_backfill`, saved after the chunk's entries are in the index. Bulk
 * snapshots are not in the ledger and are not walked here.
 */
import { payloadOfRawObject } from "../../shared/archive";
import { SOURCES, type Source } from "../../shared/envelope";
import { sharedDatabase } from "../../tables/database";
import { type IndexEntry, indexObjects } from "../../tables/subject-index";
import { subjectsOfText } from "../../tables/subjects";

const ROWS_PER_CHUNK = 200;

interface LedgerRow {
  rid: number;
  source: Source;
  resource: string | null;
  shop: string | null;
  r2_key: string | null;
}

/** The text an object holds for its event: the raw payload, the quarantined body, the dead letter's body. */
function storedPayload(key: string, text: string, meta: Record<string, string> | undefined): string | null {
  if (key.startsWith("raw/")) return payloadOfRawObject(text, meta);
  try {
    const doc = JSON.parse(text) as { payload_text?: unknown; envelope?: { body?: unknown } };
    if (typeof doc.payload_text === "string") return doc.payload_text;
    if (typeof doc.envelope?.body === "string") return doc.envelope.body;
  } catch {
    return null;
  }
  return null;
}

/** Indexes up to `budget.left` ledger rows' objects; returns how many rows it walked (0: done). */
export async function backfillIndex(env: Env, budget: { left: number }, now: string): Promise<number> {
  const db = sharedDatabase(env);
  const state = await db
    .prepare("SELECT after_rowid AS afterRowid, until_rowid AS untilRowid FROM subject_index_backfill WHERE id = 1")
    .first<{ afterRowid: number; untilRowid: number }>();
  if (state === null || state.afterRowid >= state.untilRowid || budget.left <= 0) return 0;
  const rows = await db
    .prepare(
      `SELECT rowid AS rid, source, resource, shop, r2_key FROM webhook_events
       WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid LIMIT ?3`,
    )
    .bind(state.afterRowid, state.untilRowid, Math.min(budget.left, ROWS_PER_CHUNK))
    .all<LedgerRow>();
  const last = rows.results.at(-1);
  const entries: IndexEntry[] = [];
  for (const row of rows.results) {
    if (row.r2_key === null || !(SOURCES as readonly string[]).includes(row.source)) continue;
    const obj = await env.LAKE.get(row.r2_key);
    if (obj === null) continue;
    const payload = storedPayload(row.r2_key, await obj.text(), obj.customMetadata);
    if (payload === null) continue;
    const subjects = await subjectsOfText(env, row.source, row.shop, row.resource ?? "other", payload);
    entries.push({ r2Key: row.r2_key, subjects, redacted: false });
  }
  // The entries first: a position saved after them never skips one.
  await indexObjects(env, entries, now);
  await db
    .prepare("UPDATE subject_index_backfill SET after_rowid = ?1, indexed = indexed + ?2, updated_at = ?3 WHERE id = 1")
    .bind(last === undefined ? state.untilRowid : last.rid, entries.length, now)
    .run();
  budget.left -= rows.results.length;
  return rows.results.length;
}
