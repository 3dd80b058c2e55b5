/**
 * Money as integer minor units of its currency, computed from the decimal text
 * (never through a float): "89.99" USD → 8999, "1500" JPY → 1500, "1.250" KWD → 1250.
 */

/** ISO 4217 currencies whose minor unit is not 2 digits. */
const EXPONENTS: Record<string, number> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
};

export function currencyExponent(currency: string): number {
  return EXPONENTS[currency.toUpperCase()] ?? 2;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Converts a decimal amount (string or the exact source text of a JSON number)
 * to minor units. Digits beyond the currency's exponent are rounded half away
 * from zero. Returns null for anything that is not a decimal number.
 */
/** Plain amounts ("129.95", "-5", "0.5"): digits, an optional point, at most 3 decimals. */
const PLAIN = /^(-?)(\d{1,12})(?:\.(\d{0,3}))?$/;

export function toMinor(amount: string | null | undefined, currency: string): number | null {
  if (amount === null || amount === undefined) return null;
  // Most amounts fit in a double exactly once scaled: no rounding, no BigInt needed.
  const plain = PLAIN.exec(amount);
  if (plain) {
    const e = currencyExponent(currency);
    const frac = plain[3] ?? "";
    if (frac.length <= e) {
      const n = Number((plain[2] as string) + frac.padEnd(e, "0"));
      return plain[1] === "-" && n !== 0 ? -n : n;
    }
  }
  const m = DECIMAL.exec(amount.trim());
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return null;
  const [, sign = "", intPart = "", fracPart = "", expPart = "0"] = m;
  const shift = currencyExponent(currency) + Number(expPart);
  let digits = (intPart || "0") + fracPart;
  let point = (intPart || "0").length + shift; // position of the decimal point after shifting
  // Only significant digits count: an exponent such as e-400000000 or e400000000 must not
  // build a string that long (the answer is known at once: 0, or too large).
  const significant = digits.replace(/^0+/, "");
  point -= digits.length - significant.length;
  digits = significant;
  if (digits === "" || point < 0) return 0;
  if (point > 16) return null; // at least 10^16 minor units: beyond MAX_SAFE_INTEGER
  digits = digits.padEnd(point, "0");
  const whole = BigInt(digits.slice(0, point) || "0");
  const roundUp = (digits[point] ?? "0") >= "5";
  const minor = whole + (roundUp ? 1n : 0n);
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const n = Number(minor);
  return sign === "-" && n !== 0 ? -n : n;
}
