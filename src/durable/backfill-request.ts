/**
 * What a backfill request may say, validated once with zod at the HTTP edge and again at
 * the coordinator's RPC boundary, and the answers the coordinator gives. Answers are a
 * tagged union rather than thrown errors: errors lose their type crossing an RPC call.
 */
import { z } from "zod";
import { BULK_RESOURCES, type BulkOperationRow, type BulkResource, type BulkStatus } from "../shared/schema/operations";
import { toUtcIso } from "../shared/time";
import { SHOP_DOMAIN } from "./shop-access";

export const backfillRequestSchema = z
  .object({
    shop: z
      .string()
      .trim()
      .toLowerCase()
      .max(255)
      .regex(SHOP_DOMAIN, "shop must be a domain like example.myshopify.com"),
    resources: z
      .array(z.enum(BULK_RESOURCES))
      .min(1)
      .refine((r) => new Set(r).size === r.length, "resources must not repeat"),
    since: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (value === undefined) return undefined;
        const iso = toUtcIso(value);
        if (iso === null) {
          ctx.addIssue({
            code: "custom",
            message: "since must be an ISO-8601 time with a zone, e.g. 2026-01-01T00:00:00Z",
          });
          return z.NEVER;
        }
        // Shopify's search syntax takes whole seconds.
        return `${iso.slice(0, 19)}Z`;
      }),
  })
  .strict();

export type BackfillRequest = z.input<typeof backfillRequestSchema>;

export type StartBackfillResult =
  | {
      ok: true;
      backfillId: string;
      operations: Array<{ id: string; resource: BulkResource; status: BulkStatus }>;
    }
  | {
      ok: false;
      reason: "already_running";
      message: string;
      running: Array<{ resource: BulkResource; backfillId: string; operationId: string; status: BulkStatus }>;
    }
  | { ok: false; reason: "not_configured" | "invalid"; message: string };

export type BackfillOperation = BulkOperationRow;

export const BACKFILL_ID = /^bf_[0-9a-f-]{36}$/;
