/**
 * SubjectIndex: one shard of the privacy subject index (src/tables/subject-index.ts names them,
 * `subjects-{YYYY-MM}-{nn}`, and holds the client every writer and reader calls). Each row says that
 * one stored R2 object names one data subject; erasure asks the shards of the person's subjects for
 * their objects, so it reads in proportion to the person's own objects, and the index grows out over
 * objects of 10 GB each instead of filling the D1 database (docs/performance.md, "History in D1, and
 * its ceiling").
 *
 * Rows are WITHOUT ROWID on (kind, id, shop, r2_key) with no other index: one written row per entry
 * (`shop/redact` walks the shards by primary key instead). A redelivered entry writes nothing.
 */
import { DurableObject } from "cloudflare:workers";
import type { EntryKey, IndexRow, SubjectKey } from "../tables/subject-index";
import { ADD_ENTRY, ENTRIES_AFTER, SCHEMA, subjectKeys } from "./subject-index-sql";

/** Match of one subject: an exact shop, or any ('*'). */
function subjectWhere(s: SubjectKey): { sql: string; params: string[] } {
  return s[2] === "*"
    ? { sql: "kind = ? AND id = ?", params: [s[0], s[1]] }
    : { sql: "kind = ? AND id = ? AND shop = ?", params: [s[0], s[1], s[2]] };
}

export class SubjectIndex extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const s of SCHEMA) this.sql.exec(s);
  }

  /** Enters rows; an entry already there only ever moves its state up (to do, done, set aside). */
  add(rows: IndexRow[], at: string): void {
    for (const [kind, id, shop, key, redacted] of rows) this.sql.exec(ADD_ENTRY, kind, id, shop, key, at, redacted);
  }

  /** Up to `limit` distinct objects of `subjects` in `state` (null: any), in key order, after `after`. */
  keys(subjects: SubjectKey[], state: number | null, limit: number, after = ""): string[] {
    const found = new Set<string>();
    for (const s of subjects) {
      const w = subjectWhere(s);
      const rows = this.sql
        .exec<{ r2_key: string }>(
          subjectKeys(s[2] === "*", state === null),
          ...w.params,
          after,
          ...(state === null ? [] : [state]),
          limit,
        )
        .toArray();
      for (const r of rows) found.add(r.r2_key);
    }
    return [...found].sort().slice(0, limit);
  }

  /** Sets `state` on the entries of `subjects` for `keys`. */
  mark(subjects: SubjectKey[], keys: string[], state: number): void {
    const list = JSON.stringify(keys);
    for (const s of subjects) {
      const w = subjectWhere(s);
      this.sql.exec(
        `UPDATE entries SET redacted = ? WHERE ${w.sql} AND r2_key IN (SELECT value FROM json_each(?)) AND redacted <> ?`,
        state,
        ...w.params,
        list,
        state,
      );
    }
  }

  /**
   * A shop's entries among the next `scan` entries after `after` (`shop/redact` walks a shard with
   * it), and the last entry scanned (null: the shard is done).
   */
  shopScan(shop: string, after: EntryKey | null, scan: number): { found: EntryKey[]; last: EntryKey | null } {
    const a = after ?? ["", "", "", ""];
    const rows = this.sql
      .exec<{ kind: string; id: string; shop: string; r2_key: string; redacted: number }>(ENTRIES_AFTER, ...a, scan)
      .toArray();
    const found: EntryKey[] = [];
    for (const r of rows) if (r.shop === shop) found.push([r.kind, r.id, r.shop, r.r2_key]);
    const l = rows.length < scan ? undefined : rows[rows.length - 1];
    return { found, last: l === undefined ? null : [l.kind, l.id, l.shop, l.r2_key] };
  }

  /** Forgets entries (their objects are gone, or a test stores an object as if before the index). */
  remove(entries: EntryKey[]): void {
    for (const [kind, id, shop, key] of entries) {
      this.sql.exec("DELETE FROM entries WHERE kind = ? AND id = ? AND shop = ? AND r2_key = ?", kind, id, shop, key);
    }
  }

  /** Entries in key order after `after` (the tests' view of a shard). */
  list(
    limit: number,
    after: { kind: string; id: string; shop: string; key: string } | null = null,
  ): Array<{ kind: string; id: string; shop: string; key: string; redacted: number }> {
    const a = after === null ? ["", "", "", ""] : [after.kind, after.id, after.shop, after.key];
    return this.sql
      .exec<{ kind: string; id: string; shop: string; r2_key: string; redacted: number }>(ENTRIES_AFTER, ...a, limit)
      .toArray()
      .map((r) => ({ kind: r.kind, id: r.id, shop: r.shop, key: r.r2_key, redacted: r.redacted }));
  }
}
