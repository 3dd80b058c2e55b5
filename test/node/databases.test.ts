// Routing a shop to its own D1 database is one setting because every D1 access in src/ goes
// through src/tables/database.ts (shopDatabase, eventDatabase, sharedDatabase, everyDatabase).
// dependency-cruiser cannot see property access, so this scans the source for a D1 binding read
// from Env anywhere else: one would silently keep a routed shop's data in DB.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const ALLOWED = new Set(["src/tables/database.ts"]);
/** `env.DB`, `this.env.DB`, `ctx.env.DB`, `c.env.DB`, `env["DB"]`, `{ DB } = env`, a routed `env.DB_BIG`... */
const BINDING_READ =
  /\.DB(?:_[A-Z0-9_]+)?\b|\[\s*["'`]DB(?:_[A-Z0-9_]+)?["'`]\s*\]|\{\s*(?:[^}]*,\s*)?DB(?:_[A-Z0-9_]+)?\s*(?:,[^}]*)?\}\s*=\s*[\w.]*env\b/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|tsx)$/.test(name) ? [p] : [];
  });
}

function bindingReads(text: string): Array<{ line: number; text: string }> {
  return text
    .split("\n")
    .map((t, i) => ({ line: i + 1, text: t.trim() }))
    .filter((l) => !l.text.startsWith("//") && !l.text.startsWith("*") && BINDING_READ.test(l.text));
}

describe("D1 access goes through src/tables/database.ts", () => {
  it("no module of src/ but database.ts reads a D1 binding from Env", () => {
    const found = sourceFiles(join(root, "src"))
      .map((f) => relative(root, f))
      .filter((f) => !ALLOWED.has(f))
      .flatMap((f) => bindingReads(readFileSync(join(root, f), "utf8")).map((l) => `${f}:${l.line}: ${l.text}`));
    expect(
      found,
      `These lines read a D1 binding directly. Use shopDatabase(env, shop) for a shop's data, eventDatabase(env, shop, resource) in the consumer, sharedDatabase(env) for what belongs to no single shop, or everyDatabase(env) for reads over all shops (src/tables/database.ts):\n${found.join("\n")}`,
    ).toEqual([]);
  });

  it("the scan sees each way of reading the binding, and not the module's own names", () => {
    const reads = [
      "await env.DB.prepare('SELECT 1').run();",
      "const db = this.env.DB;",
      "storedVersions(ctx.env.DB, table, ids, shop)",
      'const db = env["DB"];',
      "const { DB } = env;",
      "const { LAKE, DB } = this.env;",
      "env.DB_BIG.batch(statements)",
    ];
    for (const r of reads) expect(bindingReads(r), r).toHaveLength(1);
    const fine = [
      "const db = shopDatabase(env, e.shop);",
      "await sharedDatabase(env).batch(statements);",
      "for (const { db } of everyDatabase(env)) await run(db);",
      "// env.DB in a comment",
      "const DBG = true;",
    ];
    for (const f of fine) expect(bindingReads(f), f).toEqual([]);
  });
});
