/**
 * ShopCoordinator: one SQLite-backed Durable Object per shop (`SHOP.getByName(shopDomain)`).
 * Because every Admin API call of the project goes through `adminGraphql` here, one
 * object sees the shop's whole rate budget; bulk exports are jobs in its storage, driven
 * by its alarm (webhook or poll → archive → stage → apply), checkpointed at every step.
 * RPC methods only record intent and set the alarm; the alarm does the work, so a
 * deploy or eviction in the middle costs a re-run of one step, never lost or doubled rows.
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { parseSubscriptionRules } from "../mapping/shopify";
import { intVar } from "../shared/config";
import { describeError, log } from "../shared/log";
import { BULK_RESOURCES } from "../shared/schema/operations";
import { sharedDatabase, shopDatabase } from "../tables/database";
import { indexObjects } from "../tables/subject-index";
import type { AdminGraphqlOptions, AdminGraphqlResult, JsonValue } from "./admin-graphql";
import { ShopifyAdmin } from "./admin-graphql";
import { type BackfillRequest, backfillRequestSchema, type StartBackfillResult } from "./backfill-request";
import { DEFAULT_PART_BYTES, MIN_PART_BYTES } from "./bulk/archive";
import { type FaultPoint, type RunnerConfig, runBulkWork } from "./bulk/runner";
import { ACTIVE_STATUSES, type Job, mirrorRow, newJob } from "./job";
import { durableSql, JobStore } from "./job-store";
import { mirrorStatement, syncCursorStatement } from "./operations-table";
import type { BudgetSnapshot } from "./rate-budget";
import { RateBudget } from "./rate-budget";
import { adminUrl, apiVersion, bulkConcurrency } from "./shop-access";
import { type ResolvedAccess, resolveShopAccess } from "./shop-credentials";

const variablesSchema = z.record(z.string(), z.json());
const optionsSchema = z.object({
  estimatedCost: z.number().nonnegative().max(100_000).optional(),
  maxWaitMs: z.number().positive().optional(),
});

/** How long the coordinator keeps a token it read before reading it again. */
const ACCESS_TTL_MS = 60_000;

/** If a pass dies without finishing (CPU limit, eviction, deploy), this alarm resumes it. */
const WATCHDOG_MS = 60_000;

export type TokenCheck =
  | { ok: true; name: string; myshopifyDomain: string; currency: string | null }
  /** `rejected`: Shopify refused the token (or it cannot be opened), as against could not be asked. */
  | { ok: false; message: string; rejected?: boolean };

const shopIdentitySchema = z.object({
  shop: z.object({
    name: z.string(),
    myshopifyDomain: z.string(),
    currencyCode: z
      .string()
      .regex(/^[A-Za-z]{3}$/)
      .nullish(),
  }),
});

export interface FinishNotice {
  adminGraphqlApiId: string;
  status: string;
}

export class ShopCoordinator extends DurableObject<Env> {
  private readonly store: JobStore;
  private readonly budget = new RateBudget();
  private admin: ShopifyAdmin | null = null;
  private adminKey = "";
  private access: { token: string; readAt: number } | null = null;
  private pass: Promise<void> | null = null;
  /** Test seam: throw at a named point to simulate a crash mid-ingest. Never set in production. */
  faultInjector: ((point: FaultPoint, job: Job) => void) | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new JobStore(durableSql(ctx.storage));
  }

  /** Any Admin GraphQL call, metered by the shop's shared budget: waits for points rather than failing. */
  async adminGraphql(
    query: string,
    variables: Record<string, JsonValue> = {},
    options: AdminGraphqlOptions = {},
  ): Promise<AdminGraphqlResult> {
    // RPC arguments come from other code and deploys: checked, not trusted.
    const vars = variablesSchema.safeParse(variables);
    const opts = optionsSchema.safeParse(options);
    if (!vars.success || !opts.success) {
      const message = "variables must be JSON values; options {estimatedCost?, maxWaitMs?} numbers";
      return { ok: false, attempts: 0, error: { kind: "config", message } };
    }
    const admin = await this.client();
    if ("error" in admin) return { ok: false, attempts: 0, error: { kind: "config", message: admin.error } };
    return admin.request(query, vars.data as Record<string, JsonValue>, opts.data);
  }

  async startBackfill(request: BackfillRequest): Promise<StartBackfillResult> {
    const parsed = backfillRequestSchema.safeParse(request);
    if (!parsed.success) return { ok: false, reason: "invalid", message: parsed.error.message };
    const { shop, resources, since } = parsed.data;
    if (shop !== this.shop())
      return { ok: false, reason: "invalid", message: `this coordinator serves ${this.shop()}` };
    // The HTTP surface checks the shop's token before calling (it reads D1, so it is not read a
    // second time here); a job whose token goes missing fails at its first Admin call, saying why.

    // Check and insert with no await in between, so two requests cannot both pass the check.
    const running = this.store
      .withStatus(...ACTIVE_STATUSES)
      .filter((j) => resources.includes(j.resource))
      .map((j) => ({ resource: j.resource, backfillId: j.backfillId, operationId: j.id, status: j.status }));
    if (running.length > 0) {
      const names = running.map((r) => `${r.resource} (backfill ${r.backfillId}, ${r.status})`).join(", ");
      return {
        ok: false,
        reason: "already_running",
        message: `A backfill is already running for ${shop}: ${names}. Wait for it to finish (GET /admin/backfill/${running[0]?.backfillId}).`,
        running,
      };
    }
    const now = new Date().toISOString();
    const backfillId = `bf_${crypto.randomUUID()}`;
    const jobs = resources.map((resource) =>
      newJob({ id: `bo_${crypto.randomUUID()}`, backfillId, shop, resource, since: since ?? null }, now),
    );
    this.store.transaction(() => {
      for (const j of jobs) this.store.put(j);
    });
    await sharedDatabase(this.env).batch(jobs.map((j) => mirrorStatement(sharedDatabase(this.env), mirrorRow(j))));
    await this.ctx.storage.setAlarm(Date.now());
    log.info("backfill started", { shop, backfillId, resources: resources.join(","), since: since ?? null });
    return {
      ok: true,
      backfillId,
      operations: jobs.map((j) => ({ id: j.id, resource: j.resource, status: j.status })),
    };
  }

  /**
   * Tries a candidate Admin API token with `shop { name myshopifyDomain currencyCode }` before an
   * operator stores it, on this shop's budget. The token is used for this one call and not kept.
   */
  async checkToken(token: string): Promise<TokenCheck> {
    if (typeof token !== "string" || token.length === 0 || token.length > 1000) {
      return { ok: false, message: "the token must be a non-empty string" };
    }
    this.access = null;
    const shop = this.shop();
    const version = apiVersion(this.env);
    const probe = new ShopifyAdmin({
      shop,
      token,
      apiVersion: version,
      url: adminUrl(this.env, shop, version),
      budget: this.budget,
    });
    const res = await probe.request(
      "query ShopIdentity { shop { name myshopifyDomain currencyCode } }",
      {},
      { estimatedCost: 1, maxWaitMs: 30_000 },
    );
    if (!res.ok) {
      const refused = res.error.kind === "http" && (res.error.status === 401 || res.error.status === 403);
      return { ok: false, message: res.error.message, rejected: refused };
    }
    const parsed = shopIdentitySchema.safeParse(res.data);
    if (!parsed.success) return { ok: false, message: "Shopify answered without shop { name myshopifyDomain }" };
    const { name, myshopifyDomain, currencyCode } = parsed.data.shop;
    if (myshopifyDomain !== shop) {
      return { ok: false, message: `the token belongs to ${myshopifyDomain}, not ${shop}`, rejected: true };
    }
    return { ok: true, name, myshopifyDomain, currency: currencyCode?.toUpperCase() ?? null };
  }

  /**
   * Tries the token the pipeline holds for this shop (sealed in D1, else SHOPIFY_ACCESS_TOKENS)
   * the same way, for `ops doctor`: a token Shopify rejects, or one that no longer opens, says so.
   */
  async checkAccess(): Promise<TokenCheck> {
    const access = await resolveShopAccess(this.env, this.shop());
    if (!access.ok) return { ok: false, message: access.message, rejected: true };
    return this.checkToken(access.token);
  }

  /** The shop was removed: cancels its queued and running exports here (their rows stay). */
  async stopJobs(): Promise<{ canceled: string[] }> {
    this.access = null;
    const now = new Date().toISOString();
    const active = this.store.withStatus(...ACTIVE_STATUSES);
    const canceled = active.map((j) => ({
      ...j,
      status: "canceled" as const,
      error: "the shop was removed",
      finishedAt: now,
      updatedAt: now,
    }));
    this.store.transaction(() => {
      for (const j of canceled) this.store.put(j);
    });
    let pending = false;
    for (const j of canceled) {
      try {
        await this.mirror(j);
      } catch (err) {
        // The next run writes it (src/durable/bulk/runner.ts `retryMirrors`).
        log.error("could not mirror the canceled export to D1, the next run tries again", {
          job: j.id,
          error: describeError(err),
        });
        this.store.put({ ...j, mirrorPending: true });
        pending = true;
      }
    }
    if (pending) await this.ctx.storage.setAlarm(Date.now() + 60_000);
    if (canceled.length > 0)
      log.info("backfill jobs stopped: shop removed", { shop: this.shop(), jobs: canceled.length });
    return { canceled: canceled.map((j) => j.id) };
  }

  /** The `bulk_operations/finish` webhook: poll that operation now instead of at its next interval. */
  async bulkOperationFinished(notice: FinishNotice): Promise<{ known: boolean; jobId: string | null }> {
    const job = this.store.byShopifyId(notice.adminGraphqlApiId);
    if (!job) return { known: false, jobId: null };
    if (job.status === "submitted") {
      this.store.notice(job.id, Date.now());
      await this.ctx.storage.setAlarm(Date.now());
    }
    return { known: true, jobId: job.id };
  }

  /** Live progress of a backfill's exports (the D1 mirror can lag a staging pass by a second). */
  async backfillStatus(backfillId: string): Promise<Array<ReturnType<typeof mirrorRow>>> {
    return this.store.byBackfill(backfillId).map(mirrorRow);
  }

  async budgetStatus(): Promise<BudgetSnapshot & { counters: ShopifyAdmin["counters"] | null }> {
    return { ...this.budget.snapshot(), counters: this.admin?.counters ?? null };
  }

  override async alarm(): Promise<void> {
    // One pass at a time: a manual run that overlaps the scheduled one just waits for it.
    if (this.pass) return this.pass;
    this.pass = this.runPass().finally(() => {
      this.pass = null;
    });
    return this.pass;
  }

  private async runPass(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
    let next: number | null = null;
    try {
      next = await runBulkWork({
        store: this.store,
        admin: (query, variables, options) => this.adminGraphql(query, variables, options),
        apiVersion: apiVersion(this.env),
        bucket: this.env.LAKE,
        db: shopDatabase(this.env, this.shop()),
        fetch: (input, init) => globalThis.fetch(input, init),
        mapContext: {
          subscriptions: parseSubscriptionRules(this.env.SUBSCRIPTION_TAGS, this.env.SUBSCRIPTION_SKU_PATTERNS),
          shopCurrency: null,
        },
        config: this.config(),
        privacyKey: this.env.PRIVACY_HASH_KEY,
        index: (entries, at, erased) => indexObjects(this.env, entries, at, erased),
        nowMs: () => Date.now(),
        mirror: (job) => this.mirror(job),
        fault: this.faultInjector,
      });
    } catch (err) {
      // Unexpected (storage, a bug): the watchdog alarm retries the pass.
      log.error("bulk pass failed", { shop: this.shop(), error: describeError(err) });
      return;
    }
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  private async mirror(job: Job): Promise<void> {
    const statements = [mirrorStatement(sharedDatabase(this.env), mirrorRow(job))];
    if (job.status === "completed" && job.shopifyCreatedAt) {
      statements.push(
        syncCursorStatement(sharedDatabase(this.env), {
          shop: job.shop,
          resource: job.resource,
          name: "bulk_snapshot",
          value: job.shopifyCreatedAt,
          now: new Date().toISOString(),
        }),
      );
    }
    await sharedDatabase(this.env).batch(statements);
  }

  private config(): RunnerConfig {
    const pollSeconds = Number(this.env.BULK_POLL_SECONDS);
    return {
      concurrency: bulkConcurrency(apiVersion(this.env)),
      pollBaseMs: Number.isFinite(pollSeconds) && pollSeconds >= 0.05 ? pollSeconds * 1000 : 30_000,
      pollMaxMs: 5 * 60_000,
      partBytes: Math.max(MIN_PART_BYTES, intVar(this.env.BULK_PART_BYTES, DEFAULT_PART_BYTES)),
      maxPartsPerRun: 200,
      stageChunkLines: 20_000,
      parentsPerBatch: 50,
      maxStatements: 200,
      maxApplyBatchesPerRun: 200,
      maxQueriesPerRun: 700,
      maxIndexCallsPerRun: 6_000,
      runBudgetMs: 25_000,
      maxFailures: 8,
    };
  }

  private shop(): string {
    const name = this.ctx.id.name;
    if (!name) throw new Error("ShopCoordinator must be addressed by name: env.SHOP.getByName(shopDomain)");
    return name;
  }

  /**
   * The shop's token, read from D1 (or the secret) at most every ACCESS_TTL_MS. While a read fails
   * (D1 unavailable) the last token read keeps the exports going; a failed lookup is not kept, and
   * `checkToken` and `stopJobs` (an add or a removal) drop what is kept.
   */
  private async shopAccess(): Promise<ResolvedAccess> {
    const now = Date.now();
    const kept = this.access;
    if (kept && now - kept.readAt < ACCESS_TTL_MS) return { ok: true, token: kept.token };
    try {
      const access = await resolveShopAccess(this.env, this.shop());
      this.access = access.ok ? { token: access.token, readAt: now } : null;
      return access;
    } catch (err) {
      if (kept) return { ok: true, token: kept.token };
      throw err;
    }
  }

  private async client(): Promise<ShopifyAdmin | { error: string }> {
    const shop = this.shop();
    const access = await this.shopAccess();
    if (!access.ok) return { error: access.message };
    const version = apiVersion(this.env);
    const url = adminUrl(this.env, shop, version);
    const key = `${url}\u0000${version}`;
    if (!this.admin || this.adminKey !== key) {
      this.admin = new ShopifyAdmin({ shop, token: access.token, apiVersion: version, url, budget: this.budget });
      this.adminKey = key;
    } else {
      this.admin.useToken(access.token);
    }
    return this.admin;
  }

  /** `shop/redact`: forgets every bulk job and staged line of this shop; the rate budget holds no data. */
  async forgetShop(): Promise<{ jobs: number }> {
    await this.pass?.catch(() => undefined);
    await this.ctx.storage.deleteAlarm();
    return { jobs: this.store.forgetAll() };
  }

  /** Kept for operators and older callers: what this object is and does. */
  async describe(): Promise<{ shop: string | null; features: string[] }> {
    return {
      shop: this.ctx.id.name ?? null,
      features: ["admin-graphql", "rate-budget", ...BULK_RESOURCES.map((r) => `bulk:${r}`)],
    };
  }
}
