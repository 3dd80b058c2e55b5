/**
 * The statements of one D1 batch of the consumer (or of a bulk export's apply batch), in an order
 * that leaves exactly what running each event's statements in turn would, with fewer statements:
 * local D1 compiles each one anew, which costs more than running it.
 * - Runs of Shopify order events (the hot path) write their order rows as one upsert per row shape
 *   (`multiRowStatements`), each row in turn. A run holds each order once; it ends before any other
 *   event, whose statements then run in place.
 * - Identity links go through `LinkBatcher` (orders' together, each link after the row it reads).
 * - Ledger rows go together (`ledgerUpserts`), before an event whose alert guards read them.
 * - Child sets and shop-install rows follow every event (nothing reads them). The subject index entries
 *   (`index`) are not D1 rows: the caller enters them first (src/tables/subject-index.ts).
 * Whether each event's versioned write took (it did not when the stored row was newer) comes back
 * from the statement's changes, or for a run from the keys its upsert returned.
 */
import type { Envelope } from "../shared/envelope";
import { type ChildWrite, childStatements } from "./children";
import { multiRowStatements, type ShapedRow, shapedRow } from "./d1";
import { LinkBatcher } from "./identity";
import { type LedgerWrite, ledgerUpserts } from "./ledger";
import type { IdentityLink, LinkInput } from "./plan";
import { reinstallStatement, showsInstalled } from "./shop-installs";
import type { IndexEntry } from "./subject-index";

/** What the batch writes for one stored event (a webhook's; or a bulk line's entity, without envelope or ledger). */
export interface EventWrite {
  envelope?: Envelope;
  /** The event's rows: statements[0] is the versioned parent write when `versioned`. */
  statements: D1PreparedStatement[];
  /** Statements after the rows that write no source table: alert rows, a replay's count. */
  after?: D1PreparedStatement[];
  /** `after` reads the ledger (alert guards): earlier events' ledger rows go before it. */
  readsLedger?: boolean;
  ledger?: LedgerWrite;
  children: ChildWrite[];
  index: IndexEntry[];
  identity?: IdentityLink;
  linkInput?: LinkInput;
  versioned: boolean;
}

export interface BatchStatements {
  statements: D1PreparedStatement[];
  /** The events whose versioned write changed no row (a newer version was stored), from the batch's results. */
  superseded(results: readonly D1Result[]): number[];
}

/** How to tell from the results whether event `event`'s versioned write took. */
type Check = { event: number; at: number; key?: string };

export function batchStatements(db: D1Database, writes: readonly EventWrite[]): BatchStatements {
  const out: D1PreparedStatement[] = [];
  const checks: Check[] = [];
  const links = new LinkBatcher(db);
  let ledger: LedgerWrite[] = [];
  let run: Array<{ event: number; row: ShapedRow; key: string }> = [];

  /** The rest of an event, once its rows are placed: what follows them, then its link. */
  const finish = (w: EventWrite) => {
    if (w.readsLedger && ledger.length > 0) {
      out.push(...ledgerUpserts(db, ledger));
      ledger = [];
    }
    out.push(...(w.after ?? []));
    if (w.identity !== undefined) out.push(...links.link(w.identity.target, w.identity.eventId));
    if (w.ledger !== undefined) ledger.push(w.ledger);
  };

  const endRun = () => {
    if (run.length === 0) return;
    for (const r of run) out.push(...links.before(writes[r.event]?.linkInput));
    const byShape = new Map<string, typeof run>();
    for (const r of run) {
      const group = byShape.get(r.row.shape);
      if (group === undefined) byShape.set(r.row.shape, [r]);
      else group.push(r);
    }
    for (const group of byShape.values()) {
      const rows = group.map((r) => r.row);
      const merged = group.length > 1 ? multiRowStatements(db, rows, ORDER_KEY) : null;
      if (merged !== null) {
        group.forEach((r, k) => {
          checks.push({ event: r.event, at: out.length + (merged.chunkOf[k] as number), key: r.key });
        });
        out.push(...merged.statements);
      } else {
        for (const r of group) {
          checks.push({ event: r.event, at: out.length });
          out.push(...(writes[r.event] as EventWrite).statements);
        }
      }
    }
    for (const r of run) finish(writes[r.event] as EventWrite);
    run = [];
  };

  writes.forEach((w, event) => {
    const order = orderRow(w);
    if (order !== null) {
      if (run.some((r) => r.key === order.key)) endRun();
      run.push({ event, row: order.row, key: order.key });
      return;
    }
    endRun();
    out.push(...links.before(w.linkInput));
    if (w.versioned) checks.push({ event, at: out.length });
    out.push(...w.statements);
    finish(w);
  });
  endRun();

  out.push(
    ...links.flush(),
    ...ledgerUpserts(db, ledger),
    ...childStatements(
      db,
      writes.flatMap((w) => w.children),
    ),
    ...reinstallStatements(
      db,
      writes.flatMap((w) => w.envelope ?? []),
    ),
  );

  return {
    statements: out,
    superseded(results) {
      const returned = new Map<number, Set<string>>();
      const keysAt = (at: number) => {
        let keys = returned.get(at);
        if (keys === undefined) {
          const rows = (results[at]?.results ?? []) as Array<{ shop: string; id: string }>;
          keys = new Set(rows.map((r) => orderKey(r.shop, r.id)));
          returned.set(at, keys);
        }
        return keys;
      };
      return checks
        .filter((c) => (c.key === undefined ? results[c.at]?.meta.changes === 0 : !keysAt(c.at).has(c.key)))
        .map((c) => c.event);
    },
  };
}

const ORDER_KEY = ["shop", "id"];
const orderKey = (shop: string, id: string) => `${shop}\n${id}`;

/**
 * The order row of an event that writes nothing else before its alerts: a Shopify order event
 * whose one statement is the versioned upsert of `shopify_orders`, built from a cached shape.
 */
function orderRow(w: EventWrite): { row: ShapedRow; key: string } | null {
  if (!w.versioned || w.statements.length !== 1 || w.linkInput?.table !== "order") return null;
  const row = shapedRow(w.statements[0] as D1PreparedStatement);
  if (!row?.shape.startsWith("upsert:shopify_orders:") || !row.text.startsWith(ORDER_INSERT)) return null;
  const [shop, id] = row.params;
  return typeof shop === "string" && typeof id === "string" ? { row, key: orderKey(shop, id) } : null;
}

/** How the order upsert's text begins: its first two values are the key. */
const ORDER_INSERT = 'insert into "shopify_orders" ("shop", "id", ';

/**
 * A webhook of a shop marked uninstalled means the app was installed again: one statement per shop
 * of the batch, for its latest event (the one that can lift the newest uninstall), not one per event.
 */
function reinstallStatements(db: D1Database, envelopes: readonly Envelope[]): D1PreparedStatement[] {
  const latest = new Map<string, Envelope>();
  for (const e of envelopes) {
    if (!showsInstalled(e)) continue;
    const seen = latest.get(e.shop);
    if (seen === undefined || e.eventAt >= seen.eventAt) latest.set(e.shop, e);
  }
  return [...latest.values()].flatMap((e) => reinstallStatement(db, e) ?? []);
}
