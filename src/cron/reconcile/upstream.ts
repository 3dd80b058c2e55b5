/**
 * GET one page of a REST list API (Stripe, Recharge) for reconciliation. A 429 or 5xx
 * is retried a few times, honouring `Retry-After` up to a cap: reconciliation is not
 * urgent, but a run must finish inside the Cron Trigger's wall time, so a longer outage
 * fails the run (the cursor stays, the next run retries the same window). Every
 * request, retried or not, is counted as an API call in the run's report.
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

export interface CallCounter {
  calls: number;
}

const TIMEOUT_MS = 20_000;
const MAX_RETRIES = 3;
const MAX_RETRY_AFTER_MS = 10_000;

export async function getText(url: URL, headers: Record<string, string>, counter: CallCounter): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    counter.calls++;
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
    if (retryable && attempt < MAX_RETRIES) {
      await sleep(backoffMs(attempt, res.headers.get("retry-after")));
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
