/**
 * Child sets (order line items, product variants, refund lines) of many parents in a few
 * statements. A planner returns child writes as data; whoever runs the plans turns all the
 * writes of one D1 batch into one DELETE and one INSERT per child table (the consumer: a queue
 * batch; the bulk path: an apply batch), placed after every parent write of that batch.
 *
 * The rows travel as one JSON text parameter read with `json_each`, so a statement binds one
 * value whatever the row count, far inside D1's 100-parameter limit; JSON keeps each value's
 * type (text stays text: ids are never numbers; integers stay integers). Both statements join
 * every row to its parent *holding the event that wrote it* (`last_event_id`), exactly the guard
 * the per-event statements had: a parent that did not take its event (an older version) keeps
 * its children, and version columns are copied from the parent row. Running the child writes
 * after all parents of the batch gives the same end state as running each event's in turn: a
 * parent's stored event is decided by its last applied write, and only that event's set passes
 * the guard; it replaces whatever set was stored before.
 *
 * A set is replaced by deleting only the stored children the new set no longer names, then
 * upserting the new rows, where a row equal to the stored one is not written. Deleting the whole set
 * and inserting it again cost every child its row and each of its index entries twice (a removal and
 * an insertion, each a billed row written); an update writes the row and only the index entries whose
 * columns changed, and a redelivered or replayed event writes no child at all.
 */
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { type ChildSet, textsFor } from "./child-sql";
import { driverValue, jsonArrayChunks } from "./d1";

export type { ChildSet } from "./child-sql";

/** The whole child set of one parent, written when the parent holds `lastEventId`. */
export interface ChildWrite {
  set: ChildSet;
  shop: string;
  parentId: string;
  lastEventId: string;
  rows: ReadonlyArray<Record<string, unknown>>;
}

/**
 * The statements that replace the child sets of `writes`, grouped per child table in the order
 * the tables first appear: a DELETE of the stored children each named parent's new set leaves out,
 * then an upsert of the new rows. Writes keep their order, so when two name the same child id the
 * later one wins.
 */
export function childStatements(db: D1Database, writes: readonly ChildWrite[]): D1PreparedStatement[] {
  const bySet = new Map<ChildSet, ChildWrite[]>();
  for (const w of writes) {
    const list = bySet.get(w.set);
    if (list) list.push(w);
    else bySet.set(w.set, [w]);
  }
  const out: D1PreparedStatement[] = [];
  for (const [set, list] of bySet) {
    const t = textsFor(set);
    const parents: string[] = [];
    const rows: string[] = [];
    for (const w of list) {
      const head = [w.shop, w.parentId, w.lastEventId];
      parents.push(JSON.stringify([...head, w.rows.map((row) => row.id)]));
      for (const row of w.rows) {
        const values: unknown[] = head.slice();
        for (let i = 0; i < t.own.length; i++) {
          values.push(driverValue(t.ownColumns[i] as SQLiteColumn, row[t.own[i] as string]));
        }
        rows.push(JSON.stringify(values));
      }
    }
    for (const json of jsonArrayChunks(parents)) out.push(db.prepare(t.remove).bind(json));
    for (const json of jsonArrayChunks(rows)) out.push(db.prepare(t.insert).bind(json));
  }
  return out;
}
