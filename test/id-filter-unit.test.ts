import { describe, expect, it } from "vitest";
import { IdFilter } from "../src/durable/bulk/id-filter";

describe("the bulk pass's id filter", () => {
  it("knows every id it was given, and takes few others for seen", () => {
    const filter = new IdFilter();
    const id = (n: number) => `gid://shopify/Order/${5_000_000_000_000n + BigInt(n)}`;
    const given = 200_000;
    for (let n = 0; n < given; n++) filter.add(id(n));
    for (let n = 0; n < given; n++) expect(filter.has(id(n))).toBe(true);
    let wrong = 0;
    for (let n = given; n < 2 * given; n++) if (filter.has(id(n))) wrong++;
    // 4 hashes over 2^24 bits at 200,000 ids: about 0.0001 expected; a mistake only costs a re-join.
    expect(wrong / given).toBeLessThan(0.001);
  });
});
