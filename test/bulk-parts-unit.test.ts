import { describe, expect, it } from "vitest";
import { LineCounter, partOfLine, startPart } from "../src/durable/bulk/parts";
import { jsonlLines } from "../src/durable/bulk/stream";

const bytes = (text: string) => new TextEncoder().encode(text);

async function readerLines(text: string): Promise<number> {
  let n = 0;
  for await (const batch of jsonlLines(new Blob([text]).stream())) n += batch.lines.length;
  return n;
}

describe("archive parts", () => {
  it("counts lines as the stage's reader numbers them, whatever the chunks", async () => {
    const texts = ['{"a":1}\n{"b":2}\n', '\n\r\n{"c":3}\r\n{"d":4}', "x", "\n\n\n", "\r", "a\rb\n", ""];
    for (const text of texts) {
      for (const size of [1, 2, 5, 1000]) {
        const counter = new LineCounter();
        const all = bytes(text);
        for (let i = 0; i < all.length; i += size) counter.feed(all.subarray(i, i + size));
        counter.finish();
        expect(counter.lines, JSON.stringify(text)).toBe(await readerLines(text));
      }
    }
  });

  it("starts a read at the part holding the line, or before a part cut inside a line", () => {
    const parts = [
      { lines: 3, bytes: 30, cut: false },
      { lines: 2, bytes: 20, cut: true },
      { lines: 4, bytes: 40, cut: false },
      { lines: 1, bytes: 10, cut: false },
    ];
    expect(startPart(parts, 0)).toEqual({ index: 0, firstLine: 0 });
    expect(startPart(parts, 2)).toEqual({ index: 0, firstLine: 0 });
    expect(startPart(parts, 3)).toEqual({ index: 1, firstLine: 3 });
    // Part 2 begins inside a line that part 1 started: the read starts at part 1.
    expect(startPart(parts, 6)).toEqual({ index: 1, firstLine: 3 });
    expect(startPart(parts, 9)).toEqual({ index: 3, firstLine: 9 });
    expect(startPart(parts, 50)).toEqual({ index: 3, firstLine: 9 });
    expect(startPart([], 5)).toEqual({ index: 0, firstLine: 0 });
  });

  it("names the part each line is in, for the subject index", () => {
    const job = {
      r2Key: "raw/shopify/orders/snapshots/dt=2026-01-01/7/",
      archiveParts: [
        { lines: 2, bytes: 1, cut: false },
        { lines: 1, bytes: 1, cut: false },
      ],
    };
    expect(partOfLine(job, 0)).toBe("raw/shopify/orders/snapshots/dt=2026-01-01/7/00001.jsonl.gz");
    expect(partOfLine(job, 1)).toBe("raw/shopify/orders/snapshots/dt=2026-01-01/7/00001.jsonl.gz");
    expect(partOfLine(job, 2)).toBe("raw/shopify/orders/snapshots/dt=2026-01-01/7/00002.jsonl.gz");
    expect(partOfLine({ r2Key: "raw/x.jsonl.gz", archiveParts: null }, 0)).toBeNull();
  });
});
