import { describe, expect, it } from "vitest";
import { parseLossless } from "../src/shared/json";

describe("parseLossless", () => {
  it("keeps integers above 2^53 and decimals as their source text", () => {
    const doc = parseLossless('{"id": 820982911946154508, "price": 89.90, "n": -1e3, "ok": true, "x": null, "s": "7"}');
    expect(doc).toEqual({ id: "820982911946154508", price: "89.90", n: "-1e3", ok: true, x: null, s: "7" });
  });

  it("keeps numbers inside arrays and nested objects", () => {
    expect(parseLossless('[1, [2.50], {"a": 9007199254740993}]')).toEqual(["1", ["2.50"], { a: "9007199254740993" }]);
  });

  it("throws on invalid JSON", () => {
    expect(() => parseLossless("{")).toThrow();
  });
});

describe("parseLossless reuse", () => {
  it("returns the same document for the same text, and a fresh one for other text", () => {
    const a = parseLossless('{"id": 820982911946154508}');
    expect(parseLossless('{"id": 820982911946154508}')).toBe(a);
    const b = parseLossless('{"id": 820982911946154509}');
    expect(b).toEqual({ id: "820982911946154509" });
    expect(parseLossless('{"id": 820982911946154508}')).toEqual(a);
  });
});
