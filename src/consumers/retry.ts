/** Exponential backoff for queue retries: base · 2^(attempt−1), capped at an hour. */
import { intVar } from "../shared/config";

export const MAX_RETRY_DELAY_SECONDS = 3600;

export function retryDelaySeconds(env: Env, attempts: number): number {
  const base = intVar(env.RETRY_BASE_SECONDS, 10);
  return Math.min(MAX_RETRY_DELAY_SECONDS, base * 2 ** Math.max(0, Math.min(attempts - 1, 20)));
}
