/**
 * SubjectIndex: the privacy subject index, sharded over SUBJECT_INDEX_SHARDS SQLite-backed Durable
 * Objects by a hash of the subject (`subjectShard`, src/tables/subject-index.ts, which also holds the
 * client every writer and reader calls). Each row says that one stored R2 object names one
 * data subject; erasure asks the shards of the person's subjects for their objects, so it reads in
 * proportion to the person's own objects, and the index grows out over objects of 10 GB each instead
 * of filling the D1 database (docs/performance.md, "History in D1, and its ceiling").
 *
 * A shard also keeps the erased subjects that hash to it (the privacy job records them when a request
 * starts): an object indexed unredacted for one of them afterwards (a claim-checked body, a bulk
 * snapshot, a dead letter) comes back from `add` as late, and the writer records it for the privacy
 * sweep, which rewrites it.
 *
 * Rows are WITHOUT ROWID on (kind, id, shop, r2_key) with no other index: one written row per entry
 * (`shop/redact` walks the shards by primary key instead). A redelivered entry writes nothing.
 */
import { DurableObject } from "cloudflare:workers";
import type { EntryKey, IndexRow, SubjectKey } from "../tables/subject-index";
import { ADD_ENTRY, ENTRIES_AFTER, IS_ERASED, SCHEMA, subjectKeys } from "./subject-index-sql";

/** Match of one subject: an exact shop, or any ('*'). */
function subjectWhere(s: SubjectKey): { sql: string; params: string[] } {
  return s[2] === "*"
    ? { sql: "kind = ? AND id = ?", params: [s[0], s[1]] }
    : { sql: "kind = ? AND id = ? AND shop = ?", params: [s[0], s[1], s[2]] };
}

export class SubjectIndex extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Whether this shard holds any erased subject: most never do, and then `add` looks nothing up. */
  private anyErased: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const s of SCHEMA) this.sql.exec(s);
    this.anyErased = this.sql.exec("SELECT 1 FROM erased LIMIT 1").toArray().length > 0;
  }

  /** Enters rows; returns those indexed unredacted for a subject erased here (the sweep's work). */
  add(rows: IndexRow[], at: string): EntryKey[] {
    const late: EntryKey[] = [];
    for (const [kind, id, shop, key, redacted] of rows) {
      this.sql.exec(ADD_ENTRY, kind, id, shop, key, at, redacted);
      if (redacted === 0 && this.anyErased && this.isErased(kind, id, shop)) late.push([kind, id, shop, key]);
    }
    return late;
  }

  private isErased(kind: string, id: string, shop: string): boolean {
    return this.sql.exec(IS_ERASED, kind, id, shop).toArray().length > 0;
  }

  /** Records erased subjects: what is indexed for them from now on unredacted comes back as late. */
  erase(subjects: SubjectKey[], at: string): void {
    for (const [kind, id, shop] of subjects) {
      this.sql.exec(
        "INSERT INTO erased (kind, id, shop, erased_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        kind,
        id,
        shop,
        at,
      );
    }
    if (subjects.length > 0) this.anyErased = true;
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
      .exec<{ kind: string; id: string; shop: string; r2_key: string }>(ENTRIES_AFTER, ...a, scan)
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

  /** Entries in key order after `after` (the CLI's and the tests' view of a shard). */
  list(
    limit: number,
    after: { kind: string; id: string; shop: string; key: string } | null = null,
  ): Array<{
    kind: string;
    id: string;
    shop: string;
    key: string;
    redacted: number;
  }> {
    const a = after ?? { kind: "", id: "", shop: "", key: "" };
    return this.sql
      .exec<{ kind: string; id: string; shop: string; key: string; redacted: number }>(
        `SELECT kind, id, shop, r2_key AS key, redacted FROM entries WHERE (kind, id, shop, r2_key) > (?, ?, ?, ?)
         ORDER BY kind, id, shop, r2_key LIMIT ?`,
        a.kind,
        a.id,
        a.shop,
        a.key,
        limit,
      )
      .toArray();
  }
}
