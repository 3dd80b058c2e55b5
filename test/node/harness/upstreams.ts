/**
 * The fakes of test/fakes served over HTTP from this Node process, so a Worker under
 * `wrangler dev` and the CLI (child processes) can reach them:
 *   /shopify/{shop}/admin/api/{version}/graphql.json → that shop's FakeShopifyAdmin
 *   /stripe/…   → FakeStripeApi        /recharge/… → FakeRechargeApi
 *   /cloudflare/client/v4/… → FakeCloudflareApi (the account reads of `ops doctor`)
 * Every request is recorded (method, path, and the body for POSTs).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { FakeCloudflareApi } from "../../fakes/cloudflare-api";
import { FakeRechargeApi } from "../../fakes/recharge-api";
import { FakeShopifyAdmin } from "../../fakes/shopify-admin";
import { makeShopData } from "../../fakes/shopify-data";
import { FakeStripeApi } from "../../fakes/stripe-api";

export interface Recorded {
  method: string;
  path: string;
  body: string;
  headers: Record<string, string>;
}

export class Upstreams {
  readonly shops = new Map<string, FakeShopifyAdmin>();
  readonly stripe = new FakeStripeApi("https://stripe.test", "sk_test_cli");
  readonly recharge = new FakeRechargeApi("https://recharge.test", "rc_test_cli");
  readonly cloudflare = new FakeCloudflareApi();
  readonly requests: Recorded[] = [];
  private server: Server | null = null;
  port = 0;

  addShop(shop: string): FakeShopifyAdmin {
    const fake = new FakeShopifyAdmin(shop, makeShopData(shop, { orders: 2, customers: 2, products: 2 }));
    this.shops.set(shop, fake);
    return fake;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.serve(req).then(
        async (answer) => {
          res.writeHead(answer.status, Object.fromEntries(answer.headers));
          res.end(Buffer.from(await answer.arrayBuffer()));
        },
        (err: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(String(err));
        },
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async serve(req: IncomingMessage): Promise<Response> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", this.base);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
    );
    this.requests.push({ method: req.method ?? "GET", path: `${url.pathname}${url.search}`, body, headers });
    const [, area = "", ...rest] = url.pathname.split("/");
    const init = {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
    };
    if (area === "shopify") {
      const [shop = "", ...path] = rest;
      const fake = this.shops.get(shop);
      if (!fake) return new Response("unknown shop", { status: 404 });
      return fake.handle(new Request(`https://${shop}/${path.join("/")}${url.search}`, init));
    }
    if (area === "stripe")
      return this.stripe.handle(new Request(`https://stripe.test/${rest.join("/")}${url.search}`, init));
    if (area === "recharge") {
      return this.recharge.handle(new Request(`https://recharge.test/${rest.join("/")}${url.search}`, init));
    }
    if (area === "cloudflare") {
      return this.cloudflare.handle(new Request(`https://api.cloudflare.test/${rest.join("/")}${url.search}`, init));
    }
    return new Response("not found", { status: 404 });
  }
}
