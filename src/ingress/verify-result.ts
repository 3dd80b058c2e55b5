/**
 * What a signature verifier answers. Pure data: the HTTP layer maps every
 * failure to one 401 so a caller cannot probe which check failed; the reason
 * goes to the logs.
 */
export type VerifyFailure =
  | { reason: "missing_signature" }
  | { reason: "malformed_signature" }
  | { reason: "signature_mismatch" }
  | { reason: "timestamp_out_of_tolerance"; ageSeconds: number; toleranceSeconds: number };

export type VerifyResult<T = undefined> =
  | ({ ok: true } & (T extends undefined ? unknown : { value: T }))
  | ({ ok: false } & VerifyFailure);

export const fail = (f: VerifyFailure): { ok: false } & VerifyFailure => ({ ok: false, ...f });
