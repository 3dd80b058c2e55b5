/** Reads of what the pipeline left in local D1 and R2. */
import { env } from "cloudflare:workers";

export interface LedgerRow {
  source: string;
  event_id: string;
  topic: string;
  resource: string | null;
  shop: string | null;
  received_at: string;
  event_at: string;
  api_version: string | null;
  origin: string;
  r2_key: string | null;
  status: string;
  attempts: number;
  deliveries: number;
  error: string | null;
  note: string | null;
}

export async function ledgerRow(source: string, eventId: string): Promise<LedgerRow | null> {
  return env.DB.prepare("SELECT * FROM webhook_events WHERE source = ? AND event_id = ?")
    .bind(source, eventId)
    .first<LedgerRow>();
}

export async function ledgerRows(source: string, eventId: string): Promise<LedgerRow[]> {
  const r = await env.DB.prepare("SELECT * FROM webhook_events WHERE source = ? AND event_id = ?")
    .bind(source, eventId)
    .all<LedgerRow>();
  return r.results;
}

/** Every R2 key whose name contains the event id. */
export async function keysFor(eventId: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.LAKE.list({ cursor, limit: 1000 });
    keys.push(...page.objects.map((o) => o.key).filter((k) => k.includes(eventId)));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

export async function waitFor<T>(probe: () => Promise<T | null | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting for the pipeline");
    await new Promise((r) => setTimeout(r, 100));
  }
}
