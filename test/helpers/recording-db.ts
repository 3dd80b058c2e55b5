/** A stand-in D1 that records the SQL and bound values of every prepared statement (for pure builder tests). */
export function recordingDb() {
  const statements: Array<{ sql: string; params: unknown[] }> = [];
  const db = {
    prepare(sql: string) {
      return {
        bind(...params: unknown[]) {
          statements.push({ sql, params });
          return {} as D1PreparedStatement;
        },
      };
    },
  } as unknown as D1Database;
  return { db, statements };
}
