import { describe, expect, it } from "vitest";
import { currencyExponent, toMinor } from "../src/consumers/map/money";

describe("toMinor", () => {
  it("uses the currency's exponent", () => {
    expect(toMinor("89.99", "USD")).toBe(8999);
    expect(toMinor("1500", "JPY")).toBe(1500);
    expect(toMinor("1.250", "KWD")).toBe(1250);
    expect(toMinor("0.0", "EUR")).toBe(0);
    expect(currencyExponent("jpy")).toBe(0);
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

  it("refuses what is not a number", () => {
    expect(toMinor("abc", "USD")).toBeNull();
    expect(toMinor("", "USD")).toBeNull();
    expect(toMinor(null, "USD")).toBeNull();
    expect(toMinor("1.2.3", "USD")).toBeNull();
  });
});
