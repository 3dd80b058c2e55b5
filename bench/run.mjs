// `npm run bench`: runs every benchmark in bench/ one after another (they share the machine).
import { readdirSync } from "node:fs";

// Names to match; `--option value` pairs after them belong to the benchmarks (`scale --scale 0.05`).
const only = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.match(/^--[^=]+$/));
const files = readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".mjs") && f !== "run.mjs")
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

for (const file of files) {
  console.log(`\n=== ${file} ===`);
  const mod = await import(new URL(file, import.meta.url).href);
  if (typeof mod.run === "function") await mod.run();
}
