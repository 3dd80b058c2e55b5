/**
 * The schema as the migrations build it, in an in-memory SQLite (node:sqlite, the engine D1 runs),
 * for tests that plan statements with EXPLAIN QUERY PLAN. No sqlite_stat1, as on D1.
 */
import { readdirSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";

const root = new URL("../../..", import.meta.url).pathname;

export function migratedDatabase(): DatabaseSync {
  const db = new DatabaseSync(":memory:");
  for (const f of readdirSync(`${root}/migrations`)
    .filter((n) => n.endsWith(".sql"))
    .sort()) {
    db.exec(readFileSync(`${root}/migrations/${f}`, "utf8"));
  }
  return db;
}
