import { describe, expect, it } from "vitest";
import { verifyRecharge } from "../src/ingress/verify-recharge";
import { verifyShopify } from "../src/ingress/verify-shopify";
import { verifyStripe } from "../src/ingress/verify-stripe";
import { timingSafeEqualDigest } from "../src/shared/crypto";
import {
  rechargeLegacySignature,
  rechargeTimestampedSignature,
  shopifySignature,
  stripeSignature,
} from "./helpers/sign";

const enc = new TextEncoder();
const body = '{"id":820982911946154508,"email":"jon@example.com","total_price":"199.00"}';
const bytes = enc.encode(body);
const flipped = (() => {
  const b = enc.encode(body);
  b[10] = (b[10] ?? 0) ^ 0x01;
  return b;
})();

describe("verifyShopify", () => {
  const secrets = ["shpss_current"];
  it("accepts a valid signature", async () => {
    expect(await verifyShopify(bytes, await shopifySignature(body, "shpss_current"), secrets)).toEqual({ ok: true });
  });
  it("refuses a signature made with the wrong secret", async () => {
    const r = await verifyShopify(bytes, await shopifySignature(body, "shpss_other"), secrets);
    expect(r).toEqual({ ok: false, reason: "signature_mismatch" });
  });
  it("refuses when one body byte is flipped", async () => {
    const r = await verifyShopify(flipped, await shopifySignature(body, "shpss_current"), secrets);
    expect(r.ok).toBe(false);
  });
  it("refuses a missing or garbled header", async () => {
    expect(await verifyShopify(bytes, null, secrets)).toEqual({ ok: false, reason: "missing_signature" });
    expect(await verifyShopify(bytes, "not base64!", secrets)).toEqual({ ok: false, reason: "malformed_signature" });
    expect(await verifyShopify(bytes, "A".repeat(10_000), secrets)).toEqual({
      ok: false,
      reason: "malformed_signature",
    });
  });
  it("accepts any secret of a rotated list", async () => {
    const sig = await shopifySignature(body, "shpss_previous");
    expect(await verifyShopify(bytes, sig, ["shpss_current", "shpss_previous"])).toEqual({ ok: true });
    expect((await verifyShopify(bytes, sig, ["shpss_current"])).ok).toBe(false);
  });
  it("signs the raw bytes, including bytes that are not UTF-8", async () => {
    const raw = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);
    expect(await verifyShopify(raw, await shopifySignature(raw, "shpss_current"), secrets)).toEqual({ ok: true });
  });
});

describe("verifyStripe", () => {
  const secrets = ["whsec_current"];
  const now = Date.now();
  const event = JSON.stringify({
    id: "evt_1",
    type: "charge.succeeded",
    created: 1_700_000_000,
    api_version: "2026-01-28",
  });
  const eventBytes = enc.encode(event);

  it("accepts a header made by stripe.webhooks.generateTestHeaderStringAsync", async () => {
    const header = await stripeSignature(event, "whsec_current");
    const r = await verifyStripe(eventBytes, header, secrets, now);
    expect(r).toEqual({
      ok: true,
      value: {
        id: "evt_1",
        type: "charge.succeeded",
        eventAt: "2023-11-14T22:13:20.000Z",
        apiVersion: "2026-01-28",
        thin: false,
      },
    });
  });
  it("reads a thin event (v2.core.event) itself: ISO created, no version", async () => {
    const thin = JSON.stringify({
      id: "evt_65RCjj4EqW1sabcjs2Z16RCMoNQdSQkOWvfL6L5uU2K40u",
      object: "v2.core.event",
      type: "v1.charge.succeeded",
      created: "2026-11-20T15:04:05.123Z",
      livemode: false,
      context: null,
      related_object: { id: "ch_1", type: "charge", url: "/v1/charges/ch_1" },
    });
    const header = await stripeSignature(thin, "whsec_current");
    expect(await verifyStripe(enc.encode(thin), header, secrets, now)).toEqual({
      ok: true,
      value: {
        id: "evt_65RCjj4EqW1sabcjs2Z16RCMoNQdSQkOWvfL6L5uU2K40u",
        type: "v1.charge.succeeded",
        eventAt: "2026-11-20T15:04:05.123Z",
        apiVersion: null,
        thin: true,
      },
    });
    const wrong = await stripeSignature(thin, "whsec_other");
    expect(await verifyStripe(enc.encode(thin), wrong, secrets, now)).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });
  it("refuses the wrong secret and a flipped byte", async () => {
    const wrong = await stripeSignature(event, "whsec_other");
    expect(await verifyStripe(eventBytes, wrong, secrets, now)).toEqual({ ok: false, reason: "signature_mismatch" });
    const good = await stripeSignature(event, "whsec_current");
    const tampered = enc.encode(event.replace("evt_1", "evt_2"));
    expect((await verifyStripe(tampered, good, secrets, now)).ok).toBe(false);
  });
  it("refuses a timestamp older than the 300 s tolerance", async () => {
    const t = Math.floor(now / 1000) - 301;
    const header = await stripeSignature(event, "whsec_current", t);
    const r = await verifyStripe(eventBytes, header, secrets, now);
    expect(r).toMatchObject({ ok: false, reason: "timestamp_out_of_tolerance", toleranceSeconds: 300 });
    const fresh = await stripeSignature(event, "whsec_current", Math.floor(now / 1000) - 299);
    expect((await verifyStripe(eventBytes, fresh, secrets, now)).ok).toBe(true);
  });
  it("accepts a header with several v1 signatures when any matches", async () => {
    const t = Math.floor(now / 1000);
    const good = await stripeSignature(event, "whsec_current", t);
    const v1 = /v1=([0-9a-f]+)/.exec(good)?.[1];
    const header = `t=${t},v1=${"0".repeat(64)},v1=${v1}`;
    expect((await verifyStripe(eventBytes, header, secrets, now)).ok).toBe(true);
  });
  it("accepts any secret of a rotated list", async () => {
    const header = await stripeSignature(event, "whsec_previous");
    expect((await verifyStripe(eventBytes, header, ["whsec_current", "whsec_previous"], now)).ok).toBe(true);
  });
  it("refuses missing and garbled headers", async () => {
    expect(await verifyStripe(eventBytes, null, secrets, now)).toEqual({ ok: false, reason: "missing_signature" });
    expect(await verifyStripe(eventBytes, "garbage", secrets, now)).toEqual({
      ok: false,
      reason: "malformed_signature",
    });
    expect(await verifyStripe(eventBytes, "t=abc,v1=zz", secrets, now)).toEqual({
      ok: false,
      reason: "malformed_signature",
    });
  });
  it("reports a verified body that is not JSON as verified with no event", async () => {
    const text = "this is not json";
    const header = await stripeSignature(text, "whsec_current");
    expect(await verifyStripe(enc.encode(text), header, secrets, now)).toEqual({ ok: true, value: null });
  });
});

describe("verifyRecharge", () => {
  const secrets = ["rc_current"];
  const nowS = Math.floor(Date.now() / 1000);

  it("accepts the legacy sha256(secret + body) header", async () => {
    const legacy = await rechargeLegacySignature(body, "rc_current");
    expect(await verifyRecharge(bytes, { timestamped: null, legacy }, secrets, nowS)).toEqual({ ok: true });
  });
  it("is a plain hash, not an HMAC", async () => {
    const hmacLike = await shopifySignature(body, "rc_current");
    const r = await verifyRecharge(bytes, { timestamped: null, legacy: hmacLike }, secrets, nowS);
    expect(r.ok).toBe(false);
  });
  it("refuses the wrong secret and a flipped byte", async () => {
    const wrong = await rechargeLegacySignature(body, "rc_other");
    expect(await verifyRecharge(bytes, { timestamped: null, legacy: wrong }, secrets, nowS)).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
    const good = await rechargeLegacySignature(body, "rc_current");
    expect((await verifyRecharge(flipped, { timestamped: null, legacy: good }, secrets, nowS)).ok).toBe(false);
  });
  it("accepts the timestamped header within 48 hours and refuses it after", async () => {
    const fresh = await rechargeTimestampedSignature(body, "rc_current", nowS - 60);
    expect(await verifyRecharge(bytes, { timestamped: fresh, legacy: null }, secrets, nowS)).toEqual({ ok: true });
    const stale = await rechargeTimestampedSignature(body, "rc_current", nowS - 48 * 3600 - 1);
    expect(await verifyRecharge(bytes, { timestamped: stale, legacy: null }, secrets, nowS)).toMatchObject({
      ok: false,
      reason: "timestamp_out_of_tolerance",
    });
  });
  it("does not fall back to the legacy header when the timestamped one fails", async () => {
    const stale = await rechargeTimestampedSignature(body, "rc_current", nowS - 3 * 24 * 3600);
    const legacy = await rechargeLegacySignature(body, "rc_current");
    expect((await verifyRecharge(bytes, { timestamped: stale, legacy }, secrets, nowS)).ok).toBe(false);
  });
  it("accepts any secret of a rotated list, with either scheme", async () => {
    const rotated = ["rc_current", "rc_previous"];
    const legacy = await rechargeLegacySignature(body, "rc_previous");
    expect((await verifyRecharge(bytes, { timestamped: null, legacy }, rotated, nowS)).ok).toBe(true);
    const ts = await rechargeTimestampedSignature(body, "rc_previous", nowS);
    expect((await verifyRecharge(bytes, { timestamped: ts, legacy: null }, rotated, nowS)).ok).toBe(true);
  });
  it("refuses missing and garbled headers", async () => {
    expect(await verifyRecharge(bytes, { timestamped: null, legacy: null }, secrets, nowS)).toEqual({
      ok: false,
      reason: "missing_signature",
    });
    expect(await verifyRecharge(bytes, { timestamped: null, legacy: "xyz" }, secrets, nowS)).toEqual({
      ok: false,
      reason: "malformed_signature",
    });
    expect(await verifyRecharge(bytes, { timestamped: "t=,v1=", legacy: null }, secrets, nowS)).toEqual({
      ok: false,
      reason: "malformed_signature",
    });
  });
});

describe("timingSafeEqualDigest", () => {
  it("is true only for the same digest text", () => {
    const digest = "4nY0vW2hQjY3cM1m3kq5GqkC8j3v0bE7uS1a6cZp9Xo=";
    expect(timingSafeEqualDigest(digest, digest)).toBe(true);
    expect(timingSafeEqualDigest(digest, `${digest.slice(0, -2)}p=`)).toBe(false);
    expect(timingSafeEqualDigest(digest, `X${digest.slice(1)}`)).toBe(false);
    expect(timingSafeEqualDigest(digest, digest.slice(1))).toBe(false);
    expect(timingSafeEqualDigest("", "")).toBe(true);
  });
});
