/**
 * `/ops`: the operator page and its form actions.
 *   GET  /ops            the dashboard (bearer token or session cookie); a browser without
 *                        either gets the sign-in form, an API client a 401 error body
 *   POST /ops/sign-in    form `token` → session cookie, 303 to /ops
 *   POST /ops/sign-out   ends this session (its D1 row goes) and clears the cookie
 *   POST /ops/sign-out-everywhere  ends every session
 *   POST /ops/replay     form `key` → sends that dead letter or quarantined event back through the queue
 *   GET  /ops/people     form `email` → the person's profile and activity across the sources
 * Form posts need the session's CSRF token and, when the browser sends one, an Origin equal to
 * this host; a bearer client needs neither (it holds the token itself).
 */
import { type Context, Hono } from "hono";
import { AppError, errorBody } from "../../shared/errors";
import { describeError, log } from "../../shared/log";
import { sharedDatabase } from "../../tables/database";
import { hasAdminBearer } from "./auth";
import { OpsPage } from "./ops/page";
import { PeoplePage } from "./ops/people";
import { SignInPage, SignOutButtons } from "./ops/sign-in";
import { opsData } from "./ops-data";
import { lookUpPerson, type PersonView, parsePeopleQuery } from "./people";
import { replayHeld } from "./replay";
import {
  clearCookie,
  csrfMatches,
  endSession,
  matchingAdminToken,
  readSession,
  revokeAllSessions,
  type Session,
  startSession,
} from "./session";

type Ctx = Context<{ Bindings: Env }>;

export const ops = new Hono<{ Bindings: Env }>();

interface Caller {
  bearer: boolean;
  session: Session | null;
}

async function callerOf(c: Ctx): Promise<Caller> {
  const bearer = await hasAdminBearer(c);
  return { bearer, session: bearer ? null : await readSession(c) };
}

const wantsHtml = (c: Ctx) => !c.req.header("authorization") && (c.req.header("accept") ?? "").includes("text/html");

ops.use("*", async function opsAuth(c, next) {
  if (c.req.method === "POST" && !sameOrigin(c)) {
    return c.json(errorBody("unauthorized", "Cross-origin form posts are refused."), 403);
  }
  await next();
});

ops.get("/", async (c) => {
  const caller = await callerOf(c);
  if (!caller.bearer && !caller.session) {
    if (wantsHtml(c)) return c.html(<SignInPage />, 401);
    throw new AppError(401, "unauthorized", "Send Authorization: Bearer <ADMIN_TOKEN>, or sign in at /ops.");
  }
  const notice = noticeOf(c.req.query());
  c.header("cache-control", "no-store");
  return c.html(<OpsPage data={await opsData(c.env)} csrf={caller.session?.csrf ?? null} notice={notice} />);
});

ops.get("/people", async (c) => {
  const caller = await callerOf(c);
  if (!caller.bearer && !caller.session) {
    if (wantsHtml(c)) return c.html(<SignInPage />, 401);
    throw new AppError(401, "unauthorized", "Send Authorization: Bearer <ADMIN_TOKEN>, or sign in at /ops.");
  }
  const raw = c.req.query("email") ?? "";
  let person: PersonView | null = null;
  let error: string | null = null;
  if (raw) {
    try {
      const email = parsePeopleQuery({ email: raw });
      person = await lookUpPerson(sharedDatabase(c.env), email);
      if (!person) error = `No person holds ${email}.`;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      error = err.message;
    }
  }
  c.header("cache-control", "no-store");
  const header = caller.session ? <SignOutButtons csrf={caller.session.csrf} /> : null;
  return c.html(<PeoplePage email={raw} person={person} error={error} header={header} />);
});

ops.post("/sign-in", async (c) => {
  const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  const given = typeof form.token === "string" ? form.token.trim() : "";
  const token = await matchingAdminToken(c.env, given);
  if (!token) {
    log.warn("ops sign-in refused", {});
    return c.html(<SignInPage error="That is not the admin token." />, 401);
  }
  await startSession(c, token);
  log.info("ops sign-in", {});
  return c.redirect("/ops", 303);
});

ops.post("/sign-out", async (c) => {
  const session = await requireFormSession(c);
  if (session instanceof Response) return session;
  await endSession(c, session === true ? null : session);
  log.info("ops sign-out", {});
  return c.html(<SignInPage error="Signed out." />, 200);
});

ops.post("/sign-out-everywhere", async (c) => {
  const session = await requireFormSession(c);
  if (session instanceof Response) return session;
  const { revoked } = await revokeAllSessions(sharedDatabase(c.env));
  clearCookie(c);
  log.info("ops sessions revoked", { revoked });
  return c.html(<SignInPage error={`Signed out everywhere: ${revoked} session(s) ended.`} />, 200);
});

ops.post("/replay", async (c) => {
  const session = await requireFormSession(c);
  if (session instanceof Response) return session;
  const key = String((await formOf(c)).key ?? "");
  try {
    const { eventId, source } = await replayHeld(c.env, { key });
    const from = key.startsWith("quarantine/") ? "&from=quarantine" : "";
    return c.redirect(`/ops?replayed=${encodeURIComponent(`${source} ${eventId}`)}${from}`, 303);
  } catch (err) {
    const message = err instanceof AppError ? err.message : "The replay failed; see the logs.";
    if (!(err instanceof AppError)) log.error("ops replay failed", { error: describeError(err) });
    return c.redirect(`/ops?error=${encodeURIComponent(message.slice(0, 300))}`, 303);
  }
});

async function formOf(c: Ctx): Promise<Record<string, unknown>> {
  return (await c.req.parseBody().catch(() => ({}))) as Record<string, unknown>;
}

/** A form post from a signed-in browser with the right CSRF token, or bearer; else the refusal. */
async function requireFormSession(c: Ctx): Promise<Session | true | Response> {
  const caller = await callerOf(c);
  if (caller.bearer) return true;
  const session = caller.session;
  if (!session) return c.html(<SignInPage error="Your session ended; sign in again." />, 401);
  if (!(await csrfMatches(session, (await formOf(c)).csrf))) {
    return c.json(errorBody("unauthorized", "The form's CSRF token does not match this session."), 403);
  }
  return session;
}

/** Browsers send Origin on form posts; when present it must be this Worker's own origin. */
function sameOrigin(c: Ctx): boolean {
  const origin = c.req.header("origin");
  if (!origin) return true;
  try {
    return new URL(origin).host === (c.req.header("host") ?? new URL(c.req.url).host);
  } catch {
    return false;
  }
}

function noticeOf(q: Record<string, string>): { text: string; error: boolean } | null {
  if (q.replayed && q.from === "quarantine") {
    return {
      text: `Replay sent: ${q.replayed.slice(0, 200)}, from quarantine. Reload: its row shows applied, or why it is still quarantined.`,
      error: false,
    };
  }
  if (q.replayed) return { text: `Replay sent: ${q.replayed.slice(0, 200)}. Reload to see it applied.`, error: false };
  if (q.error) return { text: q.error.slice(0, 300), error: true };
  return null;
}
