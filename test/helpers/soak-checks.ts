/**
 * What a soak proves once the pipeline has settled, read from any D1 and R2 (the test's bindings,
 * or `npm run soak`'s local state after `wrangler dev` stopped): nothing accepted is missing from
 * the ledger, no event or row is stored twice, every object holds its newest version, claim-
 * checked bodies are archived byte for byte, invalid ones are quarantined, and no secret appears
 * in stored text. Plain, import-free TypeScript so Node runs it directly.
 */
import type { Delivery } from "./commerce-events";

export interface Store {
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** The object's text, or null when it does not exist. */
  text(key: string): Promise<string | null>;
  /** Every key under the prefix. */
  keys(prefix: string): Promise<string[]>;
}

export interface Accepted {
  delivery: Delivery;
  status: number;
  /** The id ingress answered with (Stripe and Recharge ids come from the body). */
  eventId: string | null;
}

export interface SoakReport {
  accepted: number;
  distinctEvents: number;
  /** Ledger rows by `source/status`, as the soak prints them. */
  ledgerByStatus: Record<string, number>;
  /** Ledger rows no accepted delivery accounts for (checked when the store holds only this run). */
  unexplainedLedger: string[];
  lost: string[];
  wrongStatus: string[];
  duplicateObjects: string[];
  duplicateRows: string[];
  staleRows: string[];
  notVerbatim: string[];
  notQuarantined: string[];
  secretLeaks: string[];
  checkedObjects: number;
}

const VERSION_COLUMN: Record<string, string> = { stripe: "event_created" };
const TABLE_KEYS: Record<string, string[]> = {
  shopify_orders: ["shop", "id"],
  shopify_order_line_items: ["shop", "id"],
  shopify_customers: ["shop", "id"],
  shopify_products: ["shop", "id"],
  shopify_product_variants: ["shop", "id"],
  shopify_refunds: ["shop", "id"],
  stripe_charges: ["id"],
  stripe_invoices: ["id"],
  stripe_customers: ["id"],
  stripe_subscriptions: ["id"],
  recharge_subscriptions: ["id"],
  recharge_charges: ["id"],
  recharge_customers: ["id"],
};

export async function checkSoak(
  store: Store,
  accepted: readonly Accepted[],
  newest: ReadonlyMap<string, { table: string; shop: string | null; id: string; version: string }>,
  secrets: readonly string[],
  opts: { exclusive?: boolean } = {},
): Promise<SoakReport> {
  const report: SoakReport = {
    accepted: accepted.length,
    distinctEvents: 0,
    ledgerByStatus: {},
    unexplainedLedger: [],
    lost: [],
    wrongStatus: [],
    duplicateObjects: [],
    duplicateRows: [],
    staleRows: [],
    notVerbatim: [],
    notQuarantined: [],
    secretLeaks: [],
    checkedObjects: 0,
  };
  const ledger = new Map<string, { status: string; r2_key: string | null }>();
  for (const row of await store.all<{ source: string; event_id: string; status: string; r2_key: string | null }>(
    "SELECT source, event_id, status, r2_key FROM webhook_events",
  )) {
    ledger.set(`${row.source}/${row.event_id}`, row);
    const group = `${row.source}/${row.status}`;
    report.ledgerByStatus[group] = (report.ledgerByStatus[group] ?? 0) + 1;
  }

  const seen = new Set<string>();
  for (const a of accepted) {
    if (a.status !== 200 || a.eventId === null) continue;
    const key = `${a.delivery.source}/${a.eventId}`;
    const row = ledger.get(key);
    if (!row) {
      report.lost.push(key);
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    const want = a.delivery.expect === "quarantined" ? ["quarantined"] : ["applied", "archived"];
    if (!want.includes(row.status)) report.wrongStatus.push(`${key}: ${row.status}`);
    if (a.delivery.expect === "quarantined" && !row.r2_key?.startsWith("quarantine/")) report.notQuarantined.push(key);
    if (a.delivery.large && a.delivery.expect === "applied") {
      const text = row.r2_key ? await store.text(row.r2_key) : null;
      // The raw object ends with the verbatim body: `…,"payload":<body>}`.
      if (text === null || !text.endsWith(`"payload":${a.delivery.body}}`)) report.notVerbatim.push(key);
    }
  }
  report.distinctEvents = seen.size;
  // On a store of its own, every ledger row is one of the accepted events: nothing made up, none twice.
  if (opts.exclusive) for (const key of ledger.keys()) if (!seen.has(key)) report.unexplainedLedger.push(key);

  // One raw object per event: a redelivery must map to the same key.
  const raw = new Map<string, number>();
  for (const k of await store.keys("raw/")) {
    const id = k.slice(k.lastIndexOf("/") + 1).replace(/\.json$/, "");
    if (k.includes("/events/")) raw.set(id, (raw.get(id) ?? 0) + 1);
  }
  for (const [id, n] of raw) if (n > 1) report.duplicateObjects.push(`${id} ×${n}`);

  for (const [table, key] of Object.entries(TABLE_KEYS)) {
    const cols = key.join(", ");
    const dups = await store.all<{ n: number }>(
      `SELECT count(*) AS n FROM (SELECT ${cols} FROM ${table} GROUP BY ${cols} HAVING count(*) > 1)`,
    );
    if ((dups[0]?.n ?? 0) > 0) report.duplicateRows.push(`${table}: ${dups[0]?.n}`);
  }

  const byTable = new Map<string, Array<{ shop: string | null; id: string; version: string }>>();
  for (const o of newest.values()) byTable.set(o.table, [...(byTable.get(o.table) ?? []), o]);
  for (const [table, objects] of byTable) {
    const column = VERSION_COLUMN[table.split("_")[0] ?? ""] ?? "updated_at";
    const shopful = table.startsWith("shopify_");
    const stored = new Map<string, string>();
    for (const r of await store.all<{ shop?: string; id: string; v: string | number }>(
      `SELECT ${shopful ? "shop, " : ""}id, ${column} AS v FROM ${table}`,
    )) {
      stored.set(`${r.shop ?? ""}/${r.id}`, String(r.v));
    }
    for (const o of objects) {
      const v = stored.get(`${o.shop ?? ""}/${o.id}`);
      if (v !== o.version)
        report.staleRows.push(`${table} ${o.shop ?? ""}/${o.id}: has ${v ?? "nothing"}, want ${o.version}`);
    }
  }

  // Secrets never reach stored text: every R2 object, and the ledger's error and note columns.
  const needles = secrets.filter((s) => s.length >= 8);
  const scan = (where: string, text: string) => {
    for (const s of needles) if (text.includes(s)) report.secretLeaks.push(`${where} holds a configured secret`);
  };
  for (const k of await store.keys("")) {
    const text = await store.text(k);
    report.checkedObjects++;
    if (text !== null) scan(k, text);
  }
  for (const r of await store.all<{ error: string | null; note: string | null }>(
    "SELECT error, note FROM webhook_events WHERE error IS NOT NULL OR note IS NOT NULL",
  )) {
    scan("webhook_events.error/note", `${r.error ?? ""} ${r.note ?? ""}`);
  }
  return report;
}

export function soakFailures(r: SoakReport): string[] {
  const out: string[] = [];
  const add = (name: string, xs: string[]) => {
    if (xs.length > 0) out.push(`${name}: ${xs.length} (${xs.slice(0, 5).join("; ")})`);
  };
  add("lost", r.lost);
  add("ledger rows no delivery accounts for", r.unexplainedLedger);
  add("wrong status", r.wrongStatus);
  add("duplicate raw objects", r.duplicateObjects);
  add("duplicate rows", r.duplicateRows);
  add("not the newest version", r.staleRows);
  add("claim-checked body not verbatim", r.notVerbatim);
  add("invalid but not quarantined", r.notQuarantined);
  add("secret leaks", r.secretLeaks);
  return out;
}

/** Nearest-rank percentiles of a list of numbers. */
export function percentiles(
  values: readonly number[],
  ps: readonly number[] = [50, 90, 99, 100],
): Record<string, number> {
  const sorted = [...values].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const p of ps) {
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    out[p === 100 ? "max" : `p${p}`] = sorted[rank - 1] ?? Number.NaN;
  }
  return out;
}
