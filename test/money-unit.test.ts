import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { currencyExponent, toMinor } from "../src/mapping/money";

describe("toMinor", () => {
  it("uses the currency's exponent", () => {
    expect(toMinor("89.99", "USD")).toBe(8999);
    expect(toMinor("1500", "JPY")).toBe(1500);
    expect(toMinor("1.250", "KWD")).toBe(1250);
    expect(toMinor("0.0", "EUR")).toBe(0);
    expect(currencyExponent("jpy")).toBe(0);
    // Names an object inherits are not currencies.
    expect(currencyExponent("constructor")).toBe(2);
    expect(currencyExponent("__proto__")).toBe(2);
  });

  it("never goes through a float", () => {
    expect(toMinor("0.29", "USD")).toBe(29);
    expect(toMinor("1.15", "USD")).toBe(115);
    expect(toMinor("4.35", "USD")).toBe(435);
    expect(toMinor("19999999.99", "USD")).toBe(1999999999);
  });

  it("handles signs, exponents, bare fractions and rounding", () => {
    expect(toMinor("-12.5", "USD")).toBe(-1250);
    expect(toMinor("1e2", "USD")).toBe(10000);
    expect(toMinor(".5", "USD")).toBe(50);
    expect(toMinor("1.005", "USD")).toBe(101);
    expect(toMinor("1.004", "USD")).toBe(100);
    expect(toMinor("10.6", "JPY")).toBe(11);
  });

  it("answers huge and tiny exponents at once, without building their digits", () => {
    const started = Date.now();
    expect(toMinor("1e400000000", "USD")).toBeNull();
    expect(toMinor("1.5e-400000000", "USD")).toBe(0);
    expect(toMinor("-7e-3", "USD")).toBe(-1);
    expect(toMinor("0.004e0", "USD")).toBe(0);
    expect(toMinor("0.000", "KWD")).toBe(0);
    expect(toMinor("00012.345", "KWD")).toBe(12345);
    expect(toMinor("9.007199254740991e13", "USD")).toBe(9007199254740991);
    expect(toMinor("9.007199254740992e13", "USD")).toBeNull();
    expect(Date.now() - started).toBeLessThan(50);
  });

  it("refuses what is not a number", () => {
    expect(toMinor("abc", "USD")).toBeNull();
    expect(toMinor("", "USD")).toBeNull();
    expect(toMinor(null, "USD")).toBeNull();
    expect(toMinor("1.2.3", "USD")).toBeNull();
  });
});

describe("toMinor fast path", () => {
  /** Reference: exact decimal shift with BigInt, rounding half away from zero. */
  function reference(text: string, exponent: number): number {
    const negative = text.startsWith("-");
    const [whole = "0", frac = ""] = text.replace("-", "").split(".");
    const digits = `${whole}${frac.padEnd(exponent + 1, "0")}`;
    const cut = whole.length + exponent;
    let minor = BigInt(digits.slice(0, cut));
    if ((digits[cut] ?? "0") >= "5") minor += 1n;
    const n = Number(minor);
    return negative && n !== 0 ? -n : n;
  }

  it("agrees with exact decimal arithmetic on random amounts in USD, JPY and KWD", () => {
    for (let i = 0; i < 5000; i++) {
      const whole = String(Math.floor(Math.random() * 10 ** (1 + (i % 12))));
      const fracDigits = i % 5;
      const frac =
        fracDigits === 0 ? "" : `.${String(Math.floor(Math.random() * 10 ** fracDigits)).padStart(fracDigits, "0")}`;
      const text = `${i % 7 === 0 ? "-" : ""}${whole}${frac}`;
      for (const [currency, exponent] of [
        ["USD", 2],
        ["JPY", 0],
        ["KWD", 3],
      ] as const) {
        expect(toMinor(text, currency), `${text} ${currency}`).toBe(reference(text, exponent));
      }
    }
  });
});

describe("toMinor's shortcut for plain amounts", () => {
  it("agrees with the general conversion (a leading space takes that path) on any plain amount", () => {
    const amount = fc
      .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 999_999_999_999n }), fc.option(fc.stringMatching(/^\d{0,4}$/)))
      .map(([neg, int, frac]) => `${neg ? "-" : ""}${int}${frac === null ? "" : `.${frac}`}`);
    fc.assert(
      fc.property(amount, fc.constantFrom("USD", "JPY", "KWD"), (a, cur) => {
        expect(toMinor(a, cur)).toBe(toMinor(` ${a}`, cur));
      }),
      { numRuns: 2000 },
    );
  });
});
