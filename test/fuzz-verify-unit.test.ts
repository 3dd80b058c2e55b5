/**
 * Property tests of the three signature verifiers: a signature made with a configured
 * secret verifies, one made with any other secret (or over other bytes) is refused,
 * and no input makes a verifier throw: it answers a typed refusal instead.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyRecharge } from "../src/ingress/verify-recharge";
import { verifyShopify } from "../src/ingress/verify-shopify";
import { verifyStripe } from "../src/ingress/verify-stripe";
import { bytesArb, fuzzParams, secretArb } from "./helpers/fuzz";
import {
  rechargeLegacySignature,
  rechargeTimestampedSignature,
  shopifySignature,
  stripeSignature,
} from "./helpers/sign";

const REFUSALS = ["missing_signature", "malformed_signature", "signature_mismatch", "timestamp_out_of_tolerance"];
const dec = new TextDecoder();
const secretsArb = fc.uniqueArray(secretArb, { minLength: 1, maxLength: 3 });
/** A secret list, and one more secret that is not in it. */
const listAndOutsider = secretsArb.chain((secrets) =>
  fc.record({ secrets: fc.constant(secrets), outsider: secretArb.filter((s) => !secrets.includes(s)) }),
);
/** Arbitrary header text, including the shapes each scheme expects with garbage inside. */
const headerArb = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.base64String({ minLength: 40, maxLength: 48 }),
  fc.tuple(fc.string(), fc.string()).map(([t, v]) => `t=${t},v1=${v}`),
  fc.tuple(fc.nat(), fc.stringMatching(/^[0-9a-f]{0,70}$/)).map(([t, v]) => `t=${t},v1=${v}`),
  fc.stringMatching(/^[0-9a-fA-F]{64}$/),
);
const nowMs = Date.parse("2026-11-20T12:00:00Z");

function expectRefusal(r: { ok: boolean; reason?: string }) {
  expect(r.ok).toBe(false);
  expect(REFUSALS).toContain(r.reason);
}

describe("verifyShopify under fuzzing", { timeout: 30_000 }, () => {
  it("accepts a signature made with any configured secret, over any bytes", async () => {
    await fc.assert(
      fc.asyncProperty(secretsArb, fc.nat(), bytesArb(), async (secrets, pick, body) => {
        const secret = secrets[pick % secrets.length] as string;
        expect(await verifyShopify(body, await shopifySignature(body, secret), secrets)).toEqual({ ok: true });
      }),
      fuzzParams(150),
    );
  });

  it("refuses a signature made with another secret, or over other bytes", async () => {
    await fc.assert(
      fc.asyncProperty(listAndOutsider, bytesArb(), fc.nat(), async ({ secrets, outsider }, body, flip) => {
        expectRefusal(await verifyShopify(body, await shopifySignature(body, outsider), secrets));
        if (body.length > 0) {
          const other = body.slice();
          const i = flip % other.length;
          other[i] = (other[i] ?? 0) ^ 0x01;
          expectRefusal(await verifyShopify(other, await shopifySignature(body, secrets[0] as string), secrets));
        }
      }),
      fuzzParams(150),
    );
  });

  it("answers any header with a typed refusal, never a throw", async () => {
    await fc.assert(
      fc.asyncProperty(secretsArb, bytesArb(), fc.option(headerArb), async (secrets, body, header) => {
        const r = await verifyShopify(body, header, secrets);
        if (r.ok) expect(header?.trim()).toBe(await shopifySignature(body, secrets[0] as string));
        else expectRefusal(r);
      }),
      fuzzParams(200),
    );
  });
});

describe("verifyStripe under fuzzing", { timeout: 30_000 }, () => {
  // The stripe package reads the body as text, so its bodies are UTF-8 here; raw bytes are tried below.
  const bodyArb = fc.oneof(fc.string({ maxLength: 300 }), fc.json());

  it("accepts a signature made with any configured secret within the tolerance", async () => {
    await fc.assert(
      fc.asyncProperty(
        secretsArb,
        fc.nat(),
        bodyArb,
        fc.integer({ min: -299, max: 299 }),
        async (secrets, pick, body, skew) => {
          const secret = secrets[pick % secrets.length] as string;
          const header = await stripeSignature(body, secret, Math.floor(nowMs / 1000) + skew);
          const r = await verifyStripe(new TextEncoder().encode(body), header, secrets, nowMs);
          expect(r.ok).toBe(true);
        },
      ),
      fuzzParams(100),
    );
  });

  it("refuses another secret, other bytes, or a timestamp outside the tolerance", async () => {
    await fc.assert(
      fc.asyncProperty(
        listAndOutsider,
        bodyArb,
        fc.integer({ min: 301, max: 10_000_000 }),
        async ({ secrets, outsider }, body, age) => {
          const t = Math.floor(nowMs / 1000);
          const bytes = new TextEncoder().encode(body);
          expectRefusal(await verifyStripe(bytes, await stripeSignature(body, outsider, t), secrets, nowMs));
          const stale = await verifyStripe(
            bytes,
            await stripeSignature(body, secrets[0] as string, t - age),
            secrets,
            nowMs,
          );
          expect(stale).toMatchObject({ ok: false, reason: "timestamp_out_of_tolerance" });
          const longer = new TextEncoder().encode(`${body} `);
          expectRefusal(
            await verifyStripe(longer, await stripeSignature(body, secrets[0] as string, t), secrets, nowMs),
          );
        },
      ),
      fuzzParams(100),
    );
  });

  it("answers any header and any bytes with a typed refusal, never a throw", async () => {
    await fc.assert(
      fc.asyncProperty(secretsArb, bytesArb(), fc.option(headerArb), async (secrets, body, header) => {
        const r = await verifyStripe(body, header, secrets, nowMs);
        if (r.ok) throw new Error(`a made-up header verified: ${header} over ${dec.decode(body)}`);
        expectRefusal(r);
      }),
      fuzzParams(200),
    );
  });
});

describe("verifyRecharge under fuzzing", { timeout: 30_000 }, () => {
  const nowSeconds = Math.floor(nowMs / 1000);

  it("accepts both schemes signed with any configured secret", async () => {
    await fc.assert(
      fc.asyncProperty(
        secretsArb,
        fc.nat(),
        bytesArb(),
        fc.integer({ min: -172_000, max: 172_000 }),
        async (secrets, pick, body, skew) => {
          const secret = secrets[pick % secrets.length] as string;
          const legacy = await rechargeLegacySignature(body, secret);
          expect(await verifyRecharge(body, { timestamped: null, legacy }, secrets, nowSeconds)).toEqual({ ok: true });
          const timestamped = await rechargeTimestampedSignature(body, secret, nowSeconds + skew);
          expect(await verifyRecharge(body, { timestamped, legacy: null }, secrets, nowSeconds)).toEqual({ ok: true });
        },
      ),
      fuzzParams(100),
    );
  });

  it("refuses another secret, and never falls back to a valid legacy header when the timestamped one is wrong", async () => {
    await fc.assert(
      fc.asyncProperty(listAndOutsider, bytesArb(), async ({ secrets, outsider }, body) => {
        const legacyGood = await rechargeLegacySignature(body, secrets[0] as string);
        expectRefusal(
          await verifyRecharge(
            body,
            { timestamped: null, legacy: await rechargeLegacySignature(body, outsider) },
            secrets,
            nowSeconds,
          ),
        );
        const forged = await rechargeTimestampedSignature(body, outsider, nowSeconds);
        expectRefusal(await verifyRecharge(body, { timestamped: forged, legacy: legacyGood }, secrets, nowSeconds));
        const stale = await rechargeTimestampedSignature(body, secrets[0] as string, nowSeconds - 172_801);
        expectRefusal(await verifyRecharge(body, { timestamped: stale, legacy: legacyGood }, secrets, nowSeconds));
      }),
      fuzzParams(100),
    );
  });

  it("answers any headers with a typed refusal, never a throw", async () => {
    await fc.assert(
      fc.asyncProperty(
        secretsArb,
        bytesArb(),
        fc.option(headerArb),
        fc.option(headerArb),
        async (secrets, body, timestamped, legacy) => {
          const r = await verifyRecharge(body, { timestamped, legacy }, secrets, nowSeconds);
          if (r.ok) throw new Error(`made-up headers verified: ${timestamped} / ${legacy}`);
          expectRefusal(r);
        },
      ),
      fuzzParams(200),
    );
  });
});
