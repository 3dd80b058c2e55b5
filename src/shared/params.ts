/**
 * Request fields that more than one admin route accepts, validated the same way everywhere:
 * a list without repeats, and a point in time given with its zone, answered as UTC ISO text.
 */
import { z } from "zod";
import { toUtcIso } from "./time";

/** A non-empty list of `item` in which no value repeats. */
export const distinctList = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .min(1)
    .refine((r) => new Set(r).size === r.length, "resources must not repeat");

/** An optional ISO-8601 time with a zone, turned into UTC ISO text ending in `Z`. */
export const optionalUtcTime = (field: string) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const iso = toUtcIso(value);
      if (iso === null) {
        ctx.addIssue({
          code: "custom",
          message: `${field} must be an ISO-8601 time with a zone, e.g. 2026-01-01T00:00:00Z`,
        });
        return z.NEVER;
      }
      return iso;
    });
