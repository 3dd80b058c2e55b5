/** `POST /webhooks/shopify`: verify the HMAC, then read identity and timing from the `X-Shopify-*` headers. */
import { requireSecrets } from "../shared/config";
import { EVENT_ID_PATTERN } from "../shared/envelope";
import { AppError } from "../shared/errors";
import { toUtcIso } from "../shared/time";
import { API_VERSION_HEADER, optionalHeader, requiredHeader, SHOP_DOMAIN_HEADER, TOPIC_HEADER } from "./headers";
import type { IntakeFn } from "./intake";
import { signatureRefused } from "./refusal";
import { verifyShopify } from "./verify-shopify";

const EVENT_ID_HEADER = { pattern: EVENT_ID_PATTERN, expect: "an id of letters, digits and ._:- (at most 128)" };

export const shopifyIntake: IntakeFn = async ({ env, headers, body }) => {
  const verdict = await verifyShopify(
    body,
    headers.get("x-shopify-hmac-sha256"),
    requireSecrets(env, "SHOPIFY_WEBHOOK_SECRET"),
  );
  if (!verdict.ok) throw signatureRefused("shopify", verdict);

  const topic = requiredHeader(headers, "X-Shopify-Topic", TOPIC_HEADER);
  const shop = requiredHeader(headers, "X-Shopify-Shop-Domain", SHOP_DOMAIN_HEADER).toLowerCase();
  const eventId =
    optionalHeader(headers, "X-Shopify-Event-Id", EVENT_ID_HEADER) ??
    optionalHeader(headers, "X-Shopify-Webhook-Id", EVENT_ID_HEADER);
  if (!eventId) {
    throw new AppError(
      400,
      "missing_header",
      "Required header X-Shopify-Event-Id (or X-Shopify-Webhook-Id) is missing.",
    );
  }
  const triggeredAt = headers.get("x-shopify-triggered-at");
  return {
    source: "shopify",
    topic,
    eventId,
    shop,
    eventAt: triggeredAt && triggeredAt.length <= 64 ? toUtcIso(triggeredAt) : null,
    apiVersion: optionalHeader(headers, "X-Shopify-API-Version", API_VERSION_HEADER),
  };
};
