/**
 * A fake of Stripe's Events API (`GET /v1/events`) for reconciliation tests and the
 * bench: Bearer key check, `created[gt|gte|lt|lte]`, `types[]`, `limit` (1–100),
 * newest-first order (created desc, then id desc) and `starting_after` paging with
 * `has_more`, answering Stripe's list envelope. Every request is counted. No vitest
 * imports, so benches can bundle it for Node.
 */

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
  /** Status to answer instead of data (to test failures); null serves normally. */
  failWith: number | null = null;

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
    this.requests++;
    const url = new URL(request.url);
    if (request.headers.get("authorization") !== `Bearer ${this.key}`) {
      return error(401, "invalid_request_error", "Invalid API Key provided.");
    }
    if (this.failWith !== null) return error(this.failWith, "api_error", "Fake failure.");
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
}

function error(status: number, type: string, message: string): Response {
  return Response.json({ error: { type, message } }, { status });
}
