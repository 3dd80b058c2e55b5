/**
 * `bulk_operations/finish` webhooks: the event itself is archived like any other; its
 * meaning — "operation X is done" — is handed to the shop's coordinator, which polls
 * the operation right away instead of at its next interval. The coordinator owns the
 * operation, so this consumer writes no rows. If the coordinator cannot be reached the
 * message is retried (the coordinator's own polling would catch up regardless).
 */
import { z } from "zod";
import type { ApplyPlan, ArchivedEvent, Planner } from "../tables/plan";

export const BULK_FINISH_TOPIC = "bulk_operations/finish";

const finishSchema = z.object({
  admin_graphql_api_id: z.string().regex(/^gid:\/\/shopify\/BulkOperation\/\d+$/),
  status: z.string().min(1),
  error_code: z.string().nullish(),
  type: z.string().nullish(),
});

export function isBulkFinish(event: ArchivedEvent): boolean {
  return event.envelope.source === "shopify" && event.envelope.topic === BULK_FINISH_TOPIC;
}

export const planBulkFinish: Planner = async (env, event): Promise<ApplyPlan> => {
  const shop = event.envelope.shop;
  if (shop === null)
    return { kind: "quarantine", reason: "invalid_payload", detail: "bulk_operations/finish without a shop" };
  let body: unknown;
  try {
    body = JSON.parse(event.payload);
  } catch {
    return { kind: "quarantine", reason: "invalid_json", detail: "bulk_operations/finish body is not JSON" };
  }
  const parsed = finishSchema.safeParse(body);
  if (!parsed.success) {
    return {
      kind: "quarantine",
      reason: "invalid_payload",
      detail: `bulk_operations/finish: ${parsed.error.message}`.slice(0, 500),
    };
  }
  const { admin_graphql_api_id: id, status } = parsed.data;
  const answer = await env.SHOP.getByName(shop).bulkOperationFinished({ adminGraphqlApiId: id, status });
  return {
    kind: "archive-only",
    note: answer.known
      ? `bulk operation ${id} ${status}: coordinator notified (${answer.jobId})`
      : `bulk operation ${id} ${status}: not started by this pipeline`,
  };
};
