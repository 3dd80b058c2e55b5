/**
 * Replaying a quarantined event (`POST /admin/replay {"key":"quarantine/…"}` and the ops page's
 * Replay button): the stored body goes back through the queue and the normal apply path. One that
 * validates now (quarantined by an older mapper, since fixed) is applied, its ledger row moves to
 * `applied` and points at the raw object; one still invalid stays quarantined with the new reason
 * in its ledger note and writes no table row. The quarantine object stays as the record.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { quarantineObject } from "../src/shared/archive";
import { toBase64, utf8 } from "../src/shared/crypto";
import type { Envelope } from "../src/shared/envelope";
import { rawEventKey } from "../src/shared/keys";
import { ledgerUpsert } from "../src/tables/ledger";
import { stripeCharge } from "./helpers/ops-seed";
import { adminRequest, stripeEvent } from "./helpers/requests";
import { keysFor, ledgerRow, waitFor } from "./helpers/storage";

const run = `${Date.now()}`;
const AT = "2026-11-21T08:30:00.000Z";
const CREATED = Math.floor(Date.parse(AT) / 1000);

const charge = (id: string, amount: unknown) =>
  stripeCharge(id, amount, { currency: "eur", createdSeconds: CREATED, email: null });

function envelopeOf(eventId: string, body: string): Envelope {
  return {
    v: 1,
    source: "stripe",
    topic: "charge.succeeded",
    eventId,
    shop: null,
    receivedAt: AT,
    eventAt: AT,
    apiVersion: "2026-01-28",
    origin: "webhook",
    body,
  };
}

/** What an earlier deploy left behind when its mapper refused a payload the current one accepts. */
async function seedQuarantined(e: Envelope, detail: string): Promise<string> {
  const obj = await quarantineObject(e, "invalid_payload", utf8(e.body ?? ""), e.body ?? "", detail);
  await env.LAKE.put(obj.key, obj.body, { customMetadata: obj.customMetadata });
  await ledgerUpsert(env.DB, {
    envelope: e,
    resource: "charges",
    status: "quarantined",
    r2Key: obj.key,
    attempts: 1,
    note: "invalid_payload",
    now: AT,
  }).run();
  return obj.key;
}

async function post(path: string, body: unknown): Promise<Response> {
  return exports.default.fetch(
    adminRequest(path, undefined, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    }),
  );
}

const chargeRow = (id: string) =>
  env.DB.prepare("SELECT amount_minor, currency, last_event_id FROM stripe_charges WHERE id = ?1").bind(id).first();

/** Waits until the consumer wrote the event's ledger row after `sentAt`. */
const outcome = (eventId: string, sentAt: string) =>
  waitFor(async () => {
    const row = await env.DB.prepare("SELECT * FROM webhook_events WHERE source = 'stripe' AND event_id = ?1")
      .bind(eventId)
      .first<{ status: string; updated_at: string; note: string | null; r2_key: string | null }>();
    return row && row.updated_at >= sentAt ? row : null;
  });

describe("replaying a quarantined event", () => {
  it("applies one the current mapper accepts: the ledger row moves to applied and points at the raw object", async () => {
    const eventId = `evt_qr_fixed_${run}`;
    const chargeId = `ch_qr_fixed_${run}`;
    const e = envelopeOf(eventId, stripeEvent(charge(chargeId, 1250), "charge.succeeded", eventId, CREATED));
    const key = await seedQuarantined(e, "amount: refused by the mapper before the fix");
    expect(await chargeRow(chargeId)).toBeNull();

    const res = await post("/admin/replay", { key });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { ok: boolean; eventId: string; source: string; key: string; sentAt: string };
    expect(answer).toMatchObject({ ok: true, eventId, source: "stripe", key });

    const row = await outcome(eventId, answer.sentAt);
    const raw = rawEventKey("stripe", "charges", AT, eventId);
    expect(row).toMatchObject({ status: "applied", r2_key: raw, note: `replayed from ${key}` });
    expect(await chargeRow(chargeId)).toEqual({ amount_minor: 1250, currency: "EUR", last_event_id: eventId });
    // The raw archive now holds the verbatim body; the quarantine object stays as the record.
    const stored = await env.LAKE.get(raw);
    expect(await stored?.text()).toContain(`"payload":${e.body}}`);
    expect((await keysFor(eventId)).sort()).toEqual([key, raw].sort());
    expect((await ledgerRow("stripe", eventId))?.origin).toBe("webhook");

    // The listing shows the entry's state now; a second replay changes nothing.
    const listed = (await (
      await exports.default.fetch(adminRequest("/admin/quarantine?source=stripe&day=2026-11-21"))
    ).json()) as { objects: Array<{ key: string; ledgerStatus: string; ledgerNote: string; reason: string }> };
    expect(listed.objects.find((o) => o.key === key)).toMatchObject({
      ledgerStatus: "applied",
      ledgerNote: `replayed from ${key}`,
      reason: "invalid_payload",
    });
    const again = (await (await post("/admin/replay", { key })).json()) as { sentAt: string };
    expect(await outcome(eventId, again.sentAt)).toMatchObject({ status: "applied", r2_key: raw });
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM stripe_charges WHERE id = ?1").bind(chargeId).first(),
    ).toEqual({
      n: 1,
    });
  });

  it("keeps a still-invalid event quarantined, says why, and writes no table row", async () => {
    const eventId = `evt_qr_bad_${run}`;
    const chargeId = `ch_qr_bad_${run}`;
    const e = envelopeOf(eventId, stripeEvent(charge(chargeId, "twelve"), "charge.succeeded", eventId, CREATED));
    const key = await seedQuarantined(e, "amount: expected number");
    const before = await env.LAKE.head(key);

    const answer = (await (await post("/admin/replay", { key })).json()) as { sentAt: string };
    const row = await outcome(eventId, answer.sentAt);
    expect(row.status).toBe("quarantined");
    expect(row.r2_key).toBe(key);
    expect(row.note).toMatch(new RegExp(`^invalid_payload when replayed at ${answer.sentAt.slice(0, 10)}.*amount`));
    expect(await chargeRow(chargeId)).toBeNull();
    // The first copy of the quarantine object is untouched.
    expect((await env.LAKE.head(key))?.etag).toBe(before?.etag);

    const events = (await (
      await exports.default.fetch(adminRequest(`/admin/events?source=stripe&eventId=${eventId}`))
    ).json()) as { events: Array<{ status: string; note: string; updated_at: string }> };
    expect(events.events).toHaveLength(1);
    expect(events.events[0]).toMatchObject({ status: "quarantined", note: row.note, updated_at: row.updated_at });
  });

  it("refuses a body that is not UTF-8 text (422), a missing object (404) and other prefixes (400), sending nothing", async () => {
    const eventId = `evt_qr_bytes_${run}`;
    const e = envelopeOf(eventId, "");
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x41]);
    const obj = await quarantineObject(e, "not_utf8", bytes, null);
    expect(obj.body).toContain(toBase64(bytes));
    await env.LAKE.put(obj.key, obj.body, { customMetadata: obj.customMetadata });
    const refused = await post("/admin/replay", { key: obj.key });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({
      ok: false,
      error: { code: "not_replayable", message: expect.stringContaining("not UTF-8 text") },
    });
    expect(await ledgerRow("stripe", eventId)).toBeNull();

    const missing = await post("/admin/replay", { key: "quarantine/stripe/dt=2026-11-21/nothing.json" });
    expect(missing.status).toBe(404);
    const other = await post("/admin/replay", { key: "raw/stripe/charges/x.json" });
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({
      error: { message: 'Send {"key": "dead-letter/…"} or {"key": "quarantine/…"}.' },
    });
    const noSource = await exports.default.fetch(adminRequest(`/admin/events?eventId=${eventId}`));
    expect(noSource.status).toBe(400);
  });
});
