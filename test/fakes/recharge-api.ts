/**
 * A fake of Recharge's API (2021-11) list endpoints for subscriptions, charges, customers and orders:
 * `X-Recharge-Access-Token` and `X-Recharge-Version: 2021-11` required,
 * `updated_at_min`/`updated_at_max` (inclusive, `YYYY-MM-DDTHH:MM:SS` read as UTC),
 * `sort_by=updated_at-asc|desc` or id order, `limit` up to 250, and cursor paging:
 * `next_cursor` encodes the query, and a request with `cursor` must carry nothing but
 * `limit` beside it (Recharge answers 422 otherwise). Objects are served as stored, so
 * ids stay JSON numbers. It also keeps webhooks (`GET/POST /webhooks`, `PUT/DELETE
 * /webhooks/:id`, one topic each, `address` https) and answers `GET /store` (`{"store": {"currency", ...}}`).
 * Every request is counted. No vitest imports.
 */

export interface RechargeWebhook {
  id: number;
  address: string;
  topic: string;
  included_objects: string[];
  version: string;
}

export type RechargeObject = Record<string, unknown> & { id: number; updated_at: string };

type Resource = "subscriptions" | "charges" | "customers" | "orders";
const RESOURCES: readonly string[] = ["subscriptions", "charges", "customers", "orders"];

interface Query {
  min: string | null;
  max: string | null;
  sort: string;
  offset: number;
}

export class FakeRechargeApi {
  readonly subscriptions: RechargeObject[] = [];
  readonly charges: RechargeObject[] = [];
  readonly customers: RechargeObject[] = [];
  readonly orders: RechargeObject[] = [];
  requests = 0;
  throttled = 0;
  bucket = 40;
  leakPerSecond = 2;
  private level = 0;
  private leakedAt = Date.now();
  readonly requested: string[] = [];
  readonly webhooks: RechargeWebhook[] = [];
  private nextWebhookId = 9_100;
  /** What `GET /store` answers inside `{"store": ...}` (2021-11 shape, the fields the pipeline may read). */
  store: Record<string, unknown> = {
    id: 51_001,
    name: "Fake Store",
    domain: "fake-store.myshopify.com",
    currency: "USD",
    iana_timezone: "America/New_York",
  };

  constructor(
    readonly base = "https://recharge.test",
    readonly token = "rc_test_token",
  ) {}

  serves(url: URL): boolean {
    return url.origin === new URL(this.base).origin;
  }

  async handle(request: Request): Promise<Response> {
    this.requests++;
    const url = new URL(request.url);
    this.requested.push(`${url.pathname}${url.search}`);
    if (request.headers.get("x-recharge-access-token") !== this.token) {
      return Response.json({ errors: "A valid access token is required" }, { status: 401 });
    }
    if (request.headers.get("x-recharge-version") !== "2021-11") {
      return Response.json({ errors: "This fake speaks API version 2021-11 only" }, { status: 400 });
    }
    const now = Date.now();
    this.level = Math.max(0, this.level - ((now - this.leakedAt) / 1000) * this.leakPerSecond);
    this.leakedAt = now;
    if (this.level + 1 > this.bucket) {
      this.throttled++;
      return Response.json({ errors: "Too many requests" }, { status: 429 });
    }
    this.level += 1;
    if (url.pathname === "/webhooks" || url.pathname.startsWith("/webhooks/")) return this.webhook(request, url);
    if (url.pathname === "/store") {
      if (request.method !== "GET") return Response.json({ errors: "Method not allowed" }, { status: 405 });
      return Response.json({ store: this.store });
    }
    const resource = url.pathname.replace(/^\//, "") as Resource;
    if (!RESOURCES.includes(resource)) {
      return Response.json({ errors: "Not found" }, { status: 404 });
    }
    const q = url.searchParams;
    const limit = Number(q.get("limit") ?? "50");
    if (!Number.isInteger(limit) || limit < 1 || limit > 250) {
      return Response.json({ errors: { limit: "must be between 1 and 250" } }, { status: 422 });
    }
    let query: Query;
    const cursor = q.get("cursor");
    if (cursor !== null) {
      const others = [...q.keys()].filter((k) => k !== "cursor" && k !== "limit");
      if (others.length > 0) {
        return Response.json({ errors: `cursor cannot be combined with ${others.join(", ")}` }, { status: 422 });
      }
      const decoded = decodeCursor(cursor, resource);
      if (decoded === null) return Response.json({ errors: "invalid cursor" }, { status: 422 });
      query = decoded;
    } else {
      query = {
        min: q.get("updated_at_min"),
        max: q.get("updated_at_max"),
        sort: q.get("sort_by") ?? "id-desc",
        offset: 0,
      };
    }
    const matching = this.select(resource, query);
    const page = matching.slice(query.offset, query.offset + limit);
    const more = query.offset + limit < matching.length;
    return new Response(
      JSON.stringify({
        next_cursor: more ? encodeCursor(resource, { ...query, offset: query.offset + limit }) : null,
        previous_cursor:
          query.offset > 0 ? encodeCursor(resource, { ...query, offset: Math.max(0, query.offset - limit) }) : null,
        [resource]: page,
      }),
      { headers: { "content-type": "application/json" } },
    );
  }

  addWebhook(topic: string, address: string): RechargeWebhook {
    const hook = { id: this.nextWebhookId++, address, topic, included_objects: [], version: "2021-11" };
    this.webhooks.push(hook);
    return hook;
  }

  private async webhook(request: Request, url: URL): Promise<Response> {
    const id = Number(url.pathname.split("/")[2] ?? "");
    if (url.pathname === "/webhooks") {
      if (request.method === "GET")
        return Response.json({ next_cursor: null, previous_cursor: null, webhooks: this.webhooks });
      if (request.method !== "POST") return Response.json({ errors: "Method not allowed" }, { status: 405 });
      const body = (await request.json().catch(() => null)) as { address?: unknown; topic?: unknown } | null;
      if (typeof body?.topic !== "string" || !/^[a-z_]+\/[a-z_]+$/.test(body.topic)) {
        return Response.json({ errors: { topic: "invalid topic" } }, { status: 422 });
      }
      if (typeof body.address !== "string" || !body.address.startsWith("https://")) {
        return Response.json({ errors: { address: "must be an https URL" } }, { status: 422 });
      }
      if (this.webhooks.some((w) => w.topic === body.topic && w.address === body.address)) {
        return Response.json({ errors: { address: "a webhook for this topic and address exists" } }, { status: 422 });
      }
      return Response.json({ webhook: this.addWebhook(body.topic, body.address) }, { status: 201 });
    }
    const hook = this.webhooks.find((w) => w.id === id);
    if (!hook) return Response.json({ errors: "Not found" }, { status: 404 });
    if (request.method === "DELETE") {
      this.webhooks.splice(this.webhooks.indexOf(hook), 1);
      return new Response(null, { status: 204 });
    }
    if (request.method === "PUT") {
      const body = (await request.json().catch(() => null)) as { address?: unknown } | null;
      if (typeof body?.address !== "string" || !body.address.startsWith("https://")) {
        return Response.json({ errors: { address: "must be an https URL" } }, { status: 422 });
      }
      hook.address = body.address;
      return Response.json({ webhook: hook });
    }
    return Response.json({ webhook: hook });
  }

  private select(resource: Resource, q: Query): RechargeObject[] {
    const time = (v: string) => Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);
    const min = q.min === null ? null : time(q.min);
    const max = q.max === null ? null : time(q.max);
    const items = this[resource].filter((o) => {
      const t = time(o.updated_at);
      return (min === null || t >= min) && (max === null || t <= max);
    });
    const [field, dir] = q.sort.split("-");
    const key = (o: RechargeObject) => (field === "updated_at" ? time(o.updated_at) : o.id);
    return items.sort((a, b) => (dir === "asc" ? key(a) - key(b) : key(b) - key(a)) || a.id - b.id);
  }
}

function encodeCursor(resource: Resource, q: Query): string {
  return btoa(JSON.stringify({ resource, ...q }));
}

function decodeCursor(cursor: string, resource: Resource): Query | null {
  try {
    const doc = JSON.parse(atob(cursor)) as Partial<Query> & { resource?: string };
    if (doc.resource !== resource || typeof doc.offset !== "number" || typeof doc.sort !== "string") return null;
    return { min: doc.min ?? null, max: doc.max ?? null, sort: doc.sort, offset: doc.offset };
  } catch {
    return null;
  }
}

/** Recharge writes times as `2031-01-10T05:00:00+00:00`. */
export function rechargeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}
