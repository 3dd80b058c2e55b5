/**
 * `customers/data_request`: everything stored about the person, as one JSON document at
 * `exports/{shop}/{requestId}.json` — their rows in every table (all sources, linked through
 * the identity graph), their identity profile, and the keys of the raw objects that name them —
 * and an alert telling the operator to send it to the merchant. The export is the one place PII
 * is copied on purpose; `exports/` is outside the erasure guarantee and is meant to be deleted
 * once sent (docs/privacy.md).
 */
import { PII_TABLES } from "../../mapping/pii";
import { raiseAlert } from "../../shared/alerts";
import { cronSettings } from "../../shared/settings";
import { indexedKeys } from "../../tables/subject-index";
import { whereFor } from "./erase-rows";
import type { Target } from "./target";

const MAX_ROWS_PER_TABLE = 10_000;
const MAX_KEYS = 50_000;

export function exportKey(shop: string, requestId: string): string {
  return `exports/${shop}/${requestId}.json`;
}

export async function writeExport(
  env: Env,
  db: D1Database,
  requestId: string,
  shop: string,
  t: Target,
  now: string,
): Promise<string> {
  const tables: Record<string, unknown[]> = {};
  for (const spec of PII_TABLES) {
    const where = whereFor(spec, t);
    if (where === null) continue;
    const r = await db
      .prepare(`SELECT * FROM ${spec.table} WHERE ${where.sql} LIMIT ${MAX_ROWS_PER_TABLE}`)
      .bind(...where.params)
      .all();
    if (r.results.length > 0) tables[spec.table] = r.results;
  }
  const profiles: unknown[] = [];
  for (const p of t.profiles) {
    const profile = await db.prepare("SELECT * FROM customer_profiles WHERE id = ?1").bind(p).first();
    const emails = await db.prepare("SELECT * FROM customer_profile_emails WHERE profile_id = ?1").bind(p).all();
    const identities = await db.prepare("SELECT * FROM customer_identities WHERE profile_id = ?1").bind(p).all();
    profiles.push({ profile, emails: emails.results, identities: identities.results });
  }
  const keys = await indexedKeys(env, t.subjects, null, MAX_KEYS);
  const key = exportKey(shop, requestId);
  await env.LAKE.put(
    key,
    JSON.stringify({
      request_id: requestId,
      shop,
      generated_at: now,
      tables,
      profiles,
      raw_objects: keys,
    }),
    {
      httpMetadata: { contentType: "application/json" },
      customMetadata: { request_id: requestId, kind: "data_request" },
    },
  );
  await db.batch(
    raiseAlert(
      db,
      {
        rule: "privacy_data_request",
        key: `privacy_data_request:${requestId}`,
        severity: "warning",
        title: `Data request from ${shop}: send the export to the merchant within 30 days`,
        fields: [
          { name: "request", value: requestId },
          { name: "export", value: key },
        ],
        source: "shopify",
        eventId: null,
      },
      now,
      cronSettings(env).alertDedupMs,
    ),
  );
  return key;
}
