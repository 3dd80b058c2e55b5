import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runJob } from "../src/cron/jobs";
import worker from "../src/index";
import type { Envelope } from "../src/shared/envelope";
import { consumeBodies, registerShopToken } from "./cron-helpers";
import { ADMIN_TOKEN, adminRequest } from "./helpers/requests";

const run = `${Date.now()}`;
let seq = 0;
const shop = `gone-${run}.myshopify.com`;

function envelope(topic: string, body: string, at: string): Envelope {
  return {
    v: 1,
    source: "shopify",
    topic,
    eventId: `si-${run}-${++seq}`,
    shop,
    receivedAt: at,
    eventAt: at,
    apiVersion: null,
    origin: "webhook",
    body,
  };
}

const status = async () =>
  env.DB.prepare("SELECT status, changed_at FROM shop_installs WHERE shop = ?").bind(shop).first<{ status: string }>();

describe("app/uninstalled", () => {
  it("marks the shop: reconciliation and backfills skip it, the status page shows it, a re-install clears it", async () => {
    registerShopToken(shop, "shpat_gone");
    const gone = envelope("app/uninstalled", `{"id":1,"name":"Gone","domain":"${shop}"}`, "2027-06-01T10:00:00Z");
    expect((await consumeBodies([gone])).retryMessages).toEqual([]);
    expect(await status()).toMatchObject({ status: "uninstalled", changed_at: "2027-06-01T10:00:00Z" });

    const reconcile = await runJob(env, "reconcile", {
      now: new Date("2027-06-01T11:00:00Z"),
      options: { sources: ["shopify"], shops: [shop] },
    });
    expect(reconcile.job === "reconcile" && reconcile.result.scopes.filter((s) => s.scope === shop)).toEqual([]);

    const backfill = await worker.fetch(
      adminRequest("/admin/backfill", ADMIN_TOKEN, {
        method: "POST",
        body: JSON.stringify({ shop, resources: ["orders"] }),
      }),
      env,
      createExecutionContext(),
    );
    expect(backfill.status).toBe(409);
    expect(((await backfill.json()) as { error: { code: string } }).error.code).toBe("uninstalled");

    const page = await worker.fetch(adminRequest("/ops"), env, createExecutionContext());
    expect(await page.text()).toContain(shop);
    const api = await worker.fetch(adminRequest("/admin/status"), env, createExecutionContext());
    expect(((await api.json()) as { uninstalledShops: Array<{ shop: string }> }).uninstalledShops).toContainEqual({
      shop,
      since: "2027-06-01T10:00:00Z",
    });

    // A late webhook from before the uninstall changes nothing; one from after it is a re-install.
    const late = envelope(
      "products/update",
      `{"id":1,"title":"x","updated_at":"2027-06-01T09:00:00Z","variants":[]}`,
      "2027-06-01T09:00:00Z",
    );
    expect((await consumeBodies([late])).retryMessages).toEqual([]);
    expect((await status())?.status).toBe("uninstalled");
    const back = envelope(
      "products/update",
      `{"id":1,"title":"x","updated_at":"2027-06-02T09:00:00Z","variants":[]}`,
      "2027-06-02T09:00:00Z",
    );
    expect((await consumeBodies([back])).retryMessages).toEqual([]);
    expect((await status())?.status).toBe("installed");
  });

  it("lifts an uninstall from the newest webhook of the shop in a batch, whatever their order", async () => {
    const other = `back-${run}.myshopify.com`;
    const of = (e: Envelope): Envelope => ({ ...e, shop: other });
    const product = (at: string) =>
      of(envelope("products/update", `{"id":2,"title":"y","updated_at":"${at}","variants":[]}`, at));
    const gone = of(envelope("app/uninstalled", `{"id":2,"name":"Back","domain":"${other}"}`, "2027-07-01T10:00:00Z"));
    expect((await consumeBodies([gone])).retryMessages).toEqual([]);
    // A webhook newer than the uninstall comes first, then an older one, then the newest: the mark
    // carries the newest one's time and id, as if they had come in order.
    const newest = product("2027-07-03T09:00:00Z");
    const events = [product("2027-07-02T09:00:00Z"), product("2027-07-01T09:00:00Z"), newest];
    expect((await consumeBodies(events)).retryMessages).toEqual([]);
    const row = await env.DB.prepare("SELECT status, changed_at, last_event_id FROM shop_installs WHERE shop = ?")
      .bind(other)
      .first();
    expect(row).toEqual({ status: "installed", changed_at: "2027-07-03T09:00:00Z", last_event_id: newest.eventId });
  });
});
