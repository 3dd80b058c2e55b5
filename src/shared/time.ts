/** Timestamps are stored as UTC ISO-8601 text with millisecond precision, ending in `Z`. */

/** Already UTC with seconds (what Shopify and our own columns mostly hold): `Date` reads it as is. */
const PLAIN_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;
const ISO_WITH_ZONE = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Normalizes an ISO-8601 timestamp with a zone (`Z` or an offset) to UTC `…Z`.
 * Fractions beyond milliseconds are truncated (Shopify sends nanoseconds, which
 * `Date` does not parse everywhere). Returns null for anything else, including
 * zone-less times, whose meaning would be a guess.
 */
export function toUtcIso(value: string): string | null {
  if (value.length > RECENT_MAX_LENGTH) return readUtcIso(value);
  let iso = recent.get(value);
  if (iso === undefined) {
    iso = readUtcIso(value);
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(value, iso);
  }
  return iso;
}

/**
 * Recent answers of `toUtcIso`: a payload names the same few times again and again (an order's
 * created, updated and processed times, its refunds' and fulfillments'), and each read is two
 * regular expressions and a Date. Bounded; a timestamp is far shorter than RECENT_MAX_LENGTH.
 */
const recent = new Map<string, string | null>();
const RECENT_MAX = 1024;
const RECENT_MAX_LENGTH = 64;

function readUtcIso(value: string): string | null {
  if (PLAIN_UTC.test(value)) return fourDigitYear(new Date(value));
  const m = ISO_WITH_ZONE.exec(value.trim());
  if (!m) return null;
  const [, date, time, fraction = "", zone = "Z"] = m;
  const millis = `${fraction.slice(1)}000`.slice(0, 3);
  const seconds = time?.length === 5 ? `${time}:00` : time;
  const offset = zone.toUpperCase() === "Z" ? "Z" : zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return fourDigitYear(new Date(`${date}T${seconds}.${millis}${offset}`));
}

/** Unix seconds (as Stripe sends them) to UTC ISO. */
export function fromUnixSeconds(seconds: number): string | null {
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  return fourDigitYear(new Date(seconds * 1000));
}

/**
 * ISO text of a valid date in years 0000–9999, else null. Outside them `toISOString` writes
 * `+010000-…` or `-000001-…`, which no envelope, partition key or text comparison accepts.
 */
function fourDigitYear(d: Date): string | null {
  if (Number.isNaN(d.getTime())) return null;
  const iso = d.toISOString();
  // `YYYY-MM-DDTHH:mm:ss.sssZ`; a year outside them takes six digits and a sign.
  return iso.length === 24 ? iso : null;
}

/** `dt=YYYY-MM-DD` and `hour=HH` partition values of a UTC ISO timestamp. */
export function partitionOf(isoUtc: string): { dt: string; hour: string } {
  return { dt: isoUtc.slice(0, 10), hour: isoUtc.slice(11, 13) };
}
