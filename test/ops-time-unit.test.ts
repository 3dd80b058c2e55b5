import { describe, expect, it } from "vitest";
import { ago, utc } from "../src/ingress/admin/ops/time";

const NOW = "2026-12-07T12:00:00.000Z";
const earlier = (ms: number) => new Date(Date.parse(NOW) - ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("ops page times", () => {
  it("says how long ago, in the largest unit that keeps it short", () => {
    expect(ago(earlier(20_000), NOW)).toBe("just now");
    expect(ago(earlier(3 * MIN + 59_000), NOW)).toBe("3 min ago");
    expect(ago(earlier(59 * MIN), NOW)).toBe("59 min ago");
    expect(ago(earlier(HOUR), NOW)).toBe("1 h ago");
    expect(ago(earlier(47 * HOUR), NOW)).toBe("47 h ago");
    expect(ago(earlier(2 * DAY), NOW)).toBe("2 days ago");
    expect(ago(earlier(1 * DAY + 23 * HOUR), NOW)).toBe("47 h ago");
    expect(ago(earlier(90 * DAY), NOW)).toBe("2 months ago");
    expect(ago(earlier(3 * 365 * DAY), NOW)).toBe("2 years ago");
    expect(ago(earlier(4 * 366 * DAY), NOW)).toBe("4 years ago");
  });

  it("says when a future time comes (a privacy deadline)", () => {
    expect(ago(earlier(-28 * DAY), NOW)).toBe("in 28 days");
    expect(ago(earlier(-5 * MIN), NOW)).toBe("in 5 min");
    expect(ago(earlier(-10_000), NOW)).toBe("in under a minute");
  });

  it("gives the exact UTC time for the hover, and leaves text that is not a time alone", () => {
    expect(utc("2026-12-07T11:12:43.707Z")).toBe("2026-12-07 11:12:43 UTC");
    expect(utc("2026-12-07T13:12:43+02:00")).toBe("2026-12-07 11:12:43 UTC");
    expect(ago("not a time", NOW)).toBe("not a time");
    expect(utc("not a time")).toBe("not a time");
  });
});
