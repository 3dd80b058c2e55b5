/**
 * A fake of Stripe's list APIs for reconciliation and backfill tests and the bench: the Events
 * API (`GET /v1/events`) and the object lists a backfill reads (`/v1/customers`, `/v1/charges`,
 * `/v1/payment_intents`, `/v1/invoices`, `/v1/subscriptions`, `/v1/disputes`, `/v1/refunds`,
 * `/v1/checkout/sessions`). Bearer key check, `created[gt|gte|lt|lte]`, `types[]` (events),
 * `limit` (1–100), newest-first order (created desc, then id desc) and `starting_after` paging
 * with `has_more`, answering Stripe's list envelope. Like Stripe, subscriptions list only the
 * non-canceled ones unless `status=all`, and checkout sessions carry `line_items` only with
 * `expand[]=data.line_items`. `rateLimit` answers 429 `rate_limit_error` past N requests in a
 * sliding window, as Stripe does past its per-second read limit. Every request is counted. Like
 * Stripe's, every answer carries a `Date` header, from the fake's clock: `clockOffsetMs` sets it
 * apart from the caller's, as Stripe's clock and ours differ.
 * No vitest imports, so benches can bundle it for Node.
 * `GET /v1/{list}/{id}` answers one object of a list (how a thin event's object is fetched), and the
 * `Stripe-Version` of every request is kept in `versions`.
 * It also keeps webhook endpoints (`/v1/webhook_endpoints`: list, create with a `whsec_` secret
 * shown only on create, update, delete; form-encoded like Stripe).
 */

export interface FakeWebhookEndpoint {
  id: string;
  object: "webhook_endpoint";
  url: string;
  enabled_events: string[];
  status: "enabled" | "disabled";
  api_version: string | null;
  created: number;
  secret?: string;
}

export interface FakeStripeEvent {
  id: string;
  object: "event";
  api_version: string;
  created: number;
  type: string;
  livemode: boolean;
  pending_webhooks: number;
  data: { object: Record<string, unknown> };
}

export class FakeStripeApi {
  readonly events: FakeStripeEvent[] = [];
  requests = 0;
  /** Path and query of every request, in order. */
  readonly requested: string[] = [];
  /** The `Stripe-Version` header of every request, in order (null: none sent). */
  readonly versions: Array<string | null> = [];
  /** Status to answer instead of data (to test failures); null serves normally. */
  failWith: number | null = null;
  /** Objects per list path (`customers`, `checkout/sessions`, ...), each with `id` and `created`. */
  readonly objects: Record<string, StripeObject[]> = {};
  /** At most `requests` per `windowMs`, else 429 (null: unlimited). */
  rateLimit: { requests: number; windowMs: number } | null = null;
  throttled = 0;
  /** How far the fake's clock (its `Date` headers) runs ahead of the real one; negative: behind. */
  clockOffsetMs = 0;
  private recent: number[] = [];
  readonly endpoints: FakeWebhookEndpoint[] = [];

  constructor(
    readonly base = "https://stripe.test",
    readonly key = "sk_test_fake",
  ) {}

  add(type: string, object: Record<string, unknown>, created: number, id?: string): FakeStripeEvent {
    const event: FakeStripeEvent = {
      id: id ?? `evt_${created}_${this.events.length}_${Math.random().toString(36).slice(2, 8)}`,
      object: "event",
      api_version: "2026-01-28.clover",
      created,
      type,
      livemode: false,
      pending_webhooks: 0,
      data: { object },
    };
    this.events.push(event);
    return event;
  }

  serves(url: URL): boolean {
    return url.origin === new URL(this.base).origin;
  }

  async handle(request: Request): Promise<Response> {
    const res = await this.answer(request);
    res.headers.set("date", new Date(Date.now() + this.clockOffsetMs).toUTCString());
    return res;
  }

  private async answer(request: Request): Promise<Response> {
    this.requests++;
    const url = new URL(request.url);
    this.requested.push(`${url.pathname}${url.search}`);
    this.versions.push(request.headers.get("stripe-version"));
    if (request.headers.get("authorization") !== `Bearer ${this.key}`) {
      return error(401, "invalid_request_error", "Invalid API Key provided.");
    }
    if (this.failWith !== null) return error(this.failWith, "api_error", "Fake failure.");
    if (this.rateLimit !== null) {
      const now = Date.now();
      this.recent = this.recent.filter((t) => t > now - (this.rateLimit?.windowMs ?? 0));
      if (this.recent.length >= this.rateLimit.requests) {
        this.throttled++;
        return error(429, "rate_limit_error", "Too many requests hit the API too quickly.");
      }
      this.recent.push(now);
    }
    const listPath = url.pathname.replace(/^\/v1\//, "");
    if (request.method === "GET" && listPath !== "events" && Object.hasOwn(this.objects, listPath)) {
      return listObjects(this.objects[listPath] ?? [], url, listPath);
    }
    // One object by id (`GET /v1/invoices/in_…`): what a thin event's related_object.url names.
    const slash = listPath.lastIndexOf("/");
    const parentPath = listPath.slice(0, slash);
    if (request.method === "GET" && slash > 0 && Object.hasOwn(this.objects, parentPath)) {
      const id = decodeURIComponent(listPath.slice(slash + 1));
      const found = (this.objects[parentPath] ?? []).find((o) => o.id === id);
      return found ? Response.json(found) : error(404, "invalid_request_error", `No such object: '${id}'`);
    }
    if (url.pathname === "/v1/webhook_endpoints" || url.pathname.startsWith("/v1/webhook_endpoints/")) {
      return this.webhookEndpoint(request, url);
    }
    if (request.method !== "GET" || url.pathname !== "/v1/events") {
      return error(404, "invalid_request_error", `Unrecognized request URL (${request.method}: ${url.pathname}).`);
    }
    const q = url.searchParams;
    const limit = Number(q.get("limit") ?? "10");
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      return error(400, "invalid_request_error", "Invalid integer: limit must be between 1 and 100.");
    }
    const bound = (name: string) => (q.has(`created[${name}]`) ? Number(q.get(`created[${name}]`)) : null);
    const gt = bound("gt");
    const gte = bound("gte");
    const lt = bound("lt");
    const lte = bound("lte");
    const types = q.getAll("types[]");
    const matching = this.events
      .filter(
        (e) =>
          (gt === null || e.created > gt) &&
          (gte === null || e.created >= gte) &&
          (lt === null || e.created < lt) &&
          (lte === null || e.created <= lte) &&
          (types.length === 0 || types.includes(e.type)),
      )
      .sort((a, b) => b.created - a.created || b.id.localeCompare(a.id));
    const after = q.get("starting_after");
    let start = 0;
    if (after !== null) {
      const i = matching.findIndex((e) => e.id === after);
      if (i < 0) return error(400, "invalid_request_error", `No such event: '${after}'`);
      start = i + 1;
    }
    const page = matching.slice(start, start + limit);
    return Response.json({
      object: "list",
      data: page,
      has_more: start + limit < matching.length,
      url: "/v1/events",
    });
  }

  addEndpoint(url: string, events: string[]): FakeWebhookEndpoint {
    const endpoint: FakeWebhookEndpoint = {
      id: `we_fake_${this.endpoints.length + 1}_${Math.random().toString(36).slice(2, 8)}`,
      object: "webhook_endpoint",
      url,
      enabled_events: events,
      status: "enabled",
      api_version: null,
      created: Math.floor(Date.now() / 1000),
    };
    this.endpoints.push(endpoint);
    return endpoint;
  }

  private async webhookEndpoint(request: Request, url: URL): Promise<Response> {
    const id = url.pathname.split("/")[3];
    const form = request.method === "POST" ? new URLSearchParams(await request.text()) : new URLSearchParams();
    const events = form.getAll("enabled_events[]");
    if (!id) {
      if (request.method === "GET") {
        return Response.json({
          object: "list",
          data: this.endpoints.map(({ secret: _s, ...e }) => e),
          has_more: false,
          url: "/v1/webhook_endpoints",
        });
      }
      if (request.method !== "POST") return error(405, "invalid_request_error", "Method not allowed.");
      const target = form.get("url") ?? "";
      if (!/^https:\/\//.test(target)) return error(400, "invalid_request_error", "Invalid URL: must be https.");
      if (events.length === 0) return error(400, "invalid_request_error", "Missing required param: enabled_events.");
      const endpoint = this.addEndpoint(target, events);
      endpoint.api_version = form.get("api_version");
      const secret = `whsec_fake_${endpoint.id}`;
      return Response.json({ ...endpoint, secret });
    }
    const endpoint = this.endpoints.find((e) => e.id === id);
    if (!endpoint) return error(404, "invalid_request_error", `No such webhook endpoint: '${id}'`);
    if (request.method === "DELETE") {
      this.endpoints.splice(this.endpoints.indexOf(endpoint), 1);
      return Response.json({ id, object: "webhook_endpoint", deleted: true });
    }
    if (request.method === "POST") {
      if (form.has("url")) endpoint.url = form.get("url") ?? endpoint.url;
      if (events.length > 0) endpoint.enabled_events = events;
    }
    return Response.json(endpoint);
  }
}

type StripeObject = Record<string, unknown> & { id: string; created: number };

function listObjects(objects: readonly StripeObject[], url: URL, path: string): Response {
  const q = url.searchParams;
  const limit = Number(q.get("limit") ?? "10");
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    return error(400, "invalid_request_error", "Invalid integer: limit must be between 1 and 100.");
  }
  const bound = (name: string) => (q.has(`created[${name}]`) ? Number(q.get(`created[${name}]`)) : null);
  const [gt, gte, lt, lte] = [bound("gt"), bound("gte"), bound("lt"), bound("lte")];
  const expandLines = q.getAll("expand[]").includes("data.line_items");
  const matching = objects
    .filter(
      (o) =>
        (gt === null || o.created > gt) &&
        (gte === null || o.created >= gte) &&
        (lt === null || o.created < lt) &&
        (lte === null || o.created <= lte) &&
        (path !== "subscriptions" || q.get("status") === "all" || o.status !== "canceled"),
    )
    .sort((a, b) => b.created - a.created || b.id.localeCompare(a.id));
  const after = q.get("starting_after");
  let start = 0;
  if (after !== null) {
    const i = matching.findIndex((o) => o.id === after);
    if (i < 0) return error(400, "invalid_request_error", `No such object: '${after}'`);
    start = i + 1;
  }
  const page = matching.slice(start, start + limit).map((o) => {
    if (path !== "checkout/sessions" || expandLines) return o;
    const { line_items: _lines, ...rest } = o;
    return rest;
  });
  return Response.json({ object: "list", data: page, has_more: start + limit < matching.length, url: `/v1/${path}` });
}

function error(status: number, type: string, message: string): Response {
  return Response.json({ error: { type, message } }, { status });
}
