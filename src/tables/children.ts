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
 */
import { getTableColumns, getTableName } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { driverValue, jsonArrayChunks } from "./d1";

/** A Shopify child table and the parent it belongs to (both keyed by `(shop, id)`). */
export interface ChildSet {
  child: SQLiteTable;
  parent: SQLiteTable;
  /** The child column holding the parent's id. */
  childParentId: SQLiteColumn;
  /** Child columns copied from the parent row (child column name → parent column). */
  inherit: ReadonlyMap<string, SQLiteColumn>;
}

/** The whole child set of one parent, written when the parent holds `lastEventId`. */
export interface ChildWrite {
  set: ChildSet;
  shop: string;
  parentId: string;
  lastEventId: string;
  rows: ReadonlyArray<Record<string, unknown>>;
}

interface Texts {
  remove: string;
  insert: string;
  /** Row keys (drizzle names) of the child columns carried in the JSON, in order. */
  own: string[];
  ownColumns: SQLiteColumn[];
}

const texts = new Map<ChildSet, Texts>();

function q(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function textsFor(set: ChildSet): Texts {
  const cached = texts.get(set);
  if (cached) return cached;
  const child = q(getTableName(set.child));
  const parent = q(getTableName(set.parent));
  const columns = Object.entries(getTableColumns(set.child) as Record<string, SQLiteColumn>);
  const own = columns.filter(([, col]) => !set.inherit.has(col.name));
  // [shop, parent id, event id, ...own values]: the first three select the parent holding the event.
  const holds = (j: string) =>
    `p."shop" = json_extract(${j}.value, '$[0]') AND p."id" = json_extract(${j}.value, '$[1]') AND p."last_event_id" = json_extract(${j}.value, '$[2]')`;
  let k = 3;
  const select = columns.map(([, col]) => {
    const from = set.inherit.get(col.name);
    return from ? `p.${q(from.name)}` : `json_extract(j.value, '$[${k++}]')`;
  });
  const update = columns
    .filter(([, col]) => col.name !== "shop" && col.name !== "id")
    .map(([, col]) => `${q(col.name)} = excluded.${q(col.name)}`);
  const built: Texts = {
    remove: `DELETE FROM ${child} WHERE ("shop", ${q(set.childParentId.name)}) IN (SELECT p."shop", p."id" FROM json_each(?1) j JOIN ${parent} p ON ${holds("j")})`,
    // `WHERE true`: SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT with a join.
    insert:
      `INSERT INTO ${child} (${columns.map(([, col]) => q(col.name)).join(", ")}) ` +
      `SELECT ${select.join(", ")} FROM json_each(?1) j JOIN ${parent} p ON ${holds("j")} WHERE true ` +
      // A child id already stored under another parent (only bad data does this) moves to this one.
      `ON CONFLICT ("shop", "id") DO UPDATE SET ${update.join(", ")}`,
    own: own.map(([key]) => key),
    ownColumns: own.map(([, col]) => col),
  };
  texts.set(set, built);
  return built;
}

/**
 * The statements that replace the child sets of `writes`, grouped per child table in the order
 * the tables first appear: a DELETE of every named parent's stored set, then an INSERT of the
 * new rows. Writes keep their order, so when two name the same child id the later one wins.
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
      parents.push(JSON.stringify(head));
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
