/**
 * The pipeline's admin API as the CLI sees it: `--url` (default `OPS_URL`, else the local
 * `wrangler dev` at http://localhost:8787) with `Authorization: Bearer $ADMIN_TOKEN`. Locally,
 * without ADMIN_TOKEN set, the token is read from .dev.vars, as `npm start` uses it.
 */
import { existsSync, readFileSync } from "node:fs";
import { CheckFailed, UsageError } from "./errors.ts";

export const DEFAULT_URL = "http://localhost:8787";

export interface AdminAnswer<T> {
  status: number;
  body: T;
}

export class AdminApi {
  readonly base: string;
  readonly #token: string;

  constructor(base: string, token: string) {
    this.base = base;
    this.#token = token;
  }

  static fromOptions(opts: { url?: string }): AdminApi {
    const raw = opts.url ?? process.env.OPS_URL ?? DEFAULT_URL;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UsageError(`--url must be an http(s) URL, got "${raw}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError("--url must be http(s)");
    const token = process.env.ADMIN_TOKEN?.split(",")[0]?.trim() || localToken(url);
    if (!token) throw new UsageError("set ADMIN_TOKEN to the pipeline's admin token");
    return new AdminApi(url.origin, token);
  }

  /** Any answer with a JSON body; the caller decides what a non-2xx means. */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<AdminAnswer<T>> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CheckFailed(`cannot reach the pipeline at ${this.base}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CheckFailed(`${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    return { status: res.status, body: parsed as T };
  }

  /** A call that must succeed (2xx); otherwise its error message becomes the failure. */
  async ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.call<T>(method, path, body);
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    throw new CheckFailed(`${method} ${path}: HTTP ${answer.status}: ${errorMessage(answer.body)}`);
  }
}

export function errorMessage(body: unknown): string {
  const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
  return error?.message ? `${error.message}${error.code ? ` (${error.code})` : ""}` : JSON.stringify(body).slice(0, 300);
}

function localToken(url: URL): string | null {
  if (!["localhost", "127.0.0.1", "[::1]"].includes(url.hostname) || !existsSync(".dev.vars")) return null;
  const line = readFileSync(".dev.vars", "utf8")
    .split("\n")
    .find((l) => l.startsWith("ADMIN_TOKEN="));
  return line?.slice("ADMIN_TOKEN=".length).split(",")[0]?.trim() || null;
}
