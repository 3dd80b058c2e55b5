import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bulkLineSubjects, parseLine } from "../src/durable/bulk/apply";
import { subjectsOf, subjectsOfParsed } from "../src/mapping/subjects";
import { parseLossless } from "../src/shared/json";

describe("bulk subject reading", () => {
  it("finds the same subjects as the lossless reader in any line", () => {
    const key = fc.constantFrom(
      "id",
      "email",
      "contactEmail",
      "customer",
      "customerId",
      "customer_id",
      "note",
      "object",
      "x",
    );
    const leaf = fc.oneof(
      fc.constantFrom("gid://shopify/Customer/123", "A@Example.com", "no-at", "", "cus_1", "customer"),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    );
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("tree"), { maxLength: 3 }),
        fc.dictionary(key, tie("tree"), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(tree, (doc) => {
        const line = JSON.stringify(doc);
        for (const resource of ["orders", "customers"]) {
          expect(bulkLineSubjects(resource, line, parseLine(line))).toEqual(
            subjectsOf("shopify", resource, parseLossless(line)),
          );
        }
        // The plain reading for every source: the same subjects, or null to ask the lossless one.
        for (const source of ["shopify", "stripe", "recharge"] as const) {
          const plain = subjectsOfParsed(source, "customers", JSON.parse(line));
          const lossless = subjectsOf(source, "customers", parseLossless(line));
          if (plain !== null) expect(plain).toEqual(lossless);
        }
      }),
      { numRuns: 2000 },
    );
    // A numeric customer id only the lossless reader keeps as text.
    for (const line of ['{"customer_id":123}', '{"customer":{"id":123}}']) {
      expect(bulkLineSubjects("orders", line, parseLine(line))).toEqual([{ kind: "shopify_customer", id: "123" }]);
    }
    // A customers line whose own id is a number, and a line that is not JSON.
    expect(bulkLineSubjects("customers", '{"id":42}', parseLine('{"id":42}'))).toEqual([
      { kind: "shopify_customer", id: "42" },
    ]);
    expect(bulkLineSubjects("orders", '{"email":"a@b.co"', parseLine('{"email":"a@b.co"'))).toEqual([]);
  });
});
