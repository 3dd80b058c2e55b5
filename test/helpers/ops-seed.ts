/**
 * Seed data for the `/ops` page tests (in workerd and in the browser test), relative to `now`
 * so freshness and the 24 h chart have something to show: ledger rows for a shop, Stripe and a
 * silent Recharge, a failed event with its dead letter (a valid envelope, so Replay applies it),
 * a data-quality run with one failing check, a running backfill, a reconcile run that repaired
 * two events, an open alert, and two quarantined Stripe events: one an earlier mapper refused but
 * the current one accepts (Replay applies it), one still invalid. Pure data: no bindings are
 * imported here.
 */
export const SEED_SHOP = "seeded-shop.myshopify.com";
export const DEAD_EVENT_ID = "evt_ops_dead_letter_1";
export const QUARANTINED_FIXED_ID = "evt_ops_quarantined_fixed";
export const QUARANTINED_INVALID_ID = "evt_ops_quarantined_invalid";

const iso = (ms: number) => new Date(ms).toISOString();
const q = (v: string | number | null) =>
  v === null ? "NULL" : typeof v === "number" ? String(v) : `'${v.replaceAll("'", "''")}'`;

function ledger(
  source: string,
  id: string,
  topic: string,
  shop: string | null,
  at: number,
  status: string,
  held: { r2Key: string; note: string } | null = null,
): string {
  return `INSERT INTO webhook_events (source, event_id, topic, resource, shop, received_at, event_at, origin, status, first_seen_at, updated_at, r2_key, note) VALUES (${[
    source,
    id,
    topic,
    null,
    shop,
    iso(at),
    iso(at),
    "webhook",
    status,
    iso(at),
    iso(at),
    held?.r2Key ?? null,
    held?.note ?? null,
  ]
    .map(q)
    .join(", ")});`;
}

export function seedStatements(now: number): string[] {
  const min = 60_000;
  const hour = 60 * min;
  const s: string[] = [];
  for (let i = 0; i < 5; i++)
    s.push(
      ledger("shopify", `shop_evt_${i}`, "orders/create", SEED_SHOP, now - (i * 3 + 1) * hour + 5 * min, "applied"),
    );
  for (let i = 0; i < 3; i++)
    s.push(ledger("stripe", `evt_seed_${i}`, "charge.succeeded", null, now - i * hour - 10 * min, "applied"));
  s.push(ledger("stripe", DEAD_EVENT_ID, "charge.succeeded", null, now - 2 * hour, "failed"));
  s.push(ledger("recharge", "rc_seed_0", "subscription/created", null, now - 50 * hour, "archived"));
  for (const q of seedQuarantined(now)) {
    s.push(
      ledger("stripe", q.eventId, "charge.succeeded", null, now - 3 * hour, "quarantined", {
        r2Key: q.key,
        note: "invalid_payload",
      }),
    );
  }
  const run = "dq_seed_run";
  s.push(
    `INSERT INTO dq_runs (run_id, started_at, finished_at, window_end, pass_count, warn_count, fail_count, report_key) VALUES ('${run}', ${q(iso(now - 20 * min))}, ${q(iso(now - 19 * min))}, ${q(iso(now - 20 * min))}, 1, 0, 1, 'metadata/data_quality/seed.json');`,
    `INSERT INTO dq_results (run_id, check_name, subject, outcome, value, threshold, message) VALUES ('${run}', 'duplicates', 'stripe', 'PASS', 0, 0.25, 'no duplicate deliveries');`,
    `INSERT INTO dq_results (run_id, check_name, subject, outcome, value, threshold, message) VALUES ('${run}', 'freshness', 'recharge', 'FAIL', 3000, 1440, 'recharge silent for 50 h');`,
    `INSERT INTO bulk_operations (id, backfill_id, shop, resource, status, lines_read, object_count, rows_applied, requested_at, updated_at) VALUES ('bo_seed_1', 'bf_seed_1', '${SEED_SHOP}', 'orders', 'staging', 420, 1000, 0, ${q(iso(now - 5 * min))}, ${q(iso(now - min))});`,
    `INSERT INTO reconcile_runs (run_id, source, scope, status, started_at, finished_at, looked_at, missing, stale, repaired) VALUES ('rc_seed_1', 'stripe', 'events', 'ok', ${q(iso(now - 14 * min))}, ${q(iso(now - 13 * min))}, 57, 2, 0, 2);`,
    `INSERT INTO alerts (id, rule, alert_key, severity, title, fields, source, created_at, last_seen_at, occurrences, status, next_attempt_at) VALUES ('al_seed_1', 'source_silent', 'recharge', 'warning', 'Recharge has been silent for 50 h', '[]', 'recharge', ${q(iso(now - 19 * min))}, ${q(iso(now - 19 * min))}, 3, 'pending', ${q(iso(now))});`,
  );
  return s;
}

/** A Stripe charge object with the fields the mapper reads (a succeeded card charge). */
export function stripeCharge(
  id: string,
  amount: unknown,
  opts: { currency: string; createdSeconds: number; email: string | null },
): Record<string, unknown> {
  return {
    id,
    object: "charge",
    amount,
    amount_captured: amount,
    amount_refunded: 0,
    currency: opts.currency,
    created: opts.createdSeconds,
    customer: null,
    livemode: false,
    paid: true,
    captured: true,
    refunded: false,
    status: "succeeded",
    billing_details: { email: opts.email, name: null, phone: null, address: null },
    receipt_email: null,
    payment_intent: null,
    invoice: null,
    metadata: {},
    disputed: false,
    failure_code: null,
    failure_message: null,
  };
}

/** A Stripe `charge.succeeded` event body as the webhook carries it. */
function chargeEvent(eventId: string, chargeId: string, amount: unknown, createdSeconds: number): string {
  const charge = stripeCharge(chargeId, amount, { currency: "usd", createdSeconds, email: "seed@example.com" });
  return JSON.stringify({
    id: eventId,
    object: "event",
    api_version: "2026-01-28.clover",
    created: createdSeconds,
    type: "charge.succeeded",
    data: { object: charge },
    livemode: false,
  });
}

interface SeedObject {
  key: string;
  body: string;
  customMetadata: Record<string, string>;
}

/** The dead letter of DEAD_EVENT_ID as the dead-letter consumer writes it (key, JSON body, custom metadata). */
export function seedDeadLetter(now: number): SeedObject {
  const at = iso(now - 2 * 3_600_000);
  const body = chargeEvent(DEAD_EVENT_ID, "ch_ops_seed_1", 2599, Math.floor((now - 2 * 3_600_000) / 1000));
  const envelope = {
    v: 1,
    source: "stripe",
    topic: "charge.succeeded",
    eventId: DEAD_EVENT_ID,
    shop: null,
    receivedAt: at,
    eventAt: at,
    apiVersion: "2026-01-28",
    origin: "webhook",
    body,
  };
  return {
    key: `dead-letter/stripe/dt=${at.slice(0, 10)}/${DEAD_EVENT_ID}.json`,
    body: JSON.stringify({ died_at: at, attempts: 9, last_error: "seeded failure", envelope }),
    customMetadata: { source: "stripe", topic: "charge.succeeded", event_id: DEAD_EVENT_ID },
  };
}

/**
 * Two quarantine objects in the consumer's shape: QUARANTINED_FIXED_ID (charge ch_ops_seed_q1,
 * 1999 USD) was refused by an earlier mapper and is valid now; QUARANTINED_INVALID_ID has a text
 * amount, which the current mapper refuses too.
 */
export function seedQuarantined(now: number): Array<SeedObject & { eventId: string }> {
  const at = iso(now - 3 * 3_600_000);
  const created = Math.floor((now - 3 * 3_600_000) / 1000);
  const entries = [
    { eventId: QUARANTINED_FIXED_ID, amount: 1999 as unknown, detail: "amount: refused by the mapper before its fix" },
    { eventId: QUARANTINED_INVALID_ID, amount: "nineteen" as unknown, detail: "data.object.amount: expected number" },
  ];
  return entries.map(({ eventId, amount, detail }, i) => {
    const payload = chargeEvent(eventId, `ch_ops_seed_q${i + 1}`, amount, created);
    return {
      eventId,
      key: `quarantine/stripe/dt=${at.slice(0, 10)}/${eventId}.json`,
      body: JSON.stringify({
        event_id: eventId,
        source: "stripe",
        topic: "charge.succeeded",
        shop: null,
        received_at: at,
        event_at: at,
        api_version: "2026-01-28.clover",
        origin: "webhook",
        reason: "invalid_payload",
        detail,
        payload_text: payload,
      }),
      customMetadata: { source: "stripe", topic: "charge.succeeded", event_id: eventId, reason: "invalid_payload" },
    };
  });
}
