/**
 * Consumer of `commerce-events`. Per message: validate the envelope, archive the
 * verbatim body to its raw (or quarantine) key in R2, then write the ledger row
 * and the applied rows. The D1 writes of the whole batch go in one D1 batch; if
 * that fails, each message is retried on its own so one poison event cannot hold
 * back the rest. Every message ends acked (archived, quarantined, dead-lettered)
 * or retried with backoff; after max_retries Queues moves it to the DLQ.
 */
import {
  payloadOfQuarantineObject,
  payloadOfRawObject,
  putOnce,
  putRedacted,
  quarantineObject,
  rawEventObject,
} from "../shared/archive";
import { utf8 } from "../shared/crypto";
import { type Envelope, envelopeSchema } from "../shared/envelope";
import { parseLossless } from "../shared/json";
import { describeError, log } from "../shared/log";
import { recordMetric } from "../shared/metrics";
import { resourceFor } from "../shared/topics";
import { batchStatements, type EventWrite } from "../tables/batch-statements";
import { eventDatabase, sharedDatabase } from "../tables/database";
import { knownIdentities } from "../tables/identity";
import { type LedgerStatus, type LedgerWrite, ledgerUpsert } from "../tables/ledger";
import type { IdentityLink } from "../tables/plan";
import { indexObjects } from "../tables/subject-index";
import { type ErasedView, type IndexedSubject, loadErasedFor, subjectCacheKey } from "../tables/subjects";
import { planApply } from "./apply";
import { archiveInvalidMessage } from "./dead-letter";
import { retryDelaySeconds } from "./retry";
import { payloadSubjects, protectPayload } from "./subjects";

/** The outcome of the R2 stage for one message: D1 work to do, or nothing left (already dead-lettered). */
type Prepared =
  | (EventWrite & {
      kind: "write";
      envelope: Envelope;
      after: D1PreparedStatement[];
      ledger: LedgerWrite;
      /** The database of the event (src/tables/database.ts): every statement below was built for it. */
      db: D1Database;
      status: LedgerStatus;
      /** Shared-database statements of an event stored in a shop's own database, run once it is stored. */
      shared: D1PreparedStatement[];
    })
  | { kind: "done" };

type Write = { msg: Message<unknown>; result: Extract<Prepared, { kind: "write" }> };

const SUPERSEDED_NOTE = "superseded: the stored row was already newer";

const R2_CONCURRENCY = 6;

export async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const now = new Date().toISOString();
  const shared = sharedDatabase(env);
  // Each envelope is validated once, for both the erased-subject read and its own preparation.
  const received = batch.messages.map((msg): Received => ({ msg, parsed: envelopeSchema.safeParse(msg.body) }));
  // Which of the batch's subjects were erased, read once for the batch (a failed read fails every
  // message: they retry).
  const erased = erasedView(env, shared, received);
  erased.catch(() => undefined);
  const prepared = await mapLimit(received, R2_CONCURRENCY, (r) => prepareMessage(env, shared, r, now, erased));
  await skipKnownIdentities(prepared);
  // The same view spares the subject index its own read of erased subjects (when it failed, every
  // message is retried already).
  const view = await erased.catch(() => undefined);
  const { stored, superseded } = await writeBatch(env, prepared, now, view);
  await runShared(shared, stored);
  if (superseded.length > 0) await noteSuperseded(superseded);
}

type PreparedMessage = { msg: Message<unknown>; result?: Prepared; error?: unknown };

/** A message, its envelope's validation and, for an inline body, the key of its subjects in the batch's view. */
type Received = { msg: Message<unknown>; parsed: ReturnType<typeof envelopeSchema.safeParse>; subjectKey?: string };

/** The subjects of the batch's inline bodies, and one read of which of them (and their shops) were erased. */
async function erasedView(env: Env, shared: D1Database, messages: readonly Received[]): Promise<ErasedView> {
  const payloads = new Map<string, IndexedSubject[]>();
  const shops: string[] = [];
  for (const r of messages) {
    const { parsed } = r;
    if (!parsed.success || parsed.data.body === undefined) continue;
    const e = parsed.data;
    if (e.source === "shopify" && e.shop !== null) shops.push(e.shop);
    const resource = resourceFor(e.source, e.topic) ?? "other";
    const key = subjectCacheKey(e.source, e.shop, resource, e.body as string);
    r.subjectKey = key;
    if (!payloads.has(key)) payloads.set(key, await payloadSubjects(env, e, resource, e.body as string));
  }
  return loadErasedFor(shared, shops, payloads);
}

async function prepareMessage(
  env: Env,
  shared: D1Database,
  received: Received,
  now: string,
  erased: Promise<ErasedView>,
): Promise<PreparedMessage> {
  const { msg } = received;
  try {
    const result = await prepare(env, received, now, await erased);
    // A replayed event counts towards its replay's progress: in the same batch when the event is
    // stored in the shared database, else once the shop's database has it.
    if (result.kind === "write" && result.envelope.replayId !== undefined) {
      const count = shared
        .prepare("UPDATE replay_runs SET applied = applied + 1 WHERE id = ?1")
        .bind(result.envelope.replayId);
      (result.db === shared ? result.after : result.shared).push(count);
    }
    return { msg, result };
  } catch (err) {
    return { msg, error: err };
  }
}

/**
 * One D1 batch per database for the batch's writes (nearly always one: DB, so one poison event only
 * costs its own database's batch), each message on its own where that fails; then acks and retries.
 */
async function writeBatch(
  env: Env,
  prepared: PreparedMessage[],
  now: string,
  erased: ErasedView | undefined,
): Promise<{ stored: Write[]; superseded: Write[] }> {
  const superseded: Write[] = [];
  const stored: Write[] = [];
  const writes = prepared.filter((p) => p.result?.kind === "write") as Write[];
  const failed = new Set<Write>();
  for (const [db, group] of byDatabase(writes)) {
    try {
      // The objects' subjects are indexed before their events' rows commit (src/tables/subject-index.ts).
      await indexObjects(
        env,
        group.flatMap((w) => w.result.index),
        now,
        erased,
      );
      const batch = batchStatements(
        db,
        group.map((w) => w.result),
      );
      const results = await db.batch(batch.statements);
      superseded.push(...batch.superseded(results).map((i) => group[i] as Write));
    } catch (err) {
      for (const w of group) failed.add(w);
      log.warn("batch write failed, writing messages one by one", { size: group.length, error: describeError(err) });
    }
  }

  for (const p of prepared) {
    if (p.error !== undefined) {
      await retry(env, p.msg, p.error, now);
      continue;
    }
    const result = p.result as Prepared;
    if (result.kind === "write" && failed.has(p as Write)) {
      try {
        const one = { msg: p.msg, result };
        await indexObjects(env, result.index, now, erased);
        const batch = batchStatements(result.db, [result]);
        if (batch.superseded(await result.db.batch(batch.statements)).length > 0) superseded.push(one);
      } catch (err) {
        await retry(env, p.msg, err, now);
        continue;
      }
    }
    p.msg.ack();
    if (result.kind === "write") {
      stored.push({ msg: p.msg, result });
      const e = result.envelope;
      const lagMs = Date.now() - Date.parse(e.eventAt);
      recordMetric(env, {
        stage: result.status === "quarantined" ? "quarantined" : result.status === "applied" ? "applied" : "archived",
        source: e.source,
        topic: e.topic,
        origin: e.origin,
        lagMs,
      });
      log.info("event stored", { source: e.source, eventId: e.eventId, topic: e.topic, status: result.status });
    }
  }
  return { stored, superseded };
}

/**
 * Orders of customers whose identity exists already would run 4 statements that change nothing:
 * one read per database finds them (src/tables/identity.ts `knownIdentities`) and drops their
 * links. Best effort: if the read fails, every link is written, as it would be without it.
 */
async function skipKnownIdentities(prepared: PreparedMessage[]): Promise<void> {
  const writes = prepared.filter((p) => p.result?.kind === "write" && p.result.identity?.target.referenced) as Write[];
  for (const [db, group] of byDatabase(writes)) {
    try {
      const known = await knownIdentities(
        db,
        group.map((w) => w.result.identity as IdentityLink),
      );
      group.forEach((w, i) => {
        if (known[i]) w.result.identity = undefined;
      });
    } catch (err) {
      log.warn("could not read known identities; linking every customer", { error: describeError(err) });
    }
  }
}

/** The writes grouped by the database they go to, in batch order. */
function byDatabase(writes: Write[]): Map<D1Database, Write[]> {
  const out = new Map<D1Database, Write[]>();
  for (const w of writes) {
    const group = out.get(w.result.db);
    if (group === undefined) out.set(w.result.db, [w]);
    else group.push(w);
  }
  return out;
}

/**
 * Best effort, like the superseded note: the events are stored and acked; a replay's count of a
 * routed shop's events can then fall short (docs/tables.md "How large D1 grows, and past its 10 GB").
 */
async function runShared(shared: D1Database, stored: Write[]): Promise<void> {
  const statements = stored.flatMap((w) => w.result.shared);
  if (statements.length === 0) return;
  try {
    await shared.batch(statements);
  } catch (err) {
    log.warn("could not write the shared rows of routed events", {
      count: statements.length,
      error: describeError(err),
    });
  }
}

/** Best effort: the event is stored either way; the note only tells operators it changed nothing. */
async function noteSuperseded(writes: Write[]): Promise<void> {
  for (const [db, group] of byDatabase(writes)) {
    try {
      await db.batch(
        group.map(({ result: { envelope: e } }) =>
          db
            .prepare("UPDATE webhook_events SET note = ?3 WHERE source = ?1 AND event_id = ?2")
            .bind(e.source, e.eventId, SUPERSEDED_NOTE),
        ),
      );
    } catch (err) {
      log.warn("could not note superseded events", { count: group.length, error: describeError(err) });
    }
  }
}

async function prepare(env: Env, received: Received, now: string, erased: ErasedView): Promise<Prepared> {
  const { msg, parsed } = received;
  if (!parsed.success) {
    // Retrying cannot fix a malformed message: keep it in dead-letter/ for a human.
    await archiveInvalidMessage(env, msg, parsed.error.message, now);
    return { kind: "done" };
  }
  const envelope = parsed.data;
  const base = { envelope, attempts: msg.attempts, now };
  const resource = resourceFor(envelope.source, envelope.topic);
  /** The batch's view holds the inline body's subjects under `received.subjectKey`. */
  const subjectKey = (text: string) => (text === envelope.body ? received.subjectKey : undefined);
  const db = eventDatabase(env, envelope.shop, resource);
  const write = {
    kind: "write" as const,
    envelope,
    db,
    shared: [] as D1PreparedStatement[],
    after: [] as D1PreparedStatement[],
    readsLedger: false,
    versioned: false,
  };
  /** Set when a quarantined event is replayed: its stored body goes through the normal path again. */
  let replayedFrom: string | null = null;
  /** A quarantined event's write: its ledger row and the subject index rows of the object. */
  const quarantine = async (
    reason: Parameters<typeof quarantineObject>[1],
    text: string,
    detail?: string,
  ): Promise<Prepared> => {
    const prot = await protectPayload(env, envelope, resource ?? "other", text, erased, subjectKey(text));
    const obj = await quarantineObject(envelope, reason, utf8(prot.payload), prot.payload, detail);
    // A replay finds its object in place (the first copy stays); the ledger note says why it is held now.
    if (prot.redacted) await putRedacted(env.LAKE, obj, now);
    else await putOnce(env.LAKE, obj);
    // A version without mapping rules is named in the ledger, where an operator looks first.
    const held = reason === "unsupported_version" && detail ? `${reason}: ${detail}` : reason;
    const note = envelope.origin === "replay" ? replayedNote(reason, detail, now) : held;
    const ledger = { ...base, resource, status: "quarantined" as const, r2Key: obj.key, note };
    const index = [{ r2Key: obj.key, subjects: prot.subjects, redacted: prot.redacted }];
    return { ...write, status: "quarantined", statements: [], ledger, children: [], index };
  };

  let payload: string;
  let rawKey: string | null = null;
  if (envelope.body !== undefined) {
    payload = envelope.body;
  } else {
    const key = envelope.bodyKey as string;
    const stored = await env.LAKE.get(key);
    if (!stored) throw new Error(`claim-checked body ${key} is missing from R2`);
    const text = await stored.text();
    const heldText =
      key.startsWith("quarantine/") && envelope.origin === "replay" ? payloadOfQuarantineObject(text) : null;
    if (key.startsWith("quarantine/") && heldText === null) {
      const note = stored.customMetadata?.reason ?? "quarantined at ingress";
      const ledger = { ...base, resource, status: "quarantined" as const, r2Key: key, note };
      const subjects = await payloadSubjects(env, envelope, resource ?? "other", text);
      const index = [{ r2Key: key, subjects, redacted: false }];
      return { ...write, status: "quarantined", statements: [], ledger, children: [], index };
    }
    if (heldText !== null) {
      payload = heldText;
      replayedFrom = key;
    } else {
      payload = payloadOfRawObject(text, stored.customMetadata);
      rawKey = key;
    }
  }

  if (resource === null) return quarantine("unknown_topic", payload);
  if (!isLosslessJson(payload)) return quarantine("invalid_json", payload);

  // An erased person's data is redacted before it is stored anywhere (docs/privacy.md).
  const prot = await protectPayload(env, envelope, resource, payload, erased, subjectKey(payload));
  if (rawKey === null || prot.redacted) {
    const obj = await rawEventObject(envelope, resource, prot.payload);
    if (prot.redacted) await putRedacted(env.LAKE, { ...obj, key: rawKey ?? obj.key }, now);
    else await putOnce(env.LAKE, obj);
    rawKey ??= obj.key;
  }
  payload = prot.payload;
  const plan = await planApply(env, { envelope, resource, payload, r2Key: rawKey });
  if (plan.kind === "quarantine") return quarantine(plan.reason, payload, plan.detail);
  const status: LedgerStatus = plan.kind === "apply" ? "applied" : "archived";
  const note = plan.note ?? (replayedFrom === null ? null : `replayed from ${replayedFrom}`);
  const ledger = { ...base, resource, status, r2Key: rawKey, note };
  return {
    ...write,
    status,
    statements: plan.kind === "apply" ? plan.statements : [],
    after: plan.kind === "apply" ? [...(plan.alerts ?? [])] : [],
    readsLedger: plan.kind === "apply" && (plan.alerts?.length ?? 0) > 0,
    ledger,
    children: plan.kind === "apply" ? (plan.children ?? []) : [],
    identity: plan.kind === "apply" ? plan.identity : undefined,
    linkInput: plan.kind === "apply" ? plan.linkInput : undefined,
    index: [{ r2Key: rawKey, subjects: prot.subjects, redacted: prot.redacted }],
    versioned: plan.kind === "apply" && plan.statements.length > 0,
  };
}

async function retry(env: Env, msg: Message<unknown>, err: unknown, now: string): Promise<void> {
  const error = describeError(err);
  const delaySeconds = retryDelaySeconds(env, msg.attempts);
  msg.retry({ delaySeconds });
  const parsed = envelopeSchema.safeParse(msg.body);
  log.warn("event retry", { eventId: parsed.data?.eventId, attempts: msg.attempts, delaySeconds, error });
  if (!parsed.success) return;
  recordMetric(env, {
    stage: "retried",
    source: parsed.data.source,
    topic: parsed.data.topic,
    origin: parsed.data.origin,
  });
  // Best effort: the retry is already scheduled; this only shows operators why.
  try {
    const resource = resourceFor(parsed.data.source, parsed.data.topic);
    await ledgerUpsert(eventDatabase(env, parsed.data.shop, resource), {
      envelope: parsed.data,
      resource,
      status: "retrying",
      r2Key: null,
      attempts: msg.attempts,
      error,
      now,
    }).run();
  } catch (ledgerErr) {
    log.warn("could not record retry in ledger", { eventId: parsed.data.eventId, error: describeError(ledgerErr) });
  }
}

/** A replayed event that is (still) invalid: why, and when it was tried (the ledger keeps the latest). */
function replayedNote(reason: string, detail: string | undefined, now: string): string {
  return `${reason} when replayed at ${now}${detail ? `: ${detail}` : ""}`.slice(0, 1000);
}

/** Whether the body is JSON, read the way the mappers will read it (the parse is then reused). */
function isLosslessJson(text: string): boolean {
  try {
    parseLossless(text);
    return true;
  } catch {
    return false;
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
