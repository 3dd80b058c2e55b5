/** One handler for all three webhook routes: bounded read, source-specific verification, durable accept. */
import type { Context } from "hono";
import { maxBodyBytes } from "../shared/config";
import { acceptEvent } from "./accept";
import { decodeUtf8, readBodyLimited } from "./body";
import type { IntakeFn } from "./intake";

export function webhookRoute(intake: IntakeFn) {
  return async function webhook(c: Context<{ Bindings: Env }>): Promise<Response> {
    const nowMs = Date.now();
    const body = await readBodyLimited(c.req.raw, maxBodyBytes(c.env));
    const text = decodeUtf8(body);
    const verified = await intake({ env: c.env, headers: c.req.raw.headers, body, text, nowMs });
    const { envelope, claimCheck } = await acceptEvent(c.env, verified, body, text, new Date(nowMs).toISOString());
    return c.json({ ok: true, source: envelope.source, eventId: envelope.eventId, claimCheck });
  };
}
