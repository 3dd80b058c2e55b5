/** An order's line total as REST would send it, shared by both bulk order readers (./map.ts, ./fast-order.ts). */
import { currencyExponent, toMinor } from "../../mapping/money";

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : null;
}

function amount(set: unknown): unknown {
  return asObj(asObj(set)?.shopMoney)?.amount ?? null;
}

/** Σ unit price × quantity in the order's currency, as decimal text (REST total_line_items_price). */
export function lineItemsTotal(lines: readonly Obj[], currency: unknown): string | null {
  if (typeof currency !== "string" || lines.length === 0) return null;
  let total = 0;
  for (const l of lines) {
    const unit = amount(l.originalUnitPriceSet);
    const minor = typeof unit === "string" ? toMinor(unit, currency) : null;
    if (minor === null || typeof l.quantity !== "number") return null;
    total += minor * l.quantity;
  }
  const e = currencyExponent(currency);
  const digits = String(Math.abs(total)).padStart(e + 1, "0");
  const text = e === 0 ? digits : `${digits.slice(0, -e)}.${digits.slice(-e)}`;
  return total < 0 ? `-${text}` : text;
}
