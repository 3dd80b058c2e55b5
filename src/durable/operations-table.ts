/**
 * D1 statements on `bulk_operations` and `sync_cursors`. The coordinator writes the
 * full mirror row after every step, so the row is idempotent and always matches the
 * checkpoint it came from; in the apply stage it travels in the same D1 batch as the
 * entity rows, so the counts an operator reads are never ahead of the data.
 */
import { eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Query } from "drizzle-orm/sql";
import { type BulkOperationRow, bulkOperations, syncCursors } from "../shared/schema/operations";
import { cachedStatement, driverValue } from "../tables/d1";

function prepare(db: D1Database, q: { toSQL(): Query }): D1PreparedStatement {
  const { sql: text, params } = q.toSQL();
  return db.prepare(text).bind(...params);
}

const mirrorColumns = Object.entries(getTableColumns(bulkOperations));

/** Written once per applied batch: its text is built by drizzle once per shape (`cachedStatement`). */
export function mirrorStatement(db: D1Database, row: BulkOperationRow): D1PreparedStatement {
  const values = row as Record<string, unknown>;
  const defined = mirrorColumns.filter(([key]) => values[key] !== undefined);
  return cachedStatement(
    db,
    `mirror:${defined.map(([key]) => key).join(",")}`,
    () => defined.map(([key, col]) => driverValue(col, values[key])),
    () => {
      const set: Record<string, SQL> = {};
      for (const [key, col] of mirrorColumns) {
        if (col.name !== "id") set[key] = sql`excluded.${sql.identifier(col.name)}`;
      }
      return drizzle(db).insert(bulkOperations).values(row).onConflictDoUpdate({ target: bulkOperations.id, set });
    },
  );
}

export function syncCursorStatement(
  db: D1Database,
  cursor: { shop: string; resource: string; name: string; value: string; now: string },
): D1PreparedStatement {
  return prepare(
    db,
    drizzle(db)
      .insert(syncCursors)
      .values({
        source: "shopify",
        shop: cursor.shop,
        resource: cursor.resource,
        name: cursor.name,
        value: cursor.value,
        updatedAt: cursor.now,
      })
      .onConflictDoUpdate({
        target: [syncCursors.source, syncCursors.shop, syncCursors.resource, syncCursors.name],
        // A late, older export never moves the cursor back.
        set: { value: sql`max(${syncCursors.value}, excluded.value)`, updatedAt: sql`excluded.updated_at` },
      }),
  );
}

export async function operationsOfBackfill(db: D1Database, backfillId: string): Promise<BulkOperationRow[]> {
  return drizzle(db)
    .select()
    .from(bulkOperations)
    .where(eq(bulkOperations.backfillId, backfillId))
    .orderBy(bulkOperations.requestedAt, bulkOperations.resource);
}
