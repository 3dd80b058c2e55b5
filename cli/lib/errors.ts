/** The CLI's exit codes: 0 done, 1 a check or request failed, 2 bad usage (one line saying why). */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The command line is wrong: nothing was sent anywhere. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The request was made and refused, or a check failed. */
export class CheckFailed extends Error {
  override name = "CheckFailed";
}
