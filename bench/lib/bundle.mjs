/**
 * Bundles TypeScript modules of this project for a Node bench with esbuild (already a
 * dev dependency through wrangler), so benches run the same code the Worker runs.
 * Output goes to bench/out/ (git-ignored).
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `exports` maps an exported name to "path/from/root.ts#name"; returns the imported module. */
export async function bundle(name, exportsMap) {
  const lines = Object.entries(exportsMap).map(([as, spec]) => {
    const [path, symbol] = spec.split("#");
    return `export { ${symbol} as ${as} } from ${JSON.stringify(`./${path}`)};`;
  });
  const outDir = join(root, "bench", "out");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${name}.bundle.mjs`);
  await build({
    stdin: { contents: lines.join("\n"), resolveDir: root, loader: "ts", sourcefile: `${name}-entry.ts` },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    outfile,
    logLevel: "warning",
  });
  return import(`${pathToFileURL(outfile).href}?t=${Date.now()}`);
}
