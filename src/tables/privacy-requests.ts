/**
 * Recording privacy requests: Shopify's compliance webhooks (`customers/redact`, `shop/redact`,
 * `customers/data_request`) and `POST /admin/privacy/erase`. Recording is all the consumer and the
 * HTTP surface do; the `privacy` job carries a request out in bounded, resumable chunks. The
 * tombstone (`privacy_requests`) keeps no plaintext PII; what the job needs to find the person
 * (e-mail, customer ids) waits in `privacy_work` and is deleted when the request completes.
 */
import { z } from "zod";
import { describeIssues, normalizeEmail } from "../mapping/common";
import { parseLossless } from "../shared/json";
import { sharedDatabase } from "./database";
import type { Planner } from "./plan";
import { emailHash } from "./subjects";

export type PrivacyKind = "customer_redact" | "shop_redact" | "erase" | "data_request";

/** What the job needs to find the person; plaintext, so it lives only until the request completes. */
export interface PrivacySubject {
  /** Shopify domain the request is limited to (compliance webhooks); null: every shop and source. */
  shop: string | null;
  email: string | null;
  shopifyCustomerId: string | null;
  /** Orders Shopify named in the request (`orders_to_redact`, `orders_requested`). */
  orders: string[];
}

const COMPLIANCE_KIND: Record<string, PrivacyKind> = {
  "customers/redact": "customer_redact",
  "shop/redact": "shop_redact",
  "customers/data_request": "data_request",
};

const id = z.string().regex(/^\d{1,20}$/);
const shopDomain = z
  .string()
  .max(255)
  .regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/);
const customerSchema = z.object({
  id,
  email: z.string().max(320).nullable().optional(),
  phone: z.string().max(64).nullable().optional(),
});
const schemas = {
  customer_redact: z.object({
    shop_domain: shopDomain,
    customer: customerSchema,
    orders_to_redact: z.array(id).max(10_000).optional(),
  }),
  data_request: z.object({
    shop_domain: shopDomain,
    customer: customerSchema,
    orders_requested: z.array(id).max(10_000).optional(),
  }),
  shop_redact: z.object({ shop_domain: shopDomain }),
};

export function complianceKind(topic: string): PrivacyKind | null {
  return COMPLIANCE_KIND[topic] ?? null;
}

/** The request id of a compliance webhook: one per event, so a redelivery records nothing new. */
export function complianceRequestId(eventId: string): string {
  return `pr-${eventId}`;
}

/** The keyed hash a tombstone keeps of its subject: of the e-mail, else of the customer or the shop. */
export async function subjectHash(env: Pick<Env, "PRIVACY_HASH_KEY">, s: PrivacySubject): Promise<string | null> {
  if (s.email !== null) return emailHash(env, s.email);
  if (s.shopifyCustomerId !== null) return emailHash(env, `shopify-customer:${s.shop ?? ""}:${s.shopifyCustomerId}`);
  return null;
}

export async function requestStatements(
  db: D1Database,
  env: Pick<Env, "PRIVACY_HASH_KEY">,
  r: { requestId: string; kind: PrivacyKind; subject: PrivacySubject; sourceEventId: string | null; now: string },
): Promise<D1PreparedStatement[]> {
  const hash = await subjectHash(env, r.subject);
  return [
    // A redelivery rewrites nothing (the no-op update keeps the statement's change count at 1).
    db
      .prepare(
        `INSERT INTO privacy_requests (request_id, kind, shop, subject_hash, source_event_id, status, stage, received_at, progressed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 'start', ?6, ?6)
         ON CONFLICT (request_id) DO UPDATE SET request_id = excluded.request_id`,
      )
      .bind(r.requestId, r.kind, r.subject.shop, hash, r.sourceEventId, r.now),
    db
      .prepare(
        `INSERT INTO privacy_work (request_id, subject) SELECT ?1, ?2
         WHERE NOT EXISTS (SELECT 1 FROM privacy_requests WHERE request_id = ?1 AND status = 'completed')
         ON CONFLICT (request_id) DO NOTHING`,
      )
      .bind(r.requestId, JSON.stringify(r.subject)),
  ];
}

/** The consumer's plan for a compliance webhook: validate it, record the request; a malformed one is quarantined. */
export const planCompliance: Planner = async (env, event) => {
  const e = event.envelope;
  const kind = complianceKind(e.topic);
  if (kind === null) return { kind: "archive-only", note: `no privacy request for ${e.topic}` };
  const parsed = schemas[kind === "erase" ? "shop_redact" : kind].safeParse(parseLossless(event.payload));
  if (!parsed.success) return { kind: "quarantine", reason: "invalid_payload", detail: describeIssues(parsed.error) };
  const doc = parsed.data as {
    shop_domain: string;
    customer?: z.infer<typeof customerSchema>;
    orders_to_redact?: string[];
    orders_requested?: string[];
  };
  if (e.shop !== null && e.shop !== doc.shop_domain) {
    return { kind: "quarantine", reason: "invalid_payload", detail: "shop_domain does not match the shop header" };
  }
  const subject: PrivacySubject = {
    shop: doc.shop_domain,
    email: normalizeEmail(doc.customer?.email),
    shopifyCustomerId: doc.customer?.id ?? null,
    orders: doc.orders_to_redact ?? doc.orders_requested ?? [],
  };
  const statements = await requestStatements(sharedDatabase(env), env, {
    requestId: complianceRequestId(e.eventId),
    kind,
    subject,
    sourceEventId: e.eventId,
    now: new Date().toISOString(),
  });
  return { kind: "apply", statements, note: `privacy request ${complianceRequestId(e.eventId)} recorded` };
};
