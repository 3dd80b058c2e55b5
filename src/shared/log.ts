/** Structured JSON logs: Workers Logs indexes the fields, so operators can filter by event id. */
type Fields = Record<string, string | number | boolean | null | undefined>;

function emit(level: "info" | "warn" | "error", msg: string, fields: Fields): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const log = {
  info: (msg: string, fields: Fields = {}) => emit("info", msg, fields),
  warn: (msg: string, fields: Fields = {}) => emit("warn", msg, fields),
  error: (msg: string, fields: Fields = {}) => emit("error", msg, fields),
};

/**
 * A short, secret-free description of an unknown thrown value, with its cause: it is what the
 * ledger and dead letters keep as the reason. Only the first line of each message is kept, as
 * wrappers such as drizzle's query error put the bound values (emails, names) on the next one,
 * and its cause (the D1 error itself) is what says why.
 */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 3 && e !== undefined && e !== null; depth++) {
    parts.push(e instanceof Error ? `${e.name}: ${firstLine(e.message)}` : firstLine(String(e)));
    e = e instanceof Error ? e.cause : undefined;
  }
  const [outer = "", ...causes] = parts;
  return (causes.length > 0 ? `${causes.join(" ← ")} ← in ${outer}` : outer).slice(0, 500);
}

const firstLine = (text: string) => text.split("\n", 1)[0] ?? "";
