/**
 * What a backfill request may say, validated once with zod at the HTTP edge and again at
 * the coordinator's RPC boundary, and the answers the coordinator gives. Answers are a
 * tagged union rather than thrown errors: errors lose their type crossing an RPC call.
 */
import { z } from "zod";
import { distinctList, optionalUtcTime } from "../shared/params";
import { BULK_RESOURCES, type BulkOperationRow, type BulkResource, type BulkStatus } from "../shared/schema/operations";
import { SHOP_DOMAIN } from "./shop-access";

export const backfillRequestSchema = z
  .object({
    shop: z
      .string()
      .trim()
      .toLowerCase()
      .max(255)
      .regex(SHOP_DOMAIN, "shop must be a domain like example.myshopify.com"),
    resources: distinctList(z.enum(BULK_RESOURCES)),
    // Shopify's search syntax takes whole seconds.
    since: optionalUtcTime("since").transform((iso) => (iso === undefined ? undefined : `${iso.slice(0, 19)}Z`)),
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
