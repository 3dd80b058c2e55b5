/**
 * GET one page of a REST list API (Stripe, Recharge) for reconciliation. A 429 or 5xx
 * is retried a few times, honouring `Retry-After` up to a cap: reconciliation is not
 * urgent, but a run must finish inside the Cron Trigger's wall time, so a longer outage
 * fails the run (the cursor stays, the next run retries the same window), and a 429 whose
 * wait would run past the run's deadline ends the scope's run as throttled (the reconciler
 * keeps what its committed pages did and resumes next run). Every request, retried or not,
 * is counted as an API call in the run's report and as a subrequest of the run.
 */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

/** A source refused with its rate limit and the run cannot wait it out: the scope resumes next run. */
export class ThrottledError extends UpstreamError {
  constructor(message: string) {
    super(message, 429);
    this.name = "ThrottledError";
  }
}

export interface CallCounter {
  calls: number;
  /** Counts each request into the run's budget. */
  onCall?: () => void;
  /** Epoch ms past which no retry may wait (the run's wall-time budget). */
  deadline?: number;
}

const TIMEOUT_MS = 20_000;
const MAX_RETRIES = 3;
const MAX_RETRY_AFTER_MS = 10_000;

export async function getText(url: URL, headers: Record<string, string>, counter: CallCounter): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    counter.calls++;
    counter.onCall?.();
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { Accept: "application/json", ...headers },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      if (attempt < MAX_RETRIES) {
        await sleep(backoffMs(attempt, null));
        continue;
      }
      throw new UpstreamError(`${url.host}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300), null);
    }
    if (res.ok) return res.text();
    const retryable = res.status === 429 || res.status >= 500;
    await res.body?.cancel();
    const wait = backoffMs(attempt, res.headers.get("retry-after"));
    if (res.status === 429 && (attempt >= MAX_RETRIES || Date.now() + wait > (counter.deadline ?? Infinity))) {
      throw new ThrottledError(`${url.host}${url.pathname}: HTTP 429, rate limited`);
    }
    if (retryable && attempt < MAX_RETRIES) {
      await sleep(wait);
      continue;
    }
    throw new UpstreamError(`${url.host}${url.pathname}: HTTP ${res.status}`, res.status);
  }
}

function backoffMs(attempt: number, retryAfter: string | null): number {
  const seconds = Number.parseFloat(retryAfter ?? "");
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  return Math.min(500 * 2 ** attempt, MAX_RETRY_AFTER_MS);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
