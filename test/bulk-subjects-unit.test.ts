import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { subjectsDoc } from "../src/durable/bulk/apply";
import { subjectsOf } from "../src/mapping/subjects";
import { parseLossless } from "../src/shared/json";

describe("bulk subject reading", () => {
  it("finds the same subjects as the lossless reader in any line", () => {
    const key = fc.constantFrom("id", "email", "contactEmail", "customer", "customerId", "customer_id", "note", "x");
    const leaf = fc.oneof(
      fc.constantFrom("gid://shopify/Customer/123", "A@Example.com", "no-at", "", "cus_1"),
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
        expect(subjectsOf("shopify", "orders", subjectsDoc(line))).toEqual(
          subjectsOf("shopify", "orders", parseLossless(line)),
        );
      }),
      { numRuns: 2000 },
    );
    // A numeric customer id only the lossless reader keeps as text.
    expect(subjectsOf("shopify", "orders", subjectsDoc('{"customer_id":123}'))).toEqual([
      { kind: "shopify_customer", id: "123" },
    ]);
  });
});
