/**
 * Seeded, GraphQL-shaped shop data for the fake Admin API: orders with line items,
 * fulfillments and refunds (lists on Order, as in Shopify's schema; their own line items and
 * transactions are kept too, though a bulk query cannot select them), customers, products with variants, named and nested the way the 2026-01 Admin
 * GraphQL schema returns them (gid ids, camelCase, MoneyBag `…Set { shopMoney }`).
 * Deterministic for a seed, so a test can predict exact row counts.
 */

export interface Money {
  amount: string;
  currencyCode: string;
}
export interface MoneyBag {
  shopMoney: Money;
  presentmentMoney: Money;
}

export type FakeNode = Record<string, unknown> & { id: string; updatedAt: string };

export interface ShopDataOptions {
  seed?: number;
  orders?: number;
  lineItemsPerOrder?: number;
  customers?: number;
  products?: number;
  variantsPerProduct?: number;
  currency?: string;
  /** The first numeric id; ids above 2^53 check that nothing passes through a double. */
  firstId?: bigint;
  /** updated_at of the first entity; each next one is a minute later. */
  since?: string;
}

export interface ShopData {
  shop: { name: string; currencyCode: string; myshopifyDomain: string };
  orders: FakeNode[];
  customers: FakeNode[];
  products: FakeNode[];
  /** Inventory items, each with `inventoryLevels` (one per location that stocks it): `makeInventoryData`. */
  inventoryItems?: FakeNode[];
  locations?: FakeNode[];
}

/** mulberry32: a tiny seeded PRNG, so fake data and line order are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ADDRESS = {
  city: "Ottawa",
  province: "Ontario",
  provinceCode: "ON",
  zip: "K2P 1L4",
  country: "Canada",
  countryCodeV2: "CA",
};

function money(amount: string, currencyCode: string): MoneyBag {
  return { shopMoney: { amount, currencyCode }, presentmentMoney: { amount, currencyCode } };
}

function price(rand: () => number, currency: string): string {
  const cents = 100 + Math.floor(rand() * 20000);
  if (currency === "JPY") return String(cents);
  return (cents / 100).toFixed(2);
}

export function makeShopData(domain: string, o: ShopDataOptions = {}): ShopData {
  const rand = prng(o.seed ?? 1);
  const currency = o.currency ?? "USD";
  let next = o.firstId ?? 9007199254740993n;
  const id = (type: string) => `gid://shopify/${type}/${(next++).toString()}`;
  const base = Date.parse(o.since ?? "2026-01-01T00:00:00Z");
  const at = (i: number) => new Date(base + i * 60_000).toISOString().replace(".000Z", "Z");

  const customers: FakeNode[] = [];
  for (let i = 0; i < (o.customers ?? 0); i++) {
    customers.push({
      id: id("Customer"),
      firstName: `First${i}`,
      lastName: `Last${i}`,
      defaultEmailAddress: {
        emailAddress: ` Customer${i}@Example.COM `,
        marketingState: i % 2 === 0 ? "SUBSCRIBED" : "NOT_SUBSCRIBED",
        marketingOptInLevel: i % 2 === 0 ? "SINGLE_OPT_IN" : null,
        marketingUpdatedAt: i % 2 === 0 ? at(i) : null,
      },
      defaultPhoneNumber:
        i % 3 === 0 ? { phoneNumber: `+1555000${String(i).padStart(4, "0")}`, marketingState: "NOT_SUBSCRIBED" } : null,
      defaultAddress: {
        city: "Montréal",
        province: "Quebec",
        provinceCode: "QC",
        zip: "H2X 1Y4",
        country: "Canada",
        countryCodeV2: "CA",
      },
      taxExempt: false,
      state: "ENABLED",
      tags: i % 4 === 0 ? ["vip", "wholesale"] : [],
      note: null,
      verifiedEmail: true,
      numberOfOrders: String(i % 7),
      amountSpent: { amount: price(rand, currency), currencyCode: currency },
      createdAt: at(i),
      updatedAt: at(i),
    });
  }

  const products: FakeNode[] = [];
  for (let i = 0; i < (o.products ?? 0); i++) {
    const variants = Array.from({ length: o.variantsPerProduct ?? 2 }, (_, v) => ({
      id: id("ProductVariant"),
      title: `Size ${v + 1}`,
      sku: `SKU-${i}-${v}`,
      price: price(rand, currency),
      compareAtPrice: null,
      barcode: null,
      position: v + 1,
      inventoryQuantity: Math.floor(rand() * 50),
      inventoryItem: { id: `gid://shopify/InventoryItem/${3000 + v}` },
      createdAt: at(i),
      updatedAt: at(i),
    }));
    products.push({
      id: id("Product"),
      title: `Product ${i}`,
      handle: `product-${i}`,
      vendor: "Fake Vendor",
      productType: "Shirts",
      status: "ACTIVE",
      tags: ["cotton"],
      createdAt: at(i),
      updatedAt: at(i),
      publishedAt: at(i),
      variants,
    });
  }

  // Fulfillments and refunds draw ids from their own range and no random numbers, so adding them
  // left every other generated value as it was.
  let nextSub = (o.firstId ?? 9007199254740993n) + 50_000_000n;
  const subId = (type: string) => `gid://shopify/${type}/${(nextSub++).toString()}`;
  const later = (i: number, minutes: number) =>
    new Date(base + i * 60_000 + minutes * 60_000).toISOString().replace(".000Z", "Z");
  const zero = currency === "JPY" ? "0" : "0.00";
  const orders: FakeNode[] = [];
  for (let i = 0; i < (o.orders ?? 0); i++) {
    const lineItems = Array.from({ length: o.lineItemsPerOrder ?? 3 }, (_, l) => {
      const unit = price(rand, currency);
      return {
        id: id("LineItem"),
        name: `Item ${l}`,
        title: `Item ${l}`,
        sku: l === 0 && i % 5 === 0 ? "SUB-BOX-1" : `SKU-${l}`,
        variantTitle: `Size ${l + 1}`,
        vendor: "Fake Vendor",
        quantity: 1 + (l % 3),
        isGiftCard: false,
        product: { id: `gid://shopify/Product/${1000 + l}` },
        variant: { id: `gid://shopify/ProductVariant/${2000 + l}` },
        originalUnitPriceSet: money(unit, currency),
        totalDiscountSet: money(currency === "JPY" ? "0" : "0.00", currency),
      };
    });
    const customer = customers[i % Math.max(1, customers.length)];
    // Order i has i % 3 fulfillments (each ships one line item) and 0, 1 or 2 refunds.
    const fulfillments = lineItems.slice(0, i % 3).map((line, f) => ({
      id: subId("Fulfillment"),
      name: `#${1001 + i}.${f + 1}`,
      status: f === 1 && i % 2 === 0 ? "CANCELLED" : "SUCCESS",
      displayStatus: f === 0 ? (i % 2 === 0 ? "IN_TRANSIT" : "DELIVERED") : "FULFILLED",
      totalQuantity: line.quantity,
      createdAt: later(i, 60 + f),
      updatedAt: later(i, 120 + f),
      location: { id: `gid://shopify/Location/${7000 + (i % 2)}` },
      service: { handle: "manual" },
      trackingInfo:
        f === 0
          ? [
              { company: "UPS", number: `1Z${1000 + i}`, url: `https://ups.example/track/1Z${1000 + i}` },
              { company: "UPS", number: `1Z${2000 + i}`, url: null },
            ]
          : [],
      // Not selectable in a bulk query (a connection inside a list); the webhook payload has them.
      fulfillmentLineItems: [{ lineItem: { id: line.id }, quantity: line.quantity }],
    }));
    const refunds = Array.from({ length: i % 4 === 3 ? 2 : i % 4 === 1 ? 1 : 0 }, (_, r) => {
      const line = lineItems[r % lineItems.length];
      const amount = line?.originalUnitPriceSet.shopMoney.amount ?? zero;
      return {
        id: subId("Refund"),
        note: r === 0 ? `Damaged in transit, call ${i}` : null,
        createdAt: later(i, 24 * 60 + r),
        updatedAt: later(i, 24 * 60 + r),
        totalRefundedSet: money(amount, currency),
        refundLineItems: line
          ? [
              {
                id: subId("RefundLineItem"),
                lineItem: { id: line.id },
                quantity: 1,
                restockType: "RETURN",
                location: { id: "gid://shopify/Location/7000" },
                subtotalSet: money(amount, currency),
                totalTaxSet: money(zero, currency),
              },
            ]
          : [],
        transactions: [{ kind: "REFUND", status: "SUCCESS", amountSet: money(amount, currency) }],
      };
    });
    orders.push({
      id: id("Order"),
      name: `#${1001 + i}`,
      confirmationNumber: `CONF${i}`,
      email: `Buyer${i}@Example.com`,
      phone: null,
      customerAcceptsMarketing: i % 2 === 0,
      presentmentCurrencyCode: currency,
      createdAt: at(i),
      updatedAt: at(i),
      processedAt: at(i),
      closedAt: null,
      cancelledAt: null,
      cancelReason: null,
      displayFinancialStatus: "PAID",
      displayFulfillmentStatus: "UNFULFILLED",
      test: false,
      confirmed: true,
      currencyCode: currency,
      totalPriceSet: money(price(rand, currency), currency),
      subtotalPriceSet: money(price(rand, currency), currency),
      totalDiscountsSet: money(currency === "JPY" ? "0" : "0.00", currency),
      totalTaxSet: money(currency === "JPY" ? "0" : "1.50", currency),
      totalShippingPriceSet: money(currency === "JPY" ? "500" : "5.00", currency),
      currentTotalPriceSet: money(price(rand, currency), currency),
      discountCodes: i % 3 === 0 ? ["WELCOME10"] : [],
      tags: i % 5 === 0 ? ["subscription"] : [],
      note: null,
      paymentGatewayNames: ["shopify_payments"],
      sourceName: "web",
      customerJourneySummary: {
        firstVisit: {
          landingPage: `https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=c${i % 3}`,
          referrerUrl: "https://www.google.com/",
        },
      },
      shippingAddress: ADDRESS,
      billingAddress: ADDRESS,
      customer: customer
        ? { id: customer.id, numberOfOrders: customer.numberOfOrders, amountSpent: customer.amountSpent }
        : null,
      lineItems,
      fulfillments,
      refunds,
    });
  }

  return { shop: { name: domain, currencyCode: currency, myshopifyDomain: domain }, orders, customers, products };
}

export interface InventoryDataOptions {
  items: number;
  locations: number;
  /** The first numeric id; ids above 2^53 check that nothing passes through a double. */
  firstId?: bigint;
  /** updated_at of the first item; each next one is a minute later. */
  since?: string;
  currency?: string;
  /** Each item's variant (the item of variant i is item i), when given. */
  variantIds?: readonly string[];
}

/** An inventory level as the Admin API reads it: `quantities(names:)` answers the names asked, in order. */
export function fakeLevel(
  itemId: string,
  locationId: string,
  number: bigint,
  quantities: Record<string, number>,
  updatedAt: string,
): FakeNode {
  return {
    id: `gid://shopify/InventoryLevel/${number.toString()}?inventory_item_id=${itemId.split("/").pop()}`,
    location: { id: locationId },
    updatedAt,
    // Kept for assertions; the API reads them through `quantities`.
    quantityByName: quantities,
    quantities: (args: Record<string, unknown>) => {
      const names = Array.isArray(args.names) ? args.names : [];
      return names
        .filter((n) => typeof n === "string" && n in quantities)
        .map((n) => ({ name: n, quantity: quantities[n as string] }));
    },
  };
}

/**
 * Locations (the last one a deactivated fulfillment-service location) and inventory items with a
 * level at every location. Deterministic, without random numbers, so a test can write out every row.
 */
export function makeInventoryData(o: InventoryDataOptions): { inventoryItems: FakeNode[]; locations: FakeNode[] } {
  let next = o.firstId ?? 9007199254800001n;
  const id = (type: string) => `gid://shopify/${type}/${(next++).toString()}`;
  const base = Date.parse(o.since ?? "2026-01-01T00:00:00Z");
  const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString().replace(".000Z", "Z");
  const currency = o.currency ?? "USD";
  const locations: FakeNode[] = Array.from({ length: o.locations }, (_, l) => {
    const last = l === o.locations - 1 && o.locations > 1;
    return {
      id: id("Location"),
      name: `Warehouse ${l + 1}`,
      isActive: !last,
      isFulfillmentService: last,
      address: { provinceCode: l % 2 === 0 ? "ON" : null, countryCode: "CA", address1: `${l + 1} Main St` },
      createdAt: at(-1000 + l),
      updatedAt: at(-500 + l),
    };
  });
  const inventoryItems: FakeNode[] = [];
  for (let i = 0; i < o.items; i++) {
    const itemId = id("InventoryItem");
    const levels = locations.map((loc, l) =>
      fakeLevel(
        itemId,
        loc.id,
        next++,
        { available: 10 * i + l - 1, on_hand: 10 * i + l + 2, committed: 3 },
        at(i + 1),
      ),
    );
    const variant = o.variantIds?.[i];
    inventoryItems.push({
      id: itemId,
      sku: i % 3 === 2 ? null : `INV-${i}`,
      tracked: i % 4 !== 3,
      requiresShipping: true,
      unitCost:
        i % 5 === 4 ? null : { amount: currency === "JPY" ? String(100 + i) : `${3 + i}.25`, currencyCode: currency },
      countryCodeOfOrigin: i % 2 === 0 ? "CA" : null,
      harmonizedSystemCode: i % 2 === 0 ? "610910" : null,
      createdAt: at(i - 100),
      updatedAt: at(i),
      variant: variant ? { id: variant } : null,
      inventoryLevels: levels,
    });
  }
  return { inventoryItems, locations };
}
