/** The HTTP surface (Hono): webhook routes, health, and the operator API behind the admin token. */
import { Hono } from "hono";
import { AppError, errorBody } from "../shared/errors";
import { describeError, log } from "../shared/log";
import { sharedDatabase } from "../tables/database";
import { adminAuth } from "./admin/auth";
import { backfillStatus, startBackfill } from "./admin/backfill";
import { doctorRoute } from "./admin/doctor";
import { listHeldBackWithLedger } from "./admin/held-back";
import { runJobRequest } from "./admin/jobs";
import { ops } from "./admin/ops";
import { lookUpPerson, parsePeopleQuery } from "./admin/people";
import { privacyExport, privacyRequestStatus, requestErasure } from "./admin/privacy";
import { recentEvents } from "./admin/recent-events";
import { replayProgress, replayRoute } from "./admin/replay";
import { openSessions, revokeAllSessions } from "./admin/session";
import { changeShopWebhook, listShopWebhooks } from "./admin/shop-webhooks";
import { shopsAdd, shopsList, shopsRemove, shopsReseal } from "./admin/shops";
import { pipelineStatus } from "./admin/status";
import { rechargeIntake } from "./recharge";
import { shopifyIntake } from "./shopify";
import { stripeIntake } from "./stripe";
import { webhookRoute } from "./webhook";

export const app = new Hono<{ Bindings: Env }>();

app.post("/webhooks/shopify", webhookRoute(shopifyIntake));
app.post("/webhooks/stripe", webhookRoute(stripeIntake));
app.post("/webhooks/recharge", webhookRoute(rechargeIntake));
app.all("/webhooks/:source{shopify|stripe|recharge}", () => {
  throw new AppError(405, "method_not_allowed", "Webhooks are delivered with POST.");
});

app.get("/health", (c) => c.json({ ok: true }));

app.use("/admin/*", adminAuth());
app.post("/admin/backfill", startBackfill);
app.get("/admin/backfill/:id", backfillStatus);
app.get("/admin/shops", shopsList);
app.post("/admin/shops", shopsAdd);
app.post("/admin/shops/reseal", shopsReseal);
app.delete("/admin/shops/:shop", shopsRemove);
app.get("/admin/shops/:shop/webhooks", listShopWebhooks);
app.post("/admin/shops/:shop/webhooks", changeShopWebhook);
app.get("/admin/dead-letters", async (c) =>
  c.json({ ok: true, ...(await listHeldBackWithLedger(c.env, "dead-letter", c.req.query())) }),
);
app.get("/admin/quarantine", async (c) =>
  c.json({ ok: true, ...(await listHeldBackWithLedger(c.env, "quarantine", c.req.query())) }),
);
app.get("/admin/people", async (c) => {
  const email = parsePeopleQuery(c.req.query());
  const person = await lookUpPerson(sharedDatabase(c.env), email);
  if (!person) return c.json(errorBody("not_found", `No person holds ${email}.`), 404);
  return c.json({ ok: true, person });
});
app.get("/admin/status", async (c) => c.json({ ok: true, ...(await pipelineStatus(c.env)) }));
app.get("/admin/doctor", doctorRoute);
app.get("/admin/events", async (c) => c.json({ ok: true, events: await recentEvents(c.env, c.req.query()) }));
app.post("/admin/replay", replayRoute);
app.get("/admin/replay/:id", replayProgress);
app.get("/admin/sessions", async (c) => {
  const sessions = await openSessions(sharedDatabase(c.env));
  return c.json({ ok: true, open: sessions.length, sessions });
});
app.post("/admin/sessions/revoke-all", async (c) => {
  const result = await revokeAllSessions(sharedDatabase(c.env));
  log.info("ops sessions revoked", result);
  return c.json({ ok: true, ...result });
});
app.post("/admin/privacy/erase", requestErasure);
app.get("/admin/privacy/:id", privacyRequestStatus);
app.get("/admin/privacy/:id/export", privacyExport);
app.post("/admin/jobs/:name", async (c) =>
  c.json({ ok: true, ...(await runJobRequest(c.env, c.req.param("name"), await c.req.text())) }),
);
app.route("/ops", ops);

app.notFound((c) => c.json(errorBody("not_found", `No route for ${c.req.method} ${c.req.path}.`), 404));

app.onError((err, c) => {
  if (err instanceof AppError) {
    if (err.status === 405) c.header("Allow", "POST");
    return c.json(errorBody(err.code, err.message), err.status);
  }
  log.error("unhandled error", { path: c.req.path, error: describeError(err) });
  return c.json(errorBody("internal", "Internal error; the request was not accepted. Retry later."), 500);
});
