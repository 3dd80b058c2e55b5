/**
 * Where each reconciliation scope stands, read from its cursors in one query (`sync_cursors`,
 * names `reconcile` and `reconcile_partial`, ./cursors.ts): how far behind it is and when a run
 * last served it. A resource's position is the oldest change it has yet to reconcile: the resume
 * point of an unfinished window (Stripe: the window's start, since it pages newest first), else
 * the end of the last finished window. A scope is as far behind as its most-behind resource.
 */
import type { Source } from "../../shared/envelope";

export interface ScopePosition {
  source: Source;
  /** `events`, `subscriptions+charges`, or a shop domain (as the run's report names scopes). */
  scope: string;
  /** The oldest change not yet reconciled, over the scope's resources (null: never reconciled). */
  position: string | null;
  /** When a run last committed any of the scope's cursors ('' when none ever did). */
  servedAt: string;
  /** Per resource: its position and whether a window is unfinished. */
  resources: Array<{ resource: string; position: string | null; unfinished: boolean }>;
}

interface CursorRow {
  source: Source;
  shop: string;
  resource: string;
  name: string;
  value: string;
  updatedAt: string;
}

export const scopeName = (source: Source, shop: string): string =>
  source === "shopify" ? shop : source === "stripe" ? "events" : "subscriptions+charges";

const key = (source: Source, scope: string) => `${source}\u0000${scope}`;

/** Every reconciliation scope with a cursor, keyed by source and scope name. */
export async function readPositions(db: D1Database): Promise<Map<string, ScopePosition>> {
  const { results } = await db
    .prepare(
      `SELECT source, shop, resource, name, value, updated_at AS updatedAt FROM sync_cursors
       WHERE name IN ('reconcile', 'reconcile_partial')`,
    )
    .all<CursorRow>();
  const byResource = new Map<string, { cursor: CursorRow | null; partial: CursorRow | null }>();
  for (const row of results) {
    const k = `${row.source}\u0000${row.shop}\u0000${row.resource}`;
    const entry = byResource.get(k) ?? { cursor: null, partial: null };
    if (row.name === "reconcile") entry.cursor = row;
    else entry.partial = row;
    byResource.set(k, entry);
  }
  const out = new Map<string, ScopePosition>();
  for (const { cursor, partial } of byResource.values()) {
    const row = (cursor ?? partial) as CursorRow;
    const scope = scopeName(row.source, row.shop);
    const p = out.get(key(row.source, scope)) ?? {
      source: row.source,
      scope,
      position: null,
      servedAt: "",
      resources: [],
    };
    const resume = partial === null ? null : partialStart(partial.value);
    const position = resume ?? cursor?.value ?? null;
    p.resources.push({ resource: row.resource, position, unfinished: partial !== null });
    if (position !== null && (p.position === null || position < p.position)) p.position = position;
    for (const r of [cursor, partial]) if (r !== null && r.updatedAt > p.servedAt) p.servedAt = r.updatedAt;
    out.set(key(row.source, scope), p);
  }
  return out;
}

export function positionOf(
  positions: Map<string, ScopePosition>,
  source: Source,
  scope: string,
): ScopePosition | undefined {
  return positions.get(key(source, scope));
}

/** Seconds from `position` to `now` (never negative); null for a scope never reconciled. */
export function lagSeconds(position: string | null, now: Date): number | null {
  if (position === null) return null;
  const at = Date.parse(position);
  return Number.isFinite(at) ? Math.max(0, Math.round((now.getTime() - at) / 1000)) : null;
}

/** Where an unfinished window resumes: `resumeFrom` (ascending lists) or `windowFrom` (Stripe). */
function partialStart(value: string): string | null {
  try {
    const doc = JSON.parse(value) as { resumeFrom?: unknown; windowFrom?: unknown };
    const at = doc.windowFrom ?? doc.resumeFrom;
    return typeof at === "string" ? at : null;
  } catch {
    return null;
  }
}
