/**
 * What a verified webhook delivery tells us, before it becomes an envelope.
 * Each source module turns (headers, raw body) into one of these or throws an
 * AppError (401 signature, 400 headers).
 */
import type { Source } from "../shared/envelope";

export interface Intake {
  source: Source;
  topic: string;
  eventId: string;
  shop: string | null;
  /** UTC ISO; null when the source gave no usable time (then `receivedAt` is used). */
  eventAt: string | null;
  apiVersion: string | null;
}

export interface IntakeContext {
  env: Env;
  headers: Headers;
  body: Uint8Array;
  /** The body as text when it is valid UTF-8. */
  text: string | null;
  nowMs: number;
}

export type IntakeFn = (ctx: IntakeContext) => Promise<Intake>;
