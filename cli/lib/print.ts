/** Plain-text tables for a terminal; `--json` prints the answer instead. */
export function table(head: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [head, ...rows.map((r) => r.map((v) => (v === null || v === undefined ? "-" : String(v))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((v, i) => (v ?? "").padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n");
}

export function out(line = ""): void {
  process.stdout.write(`${line}\n`);
}

export function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
