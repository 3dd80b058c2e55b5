/**
 * The scale run's table: one line per job (invocations to finish, per-invocation maxima, D1 rows
 * in total, PASS or FAIL) and the closing `scale: N/M jobs finished within limits`. Lines go out
 * with a `SCALE| ` prefix, which bench/scale.mjs collects and prints again after vitest's output.
 * JS heap is not measurable in workerd (`process.memoryUsage()` answers zeros), hence "n/a".
 */
import { failReasons, type JobLine, passed, print } from "./meter";

const COLUMNS: Array<[string, number]> = [
  ["job", 34],
  ["invocations", 30],
  ["d1 q", 6],
  ["subreq", 7],
  ["ae", 4],
  ["wall ms", 8],
  ["heap", 5],
  ["rows read", 10],
  ["rows written", 12],
  ["result", 6],
];

const count = (n: number) =>
  n >= 10_000_000 ? `${(n / 1e6).toFixed(0)}M` : n >= 100_000 ? `${(n / 1e6).toFixed(2)}M` : n.toLocaleString("en-US");

function cells(values: string[]): string {
  return values.map((v, i) => v.padEnd(COLUMNS[i]?.[1] ?? 0)).join(" ");
}

function invocations(line: JobLine): string {
  const total = [...line.invocations.values()].reduce((a, b) => a + b, 0);
  const kinds = [...line.invocations.entries()].map(([k, n]) => `${n} ${k}`).join(", ");
  return `${total}${kinds ? ` (${kinds})` : ""}`;
}

export function printHeader(): void {
  print(cells(COLUMNS.map(([name]) => name)));
}

export function printLine(line: JobLine): void {
  print(
    cells([
      line.name,
      invocations(line),
      String(line.max.d1Queries),
      String(line.max.subrequests),
      String(line.max.aePoints),
      String(Math.round(line.max.wallMs)),
      "n/a",
      count(line.rowsRead),
      count(line.rowsWritten),
      passed(line) ? "PASS" : "FAIL",
    ]),
  );
  const detail = [`${(line.ms / 1000).toFixed(1)} s`, line.note].filter(Boolean).join("; ");
  print(`    ${detail}`);
  for (const reason of failReasons(line)) print(`    FAIL: ${reason}`);
  if (line.census) print(`    statements of the invocation that crossed: ${line.census}`);
}

export function printSummary(lines: readonly JobLine[]): void {
  print(`scale: ${lines.filter(passed).length}/${lines.length} jobs finished within limits`);
}
