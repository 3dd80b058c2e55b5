import { env } from "cloudflare:workers";
import { DrizzleQueryError } from "drizzle-orm/errors";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { parseRaw, stringifyRaw } from "../src/cron/raw-json";
import { reconcileEventId } from "../src/cron/reconcile/emit";
import { orderNode, productNode } from "../src/cron/reconcile/shopify-queries";
import { orderBody, productBody } from "../src/cron/reconcile/shopify-rest";
import { drift } from "../src/cron/reconcile/stored-versions";
import { ascendingWindow, errorText } from "../src/cron/reconcile/types";
import { mapShopifyEvent } from "../src/mapping/shopify";
import { alerts, dqResults, dqRuns, jobLeases, ledgerHourCounts, reconcileRuns } from "../src/shared/schema/cron";
import { cronSettings } from "../src/shared/settings";
import { makeShopData } from "./fakes/shopify-data";
import { expectMatchesMigration } from "./helpers/schema-match";

describe("raw JSON", () => {
  it("re-emits number tokens exactly, whatever their size", () => {
    const text = '{"id":820982911946154508,"price":"19.99","n":1.50,"big":1e400,"list":[1,{"x":null}],"ok":true}';
    expect(stringifyRaw(parseRaw(text))).toBe(text);
  });
});

describe("reconcile event ids", () => {
  it("are derived from resource, id and version, and refuse characters an R2 key cannot take", () => {
    expect(reconcileEventId("orders", "820982911946154508", "2032-01-01T00:00:00.000Z")).toBe(
      "reconcile:orders:820982911946154508:2032-01-01T00:00:00.000Z",
    );
    expect(reconcileEventId("orders", "a/b", "2032-01-01T00:00:00.000Z")).toBeNull();
  });
});

describe("drift", () => {
  it("is missing without a row, stale when the stored version is older, in sync otherwise", () => {
    expect(drift(undefined, "2032-01-01T00:00:00.000Z")).toBe("missing");
    expect(drift("2031-12-31T23:59:59.000Z", "2032-01-01T00:00:00.000Z")).toBe("stale");
    expect(drift("2032-01-01T00:00:00.000Z", "2032-01-01T00:00:00.000Z")).toBe("in_sync");
    expect(drift("2032-01-01T00:00:01.000Z", "2032-01-01T00:00:00.000Z")).toBe("in_sync");
  });
});

describe("windows", () => {
  const now = new Date("2032-01-01T12:00:00.000Z");
  it("start a lookback before the cursor and end a settle delay before now", () => {
    expect(ascendingWindow("2032-01-01T11:45:00.000Z", null, now, 3600_000)).toEqual({
      from: "2032-01-01T10:45:00.000Z",
      to: "2032-01-01T11:58:00.000Z",
    });
  });
  it("resume a page-limited window where it stopped", () => {
    const partial = { windowTo: "2032-01-01T11:00:00.000Z", resumeFrom: "2032-01-01T10:30:00.000Z" };
    expect(ascendingWindow("2032-01-01T09:00:00.000Z", partial, now, 3600_000)).toEqual({
      from: partial.resumeFrom,
      to: partial.windowTo,
    });
  });
});

describe("settings", () => {
  it("reads thresholds from vars and falls back on malformed values", () => {
    const s = cronSettings({
      ...env,
      RECONCILE_LOOKBACK_MINUTES: "30",
      ALERT_STRIPE_FAILED_CHARGE_MINOR: "lots",
      FRESHNESS_LIMIT_MINUTES: "stripe=60, paypal=5, recharge=oops",
    });
    expect(s.lookbackMs).toBe(30 * 60_000);
    expect(s.stripeFailedChargeMinor).toBe(10_000);
    expect(s.freshnessLimitMs).toEqual({ shopify: 120 * 60_000, stripe: 60 * 60_000, recharge: 1440 * 60_000 });
  });
});

describe("GraphQL records as REST webhook bodies", () => {
  const data = makeShopData("unit.myshopify.com", {
    orders: 1,
    products: 1,
    lineItemsPerOrder: 2,
    variantsPerProduct: 2,
  });
  const meta = {
    shop: "unit.myshopify.com",
    eventId: "e1",
    eventAt: "2026-01-01T00:00:00.000Z",
    origin: "reconcile" as const,
  };
  const ctx = { subscriptions: { tags: [], skus: [] }, shopCurrency: "USD" };

  it("an order maps through the Shopify mapper with exact ids and money", () => {
    const raw = data.orders[0] as Record<string, unknown>;
    const node = orderNode.parse({
      ...raw,
      lineItems: { nodes: raw.lineItems, pageInfo: { hasNextPage: false, endCursor: null } },
    });
    const body = orderBody(node, node.lineItems.nodes);
    expect(body).toMatch(/^\{"id":9007199254740\d{3},/);
    const mapped = mapShopifyEvent("order", body, meta, ctx);
    if (!mapped.ok || mapped.rows.kind !== "order") throw new Error(mapped.ok ? "not an order" : mapped.detail);
    expect(mapped.rows.order.id).toBe(node.id.split("/").pop());
    expect(mapped.rows.order.financialStatus).toBe("paid");
    expect(mapped.rows.order.fulfillmentStatus).toBeNull();
    expect(mapped.rows.order.totalShippingMinor).toBe(500);
    expect(mapped.rows.order.utmSource).toBe("news");
    expect(mapped.rows.lineItems.map((l) => l.id)).toEqual(node.lineItems.nodes.map((l) => l.id.split("/").pop()));
  });

  it("a product maps with all its variants", () => {
    const raw = data.products[0] as Record<string, unknown>;
    const node = productNode.parse({
      ...raw,
      variants: { nodes: raw.variants, pageInfo: { hasNextPage: false, endCursor: null } },
    });
    const mapped = mapShopifyEvent("product", productBody(node, node.variants.nodes), meta, ctx);
    if (!mapped.ok || mapped.rows.kind !== "product") throw new Error("not a product");
    expect(mapped.rows.product.status).toBe("active");
    expect(mapped.rows.variants).toHaveLength(2);
  });
});

describe("drizzle schema of the operations tables", () => {
  it("matches migrations/0005_operations.sql column for column, and its indexes", async () => {
    for (const table of [jobLeases, reconcileRuns, dqRuns, dqResults, ledgerHourCounts, alerts] as SQLiteTable[])
      await expectMatchesMigration(table);
  });
});

describe("reconcile scope errors", () => {
  it("keep the D1 error and leave out the bound values of the failed query", () => {
    const err = new DrizzleQueryError(
      "select id, updated_at from shopify_customers where shop = ?1 and id in (?2)",
      ["private-shop.myshopify.com", "820982911946154508"],
      new Error("D1_ERROR: no such table"),
    );
    const text = errorText(err);
    expect(text).toContain("D1_ERROR: no such table");
    expect(text).not.toContain("private-shop");
    expect(text).not.toContain("params");
  });
});
