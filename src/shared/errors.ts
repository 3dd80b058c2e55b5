/**
 * The one error type that crosses the HTTP boundary. Its code and message are
 * safe to show a caller; anything else is logged and answered with a generic 500.
 */
export type ErrorCode =
  | "bad_request"
  | "missing_header"
  | "invalid_header"
  | "unauthorized"
  | "invalid_signature"
  | "payload_too_large"
  | "method_not_allowed"
  | "not_found"
  | "not_configured"
  | "unavailable"
  | "uninstalled"
  | "not_replayable"
  | "internal";

export type HttpStatus = 400 | 401 | 404 | 405 | 413 | 422 | 500 | 503;

export class AppError extends Error {
  constructor(
    readonly status: HttpStatus,
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "AppError";
  }
}

export function errorBody(code: ErrorCode, message: string) {
  return { ok: false as const, error: { code, message } };
}

/** A secret the request needs is not set: 503, so a webhook source keeps retrying until it is. */
export function notConfigured(name: string): AppError {
  return new AppError(
    503,
    "not_configured",
    `${name} is not set. Set it with \`wrangler secret put ${name}\` (locally: add it to .dev.vars).`,
  );
}
