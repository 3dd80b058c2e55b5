/**
 * Browser sessions for `/ops`: after the admin token is typed into the sign-in form, a cookie
 * `ops_session = {expiresMs}.{nonce}.{hmac}` signed with a key derived from that admin token
 * (HttpOnly, SameSite=Strict, Secure except on localhost, 8 h). Stateless by choice: nothing is
 * stored, and rotating ADMIN_TOKEN ends every session; the cost is that sign-out clears the
 * browser's cookie but cannot revoke a copied one before it expires. Each POST action carries a
 * CSRF token derived from the session (and SameSite=Strict keeps the cookie off cross-site posts).
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { requireSecrets } from "../../shared/config";
import { hmacSha256, timingSafeEqualText, toHex, utf8 } from "../../shared/crypto";

export const SESSION_COOKIE = "ops_session";
export const SESSION_HOURS = 8;

export interface Session {
  expiresAt: string;
  csrf: string;
}

const keyOf = (adminToken: string) => `ops-session/${adminToken}`;
const sign = async (adminToken: string, what: string) => toHex(await hmacSha256(keyOf(adminToken), utf8(what)));

/** Whether the browser talks to this Worker on a loopback host (wrangler dev): then no Secure flag. */
function isLocal(c: Context): boolean {
  const host = new URL(c.req.url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

export async function startSession(
  c: Context<{ Bindings: Env }>,
  adminToken: string,
  nowMs = Date.now(),
): Promise<void> {
  const expires = nowMs + SESSION_HOURS * 3_600_000;
  const nonce = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const value = `${expires}.${nonce}.${await sign(adminToken, `session.${expires}.${nonce}`)}`;
  setCookie(c, SESSION_COOKIE, value, {
    path: "/ops",
    httpOnly: true,
    secure: !isLocal(c),
    sameSite: "Strict",
    maxAge: SESSION_HOURS * 3600,
    expires: new Date(expires),
  });
}

export function endSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/ops", secure: !isLocal(c), httpOnly: true, sameSite: "Strict" });
}

/** The valid, unexpired session of this request, or null. */
export async function readSession(c: Context<{ Bindings: Env }>, nowMs = Date.now()): Promise<Session | null> {
  const value = getCookie(c, SESSION_COOKIE);
  if (!value) return null;
  const match = /^(\d{13})\.([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(value);
  if (!match) return null;
  const [, expires = "", nonce = "", mac = ""] = match;
  if (Number(expires) <= nowMs) return null;
  for (const token of requireSecrets(c.env, "ADMIN_TOKEN")) {
    if (await timingSafeEqualText(await sign(token, `session.${expires}.${nonce}`), mac)) {
      return {
        expiresAt: new Date(Number(expires)).toISOString(),
        csrf: await sign(token, `csrf.${expires}.${nonce}`),
      };
    }
  }
  return null;
}

/** A form post's CSRF token must be the one derived from this session. */
export async function csrfMatches(session: Session, given: unknown): Promise<boolean> {
  return typeof given === "string" && given.length > 0 && (await timingSafeEqualText(session.csrf, given));
}

/** Which admin token the typed value is, if any (constant-time against each). */
export async function matchingAdminToken(env: Env, given: string): Promise<string | null> {
  let found: string | null = null;
  for (const token of requireSecrets(env, "ADMIN_TOKEN")) if (await timingSafeEqualText(token, given)) found = token;
  return given ? found : null;
}
