/**
 * The few reads of Cloudflare's API that `ops doctor` makes, in memory: queues (with producers
 * and consumers, `GET /accounts/:account/queues?name=`), a Worker's cron triggers
 * (`/workers/scripts/:name/schedules`) and a bucket's lifecycle rules
 * (`/r2/buckets/:bucket/lifecycle`), answered in the API's `{success, errors, result}` envelope.
 * A wrong token is refused with 403 as the API does. Tests change the state to make each problem.
 */

export interface FakeQueue {
  queue_id: string;
  queue_name: string;
  producers: Array<{ type: "worker"; script: string }>;
  consumers: Array<{ type: "worker"; script: string; dead_letter_queue?: string; settings: Record<string, unknown> }>;
}

export class FakeCloudflareApi {
  readonly queues: FakeQueue[] = [];
  /** Cron expressions per Worker; a Worker not here is not deployed (404). */
  readonly schedules = new Map<string, string[]>();
  /** Lifecycle rules per bucket; a bucket not here does not exist (404). */
  readonly lifecycle = new Map<string, Array<Record<string, unknown>>>();
  readonly requested: string[] = [];

  constructor(
    readonly account = "acct_fake",
    readonly token = "cf_token_fake",
  ) {}

  handle(request: Request): Response {
    const url = new URL(request.url);
    this.requested.push(`${url.pathname}${url.search}`);
    if (request.headers.get("authorization") !== `Bearer ${this.token}`) {
      return fail(403, 10000, "Authentication error");
    }
    const prefix = `/client/v4/accounts/${this.account}/`;
    if (request.method !== "GET" || !url.pathname.startsWith(prefix)) return fail(404, 7003, "Could not route to path");
    const parts = url.pathname.slice(prefix.length).split("/").map(decodeURIComponent);
    if (parts.length === 1 && parts[0] === "queues") {
      const name = url.searchParams.get("name");
      return ok(this.queues.filter((q) => name === null || q.queue_name === name));
    }
    if (parts.length === 4 && parts[0] === "workers" && parts[1] === "scripts" && parts[3] === "schedules") {
      const crons = this.schedules.get(parts[2] ?? "");
      if (!crons) return fail(404, 10007, "This Worker does not exist on your account.");
      return ok({ schedules: crons.map((cron) => ({ cron, created_on: "2026-11-01T00:00:00Z", modified_on: null })) });
    }
    if (parts.length === 4 && parts[0] === "r2" && parts[1] === "buckets" && parts[3] === "lifecycle") {
      const rules = this.lifecycle.get(parts[2] ?? "");
      if (!rules) return fail(404, 10006, "The specified bucket does not exist.");
      return ok({ rules });
    }
    return fail(404, 7003, "Could not route to path");
  }

  /** A queue as `wrangler deploy` leaves it: the Worker produces to it and consumes it. */
  addQueue(name: string, worker: string, deadLetterQueue?: string, produced = true): FakeQueue {
    const q: FakeQueue = {
      queue_id: `q_${this.queues.length + 1}`,
      queue_name: name,
      producers: produced ? [{ type: "worker", script: worker }] : [],
      consumers: [
        {
          type: "worker",
          script: worker,
          settings: {},
          ...(deadLetterQueue ? { dead_letter_queue: deadLetterQueue } : {}),
        },
      ],
    };
    this.queues.push(q);
    return q;
  }
}

function ok(result: unknown): Response {
  return Response.json({ success: true, errors: [], messages: [], result });
}

function fail(status: number, code: number, message: string): Response {
  return Response.json({ success: false, errors: [{ code, message }], messages: [], result: null }, { status });
}
