/**
 * Money as integer minor units of its currency, computed from the decimal text
 * (never through a float): "89.99" USD → 8999, "1500" JPY → 1500, "1.250" KWD → 1250.
 */

/** ISO 4217 currencies whose minor unit is not 2 digits (a Map: no inherited keys to find). */
const EXPONENTS = new Map<string, number>(
  Object.entries({
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
  }),
);

export function currencyExponent(currency: string): number {
  // Currencies arrive in capitals nearly always: no upper-cased copy for those.
  return EXPONENTS.get(currency) ?? EXPONENTS.get(currency.toUpperCase()) ?? 2;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Converts a decimal amount (string or the exact source text of a JSON number)
 * to minor units. Digits beyond the currency's exponent are rounded half away
 * from zero. Returns null for anything that is not a decimal number.
 */
export function toMinor(amount: string | null | undefined, currency: string): number | null {
  if (amount === null || amount === undefined) return null;
  // Most amounts fit in a double exactly once scaled: no rounding, no BigInt needed.
  const plain = plainMinor(amount, currencyExponent(currency));
  if (plain !== undefined) return plain;
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

/**
 * A plain amount ("129.95", "-5", "0.5": `-?`, 1–12 digits, optionally a point and at most 3
 * decimals, no more than the currency's) in minor units, read digit by digit without building any
 * text (an order has a dozen amounts). Any other text is undefined: the general reading decides.
 */
function plainMinor(amount: string, exponent: number): number | undefined {
  const len = amount.length;
  let i = amount.charCodeAt(0) === 45 ? 1 : 0; // "-"
  const negative = i === 1;
  let n = 0;
  const intStart = i;
  while (i < len && isDigit(amount.charCodeAt(i))) n = n * 10 + (amount.charCodeAt(i++) - 48);
  const intDigits = i - intStart;
  if (intDigits < 1 || intDigits > 12) return undefined;
  let decimals = 0;
  if (i < len && amount.charCodeAt(i) === 46) {
    // "."
    i++;
    while (i < len && isDigit(amount.charCodeAt(i))) {
      if (++decimals > 3) return undefined;
      n = n * 10 + (amount.charCodeAt(i++) - 48);
    }
  }
  if (i !== len || decimals > exponent) return undefined;
  for (let k = decimals; k < exponent; k++) n *= 10;
  return negative && n !== 0 ? -n : n;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
