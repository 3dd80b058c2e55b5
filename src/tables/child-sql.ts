/**
 * The SQL text of a child set's two statements (src/tables/children.ts), built once per set from its
 * drizzle tables. Pure, so the plans of the statements are checked in Node (test/node/indexes.test.ts).
 */
import { getTableColumns, getTableName } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";

/** A Shopify child table and the parent it belongs to (both keyed by `(shop, id)`). */
export interface ChildSet {
  child: SQLiteTable;
  parent: SQLiteTable;
  /** The child column holding the parent's id. */
  childParentId: SQLiteColumn;
  /** Child columns copied from the parent row (child column name → parent column). */
  inherit: ReadonlyMap<string, SQLiteColumn>;
}

export interface Texts {
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

export function textsFor(set: ChildSet): Texts {
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
  const updated = columns.filter(([, col]) => col.name !== "shop" && col.name !== "id").map(([, col]) => q(col.name));
  const parentId = q(set.childParentId.name);
  const built: Texts = {
    // The parent's entry is [shop, parent id, event id, [the new set's child ids]].
    remove:
      `DELETE FROM ${child} WHERE ("shop", "id") IN (SELECT c."shop", c."id" FROM json_each(?1) j ` +
      `JOIN ${parent} p ON ${holds("j")} JOIN ${child} c ON c."shop" = p."shop" AND c.${parentId} = p."id" ` +
      `WHERE c."id" NOT IN (SELECT value FROM json_each(j.value, '$[3]')))`,
    // `WHERE true`: SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT with a join.
    insert:
      `INSERT INTO ${child} (${columns.map(([, col]) => q(col.name)).join(", ")}) ` +
      `SELECT ${select.join(", ")} FROM json_each(?1) j JOIN ${parent} p ON ${holds("j")} WHERE true ` +
      // A stored child takes the new values (a child id stored under another parent, which only bad
      // data does, moves to this one); an unchanged one is left as it is, unwritten.
      `ON CONFLICT ("shop", "id") DO UPDATE SET ${updated.map((c) => `${c} = excluded.${c}`).join(", ")} ` +
      `WHERE (${updated.map((c) => `${child}.${c}`).join(", ")}) IS NOT (${updated.map((c) => `excluded.${c}`).join(", ")})`,
    own: own.map(([key]) => key),
    ownColumns: own.map(([, col]) => col),
  };
  texts.set(set, built);
  return built;
}

/** The DELETE of a set's left-out children, for its plan's check (test/node/indexes.test.ts). */
export function childRemoveSql(set: ChildSet): string {
  return textsFor(set).remove;
}
