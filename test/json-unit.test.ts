import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseLossless, quoteNumbers } from "../src/shared/json";
import { fuzzParams } from "./helpers/fuzz";
import { num, toJson } from "./helpers/json-text";

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

  it("tells apart long texts of one length whose ends are the same, and keeps a whole batch", () => {
    const pad = "x".repeat(200);
    const text = (id: number) => `{"a":"${pad}","id":${id},"b":"${pad}"}`;
    const first = parseLossless(text(111));
    expect(parseLossless(text(222))).toEqual({ a: pad, id: "222", b: pad });
    expect(parseLossless(text(111))).toEqual({ a: pad, id: "111", b: pad });
    expect(parseLossless(text(111))).toBe(parseLossless(text(111)));
    expect(first).toEqual({ a: pad, id: "111", b: pad });
    // A queue batch of 100 bodies read once for the erased-subject check is still held when prepared.
    const batch = Array.from({ length: 100 }, (_, i) => `{"order":${1000 + i},"note":"${pad}"}`);
    const docs = batch.map((t) => parseLossless(t));
    expect(batch.filter((t, i) => parseLossless(t) !== docs[i])).toEqual([]);
  });
});

/** The reference reading: JSON.parse with a reviver that returns each number's source text. */
function reviverParse(text: string): unknown {
  return JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === "number" ? context?.source : value,
  );
}

/** JSON number tokens as sources write them: big ids, decimals with trailing zeros, exponents. */
const numberToken = fc.oneof(
  fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(String),
  fc.tuple(fc.integer({ min: -99999, max: 99999 }), fc.stringMatching(/^\d{1,4}$/)).map(([i, f]) => `${i}.${f}`),
  fc
    .tuple(fc.integer({ min: -9, max: 9 }), fc.constantFrom("e", "E", "e+", "e-", "E-"), fc.nat(30))
    .map(([m, e, x]) => `${m}${e}${x}`),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
);

/** JSON documents with those numbers, keys and strings that hold digits, minus signs, quotes and escapes. */
const jsonText = fc
  .letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      numberToken.map((t) => num(t)),
      fc.string({ unit: fc.constantFrom("1", "-", '"', "\\", "e", ".", " ", "é", "\n", "a") }),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie("value"), { maxLength: 5 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie("value"), { maxKeys: 5 }),
    ),
  }))
  .value.chain((v) => fc.constantFrom(toJson(v), JSON.stringify(v, null, 2).replace(/"#num:([-+0-9.eE]+)"/g, "$1")));

describe("parseLossless fast road", () => {
  it("reads any JSON document exactly as the reviver does", () => {
    fc.assert(
      fc.property(jsonText, fc.constantFrom("", " ", "\n", "\t\r\n"), (text, pad) => {
        expect(parseLossless(`${pad}${text}${pad}`)).toEqual(reviverParse(`${pad}${text}${pad}`));
      }),
      fuzzParams(2000),
    );
  });

  it("refuses exactly the texts the reviver refuses, and reads the others the same", () => {
    const near = fc
      .tuple(
        jsonText,
        fc.nat(200),
        fc.constantFrom("0", "01", "-", ".", "1.", "e", "+1", ":", "]", '"', "\\", "NaN", "1e", "-0"),
      )
      .map(([t, at, insert]) => {
        const i = at % (t.length + 1);
        return t.slice(0, i) + insert + t.slice(i);
      });
    fc.assert(
      fc.property(fc.oneof(near, fc.string({ maxLength: 30 })), (text) => {
        let expected: unknown;
        let threw = false;
        try {
          expected = reviverParse(text);
        } catch {
          threw = true;
        }
        if (threw) expect(() => parseLossless(text)).toThrow();
        else expect(parseLossless(text)).toEqual(expected);
      }),
      fuzzParams(4000),
    );
  });

  it("quotes number tokens only outside strings", () => {
    expect(quoteNumbers('{"a-1": "x\\"2", "b": -0.50e+3, "c": [1,2]}')).toBe(
      '{"a-1": "x\\"2", "b": "-0.50e+3", "c": ["1","2"]}',
    );
    expect(quoteNumbers("[01]")).toBeNull();
    expect(quoteNumbers('{"no": "numbers"}')).toBe('{"no": "numbers"}');
  });
});
