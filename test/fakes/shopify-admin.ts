/**
 * A faithful fake of one shop's Shopify Admin GraphQL endpoint, for tests and benches.
 * It computes each query's requested and actual cost, keeps a leaky bucket
 * (default 2000 points, 100 restored per second) and answers THROTTLED (HTTP 200, or
 * 429 in `http429` mode) when a query asks for more than is left, pages connections
 * with cursors, and runs bulk query operations through CREATED → RUNNING →
 * COMPLETED/FAILED/CANCELED/EXPIRED with a JSONL result (plain, as Shopify serves it, or gzipped) whose `__parentId`
 * children are scattered out of order (orders, customers, products, inventory items with their
 * levels, locations). It also builds the `bulk_operations/finish`
 * webhook. Trade-off: it runs in-process (routed by a fetch wrapper) rather than as a
 * separate server, so tests stay fast and deterministic; no vitest imports, so the
 * benches can bundle it for Node.
 */
import {
  argsOf,
  bulkLines,
  type Connection,
  execute,
  type FieldNode,
  GraphqlSyntaxError,
  type Json,
  type OperationNode,
  paginate,
  parseOperation,
  requestedCost,
} from "./graphql-lite";
import { type FakeNode, prng, type ShopData } from "./shopify-data";

export const RESULTS_HOST = "bulk-results.fake-shopify.test";
/** Shopify's operation ids are global, not per shop (the archive key relies on it). */
let nextBulkNumber = 4_100_000_000;
const MAX_SINGLE_QUERY_COST = 1000;
const URL_LIFETIME_MS = 7 * 24 * 3600 * 1000;

export type BulkStatus = "CREATED" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELING" | "CANCELED" | "EXPIRED";

export interface FakeBulkOperation {
  id: string;
  number: number;
  status: BulkStatus;
  errorCode: string | null;
  query: string;
  createdAt: string;
  completedAt: string | null;
  objectCount: string;
  rootObjectCount: string;
  fileSize: string | null;
  url: string | null;
  partialDataUrl: string | null;
  type: "QUERY";
}

export interface FakeShopifyOptions {
  token?: string;
  bucketSize?: number;
  restoreRate?: number;
  /** How an over-budget query is refused: GraphQL THROTTLED (Shopify's behaviour) or HTTP 429. */
  throttleMode?: "graphql" | "http429";
  /** Each status read moves a bulk operation one step (CREATED → RUNNING → COMPLETED). */
  bulkAutoAdvance?: boolean;
  /** Where children land: anywhere after their parent (default) or anywhere in the file. */
  childPlacement?: "after" | "anywhere";
  /** How the result file is served: plain JSONL, as Shopify's signed URLs serve it (default), or gzip. */
  resultCompression?: "gzip" | "none";
  /** The app's webhook API version, which every subscription takes (default 2026-01). */
  webhookApiVersion?: string;
  now?: () => number;
  seed?: number;
}

export interface FakeStats {
  requests: number;
  throttled: number;
  http429: number;
  pointsCharged: number;
  minAvailable: number;
  bulkRuns: number;
  /** The most bulk operations that were CREATED or RUNNING at once. */
  maxRunning: number;
  fileDownloads: number;
}

/** A webhook subscription as `webhookSubscriptions` lists it (app-scoped: this app's only). */
export interface FakeWebhookSubscription {
  id: string;
  topic: string;
  uri: string;
  format: "JSON";
  includeFields: string[];
  /** The app's webhook API version (Shopify's `apiVersion { handle }`): the fake's `webhookApiVersion`. */
  apiVersion: { handle: string };
  createdAt: string;
  updatedAt: string;
}

let nextWebhookNumber = 1_700_000_000;

export interface FinishWebhook {
  topic: "bulk_operations/finish";
  shop: string;
  eventId: string;
  triggeredAt: string;
  body: string;
}

export class FakeShopifyAdmin {
  readonly token: string;
  readonly stats: FakeStats = {
    requests: 0,
    throttled: 0,
    http429: 0,
    pointsCharged: 0,
    minAvailable: Number.POSITIVE_INFINITY,
    bulkRuns: 0,
    maxRunning: 0,
    fileDownloads: 0,
  };
  readonly operations = new Map<string, FakeBulkOperation>();
  readonly webhooks: FakeWebhookSubscription[] = [];
  /** Every Admin API URL requested, and every Range header of a result download. */
  readonly requestUrls: string[] = [];
  readonly rangeRequests: string[] = [];
  bucketSize: number;
  restoreRate: number;
  private available: number;
  private lastRefill: number;
  private readonly files = new Map<string, { bytes: Uint8Array; expiresAt: number }>();
  private readonly now: () => number;
  private readonly rand: () => number;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    readonly shop: string,
    public data: ShopData,
    readonly options: FakeShopifyOptions = {},
  ) {
    this.token = options.token ?? `shpat_test_${shop}`;
    this.bucketSize = options.bucketSize ?? 2000;
    this.restoreRate = options.restoreRate ?? 100;
    this.available = this.bucketSize;
    this.now = options.now ?? Date.now;
    this.lastRefill = this.now();
    this.rand = prng(options.seed ?? 7);
  }

  /** Whether this fake serves the URL (its shop's Admin API or its bulk result files). */
  serves(url: URL): boolean {
    // Any GraphQL path on the shop's host, so a custom SHOPIFY_ADMIN_URL template still lands here.
    if (url.hostname === this.shop && url.pathname.endsWith("graphql.json")) return true;
    return url.hostname === RESULTS_HOST && url.pathname.startsWith(`/${this.shop}/`);
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.hostname === RESULTS_HOST) return this.download(url, request);
    if (request.method !== "POST") return new Response("Method Not Allowed", { status: 405 });
    if (request.headers.get("x-shopify-access-token") !== this.token) {
      return Response.json(
        { errors: "[API] Invalid API key or access token (unrecognized login or wrong password)" },
        {
          status: 401,
        },
      );
    }
    const version = /\/(\d{4}-\d{2}|unstable)\//.exec(url.pathname)?.[1] ?? "unstable";
    this.requestUrls.push(request.url);
    const body = (await request.json()) as { query?: string; variables?: Record<string, Json> | null };
    const query = body.query ?? "";
    const variables = body.variables ?? {};
    // A status read moves the operation first and waits for its file, so the answer
    // already carries the url and fileSize (gzip is asynchronous).
    if (this.options.bulkAutoAdvance !== false) for (const id of bulkReads(query, variables)) this.advance(id);
    await this.pending;
    return this.graphql(query, variables, version);
  }

  /** Points left now (after restoring at the configured rate). */
  currentlyAvailable(): number {
    this.refill();
    return this.available;
  }

  setBucket(size: number, restoreRate: number): void {
    this.bucketSize = size;
    this.restoreRate = restoreRate;
    this.available = Math.min(this.available, size);
  }

  /** Spends points as if another app (or a human) used the API: the pipeline must notice. */
  drain(points: number): void {
    this.refill();
    this.available = Math.max(0, this.available - points);
  }

  private refill(): void {
    const now = this.now();
    this.available = Math.min(this.bucketSize, this.available + ((now - this.lastRefill) / 1000) * this.restoreRate);
    this.lastRefill = now;
  }

  private throttleStatus() {
    return {
      maximumAvailable: this.bucketSize,
      currentlyAvailable: Math.floor(this.available),
      restoreRate: this.restoreRate,
    };
  }

  private graphql(query: string, variables: Record<string, Json>, version: string): Response {
    this.stats.requests++;
    let op: OperationNode;
    let requested: number;
    try {
      op = parseOperation(query);
      requested = requestedCost(op, { ...variables });
    } catch (err) {
      const message = err instanceof GraphqlSyntaxError ? err.message : String(err);
      return Response.json({ errors: [{ message, extensions: { code: "PARSE_ERROR" } }] });
    }
    // Like Shopify: the root field bulkOperation(id:) exists from 2026-01 (before, node(id:) reads one).
    if (op.type === "query" && !atLeast(version, "2026-01") && op.selections.some((f) => f.name === "bulkOperation")) {
      return Response.json({
        errors: [
          {
            message: "Field 'bulkOperation' doesn't exist on type 'QueryRoot'",
            extensions: { code: "undefinedField", typeName: "QueryRoot", fieldName: "bulkOperation" },
          },
        ],
      });
    }
    this.refill();
    if (requested > MAX_SINGLE_QUERY_COST) {
      return Response.json({
        errors: [
          {
            message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_SINGLE_QUERY_COST}).`,
            extensions: { code: "MAX_COST_EXCEEDED", cost: requested, maxCost: MAX_SINGLE_QUERY_COST },
          },
        ],
      });
    }
    if (requested > this.available) {
      this.stats.throttled++;
      if (this.options.throttleMode === "http429") {
        this.stats.http429++;
        return new Response(
          JSON.stringify({
            errors: "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
          }),
          {
            status: 429,
            headers: { "content-type": "application/json", "retry-after": "1.0" },
          },
        );
      }
      return Response.json({
        errors: [
          {
            message: "Throttled",
            extensions: { code: "THROTTLED", documentation: "https://shopify.dev/api/usage/rate-limits" },
          },
        ],
        extensions: {
          cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: this.throttleStatus() },
        },
      });
    }
    this.available -= requested;
    this.stats.minAvailable = Math.min(this.stats.minAvailable, this.available);
    const { data, actualCost } = execute(op, this.root(version, op), variables);
    this.available = Math.min(this.bucketSize, this.available + (requested - actualCost));
    this.stats.pointsCharged += actualCost;
    return Response.json({
      data,
      extensions: {
        cost: { requestedQueryCost: requested, actualQueryCost: actualCost, throttleStatus: this.throttleStatus() },
      },
    });
  }

  private root(version: string, op: OperationNode): Record<string, unknown> {
    const list = (items: FakeNode[]) => (args: Record<string, Json>) => connectionOf(items, args);
    const byId = (items: FakeNode[]) => (args: Record<string, Json>) => items.find((i) => i.id === args.id) ?? null;
    if (op.type === "mutation") {
      return {
        bulkOperationRunQuery: (args: Record<string, Json>) => this.runBulk(String(args.query ?? ""), version),
        bulkOperationCancel: (args: Record<string, Json>) => this.cancelBulk(String(args.id ?? "")),
        webhookSubscriptionCreate: (args: Record<string, Json>) => this.createWebhook(args),
        webhookSubscriptionUpdate: (args: Record<string, Json>) => this.updateWebhook(args),
        webhookSubscriptionDelete: (args: Record<string, Json>) => this.deleteWebhook(String(args.id ?? "")),
      };
    }
    return {
      shop: this.data.shop,
      orders: list(this.data.orders),
      customers: list(this.data.customers),
      products: list(this.data.products),
      order: byId(this.data.orders),
      customer: byId(this.data.customers),
      product: byId(this.data.products),
      // inventoryItems takes Shopify's updated_at filter; locations has none (nor any sort by it).
      inventoryItems: list(this.data.inventoryItems ?? []),
      inventoryItem: byId(this.data.inventoryItems ?? []),
      locations: (args: Record<string, Json>) => paginate(locationsListed(this.data.locations ?? [], args), args),
      location: byId(this.data.locations ?? []),
      bulkOperation: (args: Record<string, Json>) => this.readBulk(String(args.id ?? "")),
      // Only bulk operations are served as nodes here (what the pipeline reads that way).
      node: (args: Record<string, Json>) => this.readBulk(String(args.id ?? "")),
      currentBulkOperation: () => this.readBulk([...this.operations.keys()].pop() ?? ""),
      webhookSubscriptions: (args: Record<string, Json>) =>
        paginate(
          this.webhooks.map((w) => ({ ...w })),
          args,
        ),
    };
  }

  // ---- webhook subscriptions ------------------------------------------------

  /** Adds a subscription as if created earlier (by hand, or by an older deploy). */
  addWebhook(topic: string, uri: string): FakeWebhookSubscription {
    const sub: FakeWebhookSubscription = {
      id: `gid://shopify/WebhookSubscription/${nextWebhookNumber++}`,
      topic,
      uri,
      format: "JSON",
      apiVersion: { handle: this.options.webhookApiVersion ?? "2026-01" },
      includeFields: [],
      createdAt: this.iso(),
      updatedAt: this.iso(),
    };
    this.webhooks.push(sub);
    return sub;
  }

  private webhookInput(args: Record<string, Json>): { uri: string | null; error: string | null } {
    const input = args.webhookSubscription;
    const uri = input && typeof input === "object" && !Array.isArray(input) ? input.uri : null;
    if (typeof uri !== "string" || !/^https?:\/\/[^/]+/.test(uri)) return { uri: null, error: "Address is invalid" };
    return { uri, error: null };
  }

  private createWebhook(args: Record<string, Json>) {
    const topic = String(args.topic ?? "");
    if (!/^[A-Z][A-Z_]*$/.test(topic)) {
      return { webhookSubscription: null, userErrors: [{ field: ["topic"], message: "Topic is invalid" }] };
    }
    if (["CUSTOMERS_DATA_REQUEST", "CUSTOMERS_REDACT", "SHOP_REDACT"].includes(topic)) {
      return {
        webhookSubscription: null,
        userErrors: [{ field: ["topic"], message: "Compliance topics are configured in the app's configuration" }],
      };
    }
    const { uri, error } = this.webhookInput(args);
    if (!uri)
      return { webhookSubscription: null, userErrors: [{ field: ["webhookSubscription", "uri"], message: error }] };
    if (this.webhooks.some((w) => w.topic === topic && w.uri === uri)) {
      return {
        webhookSubscription: null,
        userErrors: [
          { field: ["webhookSubscription", "uri"], message: "Address for this topic has already been taken" },
        ],
      };
    }
    return { webhookSubscription: { ...this.addWebhook(topic, uri) }, userErrors: [] };
  }

  private updateWebhook(args: Record<string, Json>) {
    const sub = this.webhooks.find((w) => w.id === args.id);
    if (!sub)
      return {
        webhookSubscription: null,
        userErrors: [{ field: ["id"], message: "Webhook subscription does not exist" }],
      };
    const { uri, error } = this.webhookInput(args);
    if (!uri)
      return { webhookSubscription: null, userErrors: [{ field: ["webhookSubscription", "uri"], message: error }] };
    sub.uri = uri;
    sub.updatedAt = this.iso();
    return { webhookSubscription: { ...sub }, userErrors: [] };
  }

  private deleteWebhook(id: string) {
    const i = this.webhooks.findIndex((w) => w.id === id);
    if (i < 0) {
      return {
        deletedWebhookSubscriptionId: null,
        userErrors: [{ field: ["id"], message: "Webhook subscription does not exist" }],
      };
    }
    this.webhooks.splice(i, 1);
    return { deletedWebhookSubscriptionId: id, userErrors: [] };
  }

  // ---- bulk operations ------------------------------------------------------

  private runBulk(query: string, version: string) {
    const running = [...this.operations.values()].filter((o) => o.status === "CREATED" || o.status === "RUNNING");
    const limit = version === "unstable" || version >= "2026-01" ? 5 : 1;
    if (running.length >= limit) {
      const code = limit === 1 ? "OPERATION_IN_PROGRESS" : "LIMIT_REACHED";
      const message =
        limit === 1
          ? `A bulk query operation for this app and shop is already in progress: ${running[0]?.id}.`
          : "Bulk operations limit reached. Please try again later.";
      return { bulkOperation: null, userErrors: [{ field: null, message, code }] };
    }
    try {
      const inner = parseOperation(query);
      const top = inner.selections[0];
      if (!top || !["orders", "customers", "products", "inventoryItems", "locations"].includes(top.name))
        throw new GraphqlSyntaxError("unsupported");
      const refused = bulkQueryError(top);
      if (refused)
        return { bulkOperation: null, userErrors: [{ field: ["query"], message: refused, code: "INVALID" }] };
    } catch {
      return {
        bulkOperation: null,
        userErrors: [{ field: ["query"], message: "Invalid bulk query", code: "INVALID" }],
      };
    }
    const number = nextBulkNumber++;
    const op: FakeBulkOperation = {
      id: `gid://shopify/BulkOperation/${number}`,
      number,
      status: "CREATED",
      errorCode: null,
      query,
      createdAt: this.iso(),
      completedAt: null,
      objectCount: "0",
      rootObjectCount: "0",
      fileSize: null,
      url: null,
      partialDataUrl: null,
      type: "QUERY",
    };
    this.operations.set(op.id, op);
    this.stats.bulkRuns++;
    this.stats.maxRunning = Math.max(this.stats.maxRunning, running.length + 1);
    return { bulkOperation: { ...op }, userErrors: [] };
  }

  private cancelBulk(id: string) {
    const op = this.operations.get(id);
    if (!op) return { bulkOperation: null, userErrors: [{ field: ["id"], message: "Bulk operation does not exist" }] };
    if (op.status === "CREATED" || op.status === "RUNNING") op.status = "CANCELING";
    return { bulkOperation: { ...op }, userErrors: [] };
  }

  private readBulk(id: string): FakeBulkOperation | null {
    const op = this.operations.get(id);
    return op ? { ...op } : null;
  }

  /** One lifecycle step: CREATED → RUNNING → COMPLETED, CANCELING → CANCELED. */
  advance(id: string): void {
    const op = this.operations.get(id);
    if (!op) return;
    if (op.status === "CREATED") op.status = "RUNNING";
    else if (op.status === "RUNNING") this.finish(op, "COMPLETED");
    else if (op.status === "CANCELING") {
      op.status = "CANCELED";
      op.completedAt = this.iso();
    }
  }

  /** Completes the operation now (writing its result file). */
  complete(id: string): void {
    this.finish(this.mustGet(id), "COMPLETED");
  }

  /** Fails the operation; with `partial`, the first half of the result is offered as partialDataUrl. */
  fail(id: string, errorCode: "ACCESS_DENIED" | "INTERNAL_SERVER_ERROR" | "TIMEOUT", partial = false): void {
    const op = this.mustGet(id);
    op.errorCode = errorCode;
    this.finish(op, "FAILED", partial);
  }

  cancel(id: string): void {
    const op = this.mustGet(id);
    op.status = "CANCELED";
    op.completedAt = this.iso();
  }

  /** The 7-day window passed: Shopify reports EXPIRED and no longer gives a URL. */
  async expire(id: string): Promise<void> {
    await this.pending;
    const op = this.mustGet(id);
    op.status = "EXPIRED";
    op.url = null;
    op.partialDataUrl = null;
    for (const [path, f] of this.files)
      if (path.endsWith(`/${op.number}.jsonl.gz`) || path.endsWith(`/${op.number}.jsonl`)) f.expiresAt = 0;
  }

  /** The signed URL stops working (as after seven days) while the status still says COMPLETED. */
  async expireUrl(id: string): Promise<void> {
    await this.pending;
    const op = this.mustGet(id);
    for (const key of [op.url, op.partialDataUrl]) {
      const f = key ? this.files.get(new URL(key).pathname) : undefined;
      if (f) f.expiresAt = 0;
    }
  }

  /** The body Shopify posts to `bulk_operations/finish` subscribers. */
  finishWebhook(id: string): FinishWebhook {
    const op = this.mustGet(id);
    const body = JSON.stringify({
      admin_graphql_api_id: op.id,
      completed_at: op.completedAt,
      created_at: op.createdAt,
      error_code: op.errorCode?.toLowerCase() ?? null,
      status: op.status.toLowerCase(),
      type: "query",
    });
    return {
      topic: "bulk_operations/finish",
      shop: this.shop,
      eventId: `evt-bulk-${op.number}-${op.status.toLowerCase()}`,
      triggeredAt: op.completedAt ?? this.iso(),
      body,
    };
  }

  /** The result file exactly as served (plain unless resultCompression is "gzip"). */
  async resultBytes(id: string, partial = false): Promise<Uint8Array | null> {
    await this.pending;
    const op = this.mustGet(id);
    const url = partial ? op.partialDataUrl : op.url;
    return (url && this.files.get(new URL(url).pathname)?.bytes) || null;
  }

  /** The uncompressed JSONL lines of a finished operation's result (for assertions). */
  async resultLines(id: string, partial = false): Promise<string[]> {
    const bytes = await this.resultBytes(id, partial);
    if (!bytes) return [];
    const text = await new Response(await maybeGunzip(bytes)).text();
    return text.split("\n").filter((l) => l.length > 0);
  }

  private finish(op: FakeBulkOperation, status: "COMPLETED" | "FAILED", partial = false): void {
    const parsed = parseOperation(op.query);
    const { parents, children } = bulkLines(parsed, this.root("2026-01", parsed));
    let lines = this.scatter(parents, children);
    if (status === "FAILED") lines = partial ? lines.slice(0, Math.ceil(lines.length / 2)) : [];
    op.status = status;
    op.completedAt = this.iso();
    op.objectCount = String(lines.length);
    op.rootObjectCount = String(parents.length);
    if (lines.length === 0) return;
    const path = `/${this.shop}/${status === "FAILED" ? "partial-" : ""}${op.number}.jsonl${this.gz() ? ".gz" : ""}`;
    const url = `https://${RESULTS_HOST}${path}?X-Goog-Expires=604800&X-Goog-Signature=fake`;
    if (status === "COMPLETED") op.url = url;
    else op.partialDataUrl = url;
    const text = `${lines.join("\n")}\n`;
    const expiresAt = this.now() + URL_LIFETIME_MS;
    this.pending = this.pending.then(async () => {
      const bytes = this.gz() ? await gzip(text) : new TextEncoder().encode(text);
      this.files.set(path, { bytes, expiresAt: this.files.get(path)?.expiresAt ?? expiresAt });
      op.fileSize = String(bytes.byteLength);
    });
  }

  /** Children after their parent at a random distance (or anywhere), some at the very end. */
  private scatter(parents: string[], children: string[]): string[] {
    const anywhere = this.options.childPlacement === "anywhere";
    const slots: string[][] = parents.map((p) => [p]);
    const tail: string[] = [];
    const parentIndex = new Map<string, number>();
    parents.forEach((p, i) => {
      const id = /"id":"([^"]+)"/.exec(p)?.[1];
      if (id) parentIndex.set(id, i);
    });
    for (const c of children) {
      const pid = /"__parentId":"([^"]+)"/.exec(c)?.[1] ?? "";
      const from = anywhere ? 0 : (parentIndex.get(pid) ?? 0);
      const r = this.rand();
      if (r < 0.15) tail.push(c);
      else {
        const at = from + Math.floor(this.rand() * (parents.length - from));
        (slots[at] ?? tail).push(c);
      }
    }
    return [...slots.flat(), ...tail];
  }

  private async download(url: URL, request: Request): Promise<Response> {
    await this.pending;
    this.stats.fileDownloads++;
    const f = this.files.get(url.pathname);
    if (!f) return new Response("<Error><Code>NoSuchKey</Code></Error>", { status: 404 });
    if (this.now() >= f.expiresAt) {
      return new Response(
        "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>",
        {
          status: 400,
          headers: { "content-type": "application/xml" },
        },
      );
    }
    const type = this.gz() ? "application/gzip" : "application/jsonl";
    const rangeHeader = request.headers.get("range");
    if (rangeHeader) this.rangeRequests.push(rangeHeader);
    const range = /^bytes=(\d+)-$/.exec(rangeHeader ?? "");
    if (range) {
      const start = Number(range[1]);
      return new Response(f.bytes.slice(start), {
        status: 206,
        headers: {
          "content-type": type,
          "content-range": `bytes ${start}-${f.bytes.byteLength - 1}/${f.bytes.byteLength}`,
        },
      });
    }
    return new Response(f.bytes.slice(), { headers: { "content-type": type } });
  }

  private gz(): boolean {
    return this.options.resultCompression === "gzip";
  }

  private iso(): string {
    return new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  private mustGet(id: string): FakeBulkOperation {
    const op = this.operations.get(id);
    if (!op) throw new Error(`fake: no bulk operation ${id}`);
    return op;
  }

  /** Waits until result files written by `complete`/`fail` are ready to download. */
  async settled(): Promise<void> {
    await this.pending;
  }
}

/** Fields of the fake's data that Shopify's schema types as lists of objects, not connections. */
const LIST_FIELDS = new Set(["fulfillments", "refunds", "trackingInfo", "duties"]);

function selectsConnection(f: FieldNode): boolean {
  return (f.selections ?? []).some((s) => s.name === "edges" || s.name === "nodes");
}

/**
 * Shopify's bulk query rules that the pipeline's queries must keep: no connection inside a list
 * field, and connections nested at most two levels deep (the top-level one included).
 */
function bulkQueryError(top: FieldNode): string | null {
  const walk = (fields: readonly FieldNode[], depth: number, inList: boolean): string | null => {
    for (const f of fields) {
      if (selectsConnection(f)) {
        if (inList) return "Queries that contain a connection field within a list field are not currently supported.";
        if (depth + 1 > 2) return "Bulk queries cannot contain connections with a nesting depth greater than 2.";
        const inner = walk(connectionNodes(f), depth + 1, false);
        if (inner) return inner;
      } else if (f.selections) {
        const inner = walk(f.selections, depth, inList || LIST_FIELDS.has(f.name));
        if (inner) return inner;
      }
    }
    return null;
  };
  return walk(connectionNodes(top), 1, false);
}

function connectionNodes(f: FieldNode): FieldNode[] {
  const out: FieldNode[] = [];
  for (const s of f.selections ?? []) {
    if (s.name === "nodes") out.push(...(s.selections ?? []));
    if (s.name === "edges")
      for (const e of s.selections ?? []) if (e.name === "node") out.push(...(e.selections ?? []));
  }
  return out;
}

function atLeast(version: string, than: string): boolean {
  return version === "unstable" || version >= than;
}

/** The ids of `bulkOperation(id:)` and `node(id:)` reads in a query (any parse problem is left to the executor). */
function bulkReads(query: string, variables: Record<string, Json>): string[] {
  try {
    const op = parseOperation(query);
    if (op.type !== "query") return [];
    const vars = { ...op.defaults, ...variables };
    return op.selections
      .filter((f) => f.name === "bulkOperation" || f.name === "node")
      .map((f) => argsOf(f, vars).id)
      .filter((id): id is string => typeof id === "string");
  } catch {
    return [];
  }
}

/** Like Shopify, `locations` lists only active, merchant-managed ones unless asked for the others. */
function locationsListed(items: FakeNode[], args: Record<string, Json>): FakeNode[] {
  return items.filter(
    (l) =>
      (args.includeInactive === true || l.isActive !== false) &&
      (args.includeLegacy === true || l.isFulfillmentService !== true),
  );
}

/** Shopify search syntax, the part the pipeline uses: `updated_at:>'…'` / `>=` (and `created_at`). */
function connectionOf(items: FakeNode[], args: Record<string, Json>): Connection {
  const q = typeof args.query === "string" ? args.query : "";
  let filtered = items;
  for (const m of q.matchAll(/(updated_at|created_at):(>=|>|<=|<)'?([^'\s]+)'?/g)) {
    const field = m[1] === "updated_at" ? "updatedAt" : "createdAt";
    const bound = Date.parse(m[3] ?? "");
    const op = m[2];
    filtered = filtered.filter((i) => {
      const t = Date.parse(String(i[field]));
      return op === ">" ? t > bound : op === ">=" ? t >= bound : op === "<" ? t < bound : t <= bound;
    });
  }
  return paginate(filtered, args);
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function maybeGunzip(bytes: Uint8Array): Promise<ReadableStream<Uint8Array> | Uint8Array> {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  return new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
}

/**
 * A fetch that sends the fakes' URLs to them and everything else to `fallback`.
 * Tests install it with `vi.spyOn(globalThis, "fetch")`; the Worker, its Durable
 * Objects and the tests share one isolate, so the coordinator's calls land here.
 */
export function fetchThroughFakes(fakes: () => Iterable<FakeShopifyAdmin>, fallback: typeof fetch): typeof fetch {
  return async function fakeFetch(input: Parameters<typeof fetch>[0], init?: RequestInit) {
    const request = new Request(input, init);
    const url = new URL(request.url);
    for (const fake of fakes()) if (fake.serves(url)) return fake.handle(request);
    return fallback(input, init);
  } as typeof fetch;
}
