import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { describeError } from "../src/shared/log";

describe("describeError", () => {
  it("names the cause first and leaves out the bound values a query error carries", () => {
    const err = new DrizzleQueryError(
      "select email from shopify_customers where email = ?",
      ["pat@example.com"],
      new Error("D1_ERROR: database is locked"),
    );
    const text = describeError(err);
    expect(text).toBe(
      "Error: D1_ERROR: database is locked ← in Error: Failed query: select email from shopify_customers where email = ?",
    );
    expect(text).not.toContain("pat@example.com");
  });

  it("describes plain errors and thrown values on one line, capped", () => {
    expect(describeError(new TypeError("bad"))).toBe("TypeError: bad");
    expect(describeError("text\nmore")).toBe("text");
    expect(describeError(new Error("x".repeat(900))).length).toBe(500);
  });
});
