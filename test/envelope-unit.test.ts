/**
 * `overMessageLimit` answers what measuring the serialized envelope answers, for bodies of any
 * characters (those JSON escapes to six bytes, quotes and backslashes, multi-byte ones, lone
 * surrogates) and sizes on both sides of the queue's limit.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Envelope, envelopeBytes, MAX_MESSAGE_BYTES, overMessageLimit } from "../src/shared/envelope";

const head: Omit<Envelope, "body"> = {
  v: 1,
  source: "shopify",
  topic: "orders/create",
  eventId: "evt-1",
  shop: "a.myshopify.com",
  receivedAt: "2026-11-20T15:00:00.000Z",
  eventAt: "2026-11-20T15:00:00.000Z",
  apiVersion: null,
  origin: "webhook",
};

/** Runs of one character, so a body reaches tens of kilobytes in a few pieces. */
const body = fc
  .array(fc.tuple(fc.constantFrom("a", '"', "\\", "\u0001", "\n", "é", "€", "😀", "\ud800"), fc.nat(40_000)), {
    maxLength: 4,
  })
  .map((runs) => runs.map(([c, n]) => c.repeat(Math.ceil(n / c.length))).join(""));

describe("overMessageLimit", () => {
  it("is envelopeBytes(envelope) > MAX_MESSAGE_BYTES", () => {
    fc.assert(
      fc.property(body, (text) => {
        const envelope: Envelope = { ...head, body: text };
        expect(overMessageLimit(envelope)).toBe(envelopeBytes(envelope) > MAX_MESSAGE_BYTES);
      }),
      { numRuns: 300 },
    );
  });

  it("answers at the edges: six-byte escapes and plain text just under and over the limit", () => {
    const escapes = (n: number): Envelope => ({ ...head, body: "\u0001".repeat(n) });
    const at = Math.floor(MAX_MESSAGE_BYTES / 6);
    expect(overMessageLimit(escapes(at + 100))).toBe(true);
    expect(overMessageLimit(escapes(at - 100))).toBe(false);
    expect(overMessageLimit({ ...head, body: "a".repeat(MAX_MESSAGE_BYTES - 300) })).toBe(false);
    expect(overMessageLimit({ ...head, body: "a".repeat(MAX_MESSAGE_BYTES) })).toBe(true);
  });
});
