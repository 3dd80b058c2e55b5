/**
 * The queue envelope: the one message shape between ingress and the consumers.
 * Validated with zod when it is built and again when it is consumed, because the
 * queue is a trust boundary too (replays and old deploys can put anything on it).
 */
import { z } from "zod";

export const SOURCES = ["shopify", "stripe", "recharge"] as const;
export type Source = (typeof SOURCES)[number];
/** The sources as an SQL list (`source IN (...)`): a ledger read that names them seeks (source, received_at). */
export const SOURCES_SQL = SOURCES.map((s) => `'${s}'`).join(", ");

export const ORIGINS = ["webhook", "reconcile", "bulk", "replay"] as const;
export type Origin = (typeof ORIGINS)[number];

/** Characters allowed in an event id: it becomes part of an R2 key. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const isoUtc = z.iso.datetime({ offset: false });

export const envelopeSchema = z
  .object({
    v: z.literal(1),
    source: z.enum(SOURCES),
    topic: z.string().min(1).max(128),
    eventId: z.string().regex(EVENT_ID_PATTERN),
    shop: z.string().min(1).max(255).nullable(),
    receivedAt: isoUtc,
    eventAt: isoUtc,
    apiVersion: z.string().max(32).nullable(),
    origin: z.enum(ORIGINS),
    body: z.string().optional(),
    bodyKey: z.string().min(1).max(1024).optional(),
    /** Set by the `replay` job: the consumer counts the event as applied on that replay. */
    replayId: z
      .string()
      .regex(/^rp-[A-Za-z0-9-]{1,64}$/)
      .optional(),
  })
  .strict()
  .refine((e) => (e.body === undefined) !== (e.bodyKey === undefined), {
    message: "exactly one of body and bodyKey must be set",
  });

export type Envelope = z.infer<typeof envelopeSchema>;

/** Cloudflare Queues rejects messages over 128 KB; keep headroom for the JSON framing. */
export const MAX_MESSAGE_BYTES = 120 * 1024;

export function envelopeBytes(envelope: Envelope): number {
  return new TextEncoder().encode(JSON.stringify(envelope)).byteLength;
}

/**
 * `envelopeBytes(envelope) > MAX_MESSAGE_BYTES`, serializing only an envelope that could pass it:
 * JSON.stringify writes at most 6 UTF-8 bytes per UTF-16 unit of a string (`\u001f`), so a bound
 * from the lengths clears nearly every webhook without a copy of its body.
 */
export function overMessageLimit(envelope: Envelope): boolean {
  let bound = 2;
  for (const [key, value] of Object.entries(envelope)) {
    // `"key":` and a comma, then the value: a string in quotes, else at most `null`.
    bound += key.length + 4 + (typeof value === "string" ? 6 * value.length + 2 : 4);
  }
  return bound > MAX_MESSAGE_BYTES && envelopeBytes(envelope) > MAX_MESSAGE_BYTES;
}
