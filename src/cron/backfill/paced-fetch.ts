/**
 * GET for backfills, paced to a source's rate limit and patient with 429s. Requests are spaced
 * at least `1 / requestsPerSecond` apart (Stripe allows ~100 reads/s live and 25 in test mode;
 * Recharge's leaky bucket holds 40 calls and drains 2 per second, so 2/s never overflows it).
 * A 429 or 5xx is retried with backoff (`Retry-After` when sent, else 250 ms doubling) a few times
 * inside the run; after that the caller is told to come back later rather than fail the backfill.
 */
export type PagedFetch =
  | {
      kind: "ok";
      text: string;
      /** The response's `Date` header (the source's clock), if it sent a valid one. */
      date: Date | null;
      /** Our clock when the answered request was sent, and when its headers came back (ms). */
      sentAt: number;
      answeredAt: number;
    }
  | { kind: "throttled"; status: number; message: string }
  | { kind: "error"; status: number | null; message: string };

export interface Pacer {
  readonly intervalMs: number;
  last: number;
  calls: number;
  throttled: number;
}

export const pacer = (requestsPerSecond: number): Pacer => ({
  intervalMs: requestsPerSecond > 0 ? 1000 / requestsPerSecond : 0,
  last: 0,
  calls: 0,
  throttled: 0,
});

const TIMEOUT_MS = 20_000;
const RETRIES = 4;
const MAX_WAIT_MS = 8_000;

export async function pacedGet(url: URL, headers: Record<string, string>, p: Pacer): Promise<PagedFetch> {
  let last: PagedFetch = { kind: "error", status: null, message: "not sent" };
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    const wait = p.last + p.intervalMs - Date.now();
    if (wait > 0) await sleep(wait);
    p.last = Date.now();
    const sentAt = p.last;
    p.calls++;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { Accept: "application/json", ...headers },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      last = {
        kind: "throttled",
        status: 0,
        message: `${url.host}: ${err instanceof Error ? err.message : String(err)}`,
      };
      await sleep(backoffMs(attempt, null));
      continue;
    }
    if (res.ok) {
      const answeredAt = Date.now();
      const header = Date.parse(res.headers.get("date") ?? "");
      const date = Number.isNaN(header) ? null : new Date(header);
      return { kind: "ok", text: await res.text(), date, sentAt, answeredAt };
    }
    const body = (await res.text().catch(() => "")).slice(0, 200);
    const message = `${url.host}${url.pathname}: HTTP ${res.status} ${body}`.trim().slice(0, 300);
    if (res.status !== 429 && res.status < 500) return { kind: "error", status: res.status, message };
    if (res.status === 429) p.throttled++;
    last = { kind: "throttled", status: res.status, message };
    if (attempt < RETRIES) await sleep(backoffMs(attempt, res.headers.get("retry-after")));
  }
  return last;
}

function backoffMs(attempt: number, retryAfter: string | null): number {
  const seconds = Number.parseFloat(retryAfter ?? "");
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_WAIT_MS);
  return Math.min(250 * 2 ** attempt, MAX_WAIT_MS);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
