import { describe, expect, it } from "vitest";
import { cachedStatement } from "../src/tables/d1";
import { recordingDb } from "./helpers/recording-db";

describe("cachedStatement", () => {
  it("builds the first statement of a shape, then reuses its text with the given params", () => {
    const { db, statements } = recordingDb();
    let builds = 0;
    const build = (v: unknown) => () => {
      builds++;
      return { toSQL: () => ({ sql: "insert into t (a) values (?)", params: [v] }) };
    };
    const shape = `test-shape-${crypto.randomUUID()}`;
    cachedStatement(db, shape, () => [1], build(1));
    cachedStatement(db, shape, () => [2], build(2));
    cachedStatement(db, shape, () => [null], build(null));
    expect(builds).toBe(1);
    expect(statements).toEqual([
      { sql: "insert into t (a) values (?)", params: [1] },
      { sql: "insert into t (a) values (?)", params: [2] },
      { sql: "insert into t (a) values (?)", params: [null] },
    ]);
  });

  it("never caches a shape whose params disagree with the builder's, and binds the builder's", () => {
    const { db, statements } = recordingDb();
    let builds = 0;
    const shape = `test-shape-${crypto.randomUUID()}`;
    for (const v of [1, 2]) {
      cachedStatement(
        db,
        shape,
        () => [v, "extra"],
        () => {
          builds++;
          return { toSQL: () => ({ sql: `select ${v}`, params: [v] }) };
        },
      );
    }
    expect(builds).toBe(2);
    expect(statements).toEqual([
      { sql: "select 1", params: [1] },
      { sql: "select 2", params: [2] },
    ]);
  });
});
