import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { KPI_VIEWS } from "../src/cron/compact/kpi-views";
import { COMPACT_TABLES } from "../src/cron/compact/tables";
import { COMMON_KEPT, classOf, PII_TABLES, TEXT_COLUMNS } from "../src/mapping/pii";
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

describe("the PII policy: every text column of every table and lake table classified", () => {
  /** Names that are personal wherever they occur: such a column classified as not personal is a mistake. */
  const LOOKS_PERSONAL =
    /(^|_)(email|phone|first_name|last_name|zip|postal_code|city|line1|line2|address1|address2|note|comment|comments)$|^(shipping|billing|full|customer)_name$/;

  async function textColumns(): Promise<Array<{ table: string; column: string }>> {
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
    ).all<{ name: string }>();
    const out: Array<{ table: string; column: string }> = [];
    for (const { name } of tables.results) {
      const cols = await env.DB.prepare(`PRAGMA table_info("${name}")`).all<{ name: string; type: string }>();
      // TEXT affinity: a declared type containing CHAR, CLOB or TEXT, or none (SQLite's rules).
      for (const c of cols.results) if (/CHAR|CLOB|TEXT|^$/i.test(c.type)) out.push({ table: name, column: c.name });
    }
    return out;
  }

  it("classifies every text column of every D1 table as personal or not", async () => {
    const columns = await textColumns();
    expect(columns.length).toBeGreaterThan(300);
    const unclassified = columns
      .filter((c) => classOf(c.table, c.column) === null)
      .map((c) => `${c.table}.${c.column}`);
    expect(unclassified, "classify these in src/mapping/pii.ts TEXT_COLUMNS").toEqual([]);
    // The ledger's note is the pipeline's own word for an outcome ("invalid_payload"), and a backfill's
    // what its source could not list: never a person's.
    const ownText = new Set(["webhook_events.note", "backfills.note"]);
    const misread = columns
      .filter((c) => LOOKS_PERSONAL.test(c.column) && !ownText.has(`${c.table}.${c.column}`))
      .filter((c) => classOf(c.table, c.column) !== "personal")
      .map((c) => `${c.table}.${c.column}`);
    expect(misread).toEqual([]);
    // Nothing classified that does not exist (a renamed column would leave its PII unerased).
    const existing = new Set(columns.map((c) => `${c.table}.${c.column}`));
    const lakeOnly = new Set(KPI_VIEWS.map((v) => v.table));
    for (const [table, t] of Object.entries(TEXT_COLUMNS)) {
      if (lakeOnly.has(table)) continue;
      for (const c of [...(t.personal ?? []), ...(t.kept ?? [])])
        expect(existing.has(`${table}.${c}`), `${table}.${c}`).toBe(true);
    }
    // A column is either personal or kept, never both.
    for (const [table, t] of Object.entries(TEXT_COLUMNS))
      for (const c of t.personal ?? []) expect(t.kept?.includes(c) || COMMON_KEPT.has(c), `${table}.${c}`).toBe(false);
  });

  it("gives every table with personal columns a way to erase them", async () => {
    const byRule = new Map(PII_TABLES.map((t) => [t.table, t]));
    for (const [table, t] of Object.entries(TEXT_COLUMNS)) {
      const personal = t.personal ?? [];
      expect(personal.length > 0, `${table}: erasure set exactly when it has personal columns`).toBe(
        t.erasure !== undefined,
      );
      expect(byRule.has(table), `${table}: a PII_TABLES rule exactly when its columns are nulled`).toBe(
        t.erasure === "null",
      );
    }
    for (const t of PII_TABLES) {
      expect(t.columns.length, t.table).toBeGreaterThan(0);
      const cols = new Set(
        (await env.DB.prepare(`PRAGMA table_info(${t.table})`).all<{ name: string }>()).results.map((c) => c.name),
      );
      for (const c of [...t.columns, t.customer, t.email].filter((x): x is string => x !== null)) {
        expect(cols.has(c), `${t.table}.${c}`).toBe(true);
      }
    }
  });

  it("classifies every text column the lake writes, table snapshots and KPI views alike", () => {
    const lake = [...COMPACT_TABLES, ...KPI_VIEWS];
    const unclassified: string[] = [];
    for (const t of lake)
      for (const c of t.columns)
        if (!["int64", "boolean", "float64"].includes(c.kind) && classOf(t.table, c.name) === null)
          unclassified.push(`${t.table}.${c.name}`);
    expect(unclassified).toEqual([]);
    // The views aggregate by id: none of them may carry a personal column to the lake.
    for (const v of KPI_VIEWS) expect(TEXT_COLUMNS[v.table]?.personal ?? [], v.table).toEqual([]);
  });
});

describe("drizzle schema of the privacy tables", () => {
  it("matches the migrations column for column, and their indexes", async () => {
    for (const table of PRIVACY_TABLES) await expectMatchesMigration(table);
  });
});
