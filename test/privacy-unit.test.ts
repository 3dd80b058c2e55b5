import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PII_TABLES } from "../src/mapping/pii";
import { redactJson } from "../src/mapping/redact";
import { subjectsOf } from "../src/mapping/subjects";
import { parseLossless } from "../src/shared/json";
import { PRIVACY_TABLES } from "../src/shared/schema/privacy";
import { expectMatchesMigration } from "./helpers/schema-match";

describe("redactJson", () => {
  it("nulls personal values and copies every other byte, 18-digit ids and number text included", () => {
    const text =
      '{"id":820982911946154508, "name":"#1001","total_price":"10.50","email":"Ann@X.com","customer":{"id":115310627314723954,"first_name":"Ann","name":"Ann Lee"},' +
      '"shipping_address":{"name":"Ann Lee","address1":"1 Main St","zip":12345,"country_code":"US","province_code":"IL"},' +
      '"line_items":[{"name":"Coffee","price":1.10e1}],"note_attributes":[{"name":"gift","value":"for Bo"}],"tags":"x  y","memo":"mail ann\\u0040x.com"}';
    const out = redactJson(text);
    expect(out.text).toBe(
      '{"id":820982911946154508, "name":"#1001","total_price":"10.50","email":null,"customer":{"id":115310627314723954,"first_name":null,"name":null},' +
        '"shipping_address":{"name":null,"address1":null,"zip":null,"country_code":"US","province_code":"IL"},' +
        '"line_items":[{"name":"Coffee","price":1.10e1}],"note_attributes":[{"name":"gift","value":null}],"tags":"x  y","memo":null}',
    );
    expect(out.changed).toBe(8);
    expect(redactJson(out.text).changed).toBe(0);
  });

  it("reads camelCase (bulk lines) and Stripe objects, and refuses what is not JSON", () => {
    expect(redactJson('{"firstName":"A","defaultAddress":{"address1":"x","countryCodeV2":"US"}}').text).toBe(
      '{"firstName":null,"defaultAddress":{"address1":null,"countryCodeV2":"US"}}',
    );
    const stripe =
      '{"data":{"object":{"object":"customer","name":"Ann","description":"VIP","billing_details":{"address":{"line1":"1 Main","country":"US"}}}}}';
    expect(redactJson(stripe, { stripe: true }).text).toBe(
      '{"data":{"object":{"object":"customer","name":null,"description":null,"billing_details":{"address":{"line1":null,"country":"US"}}}}}',
    );
    expect(() => redactJson('{"email": "a@b.co"')).toThrow(SyntaxError);
    expect(() => redactJson('{"a":1} x')).toThrow(SyntaxError);
  });
});

describe("subjectsOf", () => {
  it("finds customers per source and normalized e-mails", () => {
    const order = parseLossless(
      '{"id":1,"email":" Ann@X.com ","customer":{"id":115310627314723954,"email":"ann@x.com"}}',
    );
    expect(subjectsOf("shopify", "orders", order)).toEqual([
      { kind: "email", id: "ann@x.com" },
      { kind: "shopify_customer", id: "115310627314723954" },
    ]);
    const bulk = parseLossless('{"id":"gid://shopify/Customer/42","email":"b@y.io"}');
    expect(subjectsOf("shopify", "customers", bulk)).toContainEqual({ kind: "shopify_customer", id: "42" });
    const charge = parseLossless(
      '{"data":{"object":{"object":"charge","customer":"cus_1","billing_details":{"email":"c@z.io"}}}}',
    );
    expect(subjectsOf("stripe", "charges", charge)).toEqual([
      { kind: "stripe_customer", id: "cus_1" },
      { kind: "email", id: "c@z.io" },
    ]);
    const sub = parseLossless('{"subscription":{"id":5,"customer_id":77,"email":"d@w.io"}}');
    expect(subjectsOf("recharge", "subscriptions", sub)).toEqual([
      { kind: "recharge_customer", id: "77" },
      { kind: "email", id: "d@w.io" },
    ]);
  });
});

describe("the PII policy of the D1 tables", () => {
  it("names every column that looks personal, in tables that exist", async () => {
    const personal =
      /(^|_)(email|phone|first_name|last_name|zip|postal_code|city|note|comment|comments)$|^shipping_name$/;
    const listed = new Map(PII_TABLES.map((t) => [t.table, new Set(t.columns)]));
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'shopify_%' OR name LIKE 'stripe_%' OR name LIKE 'recharge_%')",
    ).all<{ name: string }>();
    const missing: string[] = [];
    for (const { name } of tables.results) {
      const cols = await env.DB.prepare(`PRAGMA table_info(${name})`).all<{ name: string }>();
      for (const c of cols.results)
        if (personal.test(c.name) && c.name !== "verified_email" && !listed.get(name)?.has(c.name))
          missing.push(`${name}.${c.name}`);
    }
    expect(missing).toEqual([]);
    for (const t of PII_TABLES) {
      const cols = new Set(
        (await env.DB.prepare(`PRAGMA table_info(${t.table})`).all<{ name: string }>()).results.map((c) => c.name),
      );
      for (const c of [...t.columns, t.customer, t.email].filter((x): x is string => x !== null)) {
        expect(cols.has(c), `${t.table}.${c}`).toBe(true);
      }
    }
  });
});

describe("drizzle schema of the privacy tables", () => {
  it("matches the migrations column for column, and their indexes", async () => {
    for (const table of PRIVACY_TABLES) await expectMatchesMigration(table);
  });
});
