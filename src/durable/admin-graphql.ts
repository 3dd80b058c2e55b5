/**
 * Admin GraphQL calls for one shop through `@shopify/admin-api-client`, metered by
 * the shop's RateBudget. Every call reserves its requested cost first: the caller's
 * estimate, else the cost Shopify reported for the same query shape last time, else
 * the single-query maximum (1000) — over-reserving an unseen query costs a moment of
 * idle budget, under-reserving costs a THROTTLED round trip. THROTTLED (HTTP 200) and
 * HTTP 429 are waited out at the restore rate and retried; callers wait, they do not
 * fail, until `maxWaitMs` has passed. Expected failures come back as a Result, never
 * as a throw, because they cross a Durable Object RPC boundary.
 */
import { createAdminApiClient } from "@shopify/admin-api-client";
import { z } from "zod";
import { type Clock, RateBudget, systemClock } from "./rate-budget";

// Interfaces, not type aliases: TypeScript expands them lazily, which keeps the RPC stub's
// mapped types (Serializable, Stubify) from recursing without end.
export type JsonValue = string | number | boolean | null | JsonArray | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}
export interface JsonArray extends Array<JsonValue> {}

export interface AdminGraphqlOptions {
  /** The query's requested cost, when the caller knows it (Shopify's formula: object 1, connection 2 + first × node). */
  estimatedCost?: number;
  /** Give up (with `kind: "timeout"`) when budget waits and retries exceed this; default 10 minutes. */
  maxWaitMs?: number;
}

export interface QueryCost {
  requestedQueryCost: number;
  actualQueryCost: number | null;
  throttleStatus: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number } | null;
}

export type AdminGraphqlFailure = {
  kind: "config" | "http" | "graphql" | "network" | "timeout" | "invalid_response";
  message: string;
  status?: number;
  codes?: string[];
};

export type AdminGraphqlResult =
  | { ok: true; data: JsonObject; cost: QueryCost | null; attempts: number }
  | { ok: false; error: AdminGraphqlFailure; data?: JsonObject; attempts: number };

const costSchema = z.object({
  requestedQueryCost: z.number().nonnegative(),
  actualQueryCost: z.number().nonnegative().nullable().optional(),
  throttleStatus: z
    .object({
      maximumAvailable: z.number().positive(),
      currentlyAvailable: z.number(),
      restoreRate: z.number().positive(),
    })
    .optional(),
});

const graphqlErrorSchema = z.object({
  message: z.string().optional(),
  extensions: z.object({ code: z.string().optional() }).loose().optional(),
});

const jsonObjectSchema = z.record(z.string(), z.json());

export interface AdminCounters {
  calls: number;
  throttled: number;
  http429: number;
  retries: number;
  pointsCharged: number;
}

const MAX_SINGLE_QUERY_COST = 1000;
const DEFAULT_MAX_WAIT_MS = 10 * 60 * 1000;
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
const MAX_TRANSIENT_RETRIES = 3;

export interface ShopifyAdminConfig {
  shop: string;
  token: string;
  apiVersion: string;
  /** The endpoint the request really goes to (from the `SHOPIFY_ADMIN_URL` template). */
  url: string;
  fetch?: typeof fetch;
  clock?: Clock;
  budget?: RateBudget;
}

export class ShopifyAdmin {
  readonly budget: RateBudget;
  readonly counters: AdminCounters = { calls: 0, throttled: 0, http429: 0, retries: 0, pointsCharged: 0 };
  private readonly learned = new Map<string, number>();
  private readonly clock: Clock;
  private client: ReturnType<typeof createAdminApiClient>;
  private token: string;

  constructor(private readonly config: ShopifyAdminConfig) {
    this.clock = config.clock ?? systemClock;
    this.budget = config.budget ?? new RateBudget(this.clock);
    this.token = config.token;
    this.client = this.makeClient(config.token);
  }

  /** A rotated token: the budget and learned costs stay (they belong to the shop, not the token). */
  useToken(token: string): void {
    if (token === this.token) return;
    this.token = token;
    this.client = this.makeClient(token);
  }

  private makeClient(token: string) {
    const fetchImpl = this.config.fetch;
    const url = this.config.url;
    return createAdminApiClient({
      storeDomain: this.config.shop,
      apiVersion: this.config.apiVersion,
      accessToken: token,
      retries: 0,
      // The client builds https://{shop}/admin/api/{version}/graphql.json; the configured
      // template wins, so local runs and tests can point it at a fake.
      customFetchApi: (_url, init) =>
        (fetchImpl ?? globalThis.fetch)(url, {
          method: init?.method ?? "POST",
          headers: init?.headers,
          body: init?.body,
          signal: init?.signal ?? null,
        }),
      // Version support is the operator's choice (SHOPIFY_API_VERSION); no console noise per call.
      logger: () => {},
    });
  }

  async request(
    query: string,
    variables: Record<string, JsonValue> = {},
    options: AdminGraphqlOptions = {},
  ): Promise<AdminGraphqlResult> {
    const key = costKey(query, variables);
    const deadline = this.clock.now() + (options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS);
    let estimate = options.estimatedCost ?? this.learned.get(key) ?? MAX_SINGLE_QUERY_COST;
    let transient = 0;
    for (let attempt = 1; ; attempt++) {
      if (this.clock.now() > deadline) {
        return {
          ok: false,
          attempts: attempt - 1,
          error: { kind: "timeout", message: "Gave up waiting for rate budget" },
        };
      }
      const ticket = await this.budget.acquireBy(estimate, attempt > 1, deadline);
      if (ticket === null) {
        return {
          ok: false,
          attempts: attempt - 1,
          error: { kind: "timeout", message: "Gave up waiting for rate budget" },
        };
      }
      this.counters.calls++;
      let res: Awaited<ReturnType<typeof this.client.request>>;
      try {
        res = await this.client.request(query, { variables });
      } catch (err) {
        this.budget.abandon(ticket);
        return { ok: false, attempts: attempt, error: { kind: "network", message: String(err).slice(0, 300) } };
      }
      const status = res.errors?.networkStatusCode;
      const cost = costSchema.safeParse(res.extensions?.cost);
      const throttle = cost.success ? (cost.data.throttleStatus ?? null) : null;

      if (status === 429) {
        this.counters.http429++;
        this.counters.retries++;
        const retryAfter = Number.parseFloat(res.errors?.response?.headers.get("retry-after") ?? "");
        const waitMs = Number.isFinite(retryAfter) ? retryAfter * 1000 : 1000;
        this.budget.refuse(ticket, throttle, waitMs);
        continue;
      }
      if (status !== undefined && TRANSIENT_STATUS.has(status) && transient < MAX_TRANSIENT_RETRIES) {
        transient++;
        this.counters.retries++;
        this.budget.abandon(ticket);
        await sleep(this.clock, 500 * 2 ** transient);
        continue;
      }
      if (status !== undefined && status !== 200) {
        this.budget.abandon(ticket);
        const hint =
          status === 401 || status === 403
            ? `: Shopify rejected the Admin API token for ${this.config.shop} (check SHOPIFY_ACCESS_TOKENS)`
            : "";
        return { ok: false, attempts: attempt, error: { kind: "http", status, message: `HTTP ${status}${hint}` } };
      }

      const gqlErrors = z.array(graphqlErrorSchema).safeParse(res.errors?.graphQLErrors ?? []);
      const codes = gqlErrors.success ? gqlErrors.data.map((e) => e.extensions?.code ?? "").filter(Boolean) : [];
      if (codes.includes("THROTTLED")) {
        this.counters.throttled++;
        this.counters.retries++;
        if (cost.success) {
          estimate = cost.data.requestedQueryCost;
          this.learned.set(key, estimate);
        }
        this.budget.refuse(ticket, throttle, 1000);
        continue;
      }

      const actual = cost.success ? (cost.data.actualQueryCost ?? null) : null;
      this.budget.settle(ticket, actual, throttle);
      if (cost.success) {
        this.learned.set(key, cost.data.requestedQueryCost);
        this.counters.pointsCharged += actual ?? 0;
      }
      const costInfo: QueryCost | null = cost.success
        ? {
            requestedQueryCost: cost.data.requestedQueryCost,
            actualQueryCost: cost.data.actualQueryCost ?? null,
            throttleStatus: cost.data.throttleStatus ?? null,
          }
        : null;
      const data = jsonObjectSchema.safeParse(res.data ?? {});
      if (!data.success) {
        return {
          ok: false,
          attempts: attempt,
          error: { kind: "invalid_response", message: "data is not a JSON object" },
        };
      }
      const payload = data.data as JsonObject;
      if (res.errors) {
        const messages = gqlErrors.success ? gqlErrors.data.map((e) => e.message ?? "").filter(Boolean) : [];
        return {
          ok: false,
          attempts: attempt,
          data: payload,
          error: {
            kind: "graphql",
            message: (messages.join("; ") || res.errors.message || "GraphQL error").slice(0, 1000),
            codes,
          },
        };
      }
      return { ok: true, data: payload, cost: costInfo, attempts: attempt };
    }
  }
}

/** Cost depends on the query text and its numeric variables (page sizes), not on cursors or ids. */
function costKey(query: string, variables: Record<string, JsonValue>): string {
  const sizes = Object.entries(variables)
    .filter(([, v]) => typeof v === "number")
    .sort(([a], [b]) => a.localeCompare(b));
  return `${query}\u0000${JSON.stringify(sizes)}`;
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
