/**
 * The whole Worker from wrangler.toml in a local runtime (wrangler's test harness: Miniflare
 * with the real queues, D1, R2 and Durable Objects, fresh storage), driven from Node: signed
 * webhooks in, the queue consumer applying them, jobs over the admin API, and the D1 and R2
 * bindings read back out for checks.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createTestHarness } from "wrangler";
import { type Delivery, SECRETS, signed } from "./lake-data";

const root = new URL("../..", import.meta.url).pathname;

export interface LakeBindings {
  DB: D1DatabaseLike;
  LAKE: R2BucketLike;
}
interface D1DatabaseLike {
  prepare(sql: string): {
    bind(...values: unknown[]): { all<T>(): Promise<{ results: T[] }> };
    all<T>(): Promise<{ results: T[] }>;
  };
}
interface R2BucketLike {
  list(o: { prefix?: string; cursor?: string }): Promise<{
    objects: { key: string }[];
    truncated: boolean;
    cursor?: string;
  }>;
  get(
    key: string,
    options?: { range?: { offset: number; length?: number } },
  ): Promise<{ size: number; arrayBuffer(): Promise<ArrayBuffer> } | null>;
}

export async function startPipeline() {
  const server = createTestHarness({ root, workers: [{ configPath: "./wrangler.toml", secrets: SECRETS }] });
  await server.listen();
  const worker = server.getWorker();
  await worker.applyD1Migrations("DB");
  const env = (await worker.getEnv()) as unknown as LakeBindings;

  async function deliver(deliveries: readonly Delivery[], concurrency = 16): Promise<void> {
    let next = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < deliveries.length) {
          const d = deliveries[next++];
          if (!d) break;
          const { path, init } = await signed(d);
          const res = await server.fetch(path, init);
          if (res.status !== 200) failures.push(`${path} ${res.status} ${await res.text()}`);
        }
      }),
    );
    if (failures.length > 0) throw new Error(`deliveries refused:\n${failures.slice(0, 5).join("\n")}`);
  }

  /** Waits until the ledger holds `count` events that the consumer has finished with. */
  async function settled(count: number, timeoutMs = 40_000): Promise<Record<string, number>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { results } = await env.DB.prepare("SELECT status, count(*) AS n FROM webhook_events GROUP BY status").all<{
        status: string;
        n: number;
      }>();
      const by = Object.fromEntries(results.map((r) => [r.status, r.n]));
      const done = (by.applied ?? 0) + (by.archived ?? 0) + (by.quarantined ?? 0) + (by.failed ?? 0);
      if (done >= count) return by;
      if (Date.now() > deadline) {
        const errors = await env.DB.prepare(
          "SELECT topic, error FROM webhook_events WHERE status NOT IN ('applied', 'archived') LIMIT 3",
        ).all<{ topic: string; error: string | null }>();
        throw new Error(
          `pipeline did not settle: ${JSON.stringify(by)} of ${count}: ${JSON.stringify(errors.results)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function admin(path: string, body?: unknown): Promise<unknown> {
    const res = await server.fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: { Authorization: `Bearer ${SECRETS.ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${text.slice(0, 2000)}`);
    return JSON.parse(text);
  }

  /** Copies every object under `prefix` to `dir`, keeping its key as the path. */
  async function pull(prefix: string, dir: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await env.LAKE.list({ prefix, cursor });
      keys.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor !== undefined);
    // Eight gets at a time: the raw archive is a thousand small objects.
    const queue = [...keys];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
          const object = await env.LAKE.get(key);
          if (object === null) throw new Error(`vanished: ${key}`);
          const path = join(dir, key);
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, new Uint8Array(await object.arrayBuffer()));
        }
      }),
    );
    return keys;
  }

  return { env, deliver, settled, admin, pull, close: () => server.close() };
}
