// First step of `npm start`: make sure .dev.vars exists and names every setting .dev.vars.example
// names, so a fresh clone runs with no editing and an older .dev.vars gains the secrets added since
// (PRIVACY_HASH_KEY, CREDENTIALS_KEY, ...) instead of leaving events retrying. Values already set stay.
import { appendFileSync, copyFileSync, existsSync, readFileSync } from "node:fs";

const names = (text) => new Set([...text.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*=/gm)].map((m) => m[1]));

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example (local development secrets).");
} else {
  const example = readFileSync(".dev.vars.example", "utf8");
  const have = names(readFileSync(".dev.vars", "utf8"));
  const missing = example.split("\n").filter((line) => {
    const m = /^\s*([A-Z][A-Z0-9_]*)\s*=/.exec(line);
    return m !== null && !have.has(m[1]);
  });
  if (missing.length > 0) {
    appendFileSync(".dev.vars", `\n# Added from .dev.vars.example\n${missing.join("\n")}\n`);
    console.log(`Added to .dev.vars from .dev.vars.example: ${missing.map((l) => l.split("=")[0].trim()).join(", ")}`);
  }
}
