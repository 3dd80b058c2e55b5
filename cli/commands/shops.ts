/** `shops add|list|remove`: shops onboarded at runtime, their tokens sealed in D1 by the pipeline. */
import type { Command } from "commander";
import { AdminApi } from "../lib/admin.ts";
import { UsageError } from "../lib/errors.ts";
import { json, out, table } from "../lib/print.ts";

export const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;

interface ShopRecord {
  shop: string;
  status: string;
  origin: string;
  name: string | null;
  keyId: string | null;
  addedAt: string | null;
  removedAt: string | null;
}

export function shopDomain(value: string): string {
  if (!SHOP_DOMAIN.test(value)) throw new UsageError(`"${value}" is not a shop domain like my-shop.myshopify.com`);
  return value;
}

async function readToken(value: string): Promise<string> {
  if (value !== "-") return value;
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  return text.trim();
}

export function shopsCommand(program: Command): void {
  const shops = program.command("shops").description("add, list and remove the Shopify shops the pipeline serves");

  shops
    .command("add")
    .description("test an Admin API token with a shop { name } query through the shop's coordinator, then store it sealed")
    .argument("<domain>", "the shop's myshopify.com domain")
    .requiredOption("--token <token>", "the shop's Admin API access token (shpat_…), or - to read it from stdin")
    .option("--json", "print the answer as JSON")
    .action(async (domain: string, opts: { token: string; json?: boolean }, cmd: Command) => {
      const shop = shopDomain(domain);
      const token = await readToken(opts.token);
      if (!token) throw new UsageError("--token is empty");
      const body = await AdminApi.fromOptions(cmd.optsWithGlobals()).ok<{ shop: ShopRecord }>("POST", "/admin/shops", {
        shop,
        token,
      });
      if (opts.json) return json(body);
      out(`added ${body.shop.shop} (${body.shop.name ?? "unnamed"}); token sealed with key ${body.shop.keyId}`);
    });

  shops
    .command("list")
    .description("every shop, from D1 and from the SHOPIFY_ACCESS_TOKENS fallback (tokens are never shown)")
    .option("--json", "print the answer as JSON")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const body = await AdminApi.fromOptions(cmd.optsWithGlobals()).ok<{ shops: ShopRecord[] }>("GET", "/admin/shops");
      if (opts.json) return json(body);
      if (body.shops.length === 0) return out("no shops yet: add one with `npm run ops -- shops add <domain> --token …`");
      out(
        table(
          ["shop", "status", "from", "name", "key", "added", "removed"],
          body.shops.map((s) => [s.shop, s.status, s.origin, s.name, s.keyId, s.addedAt, s.removedAt]),
        ),
      );
    });

  shops
    .command("remove")
    .description("stop a shop's jobs and erase its token; its data stays until a shop/redact")
    .argument("<domain>", "the shop's myshopify.com domain")
    .option("--json", "print the answer as JSON")
    .action(async (domain: string, opts: { json?: boolean }, cmd: Command) => {
      const shop = shopDomain(domain);
      const body = await AdminApi.fromOptions(cmd.optsWithGlobals()).ok<{ shop: ShopRecord; canceledJobs: string[] }>(
        "DELETE",
        `/admin/shops/${shop}`,
      );
      if (opts.json) return json(body);
      out(`removed ${shop}; ${body.canceledJobs.length} export(s) canceled; its data stays until a shop/redact`);
      if (body.shop.origin === "d1") {
        out("if SHOPIFY_ACCESS_TOKENS still names it, remove it there too (the removal already wins over it)");
      }
    });
}
