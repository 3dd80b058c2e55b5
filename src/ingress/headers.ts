/** Header checks shared by the webhook routes: bounded length and a known alphabet, or a 400. */
import { AppError } from "../shared/errors";

export interface HeaderRule {
  pattern: RegExp;
  /** What a valid value looks like, for the error message. */
  expect: string;
}

export const TOPIC_HEADER: HeaderRule = {
  pattern: /^[A-Za-z0-9_./-]{1,128}$/,
  expect: "a topic such as orders/create",
};
export const API_VERSION_HEADER: HeaderRule = {
  pattern: /^[A-Za-z0-9._-]{1,32}$/,
  expect: "a version such as 2026-01",
};
export const SHOP_DOMAIN_HEADER: HeaderRule = {
  pattern: /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i,
  expect: "a shop domain such as example.myshopify.com",
};

/** The header's value, or a 400 naming it when it is missing or malformed. */
export function requiredHeader(headers: Headers, name: string, rule: HeaderRule): string {
  const value = headers.get(name)?.trim();
  if (!value) throw new AppError(400, "missing_header", `Required header ${name} is missing.`);
  return checked(name, value, rule);
}

/** The header's value, null when absent, a 400 when present but malformed. */
export function optionalHeader(headers: Headers, name: string, rule: HeaderRule): string | null {
  const value = headers.get(name)?.trim();
  return value ? checked(name, value, rule) : null;
}

function checked(name: string, value: string, rule: HeaderRule): string {
  if (value.length > 255 || !rule.pattern.test(value)) {
    throw new AppError(400, "invalid_header", `Header ${name} is malformed: expected ${rule.expect}.`);
  }
  return value;
}
