/** A live progress line for work the pipeline does after answering (backfills, replays). */
import { out } from "./print.ts";

/**
 * Reads `read` every `interval` seconds until `done`, keeping one progress line: rewritten in
 * place on a terminal, one line per change otherwise (logs, pipes). Returns the last read.
 */
export async function follow<T>(
  read: () => Promise<T>,
  line: (value: T) => string,
  done: (value: T) => boolean,
  intervalSeconds: number,
): Promise<T> {
  const live = process.stdout.isTTY === true;
  let last = "";
  for (;;) {
    const value = await read();
    const text = line(value);
    if (live) process.stdout.write(`\r\x1b[2K${text}`);
    else if (text !== last) out(text);
    last = text;
    if (done(value)) {
      if (live) out();
      return value;
    }
    await new Promise((r) => setTimeout(r, intervalSeconds * 1000));
  }
}
