/** Helpers every mapper shares: emails normalized for identity linking, zod issues as one line. */
import type { ZodError } from "zod";

/** Trimmed and lower-cased, so identity linking can compare emails across sources; blank → null. */
export function normalizeEmail(value: string | null | undefined): string | null {
  const email = value?.trim().toLowerCase();
  return email ? email : null;
}

/** One line per zod issue (`path: message`), capped: it is stored as the quarantine detail. */
export function describeIssues(error: ZodError, prefix = ""): string {
  const lines = error.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join(".")}: ${i.message}`);
  return lines.slice(0, 10).join("; ").slice(0, 1000);
}
