/**
 * Times on the ops page: how long ago ("3 min ago", "in 28 days"), with the exact UTC time on
 * hover. Rendered on the server against the page's own `now`, so the page needs no script and
 * every time on it is relative to the same instant.
 */

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** `at` relative to `now`, in the largest unit that keeps it short. */
export function ago(at: string, now: string): string {
  const ms = Date.parse(now) - Date.parse(at);
  if (Number.isNaN(ms)) return at;
  const abs = Math.abs(ms);
  const say = (n: number, unit: string) => {
    // "min" and "h" are abbreviations and stay as they are; words take a plural.
    const text = `${n} ${unit}${unit !== "min" && unit !== "h" && n !== 1 ? "s" : ""}`;
    return ms >= 0 ? `${text} ago` : `in ${text}`;
  };
  if (abs < MIN) return ms >= 0 ? "just now" : "in under a minute";
  if (abs < HOUR) return say(Math.floor(abs / MIN), "min");
  if (abs < 2 * DAY) return say(Math.floor(abs / HOUR), "h");
  if (abs < 60 * DAY) return say(Math.floor(abs / DAY), "day");
  if (abs < 730 * DAY) return say(Math.floor(abs / (30.44 * DAY)), "month");
  return say(Math.floor(abs / (365.25 * DAY)), "year");
}

/** `2026-12-07T11:12:43.707Z` → `2026-12-07 11:12:43 UTC`. */
export function utc(at: string): string {
  const t = Date.parse(at);
  return Number.isNaN(t) ? at : `${new Date(t).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** A time as "3 min ago", the UTC time on hover; `none` when there is no time. */
export function When(props: { at: string | null | undefined; now: string; none?: string }) {
  if (!props.at) return <span class="muted">{props.none ?? "never"}</span>;
  return (
    <time datetime={props.at} title={utc(props.at)}>
      {ago(props.at, props.now)}
    </time>
  );
}
