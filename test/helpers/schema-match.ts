/**
 * Checks a drizzle table definition against the table the migrations created: every column
 * (name, type, not-null, primary-key position) and every declared index (name, columns, unique).
 */
import { env } from "cloudflare:workers";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { expect } from "vitest";

export async function expectMatchesMigration(table: SQLiteTable): Promise<void> {
  const config = getTableConfig(table);
  const pk =
    config.primaryKeys[0]?.columns.map((c) => c.name) ?? config.columns.filter((c) => c.primary).map((c) => c.name);
  const info = await env.DB.prepare(`PRAGMA table_info(${config.name})`).all<{
    name: string;
    type: string;
    notnull: number;
    pk: number;
  }>();
  expect(
    info.results.map((c) => [c.name, c.type.toLowerCase(), c.notnull === 1, c.pk]),
    config.name,
  ).toEqual(config.columns.map((c) => [c.name, c.getSQLType().toLowerCase(), c.notNull, pk.indexOf(c.name) + 1]));

  const indexes = await env.DB.prepare(`PRAGMA index_list(${config.name})`).all<{
    name: string;
    origin: string;
    unique: number;
  }>();
  const declared = indexes.results.filter((i) => i.origin === "c");
  expect(declared.map((i) => i.name).sort(), config.name).toEqual(config.indexes.map((i) => i.config.name).sort());
  for (const index of config.indexes) {
    const cols = await env.DB.prepare(`PRAGMA index_info(${index.config.name})`).all<{ name: string }>();
    expect(
      cols.results.map((c) => c.name),
      index.config.name,
    ).toEqual(index.config.columns.map((c) => ("name" in c ? c.name : "")));
    expect(declared.find((i) => i.name === index.config.name)?.unique === 1, index.config.name).toBe(
      index.config.unique,
    );
  }
}
