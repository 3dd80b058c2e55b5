/**
 * Settings shared by the property tests: one fixed seed so a failure reproduces, and the
 * number of runs per property. fast-check prints the seed and the shrunk counterexample
 * of a failing property (`{ seed, path }` re-runs exactly that case).
 */
import fc from "fast-check";

export const FUZZ_SEED = 20261202;

export function fuzzParams<T>(numRuns: number): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns, endOnFailure: true };
}

/** Text that a secret list is made of: no commas or surrounding blanks (those separate list items). */
export const secretArb = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() === s && !s.includes(","));

export const bytesArb = (maxLength = 512) => fc.uint8Array({ maxLength });
