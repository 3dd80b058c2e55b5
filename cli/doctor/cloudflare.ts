/**
 * The account side of a deployment, from the Cloudflare API (`CLOUDFLARE_API_TOKEN`,
 * `CLOUDFLARE_ACCOUNT_ID`, and `CLOUDFLARE_API_BASE_URL` as wrangler reads them): the queues with
 * their producers and consumers, the Worker's cron triggers, the bucket's lifecycle rules. Read
 * only; the token needs Workers Scripts Read, Queues Read and Workers R2 Storage Read.
 */
import { CheckFailed } from "../lib/errors.ts";
import type { LifecycleRule } from "./deployment.ts";

export interface QueueInfo {
  queue_name: string;
  producers?: Array<{ type?: string; script?: string; script_name?: string }>;
  consumers?: Array<{ type?: string; script?: string; script_name?: string; dead_letter_queue?: string }>;
}

export type Answer<T> = { found: true; value: T } | { found: false; status: number; message: string };

export interface CloudflareAccount {
  queue(name: string): Promise<QueueInfo | null>;
  schedules(worker: string): Promise<Answer<string[]>>;
  lifecycle(bucket: string): Promise<Answer<LifecycleRule[]>>;
}

interface Envelope<T> {
  success?: boolean;
  errors?: Array<{ code?: number; message?: string }>;
  result?: T;
}

export function cloudflareAccount(env: NodeJS.ProcessEnv = process.env): CloudflareAccount | null {
  const token = env.CLOUDFLARE_API_TOKEN?.trim();
  const account = env.CLOUDFLARE_ACCOUNT_ID?.trim();
  if (!token || !account) return null;
  const base = (env.CLOUDFLARE_API_BASE_URL || "https://api.cloudflare.com/client/v4").replace(/\/+$/, "");
  const root = `${base}/accounts/${encodeURIComponent(account)}`;

  async function get<T>(path: string): Promise<Answer<T>> {
    let res: Response;
    try {
      res = await fetch(`${root}${path}`, { headers: { authorization: `Bearer ${token}` } });
    } catch (err) {
      throw new CheckFailed(`cannot reach the Cloudflare API at ${base}: ${(err as Error).message}`);
    }
    let body: Envelope<T> = {};
    try {
      body = (await res.json()) as Envelope<T>;
    } catch {
      // reported below with the status
    }
    const message = body.errors?.map((e) => e.message).join("; ") || `HTTP ${res.status}`;
    if (res.status === 401 || res.status === 403) {
      throw new CheckFailed(
        `the Cloudflare API refused CLOUDFLARE_API_TOKEN for GET ${path} (${message}): give it Workers Scripts Read, Queues Read and Workers R2 Storage Read`,
      );
    }
    if (!res.ok || body.success === false || body.result === undefined) return { found: false, status: res.status, message };
    return { found: true, value: body.result };
  }

  return {
    async queue(name) {
      const answer = await get<QueueInfo[]>(`/queues?page=1&name=${encodeURIComponent(name)}`);
      if (!answer.found) throw new CheckFailed(`Cloudflare API GET /queues: ${answer.message}`);
      return answer.value.find((q) => q.queue_name === name) ?? null;
    },
    async schedules(worker) {
      const answer = await get<{ schedules: Array<{ cron: string }> }>(
        `/workers/scripts/${encodeURIComponent(worker)}/schedules`,
      );
      return answer.found ? { found: true, value: answer.value.schedules.map((s) => s.cron) } : answer;
    },
    async lifecycle(bucket) {
      const answer = await get<{ rules?: LifecycleRule[] }>(`/r2/buckets/${encodeURIComponent(bucket)}/lifecycle`);
      return answer.found ? { found: true, value: answer.value.rules ?? [] } : answer;
    },
  };
}
