/** Maps a failed signature check to the one public 401, logging the precise reason. */
import type { Source } from "../shared/envelope";
import { AppError } from "../shared/errors";
import { log } from "../shared/log";
import type { VerifyFailure } from "./verify-result";

export function signatureRefused(source: Source, failure: VerifyFailure): AppError {
  log.warn("webhook refused", { source, reason: failure.reason });
  const message =
    failure.reason === "missing_signature"
      ? "The signature header is missing."
      : "The signature does not match the body, or has expired. Check the webhook secret configured for this source.";
  return new AppError(401, "invalid_signature", message);
}
