/**
 * Stage 3 of ingest: read staged parents in file order with all their children (joined
 * in SQLite, however far apart they were in the file), map them with the webhook
 * mappers and write them with the webhook path's statement builders — so bulk rows obey
 * the same not-older-than rule and child-set replacement — plus the job's D1 mirror row,
 * in one D1 batch. The checkpoint (`applyAfterLine`) moves only after the batch commits;
 * a crash in between re-applies the same batch, which the builders make idempotent (same
 * version, same rows), and the counts come from the checkpoint, so nothing is counted twice.
 */

import { redactJson } from "../../mapping/redact";
import type { EventMeta, MapContext, ShopifyRows } from "../../mapping/shopify";
import { type SubjectRef, subjectsOf, subjectsOfParsed } from "../../mapping/subjects";
import { parseLossless } from "../../shared/json";
import { toUtcIso } from "../../shared/time";
import { type ChildWrite, childStatements } from "../../tables/children";
import { linkStatements, shopifyRowsTarget } from "../../tables/identity";
import { shopifyWrites } from "../../tables/shopify";
import {
  anyErasedSubject,
  hashSubjects,
  INDEX_ROWS_PER_STATEMENT,
  type IndexEntry,
  indexEntryStatements,
  isErased,
} from "../../tables/subjects";
import { type Job, mirrorRow } from "../job";
import type { JobStore, StagedLine } from "../job-store";
import { mirrorStatement } from "../operations-table";
import { mapBulkRows } from "./map";

export interface ApplyDeps {
  db: D1Database;
  store: JobStore;
  mapContext: MapContext;
  /** Parents per D1 batch; a batch also closes early once it holds `maxStatements`. */
  parentsPerBatch: number;
  maxStatements: number;
  /** PRIVACY_HASH_KEY, for the subject index rows of the snapshot's lines. */
  privacyKey: string | undefined;
  now: () => string;
  fault?: (point: "apply:afterD1", job: Job) => void;
}

export type ApplyOutcome = { kind: "more" | "done"; job: Job };

/** The event identity bulk rows carry: one per Shopify operation, at the operation's start. */
export function bulkMeta(job: Job): EventMeta {
  const number = /\/(\d+)$/.exec(job.shopifyId ?? "")?.[1] ?? job.id;
  return {
    shop: job.shop,
    eventId: `bulk-${number}`,
    eventAt: toUtcIso(job.shopifyCreatedAt ?? "") ?? job.requestedAt,
    origin: "bulk",
  };
}

export async function applyBatch(deps: ApplyDeps, job: Job): Promise<ApplyOutcome> {
  const parents = deps.store.parents(job.id, job.applyAfterLine, deps.parentsPerBatch);
  const last = parents[parents.length - 1];
  if (!last) return { kind: "done", job };

  // Children with rows of their own (far from their parent in the file), in file order.
  const byParent = new Map<string, StagedLine[]>();
  for (const c of deps.store.childrenOf(job.id, job.applyAfterLine, last.line)) {
    const list = byParent.get(c.parentId ?? "");
    if (list) list.push(c);
    else byParent.set(c.parentId ?? "", [c]);
  }

  const meta = bulkMeta(job);
  const ctx: MapContext = { ...deps.mapContext, shopCurrency: job.shopCurrency ?? deps.mapContext.shopCurrency };
  const statements: D1PreparedStatement[] = [];
  const children: ChildWrite[] = [];
  let { entitiesApplied, rowsApplied, childrenJoined, invalid, firstInvalid } = job;
  let applyAfterLine = job.applyAfterLine;
  // One read per batch while nobody was ever erased; a look-up per line after that.
  const anyErased = await anyErasedSubject(deps.db);
  const indexedAt = deps.now();
  // Every parent's subjects at once: each e-mail is a keyed hash, and they need not wait in turn.
  // Each parent line is parsed once, for its subjects and its rows.
  const lines = parents.map((p) => {
    const l = childLines(p, byParent.get(p.id));
    return { ...l, parsed: parseLine(l.parentLine) };
  });
  const subjectsOfLine = await Promise.all(
    lines.map((l) =>
      hashSubjects(
        { PRIVACY_HASH_KEY: deps.privacyKey ?? "" },
        "shopify",
        job.shop,
        bulkLineSubjects(job.resource, l.parentLine, l.parsed),
      ),
    ),
  );
  // The batch's subject index rows share statements (14 rows each), written with the batch.
  const index: IndexEntry[] = [];
  let indexRows = 0;
  for (const [i, p] of parents.entries()) {
    if (statements.length + Math.ceil(indexRows / INDEX_ROWS_PER_STATEMENT) >= deps.maxStatements) break;
    const { parentLine, kids, parsed } = lines[i] as (typeof lines)[number];
    childrenJoined += kids.length;
    applyAfterLine = p.line;
    // The snapshot line's subjects go in the index (in this batch), even when the line fails its
    // mapping: the snapshot still holds it. An erased person's line is applied redacted, and the
    // `privacy` job's sweep rewrites the snapshot (its row stays unredacted).
    const subjects = subjectsOfLine[i] ?? [];
    if (job.r2Key) {
      index.push({ r2Key: job.r2Key, source: "shopify", subjects, redacted: false });
      indexRows += subjects.length;
    }
    const mapped = mapBulkRows(job.resource, parentLine, kids, meta, ctx, parsed);
    if (!mapped.ok) {
      invalid++;
      firstInvalid ??= `line ${p.line + 1}: ${mapped.detail}`;
      continue;
    }
    let entities = mapped.rows;
    if (anyErased && (await isErased(deps.db, job.shop, subjects))) {
      const redacted = mapBulkRows(job.resource, redactJson(parentLine).text, kids, meta, ctx);
      if (redacted.ok) entities = redacted.rows;
    }
    // One entity per line, except fulfillments and refunds: an order's line holds all of its own.
    for (const rows of entities) {
      const writes = shopifyWrites(deps.db, rows);
      statements.push(...writes.statements);
      children.push(...writes.children);
      // Backfilled customers and orders join the cross-source identity graph like webhook ones.
      const target = shopifyRowsTarget(rows);
      if (target) statements.push(...linkStatements(deps.db, target, meta.eventId));
      entitiesApplied++;
      rowsApplied += 1 + childRowCount(rows);
    }
  }

  const next: Job = {
    ...job,
    applyAfterLine,
    entitiesApplied,
    rowsApplied,
    childrenJoined,
    invalid,
    firstInvalid,
    failures: 0,
    updatedAt: deps.now(),
  };
  // Child sets after every parent of the batch: one DELETE and one INSERT per child table.
  statements.push(
    ...childStatements(deps.db, children),
    ...indexEntryStatements(deps.db, index, indexedAt),
    mirrorStatement(deps.db, mirrorRow(next)),
  );
  await deps.db.batch(statements);
  deps.fault?.("apply:afterD1", next);
  deps.store.put(next);
  return { kind: "more", job: next };
}

/**
 * A parent's line and all its children's in file order: those staged before it, those that rode
 * in its row (they followed it within the staging window), then those staged after the window.
 */
export function childLines(
  parent: StagedLine,
  separate: readonly StagedLine[] | undefined,
): { parentLine: string; kids: string[] } {
  const [parentLine = "", ...riders] = parent.body.split("\n");
  if (!separate || separate.length === 0) return { parentLine, kids: riders };
  const kids: string[] = [];
  for (const c of separate) if (c.line < parent.line) kids.push(c.body);
  kids.push(...riders);
  for (const c of separate) if (c.line > parent.line) kids.push(c.body);
  return { parentLine, kids };
}

/** A line's JSON.parse value, or `undefined` when it is not JSON (the mapper reports why). */
export function parseLine(line: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(line) };
  } catch {
    return undefined;
  }
}

/**
 * A bulk line's subjects, from the parse the mapper shares. The lossless reader turns every JSON
 * number into its source text and is several times slower than JSON.parse; it is asked only when
 * a number sits where its text would name a customer. A line that is not JSON names nobody.
 */
export function bulkLineSubjects(resource: string, line: string, parsed: { value: unknown } | undefined): SubjectRef[] {
  if (parsed === undefined) return [];
  return subjectsOfParsed("shopify", resource, parsed.value) ?? subjectsOf("shopify", resource, parseLossless(line));
}

function childRowCount(rows: ShopifyRows): number {
  switch (rows.kind) {
    case "order":
      return rows.lineItems.length;
    case "product":
      return rows.variants.length;
    case "refund":
      return rows.lineItems.length;
    default:
      return 0;
  }
}

/** Staged lines are released once every parent is applied. */
export function finishApply(store: JobStore, job: Job, now: string): Job {
  store.clearStaged(job.id);
  return {
    ...job,
    orphans: Math.max(0, job.children - job.childrenJoined),
    status: job.partial ? "failed" : "completed",
    finishedAt: now,
    updatedAt: now,
  };
}
