/**
 * Browser sessions for `/ops`: after the admin token is typed into the sign-in form, a cookie
 * `ops_session = {expiresMs}.{sessionId}.{hmac}` signed with a key derived from that admin token
 * (HttpOnly, SameSite=Strict, Secure except on localhost, 8 h), and a row in D1 `ops_sessions`
 * keyed by the SHA-256 of the session id. A cookie is valid while its signature checks, it has not
 * expired and its row exists: sign-out deletes the row (a copied cookie is refused from then on),
 * "sign out everywhere" deletes every row, and rotating ADMIN_TOKEN still ends every session.
 *
 * Why a row per session rather than a per-deployment session generation: sign-out must end only
 * its own session, which a generation cannot do without ending all of them. The cost is one D1
 * read by primary key per page request from a browser (bearer clients never read it), and the
 * table stays small: rows are deleted on sign-out and expired ones whenever a session is written.
 *
 * Each POST action carries a CSRF token derived from the session (and SameSite=Strict keeps the
 * cookie off cross-site posts).
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { requireSecrets } from "../../shared/config";
import { hmacSha256, sha256, timingSafeEqualText, toHex, utf8 } from "../../shared/crypto";
import { sharedDatabase } from "../../tables/database";

export const SESSION_COOKIE = "ops_session";
export const SESSION_HOURS = 8;

export interface Session {
  expiresAt: string;
  csrf: string;
  /** The D1 key of this session: SHA-256 of its id (the id itself is only in the cookie). */
  idHash: string;
}

const keyOf = (adminToken: string) => `ops-session/${adminToken}`;
const sign = async (adminToken: string, what: string) => toHex(await hmacSha256(keyOf(adminToken), utf8(what)));
const hashOf = async (sessionId: string) => toHex(await sha256(utf8(sessionId)));

/** Deletes the sessions that expired: run with every session write, so the table never grows. */
const pruneExpired = (db: D1Database, nowIso: string) =>
  db.prepare("DELETE FROM ops_sessions WHERE expires_at <= ?1").bind(nowIso);

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
  const sessionId = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const db = sharedDatabase(c.env);
  await db.batch([
    pruneExpired(db, new Date(nowMs).toISOString()),
    db
      .prepare("INSERT INTO ops_sessions (id_hash, created_at, expires_at) VALUES (?1, ?2, ?3)")
      .bind(await hashOf(sessionId), new Date(nowMs).toISOString(), new Date(expires).toISOString()),
  ]);
  const value = `${expires}.${sessionId}.${await sign(adminToken, `session.${expires}.${sessionId}`)}`;
  setCookie(c, SESSION_COOKIE, value, {
    path: "/ops",
    httpOnly: true,
    secure: !isLocal(c),
    sameSite: "Strict",
    maxAge: SESSION_HOURS * 3600,
    expires: new Date(expires),
  });
}

/** Sign-out: this session's row goes (a replayed cookie is refused), and the browser's cookie is cleared. */
export async function endSession(c: Context<{ Bindings: Env }>, session: Session | null): Promise<void> {
  if (session !== null) {
    const db = sharedDatabase(c.env);
    await db.batch([
      db.prepare("DELETE FROM ops_sessions WHERE id_hash = ?1").bind(session.idHash),
      pruneExpired(db, new Date().toISOString()),
    ]);
  }
  clearCookie(c);
}

export function clearCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/ops", secure: !isLocal(c), httpOnly: true, sameSite: "Strict" });
}

/** "Sign out everywhere": ends every session; answers how many were open. */
export async function revokeAllSessions(db: D1Database, nowMs = Date.now()): Promise<{ revoked: number }> {
  const [open] = await db.batch([
    db.prepare("SELECT count(*) AS n FROM ops_sessions WHERE expires_at > ?1").bind(new Date(nowMs).toISOString()),
    db.prepare("DELETE FROM ops_sessions"),
  ]);
  return { revoked: Number((open?.results[0] as { n: number } | undefined)?.n ?? 0) };
}

/** The open sessions: when each started and ends (never an id or a hash of one). */
export async function openSessions(
  db: D1Database,
  nowMs = Date.now(),
): Promise<Array<{ createdAt: string; expiresAt: string }>> {
  const rows = await db
    .prepare(
      `SELECT created_at AS createdAt, expires_at AS expiresAt FROM ops_sessions WHERE expires_at > ?1
       ORDER BY created_at DESC LIMIT 500`,
    )
    .bind(new Date(nowMs).toISOString())
    .all<{ createdAt: string; expiresAt: string }>();
  return rows.results;
}

/** The valid, unexpired, unrevoked session of this request, or null. */
export async function readSession(c: Context<{ Bindings: Env }>, nowMs = Date.now()): Promise<Session | null> {
  const value = getCookie(c, SESSION_COOKIE);
  if (!value) return null;
  const match = /^(\d{13})\.([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(value);
  if (!match) return null;
  const [, expires = "", sessionId = "", mac = ""] = match;
  if (Number(expires) <= nowMs) return null;
  for (const token of requireSecrets(c.env, "ADMIN_TOKEN")) {
    if (await timingSafeEqualText(await sign(token, `session.${expires}.${sessionId}`), mac)) {
      // Signed by us: now the one D1 read, by primary key, that says it was not signed out.
      const idHash = await hashOf(sessionId);
      const open = await sharedDatabase(c.env)
        .prepare("SELECT 1 AS open FROM ops_sessions WHERE id_hash = ?1 AND expires_at > ?2")
        .bind(idHash, new Date(nowMs).toISOString())
        .first<{ open: number }>();
      if (open === null) return null;
      return {
        expiresAt: new Date(Number(expires)).toISOString(),
        csrf: await sign(token, `csrf.${expires}.${sessionId}`),
        idHash,
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
