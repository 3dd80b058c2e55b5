/**
 * The brand's Shopify, faked with test/fakes/shopify-admin.ts (bulk operations, cost-based
 * throttling at the standard plan's 2,000-point bucket and 100 points/s), holding the orders D1
 * was seeded with (./world.ts numbering and times). The fake keeps its records in memory and
 * builds a bulk result as one string, which cannot hold a million orders (about 4 KB of JSONL
 * each), so here it holds only the orders changed upstream (all a reconciliation window lists),
 * and a bulk result is generated as it is downloaded: 1,000 orders at a time, by the fake's own
 * GraphQL executor, gzipped on the way (./bulk-stream.ts). Fetches reach it through a spy on
 * global fetch, as in the coordinator tests; the spy replaces the limits layer's counting fetch,
 * so it counts each call as a subrequest of the current invocation itself, and throws past the
 * limit the way the layer does.
 */
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { currentInvocation, LIMITS, LimitExceededError } from "../../test/fakes/limits";
import { FakeShopifyAdmin, fetchThroughFakes } from "../../test/fakes/shopify-admin";
import { type FakeNode, makeShopData } from "../../test/fakes/shopify-data";
import { type BulkStream, streamBulkResults } from "./bulk-stream";
import { COUNTS, customerId, FIRST_SHOPIFY_ID, LINES_PER_ORDER, orderId, orderMs, SHOP, shopifyIso } from "./world";

/** What changed in Shopify for an order (its index): merged over the generated order. */
const upstream = new Map<number, Record<string, unknown>>();

/** Orders [from, to) as the fake serves them: the fake's own shape, with the brand's ids and times. */
export function orderNodes(from: number, to: number): FakeNode[] {
  const data = makeShopData(SHOP, {
    orders: to - from,
    lineItemsPerOrder: LINES_PER_ORDER,
    customers: 0,
    products: 0,
    firstId: FIRST_SHOPIFY_ID + BigInt(COUNTS.shopifyCustomers) + BigInt(from * (LINES_PER_ORDER + 1)),
    seed: from + 1,
  });
  return data.orders.map((o, k) => {
    const i = from + k;
    const at = shopifyIso(orderMs(i));
    const customer = {
      id: `gid://shopify/Customer/${customerId(i % COUNTS.shopifyCustomers)}`,
      numberOfOrders: "3",
      amountSpent: { amount: "120.00", currencyCode: "USD" },
    };
    const own = { name: `#${1001 + i}`, email: `buyer${i}@example.com`, createdAt: at, updatedAt: at, processedAt: at };
    Object.assign(o, own, { customer }, upstream.get(i));
    if (o.id !== `gid://shopify/Order/${orderId(i)}`) throw new Error(`fake order ids drifted: ${o.id} for ${i}`);
    return o;
  });
}

let fake: FakeShopifyAdmin | null = null;
let results: BulkStream | null = null;

/** The fake shop (created once), its token in SHOPIFY_ACCESS_TOKENS as the coordinator reads it. */
export function brandShop(): FakeShopifyAdmin {
  if (fake !== null) return fake;
  const shop = makeShopData(SHOP, {}).shop;
  fake = new FakeShopifyAdmin(SHOP, { shop, orders: [], customers: [], products: [] });
  results = streamBulkResults(fake, COUNTS.orders, orderNodes);
  const settings = env as unknown as Record<string, string>;
  settings.SHOPIFY_ACCESS_TOKENS = JSON.stringify({ [SHOP]: fake.token });
  settings.BULK_POLL_SECONDS = "0.2";
  return fake;
}

/** Order `i` changed in Shopify: the fake lists and exports it with `patch` applied. */
export function changeUpstream(i: number, patch: Record<string, unknown>): void {
  upstream.set(i, patch);
  const shop = brandShop();
  shop.data.orders.push(...orderNodes(i, i + 1));
}

function countSubrequest(url: string): void {
  const inv = currentInvocation();
  if (inv === undefined) return;
  inv.subrequests++;
  if (inv.subrequests > LIMITS.subrequests) {
    inv.exceeded ??= "subrequests";
    throw new LimitExceededError("subrequests", `${inv.subrequests} in one ${inv.kind}: fetch ${url}`);
  }
}

/** Routes fetch to the fake shop (counting each call) until the returned function is called. */
export function routeToFakeShop(): () => void {
  const shop = brandShop();
  const stream = results as BulkStream;
  const real = globalThis.fetch;
  const toFake = fetchThroughFakes(() => [shop], real);
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (stream.serves(url)) {
      countSubrequest(url.href);
      const range = new Headers(input instanceof Request ? input.headers : init?.headers).get("range");
      return stream.handle(url, range);
    }
    // The layer's fetch (`real`) counts what is not the fake's.
    if (shop.serves(url)) countSubrequest(url.href);
    return toFake(input, init);
  });
  return () => spy.mockRestore();
}
