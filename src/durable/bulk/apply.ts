/**
 * Applying bulk lines: parents with their children's lines are mapped with the webhook mappers and
 * written with the webhook path's statement builders — so bulk rows obey the same not-older-than
 * rule and child-set replacement — plus the job's D1 mirror row, in one D1 batch (`applyParents`),
 * after one read batch (anybody erased? which customers are linked already?).
 * The streaming pass (./stage.ts) applies each parent with the children that followed it closely;
 * `applyBatch` is the second pass, for the parents some children strayed from: it reads them from
 * the coordinator's SQLite in file order with every child (joined there, however far apart they
 * were in the file) and applies them again, whole. The checkpoint (`applyAfterLine`) moves only
 * after the batch commits; a crash in between re-applies the same batch, which the builders make
 * idempotent (same version, same rows), and the counts come from the checkpoint, so nothing is
 * counted twice.
 */

import { redactJson } from "../../mapping/redact";
import type { EventMeta, MapContext, ShopifyRows } from "../../mapping/shopify";
import { type SubjectRef, subjectsOf, subjectsOfParsed } from "../../mapping/subjects";
import { parseLossless } from "../../shared/json";
import { toUtcIso } from "../../shared/time";
import { batchStatements, type EventWrite } from "../../tables/batch-statements";
import { knownIdentitiesRead, shopifyRowsInput, shopifyRowsTarget } from "../../tables/identity";
import { shopifyWrites } from "../../tables/shopify";
import type { IndexEntry } from "../../tables/subject-index";
import { type ErasedView, erasedRead, hashSubjects, isErasedIn } from "../../tables/subjects";
import { type Job, mirrorRow } from "../job";
import type { JobStore, StagedLine } from "../job-store";
import { mirrorStatement } from "../operations-table";
import { mapBulkRows } from "./map";
import { partOfLine } from "./parts";

export interface ApplyDeps {
  db: D1Database;
  store: JobStore;
  mapContext: MapContext;
  /** The API version the export's query ran in, recorded in the rows' `api_version`. */
  apiVersion?: string;
  /** Parents per D1 batch; a batch also closes early once it holds `maxStatements`. */
  parentsPerBatch: number;
  maxStatements: number;
  /** PRIVACY_HASH_KEY, for the subject index rows of the snapshot's lines. */
  privacyKey: string | undefined;
  /** Enters objects' subjects in the subject index (src/tables/subject-index.ts); returns the shards it called. */
  index: (entries: readonly IndexEntry[], at: string, erased?: ErasedView) => Promise<number>;
  now: () => string;
  fault?: (point: "apply:afterD1", job: Job) => void;
}

export type ApplyOutcome = { kind: "more" | "done"; job: Job };

/** The event identity bulk rows carry: one per Shopify operation, at the operation's start. */
export function bulkMeta(job: Job, apiVersion: string | null = null): EventMeta {
  const number = /\/(\d+)$/.exec(job.shopifyId ?? "")?.[1] ?? job.id;
  return {
    shop: job.shop,
    eventId: `bulk-${number}`,
    eventAt: toUtcIso(job.shopifyCreatedAt ?? "") ?? job.requestedAt,
    origin: "bulk",
    apiVersion,
  };
}

/** A parent line and its children's lines in file order. */
export interface ParentLines {
  line: number;
  parentLine: string;
  kids: string[];
  /** Second pass: which kids strayed (they were not joined when the parent was first applied). */
  strays?: boolean[];
}

/**
 * Applies parents in one D1 batch with the job's mirror row: as many as `maxStatements` allows, at
 * least one. `again` (second pass): the parents were applied before without their stray children,
 * so the counts move by what the strays add. Returns the job as the batch left it, and the number
 * of parents it took.
 */
export async function applyParents(
  deps: ApplyDeps,
  job: Job,
  parents: readonly ParentLines[],
  again: boolean,
): Promise<{ job: Job; taken: number }> {
  const meta = bulkMeta(job, deps.apiVersion ?? null);
  const ctx: MapContext = { ...deps.mapContext, shopCurrency: job.shopCurrency ?? deps.mapContext.shopCurrency };
  let { entitiesApplied, rowsApplied, childrenJoined, invalid, firstInvalid, applyAfterLine } = job;
  const indexedAt = deps.now();
  // Every parent's subjects at once: each e-mail is a keyed hash, which need not wait in turn, and
  // they are computed while the lines are mapped below. Each parent line is parsed once, for both.
  const parsed = parents.map((p) => parseLine(p.parentLine));
  const hashing = Promise.all(
    parents.map((p, i) =>
      hashSubjects(
        { PRIVACY_HASH_KEY: deps.privacyKey ?? "" },
        "shopify",
        job.shop,
        bulkLineSubjects(job.resource, p.parentLine, parsed[i]),
      ),
    ),
  );
  hashing.catch(() => undefined);
  const maps = parents.map((p, i) => ({
    mapped: mapBulkRows(job.resource, p.parentLine, p.kids, meta, ctx, parsed[i]),
    // What the first pass made of this parent, without its strays: the counts move by the difference.
    before: again ? mapBulkRows(job.resource, p.parentLine, nonStrays(p), meta, ctx, parsed[i]) : null,
  }));
  // One D1 read per batch, for two answers. Which of the batch's subjects were erased (their lines
  // are applied redacted). And which orders name a customer another event linked already (an
  // incremental export after webhooks): their identity statements would change nothing, and are
  // left out.
  const targets = maps.map(({ mapped }) => (mapped.ok ? mapped.rows.map(shopifyRowsTarget) : []));
  const referencing = targets.flat().flatMap((t) => (t?.referenced ? [t] : []));
  const knownRead = knownIdentitiesRead(
    deps.db,
    referencing.map((t) => ({ eventId: meta.eventId, referenced: t.referenced })),
  );
  const subjectsOfLine = await hashing;
  const erased = erasedRead(deps.db, [job.shop], subjectsOfLine.flat());
  const reads = [erased.statement, knownRead.statement].filter((x): x is D1PreparedStatement => x !== null);
  const results = await deps.db.batch(reads);
  const erasedView = erased.view(
    erased.statement === null ? [] : ((results[0]?.results ?? []) as Parameters<typeof erased.view>[0]),
  );
  const knownRows = knownRead.statement === null ? undefined : results[reads.length - 1];
  const known = knownRead.known(knownRows?.results ?? []);
  const knownTargets = new Set(referencing.filter((_, k) => known[k]));
  // The batch's subject index entries, entered before its rows commit.
  const index: IndexEntry[] = [];
  let taken = 0;
  /** Each entity's rows and identity link, ordered and merged by `batchStatements`. */
  const writes: EventWrite[] = [];
  /** At most the statements they become (one per row statement and link, before merging). */
  let budget = 0;
  for (const [i, p] of parents.entries()) {
    if (budget >= deps.maxStatements) break;
    taken++;
    childrenJoined += again ? (p.strays ?? []).filter(Boolean).length : p.kids.length;
    if (again) applyAfterLine = p.line;
    // The snapshot line's subjects go in the index (before this batch), even when the line fails its
    // mapping: the snapshot still holds it. An erased person's line is applied redacted, and the
    // `privacy` job's sweep rewrites the snapshot (its row stays unredacted).
    const subjects = subjectsOfLine[i] ?? [];
    // A parts archive: the part that holds the line, which is what an erasure rewrites.
    const r2Key = partOfLine(job, p.line) ?? job.r2Key;
    if (r2Key) {
      index.push({ r2Key, subjects, redacted: false });
    }
    const { mapped, before } = maps[i] as (typeof maps)[number];
    if (!mapped.ok) {
      if (before === null || before.ok) {
        invalid++;
        firstInvalid ??= `line ${p.line + 1}: ${mapped.detail}`;
      }
      continue;
    }
    let entities = mapped.rows;
    if (await isErasedIn(erasedView, deps.db, job.shop, subjects)) {
      const redacted = mapBulkRows(job.resource, redactJson(p.parentLine).text, p.kids, meta, ctx);
      if (redacted.ok) entities = redacted.rows;
    }
    // One entity per line, except fulfillments and refunds: an order's line holds all of its own.
    for (const [k, rows] of entities.entries()) {
      const { statements, children } = shopifyWrites(deps.db, rows);
      // Backfilled customers and orders join the cross-source identity graph like webhook ones,
      // except an order whose customer the read found linked by another event.
      const target = entities === mapped.rows ? (targets[i]?.[k] ?? null) : shopifyRowsTarget(rows);
      const link = target && !knownTargets.has(target) ? { target, eventId: meta.eventId } : undefined;
      writes.push({
        statements,
        children,
        index: [],
        identity: link,
        linkInput: shopifyRowsInput(rows) ?? undefined,
        versioned: rows.kind !== "delete",
      });
      budget += statements.length + (link ? 1 : 0);
    }
    if (before?.ok) {
      rowsApplied += rowCount(mapped.rows) - rowCount(before.rows);
    } else {
      entitiesApplied += mapped.rows.length;
      rowsApplied += rowCount(mapped.rows);
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
  // The index first, then the rows, their links and child sets (after every parent of the batch), the mirror.
  await deps.index(index, indexedAt, erasedView);
  await deps.db.batch([...batchStatements(deps.db, writes).statements, mirrorStatement(deps.db, mirrorRow(next))]);
  deps.fault?.("apply:afterD1", next);
  return { job: next, taken };
}

function nonStrays(p: ParentLines): string[] {
  return p.kids.filter((_, i) => !p.strays?.[i]);
}

/**
 * Second pass: the next staged parents (those some children strayed from) with all their children
 * in file order, applied again whole.
 */
export async function applyBatch(deps: ApplyDeps, job: Job): Promise<ApplyOutcome> {
  const staged = deps.store.parents(job.id, job.applyAfterLine, deps.parentsPerBatch);
  const last = staged[staged.length - 1];
  if (!last) return { kind: "done", job };
  const byParent = new Map<string, StagedLine[]>();
  for (const c of deps.store.childrenOf(job.id, job.applyAfterLine, last.line)) {
    const list = byParent.get(c.parentId ?? "");
    if (list) list.push(c);
    else byParent.set(c.parentId ?? "", [c]);
  }
  const parents = staged.map((p): ParentLines => {
    const kids = byParent.get(p.id) ?? [];
    return { line: p.line, parentLine: p.body, kids: kids.map((c) => c.body), strays: kids.map((c) => c.stray) };
  });
  const out = await applyParents(deps, job, parents, true);
  deps.store.put(out.job);
  return { kind: "more", job: out.job };
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

/** Rows an entity list writes: each entity's own row and its children's. */
function rowCount(entities: readonly ShopifyRows[]): number {
  let n = 0;
  for (const rows of entities) n += 1 + childRowCount(rows);
  return n;
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
