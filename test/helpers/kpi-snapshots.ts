/** The KPI snapshots in the lake against the views as D1 computes them now. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { KPI_VIEWS, type KpiView } from "../../src/cron/compact/kpi-views";
import { readLakeTable } from "./iceberg-read";

const view = (name: string) => KPI_VIEWS.find((v) => v.table === name) as KpiView;
const quote = (name: string) => `"${name}"`;
const sortKey = (r: Record<string, unknown>) =>
  JSON.stringify(r, (_, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Date ? v.toISOString() : v));
const sorted = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));

/** The view as D1 computes it now, as the lake should hold it: ids text, money int64, times instants. */
async function viewInD1(spec: KpiView, ordered: boolean): Promise<Record<string, unknown>[]> {
  // Integers read as text, so a value past 2^53 would compare exactly too.
  const select = spec.columns
    .map((c) => (c.kind === "int64" ? `CAST(${quote(c.name)} AS TEXT) AS ${quote(c.name)}` : quote(c.name)))
    .join(", ");
  const order = ordered ? ` ORDER BY ${spec.key.map(quote).join(", ")}` : "";
  const { results } = await env.DB.prepare(`SELECT ${select} FROM ${quote(spec.table)}${order}`).all<
    Record<string, unknown>
  >();
  return results.map((r) =>
    Object.fromEntries(
      spec.columns.map((c) => {
        const v = r[c.name];
        if (v === null || v === undefined) return [c.name, null];
        if (c.kind === "int64") return [c.name, BigInt(v as string)];
        if (c.kind === "boolean") return [c.name, v === 1];
        if (c.kind === "timestamp") return [c.name, new Date(v as string)];
        return [c.name, v];
      }),
    ),
  );
}

/** `ordered`: the snapshot's rows are in the view's key order too, as it was read (a paged view). */
export async function expectSnapshotsEqualD1(views: readonly string[], o: { ordered?: boolean } = {}) {
  for (const name of views) {
    const spec = view(name);
    const lake = (await readLakeTable("kpi", name)).map((r) =>
      Object.fromEntries(spec.columns.map((c) => [c.name, r[c.name] ?? null])),
    );
    if (o.ordered) expect(lake, name).toEqual(await viewInD1(spec, true));
    else expect(sorted(lake), name).toEqual(sorted(await viewInD1(spec, false)));
  }
}
