/**
 * The operator CLI as a child process against a fake of the pipeline's admin API (a Node HTTP
 * server answering like the Worker's routes): each command's requests, its output and its exit
 * codes — 0 done, 1 a failed check or refused request, 2 bad usage with a one-line reason.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RECHARGE_WEBHOOK_TOPICS, SHOPIFY_WEBHOOK_TOPICS, STRIPE_WEBHOOK_EVENTS } from "../../src/shared/subscriptions";
import { resourceFor } from "../../src/shared/topics";
import { runCli } from "./harness/dev-worker";

interface Seen {
  method: string;
  path: string;
  body: unknown;
  auth: string;
}

type Handler = (req: Seen) => { status: number; body: unknown };

const seen: Seen[] = [];
let handler: Handler = () => ({ status: 404, body: { ok: false, error: { code: "not_found", message: "no route" } } });
let server: Server;
let base = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (d: Buffer) => {
      text += d.toString();
    });
    req.on("end", () => {
      const entry: Seen = {
        method: req.method ?? "",
        path: req.url ?? "",
        body: text ? JSON.parse(text) : undefined,
        auth: req.headers.authorization ?? "",
      };
      seen.push(entry);
      const answer = handler(entry);
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen.length = 0;
});

const ops = (args: string[], env: Record<string, string> = { ADMIN_TOKEN: "cli-token" }) =>
  runCli(["--url", base, ...args], env);

// Each case spawns Node: on a busy machine a few take seconds, so the cases get room.
describe("usage errors exit 2 with one line and send nothing", { timeout: 30_000 }, () => {
  it.each([
    [["backfill", "NOT A SHOP"], 'error: "NOT A SHOP" is not a shop domain like my-shop.myshopify.com'],
    [
      ["backfill", "a.myshopify.com", "--resources", "orders,widgets"],
      "error: --resources for shopify takes orders, customers, products, fulfillments, refunds, inventory, locations; got widgets",
    ],
    [["backfill"], "error: a Shopify backfill needs the shop: backfill <shop>"],
    [
      ["backfill", "a.myshopify.com", "--source", "stripe"],
      "error: a stripe backfill covers the whole account: give no shop",
    ],
    [
      ["backfill", "--source", "recharge", "--resources", "charges,invoices"],
      "error: --resources for recharge takes customers, subscriptions, charges, orders; got invoices",
    ],
    [["backfill", "--source", "stripe", "--resources", "charges,charges"], "error: --resources names a resource twice"],
    [
      ["backfill", "--source", "paypal"],
      "error: option '--source <source>' argument 'paypal' is invalid. Allowed choices are shopify, stripe, recharge.",
    ],
    [["backfill", "--source", "stripe", "--since", "soon"], 'error: --since must be an ISO-8601 time, got "soon"'],
    [
      ["backfill", "a.myshopify.com", "--since", "yesterday"],
      'error: --since must be an ISO-8601 time, got "yesterday"',
    ],
    [["replay"], "error: give --key dead-letter/…|quarantine/… or --from and --to"],
    [["replay", "--key", "raw/x.json"], "error: --key must start with dead-letter/ or quarantine/"],
    [
      ["replay", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z", "--interval", "0"],
      "error: --interval must be 0-600 seconds",
    ],
    [["redrive", "--quarantine", "--day", "2026-11-01"], "error: --day needs --source"],
    [["replay", "--from", "2026-11-01T00:00:00Z"], "error: a range needs both --from and --to"],
    [["redrive", "--day", "2026-11-01"], "error: --day needs --source"],
    [["events", "--limit", "0"], "error: --limit must be 1-500"],
    [
      ["events", "--source", "paypal"],
      "error: option '--source <source>' argument 'paypal' is invalid. Allowed choices are shopify, stripe, recharge.",
    ],
    [["frobnicate"], "error: unknown command 'frobnicate'"],
    [["sessions", "forget"], "error: unknown command 'forget'"],
  ])("%j", async (args, message) => {
    const r = await ops(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${message}\n`);
    expect(seen).toEqual([]);
  });

  it("without ADMIN_TOKEN, and with a bad --url", async () => {
    // Run where no .dev.vars is: for a local URL the CLI would read the token from a developer's own.
    expect(await runCli(["--url", base, "status"], {}, undefined, tmpdir())).toMatchObject({
      code: 2,
      stderr: "error: set ADMIN_TOKEN to the pipeline's admin token\n",
    });
    const bad = await runCli(["--url", "not a url", "status"], { ADMIN_TOKEN: "x" });
    expect(bad).toMatchObject({ code: 2, stderr: 'error: --url must be an http(s) URL, got "not a url"\n' });
  });

  it("--help exits 0 for every command", async () => {
    for (const args of [
      ["--help"],
      ["webhooks", "plan", "--help"],
      ["shops", "add", "--help"],
      ["backfill", "--help"],
      ["replay", "--help"],
      ["redrive", "--help"],
      ["sessions", "revoke-all", "--help"],
    ]) {
      const r = await ops(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toContain("Usage: ops");
    }
  });
});

describe("commands", { timeout: 30_000 }, () => {
  it("status prints the ledger and --check fails on dead letters", async () => {
    handler = () => ({
      status: 200,
      body: {
        ok: true,
        ledger: [{ source: "stripe", status: "applied", count: 12 }],
        lastEvents: [
          { source: "stripe", lastReceivedAt: "2026-12-01T10:00:00.000Z", lastEventAt: "2026-12-01T09:59:00.000Z" },
        ],
        quarantine: { objects: 0, truncated: false },
        deadLetter: { objects: 2, truncated: false },
      },
    });
    const r = await ops(["status"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/stripe\s+applied\s+12/);
    expect(r.stdout).toContain("dead letters: 2   quarantined: 0");
    expect(seen).toEqual([{ method: "GET", path: "/admin/status", body: undefined, auth: "Bearer cli-token" }]);
    const check = await ops(["status", "--check"]);
    expect(check.code).toBe(1);
    expect(check.stderr).toBe("check failed: 2 dead letter(s), 0 quarantined\n");
  });

  it("events passes its filters and prints rows", async () => {
    handler = () => ({
      status: 200,
      body: {
        ok: true,
        events: [
          {
            source: "shopify",
            event_id: "e-1",
            topic: "orders/create",
            shop: "a.myshopify.com",
            status: "failed",
            received_at: "2026-12-01T10:00:00.000Z",
            attempts: 9,
            error: "boom",
          },
        ],
      },
    });
    const r = await ops(["events", "--source", "shopify", "--status", "failed", "--limit", "5"]);
    expect(r.code).toBe(0);
    expect(seen[0]?.path).toBe("/admin/events?limit=5&source=shopify&status=failed");
    expect(r.stdout).toMatch(/orders\/create\s+a\.myshopify\.com\s+failed\s+9\s+e-1\s+boom/);
  });

  it("backfill follows progress until completed, and fails when the backfill fails", async () => {
    let reads = 0;
    const op = (status: string, lines: number) => ({
      resource: "orders",
      status,
      linesRead: lines,
      objectCount: 10,
      rowsApplied: lines,
      error: status === "failed" ? "ACCESS_DENIED" : null,
    });
    let final = "completed";
    handler = (req) => {
      if (req.method === "POST") return { status: 202, body: { ok: true, backfillId: "bf_1" } };
      reads++;
      const status = reads < 3 ? "running" : final;
      return {
        status: 200,
        body: {
          ok: true,
          backfill: { id: "bf_1", status, operations: [op(reads < 3 ? "staging" : final, reads * 3)] },
        },
      };
    };
    const r = await ops([
      "backfill",
      "a.myshopify.com",
      "--resources",
      "orders",
      "--since",
      "2026-01-01T00:00:00Z",
      "--interval",
      "0.05",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(seen[0]).toMatchObject({
      method: "POST",
      path: "/admin/backfill",
      body: { shop: "a.myshopify.com", resources: ["orders"], since: "2026-01-01T00:00:00Z" },
    });
    expect(r.stdout.trim().split("\n")).toEqual([
      "bf_1 running: orders staging 3/10 lines, 3 rows",
      "bf_1 running: orders staging 6/10 lines, 6 rows",
      "bf_1 completed: orders completed 9/10 lines, 9 rows",
    ]);
    reads = 0;
    final = "failed";
    const failed = await ops(["backfill", "a.myshopify.com", "--interval", "0.05"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe("failed: backfill bf_1 failed: ACCESS_DENIED\n");
  });

  it("backfill --source stripe|recharge starts a history backfill and follows its resources", async () => {
    let reads = 0;
    let final = "completed";
    const resource = (name: string, status: string, n: number) => ({
      resource: name,
      status,
      pages: n,
      listed: n * 100,
      sent: n * 100,
      error: status === "failed" ? "Stripe answered 401" : null,
    });
    handler = (req) => {
      if (req.method === "POST") {
        return {
          status: 202,
          body: { ok: true, backfillId: "bf_s", status: "/admin/backfill/bf_s", resources: ["charges"] },
        };
      }
      reads++;
      const status = reads < 2 ? "running" : final;
      return {
        status: 200,
        body: {
          ok: true,
          backfill: { id: "bf_s", source: "stripe", status, resources: [resource("charges", status, reads)] },
        },
      };
    };
    const r = await ops([
      "backfill",
      "--source",
      "stripe",
      "--resources",
      "charges",
      "--since",
      "2026-06-01T00:00:00Z",
      "--interval",
      "0.05",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(seen[0]).toMatchObject({
      method: "POST",
      path: "/admin/backfill",
      body: { source: "stripe", resources: ["charges"], since: "2026-06-01T00:00:00Z" },
    });
    expect(seen.slice(1).map((s) => `${s.method} ${s.path}`)).toEqual([
      "GET /admin/backfill/bf_s",
      "GET /admin/backfill/bf_s",
    ]);
    expect(r.stdout.trim().split("\n")).toEqual([
      "bf_s running: charges running 1 pages, 100 listed, 100 sent",
      "bf_s completed: charges completed 2 pages, 200 listed, 200 sent",
    ]);

    // Recharge without --resources asks for every resource it can list.
    seen.length = 0;
    reads = 0;
    final = "failed";
    const failed = await ops(["backfill", "--source", "recharge", "--interval", "0.05"]);
    expect(seen[0]?.body).toEqual({
      source: "recharge",
      resources: ["customers", "subscriptions", "charges", "orders"],
    });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe("failed: backfill bf_s failed: Stripe answered 401\n");
  });

  it("backfill names the running backfill on 409", async () => {
    handler = () => ({
      status: 409,
      body: {
        ok: false,
        error: { code: "already_running", message: "A stripe backfill is already running for charges." },
        running: [{ resource: "charges", backfillId: "bf_old" }],
      },
    });
    const r = await ops(["backfill", "--source", "stripe", "--resources", "charges"]);
    expect(r).toMatchObject({
      code: 1,
      stderr:
        "failed: already running: charges (bf_old); wait for it to end before starting another (GET /admin/backfill/<id>)\n",
    });
  });

  it("a refused request exits 1 with the pipeline's message", async () => {
    handler = () => ({
      status: 409,
      body: { ok: false, error: { code: "already_running", message: "A backfill is already running" } },
    });
    const r = await ops(["backfill", "a.myshopify.com", "--no-wait"]);
    expect(r).toMatchObject({
      code: 1,
      stderr:
        "failed: already running: A backfill is already running (already_running); wait for it to end before starting another (GET /admin/backfill/<id>)\n",
    });
    const down = await runCli(["--url", "http://127.0.0.1:9", "status"], { ADMIN_TOKEN: "x" });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^failed: cannot reach the pipeline at http:\/\/127\.0\.0\.1:9/);
  });

  it("replay sends a dead letter's key", async () => {
    handler = () => ({ status: 200, body: { ok: true, eventId: "e", source: "stripe" } });
    const r = await ops(["replay", "--key", "dead-letter/stripe/dt=2026-12-01/e.json"]);
    expect(r).toMatchObject({ code: 0, stdout: "replay sent: stripe e\n" });
    expect(seen.map((s) => [s.method, s.path, s.body])).toEqual([
      ["POST", "/admin/replay", { key: "dead-letter/stripe/dt=2026-12-01/e.json" }],
    ]);
  });

  it("replay --from/--to follows the replay until it completes, and exits 1 when it fails", async () => {
    let reads = 0;
    let final = "completed";
    handler = (req) => {
      if (req.method === "POST")
        return { status: 202, body: { ok: true, replayId: "rp-1", status: "/admin/replay/rp-1" } };
      reads++;
      const status = reads === 1 ? "pending" : reads < 3 ? "running" : final;
      return {
        status: 200,
        body: {
          ok: true,
          replayId: "rp-1",
          status,
          listed: reads * 10,
          sent: reads * 5,
          applied: reads * 5 - 1,
          error: status === "failed" ? "R2 list failed" : null,
        },
      };
    };
    const args = ["replay", "--source", "stripe", "--from", "2026-12-01T00:00:00Z", "--to", "2026-12-02T00:00:00Z"];
    const r = await ops([...args, "--interval", "0.05"]);
    expect(r.code, r.stderr).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "POST /admin/replay",
      "GET /admin/replay/rp-1",
      "GET /admin/replay/rp-1",
      "GET /admin/replay/rp-1",
    ]);
    expect(seen[0]?.body).toEqual({ from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00Z", source: "stripe" });
    expect(r.stdout.trim().split("\n")).toEqual([
      "rp-1 pending: 10 listed, 5 sent, 4 applied",
      "rp-1 running: 20 listed, 10 sent, 9 applied",
      "rp-1 completed: 30 listed, 15 sent, 14 applied",
      "every event is sent; the queue applies the rest (GET /admin/replay/rp-1 counts them)",
    ]);

    reads = 0;
    final = "failed";
    const failed = await ops([...args, "--interval", "0.05"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe("failed: replay rp-1 failed: R2 list failed\n");

    seen.length = 0;
    const quick = await ops([...args, "--no-wait"]);
    expect(quick).toMatchObject({ code: 0, stdout: "replay rp-1 started; follow it with GET /admin/replay/rp-1\n" });
    expect(seen.map((s) => s.method)).toEqual(["POST"]);
  });

  it("replay --key quarantine/… waits for the outcome: 0 when applied, 1 with the reason when still invalid", async () => {
    const key = "quarantine/stripe/dt=2026-12-01/evt_q.json";
    const sentAt = "2026-12-01T10:00:00.000Z";
    let outcome: { status: string; note: string | null; r2_key: string | null } = {
      status: "applied",
      note: `replayed from ${key}`,
      r2_key: "raw/stripe/charges/events/dt=2026-12-01/hour=09/evt_q.json",
    };
    let reads = 0;
    handler = (req) => {
      if (req.method === "POST")
        return { status: 200, body: { ok: true, eventId: "evt_q", source: "stripe", key, sentAt } };
      reads++;
      // The first read still shows the row as it was before the replay.
      const updated_at = reads === 1 ? "2026-12-01T09:00:00.000Z" : "2026-12-01T10:00:01.000Z";
      const row = reads === 1 ? { status: "quarantined", note: "invalid_payload", r2_key: key } : outcome;
      return { status: 200, body: { ok: true, events: [{ source: "stripe", event_id: "evt_q", ...row, updated_at }] } };
    };
    const applied = await ops(["replay", "--key", key, "--interval", "0.05"]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toBe(
      "applied: stripe evt_q is applied (raw/stripe/charges/events/dt=2026-12-01/hour=09/evt_q.json)\n",
    );
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "POST /admin/replay",
      "GET /admin/events?source=stripe&eventId=evt_q&limit=1",
      "GET /admin/events?source=stripe&eventId=evt_q&limit=1",
    ]);
    expect(seen[0]?.body).toEqual({ key });

    reads = 0;
    outcome = {
      status: "quarantined",
      note: "invalid_payload when replayed at …: amount: expected number",
      r2_key: key,
    };
    const still = await ops(["replay", "--key", key, "--interval", "0.05"]);
    expect(still.code).toBe(1);
    expect(still.stderr).toBe(
      "failed: stripe evt_q is still invalid and stays quarantined: invalid_payload when replayed at …: amount: expected number\n",
    );

    handler = () => ({
      status: 422,
      body: { ok: false, error: { code: "not_replayable", message: `${key} holds a body that is not UTF-8 text` } },
    });
    const refused = await ops(["replay", "--key", key]);
    expect(refused).toMatchObject({
      code: 1,
      stderr: `failed: POST /admin/replay: HTTP 422: ${key} holds a body that is not UTF-8 text (not_replayable)\n`,
    });
  });

  it("redrive --quarantine replays only the events still quarantined", async () => {
    const q = (name: string, ledgerStatus: string) => ({
      key: `quarantine/stripe/dt=2026-12-01/${name}.json`,
      source: "stripe",
      topic: "charge.succeeded",
      eventId: name,
      ledgerStatus,
    });
    handler = (req) =>
      req.method === "GET"
        ? { status: 200, body: { ok: true, truncated: false, objects: [q("a", "quarantined"), q("b", "applied")] } }
        : { status: 200, body: { ok: true, eventId: "a", source: "stripe" } };
    const r = await ops(["redrive", "--quarantine", "--source", "stripe"]);
    expect(r.code, r.stderr).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "GET /admin/quarantine?limit=1000&source=stripe",
      "POST /admin/replay",
    ]);
    expect(seen[1]?.body).toEqual({ key: "quarantine/stripe/dt=2026-12-01/a.json" });
    expect(r.stdout).toContain("1 replayed, 0 refused");
  });

  it("redrive replays every listed dead letter and exits 1 when one is refused", async () => {
    const keys = ["dead-letter/stripe/dt=2026-12-01/a.json", "dead-letter/stripe/dt=2026-12-01/b.json"];
    handler = (req) => {
      if (req.method === "GET")
        return {
          status: 200,
          body: {
            ok: true,
            truncated: false,
            objects: keys.map((key) => ({ key, source: "stripe", topic: "charge.succeeded", eventId: key })),
          },
        };
      const key = (req.body as { key: string }).key;
      return key.endsWith("b.json")
        ? { status: 400, body: { ok: false, error: { code: "bad_request", message: "no valid envelope" } } }
        : { status: 200, body: { ok: true, eventId: "a", source: "stripe" } };
    };
    const dry = await ops(["redrive", "--source", "stripe", "--day", "2026-12-01", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "GET /admin/dead-letters?limit=1000&source=stripe&day=2026-12-01",
    ]);
    seen.length = 0;
    const r = await ops(["redrive", "--source", "stripe"]);
    expect(r.code).toBe(1);
    expect(seen.filter((s) => s.method === "POST").map((s) => s.body)).toEqual(keys.map((key) => ({ key })));
    expect(r.stdout).toContain("1 replayed, 1 refused");
    expect(r.stderr).toBe("failed: 1 dead letter(s) could not be replayed\n");
  });

  it("sessions list shows open sessions and revoke-all ends them", async () => {
    handler = (req) =>
      req.method === "GET"
        ? {
            status: 200,
            body: {
              ok: true,
              open: 1,
              sessions: [{ createdAt: "2026-12-01T08:00:00.000Z", expiresAt: "2026-12-01T16:00:00.000Z" }],
            },
          }
        : { status: 200, body: { ok: true, revoked: 3 } };
    const list = await ops(["sessions", "list"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/signed in\s+expires\n2026-12-01T08:00:00\.000Z\s+2026-12-01T16:00:00\.000Z/);
    const revoked = await ops(["sessions", "revoke-all"]);
    expect(revoked).toMatchObject({ code: 0, stdout: "revoked 3 session(s); every browser must sign in again\n" });
    expect(seen.map((s) => `${s.method} ${s.path} ${s.auth}`)).toEqual([
      "GET /admin/sessions Bearer cli-token",
      "POST /admin/sessions/revoke-all Bearer cli-token",
    ]);
    handler = () => ({
      status: 401,
      body: { ok: false, error: { code: "unauthorized", message: "Send Authorization: Bearer <ADMIN_TOKEN>." } },
    });
    const refused = await ops(["sessions", "revoke-all"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "failed: POST /admin/sessions/revoke-all: HTTP 401: Send Authorization: Bearer <ADMIN_TOKEN>. (unauthorized)\n",
    );
    expect(refused.stderr).not.toContain("cli-token");
  });

  it("shops add reads the token from stdin, shows the pipeline's refusal, and list/remove print without tokens", async () => {
    handler = (req) => {
      if (req.method === "POST") {
        const token = (req.body as { token: string }).token;
        return token === "shpat_good"
          ? {
              status: 201,
              body: {
                ok: true,
                shop: { shop: "a.myshopify.com", status: "active", origin: "d1", name: "A", keyId: "k1" },
              },
            }
          : {
              status: 422,
              body: {
                ok: false,
                error: {
                  code: "credential_rejected",
                  message: "Shopify refused the token for a.myshopify.com: HTTP 401",
                },
              },
            };
      }
      if (req.method === "DELETE")
        return {
          status: 200,
          body: {
            ok: true,
            shop: { shop: "a.myshopify.com", status: "removed", origin: "d1" },
            canceledJobs: ["bo_1"],
          },
        };
      return {
        status: 200,
        body: {
          ok: true,
          shops: [
            {
              shop: "a.myshopify.com",
              status: "active",
              origin: "d1",
              name: "A",
              keyId: "k1",
              addedAt: "2026-12-01T00:00:00.000Z",
              removedAt: null,
            },
          ],
        },
      };
    };
    const added = await runCli(
      ["--url", base, "shops", "add", "a.myshopify.com", "--token", "-"],
      { ADMIN_TOKEN: "cli-token" },
      "shpat_good\n",
    );
    expect(added).toMatchObject({ code: 0, stdout: "added a.myshopify.com (A); token sealed with key k1\n" });
    expect(seen[0]?.body).toEqual({ shop: "a.myshopify.com", token: "shpat_good" });
    const refused = await ops(["shops", "add", "a.myshopify.com", "--token", "shpat_bad"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("credential_rejected");
    const list = await ops(["shops", "list"]);
    expect(list.stdout).toMatch(/a\.myshopify\.com\s+active\s+d1\s+A\s+k1/);
    const removed = await ops(["shops", "remove", "a.myshopify.com"]);
    expect(removed.stdout).toContain("removed a.myshopify.com; 1 export(s) canceled");
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", path: "/admin/shops/a.myshopify.com" });
  });
});

describe("the topics the CLI registers", () => {
  it("all map to a resource the pipeline handles", () => {
    for (const t of SHOPIFY_WEBHOOK_TOPICS) expect(resourceFor("shopify", t), t).not.toBeNull();
    for (const t of STRIPE_WEBHOOK_EVENTS) expect(resourceFor("stripe", t), t).not.toBe("other");
    for (const t of RECHARGE_WEBHOOK_TOPICS) expect(resourceFor("recharge", t), t).not.toBe("other");
  });
});
