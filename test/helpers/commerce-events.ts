/**
 * A seeded stream of realistic webhook deliveries across Shopify, Stripe and Recharge, with what
 * each should leave behind: orders with 1–50 line items, customers, products, refunds, charges,
 * invoices, subscriptions. Objects get several versions, some deliveries repeat, some arrive out
 * of order, a few are too large for a queue message and a few verify but are invalid. Shared by
 * the fault-injection and soak tests and by `npm run soak` (plain, import-free TypeScript, so
 * Node runs it directly).
 */

export type Source = "shopify" | "stripe" | "recharge";

export interface Delivery {
  source: Source;
  topic: string;
  body: string;
  /** Shopify: the X-Shopify-Event-Id header; Stripe: the event id in the body; Recharge: null (derived from the body). */
  eventId: string | null;
  shop: string | null;
  /** Shopify: X-Shopify-Triggered-At. */
  triggeredAt: string | null;
  /** The row this delivery versions, and its version: Shopify/Recharge `updated_at`, Stripe the event's `created`. */
  object: { table: string; shop: string | null; id: string; version: string } | null;
  /** applied: rows written; quarantined: verified but unusable. */
  expect: "applied" | "quarantined";
  /** Bigger than a queue message: ingress stores it first and queues the key (claim check). */
  large: boolean;
  /** A repeat of an earlier delivery (same id and body). */
  redelivery: boolean;
}

export interface StreamOptions {
  seed: number;
  count: number;
  /** Makes ids, emails and event ids unique to one run, so runs can share a database. */
  tag: string;
  shops: readonly string[];
  /** Share of deliveries repeated later (default 0.05), moved out of order (0.10), too large (0.01), invalid (0.01). */
  redeliveredShare?: number;
  outOfOrderShare?: number;
  largeShare?: number;
  invalidShare?: number;
  /** Sources to draw from (default all three). */
  sources?: readonly Source[];
  /** Upper bound of line items per order (default 50). */
  maxLineItems?: number;
}

/** A per-run 6-digit prefix of every numeric id: unique across runs, yet ids stay 18–19 digits long. */
export function runPrefix(tag: string): string {
  return String(([...tag].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7) % 900000) + 100000);
}

/** The tag as it appears in text ids (`ch_<tag>…`) and, lower-cased, in email domains. */
export const tagMark = (tag: string) => tag.replace(/[^A-Za-z0-9]/g, "");

/** mulberry32. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON in which `{ $num: "…" }` becomes a bare number written exactly as given (18-digit ids stay exact). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v && typeof v === "object" && "$num" in v ? `#num:${v.$num}` : v)).replace(
    /"#num:([-0-9.eE+]+)"/g,
    "$1",
  );
}
const n = (text: string | number) => ({ $num: String(text) });

const CURRENCIES = ["USD", "USD", "EUR", "GBP", "JPY", "KWD"] as const;
/** A shop sells in one currency; the shops of a run cover exponents 2, 0 and 3. */
const SHOP_CURRENCIES = ["USD", "JPY", "KWD", "EUR"] as const;
const DAY = 86_400_000;
const BASE_MS = Date.UTC(2026, 9, 1);

interface Pools {
  shopifyOrders: Map<string, { shop: string; id: string; version: number; currency: string; lines: string[] }>;
  shopifyCustomers: Map<string, { shop: string; id: string; version: number }>;
  products: Map<string, { shop: string; id: string; version: number }>;
  stripe: Map<string, { kind: string; id: string; version: number }>;
  recharge: Map<string, { kind: string; id: string; version: number }>;
}

export function commerceDeliveries(o: StreamOptions): Delivery[] {
  const r = rng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const maxLines = o.maxLineItems ?? 50;
  const sources = o.sources ?? ["shopify", "stripe", "recharge"];
  const runDigits = runPrefix(o.tag);
  let seq = 0;
  const numericId = () => `${runDigits}${String(++seq).padStart(12, "0")}`;
  const shortId = () => `${runDigits}${String(++seq).padStart(7, "0")}`;
  const textId = (prefix: string) => `${prefix}_${tagMark(o.tag)}${(++seq).toString(36)}`;
  const email = (id: string) => `buyer${id.slice(-6)}@${tagMark(o.tag).toLowerCase()}.example.com`;
  const pools: Pools = {
    shopifyOrders: new Map(),
    shopifyCustomers: new Map(),
    products: new Map(),
    stripe: new Map(),
    recharge: new Map(),
  };
  // Versions move forward in whole seconds from a fixed base: each new version is newer.
  let clock = BASE_MS;
  const tick = () => {
    clock += int(1, 90) * 1000;
    return clock;
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  const shopifyTime = (ms: number) => {
    // Shops write local time with an offset; the pipeline must store the same instant in UTC.
    const offsetMin = pick([-300, -240, 0, 60, 330, 540]);
    const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 19);
    const sign = offsetMin < 0 ? "-" : "+";
    const abs = Math.abs(offsetMin);
    return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  };
  const money = (currency: string) => {
    const whole = int(0, 900);
    if (currency === "JPY") return String(whole * 100);
    if (currency === "KWD") return `${whole}.${String(int(0, 999)).padStart(3, "0")}`;
    return `${whole}.${String(int(0, 99)).padStart(2, "0")}`;
  };

  const shopCurrency = (shop: string) => SHOP_CURRENCIES[o.shops.indexOf(shop) % SHOP_CURRENCIES.length] as string;
  const out: Delivery[] = [];
  const shopify = (topic: string, shop: string, body: string, object: Delivery["object"], at: number): Delivery => ({
    source: "shopify",
    topic,
    body,
    eventId: textId("evt"),
    shop,
    triggeredAt: iso(at),
    object,
    expect: "applied",
    large: false,
    redelivery: false,
  });

  const makeOrder = (): Delivery => {
    const existing = pools.shopifyOrders.size > 0 && r() < 0.3 ? pick([...pools.shopifyOrders.values()]) : null;
    const shop = existing?.shop ?? pick(o.shops);
    const id = existing?.id ?? numericId();
    const at = tick();
    const currency = shopCurrency(shop);
    // An update may change the line items: the stored set must be the newest one, whole.
    const lines = existing && r() < 0.5 ? existing.lines : Array.from({ length: int(1, maxLines) }, numericId);
    pools.shopifyOrders.set(`${shop}/${id}`, { shop, id, version: at, currency, lines });
    const customer = r() < 0.8 ? numericId() : null;
    const body = jsonText({
      id: n(id),
      name: `#${id.slice(-5)}`,
      order_number: n(Number(id.slice(-5))),
      email: customer ? email(customer) : null,
      created_at: shopifyTime(at - 3600_000),
      updated_at: shopifyTime(at),
      currency,
      total_price: money(currency),
      subtotal_price: money(currency),
      total_tax: money(currency),
      total_discounts: "0.00",
      financial_status: pick(["paid", "pending", "refunded"]),
      tags: r() < 0.1 ? "Subscription" : "",
      customer: customer
        ? { id: n(customer), orders_count: n(int(1, 20)), total_spent: money(currency), currency }
        : null,
      shipping_address: { city: "Springfield", country_code: pick(["US", "DE", "JP", "KW"]), province_code: "CA" },
      line_items: lines.map((lineId) => ({
        id: n(lineId),
        product_id: n(numericId()),
        variant_id: n(numericId()),
        sku: `SKU-${lineId.slice(-4)}`,
        title: "Widget",
        quantity: n(int(1, 5)),
        price: money(currency),
        total_discount: "0.00",
      })),
    });
    return shopify(
      existing ? "orders/updated" : "orders/create",
      shop,
      body,
      { table: "shopify_orders", shop, id, version: iso(at) },
      at,
    );
  };

  const makeCustomer = (): Delivery => {
    const existing = pools.shopifyCustomers.size > 0 && r() < 0.3 ? pick([...pools.shopifyCustomers.values()]) : null;
    const shop = existing?.shop ?? pick(o.shops);
    const id = existing?.id ?? numericId();
    const at = tick();
    pools.shopifyCustomers.set(`${shop}/${id}`, { shop, id, version: at });
    const body = jsonText({
      id: n(id),
      email: email(id),
      first_name: "Pat",
      last_name: "Doe",
      state: "enabled",
      orders_count: n(int(0, 30)),
      total_spent: money(shopCurrency(shop)),
      currency: shopCurrency(shop),
      created_at: shopifyTime(at - DAY),
      updated_at: shopifyTime(at),
    });
    return shopify(
      existing ? "customers/update" : "customers/create",
      shop,
      body,
      { table: "shopify_customers", shop, id, version: iso(at) },
      at,
    );
  };

  const makeProduct = (): Delivery => {
    const existing = pools.products.size > 0 && r() < 0.3 ? pick([...pools.products.values()]) : null;
    const shop = existing?.shop ?? pick(o.shops);
    const id = existing?.id ?? numericId();
    const at = tick();
    pools.products.set(`${shop}/${id}`, { shop, id, version: at });
    const body = jsonText({
      id: n(id),
      title: "Widget",
      vendor: "Acme",
      status: "active",
      tags: "a, b",
      created_at: shopifyTime(at - DAY),
      updated_at: shopifyTime(at),
      variants: Array.from({ length: int(1, 4) }, () => ({
        id: n(numericId()),
        sku: "W",
        price: money(shopCurrency(shop)),
        inventory_quantity: n(int(0, 99)),
      })),
    });
    return shopify(
      existing ? "products/update" : "products/create",
      shop,
      body,
      { table: "shopify_products", shop, id, version: iso(at) },
      at,
    );
  };

  const makeRefund = (): Delivery => {
    const order = pools.shopifyOrders.size > 0 ? pick([...pools.shopifyOrders.values()]) : null;
    if (!order) return makeOrder();
    const id = numericId();
    const at = tick();
    const body = jsonText({
      id: n(id),
      order_id: n(order.id),
      created_at: shopifyTime(at),
      note: "returned",
      refund_line_items: [
        {
          id: n(numericId()),
          line_item_id: n(order.lines[0] ?? numericId()),
          quantity: n(1),
          subtotal: money(order.currency),
        },
      ],
      transactions: [
        {
          id: n(numericId()),
          amount: money(order.currency),
          currency: order.currency,
          kind: "refund",
          status: "success",
        },
      ],
    });
    return shopify(
      "refunds/create",
      order.shop,
      body,
      { table: "shopify_refunds", shop: order.shop, id, version: iso(at) },
      at,
    );
  };

  const stripeEvent = (kind: string, type: string, build: (id: string) => Record<string, unknown>): Delivery => {
    const existing = [...pools.stripe.values()].filter((x) => x.kind === kind);
    const prev = existing.length > 0 && r() < 0.3 ? pick(existing) : null;
    const id = prev?.id ?? textId({ charge: "ch", invoice: "in", customer: "cus", subscription: "sub" }[kind] ?? "obj");
    const created = Math.floor(tick() / 1000);
    pools.stripe.set(`${kind}/${id}`, { kind, id, version: created });
    const eventId = textId("evt");
    const body = jsonText({
      id: eventId,
      object: "event",
      api_version: "2026-01-28.clover",
      created: n(created),
      type,
      livemode: false,
      data: { object: { id, object: kind, created: n(created), livemode: false, ...build(id) } },
    });
    const table =
      {
        charge: "stripe_charges",
        invoice: "stripe_invoices",
        customer: "stripe_customers",
        subscription: "stripe_subscriptions",
      }[kind] ?? kind;
    return {
      source: "stripe",
      topic: type,
      body,
      eventId,
      shop: null,
      triggeredAt: null,
      object: { table, shop: null, id, version: String(created) },
      expect: "applied",
      large: false,
      redelivery: false,
    };
  };
  const stripeCustomerFor = () => textId("cus");
  const makeStripe = (): Delivery => {
    const kind = pick(["charge", "charge", "charge", "invoice", "invoice", "customer", "subscription"]);
    const currency = pick(CURRENCIES).toLowerCase();
    const amount = int(50, 500_000);
    switch (kind) {
      case "charge":
        return stripeEvent("charge", pick(["charge.succeeded", "charge.updated", "charge.refunded"]), () => ({
          amount: n(amount),
          amount_captured: n(amount),
          amount_refunded: n(0),
          currency,
          status: "succeeded",
          paid: true,
          customer: stripeCustomerFor(),
          billing_details: { email: email(String(amount)) },
        }));
      case "invoice":
        return stripeEvent("invoice", pick(["invoice.paid", "invoice.finalized"]), () => ({
          currency,
          amount_due: n(amount),
          amount_paid: n(amount),
          total: n(amount),
          subtotal: n(amount),
          status: "paid",
          customer: stripeCustomerFor(),
        }));
      case "customer":
        return stripeEvent("customer", pick(["customer.created", "customer.updated"]), (id) => ({
          email: email(id),
          name: "Pat Doe",
        }));
      default:
        return stripeEvent(
          "subscription",
          pick(["customer.subscription.created", "customer.subscription.updated"]),
          () => ({
            status: pick(["active", "past_due", "canceled"]),
            customer: stripeCustomerFor(),
            currency,
            current_period_start: n(Math.floor(clock / 1000)),
            current_period_end: n(Math.floor(clock / 1000) + 2_592_000),
          }),
        );
    }
  };

  const makeRecharge = (): Delivery => {
    const kind = pick(["subscription", "subscription", "charge", "charge", "customer"]);
    const existing = [...pools.recharge.values()].filter((x) => x.kind === kind);
    const prev = existing.length > 0 && r() < 0.3 ? pick(existing) : null;
    const id = prev?.id ?? shortId();
    const at = tick();
    pools.recharge.set(`${kind}/${id}`, { kind, id, version: at });
    const updated = iso(at).slice(0, 19); // Recharge writes UTC without a zone
    const currency = pick(CURRENCIES);
    const inner: Record<string, unknown> =
      kind === "subscription"
        ? {
            id: n(id),
            customer_id: n(shortId()),
            email: email(id),
            status: pick(["active", "cancelled"]),
            price: money(currency),
            currency,
            quantity: n(int(1, 3)),
            order_interval_unit: "month",
            order_interval_frequency: n(1),
            created_at: updated,
            updated_at: updated,
          }
        : kind === "charge"
          ? {
              id: n(id),
              customer_id: n(shortId()),
              email: email(id),
              status: pick(["success", "error", "queued"]),
              currency,
              total_price: money(currency),
              total_tax: money(currency),
              created_at: updated,
              updated_at: updated,
              processed_at: updated,
            }
          : {
              id: n(id),
              email: email(id),
              first_name: "Pat",
              last_name: "Doe",
              created_at: updated,
              updated_at: updated,
            };
    const topic =
      kind === "subscription"
        ? pick(["subscription/created", "subscription/updated"])
        : kind === "charge"
          ? pick(["charge/created", "charge/paid"])
          : pick(["customer/created", "customer/updated"]);
    return {
      source: "recharge",
      topic,
      body: jsonText({ [kind]: inner }),
      eventId: null,
      shop: null,
      triggeredAt: null,
      object: { table: `recharge_${kind === "customer" ? "customers" : `${kind}s`}`, shop: null, id, version: iso(at) },
      expect: "applied",
      large: false,
      redelivery: false,
    };
  };

  const makers: Array<[number, () => Delivery]> = [];
  if (sources.includes("shopify")) makers.push([30, makeOrder], [10, makeCustomer], [8, makeProduct], [5, makeRefund]);
  if (sources.includes("stripe")) makers.push([29, makeStripe]);
  if (sources.includes("recharge")) makers.push([18, makeRecharge]);
  const total = makers.reduce((s, [w]) => s + w, 0);
  const next = () => {
    let x = r() * total;
    for (const [w, make] of makers) {
      x -= w;
      if (x < 0) return make();
    }
    return (makers[0] as [number, () => Delivery])[1]();
  };

  const largeShare = o.largeShare ?? 0.01;
  const invalidShare = o.invalidShare ?? 0.01;
  const redeliveredShare = o.redeliveredShare ?? 0.05;
  const fresh = Math.round(o.count / (1 + redeliveredShare));
  for (let i = 0; i < fresh; i++) {
    const x = r();
    if (x < largeShare && sources.includes("shopify")) {
      // A note that pushes the order past a queue message (128 KB).
      const d = makeOrder();
      const doc = d.body.replace(/^\{/, `{"note":"${"n".repeat(140 * 1024)}",`);
      out.push({ ...d, body: doc, large: true });
    } else if (x < largeShare + invalidShare) {
      const d = next();
      // Verified, but unusable: a Shopify order whose id is not an id, or a body cut short (not JSON).
      const body =
        d.source === "shopify" && r() < 0.5
          ? d.body.replace(/^\{"id":[0-9]+/, '{"id":"not-an-id"')
          : d.body.slice(0, 40);
      out.push({ ...d, body, object: null, expect: "quarantined" });
    } else out.push(next());
  }
  // Out of order: swap a share of deliveries with one up to 20 places later.
  const swaps = Math.round((out.length * (o.outOfOrderShare ?? 0.1)) / 2);
  for (let i = 0; i < swaps; i++) {
    const a = int(0, out.length - 2);
    const b = Math.min(out.length - 1, a + int(1, 20));
    [out[a], out[b]] = [out[b] as Delivery, out[a] as Delivery];
  }
  // Redeliveries: repeats of earlier deliveries, placed after them.
  const repeats = o.count - out.length;
  for (let i = 0; i < repeats; i++) {
    const at = int(0, out.length - 1);
    const original = out[at] as Delivery;
    out.splice(int(at + 1, out.length), 0, { ...original, redelivery: true });
  }
  return out;
}

/** The newest version each object should hold after every delivery is applied, by `table/shop/id`. */
export function newestVersions(deliveries: readonly Delivery[]): Map<string, Delivery["object"] & {}> {
  const newest = new Map<string, Delivery["object"] & {}>();
  for (const d of deliveries) {
    if (!d.object || d.expect !== "applied") continue;
    const key = `${d.object.table}/${d.object.shop ?? ""}/${d.object.id}`;
    const seen = newest.get(key);
    const newer = d.object.table.startsWith("stripe_")
      ? !seen || Number(d.object.version) >= Number(seen.version)
      : !seen || d.object.version >= seen.version;
    if (newer) newest.set(key, d.object);
  }
  return newest;
}
