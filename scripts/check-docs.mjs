// `node scripts/check-docs.mjs` (part of `npm run check`): every relative link and `#anchor` in
// README.md and docs/*.md must resolve. Anchors are GitHub's heading slugs (lower-cased, punctuation
// dropped, spaces to hyphens, `-1`, `-2` for repeats) or an explicit `<a id>`. Links into code
// blocks and inline code are not links; web addresses are not checked (no network in CI).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** GitHub's slug of a heading's text. */
export function slug(heading) {
  return heading
    .replace(/<[^>]+>/g, "")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
    .replace(/ /g, "-");
}

/** The markdown files checked: README.md and every .md directly under docs/. */
export function docFiles(root) {
  const files = [];
  if (existsSync(join(root, "README.md"))) files.push(join(root, "README.md"));
  const docs = join(root, "docs");
  if (existsSync(docs))
    for (const name of readdirSync(docs).sort()) if (name.endsWith(".md")) files.push(join(docs, name));
  return files;
}

/** Lines outside fenced code blocks, with inline code blanked so its brackets are not read as links. */
function proseLines(text) {
  const out = [];
  let fence = null;
  for (const [i, line] of text.split("\n").entries()) {
    const open = line.match(/^\s*(`{3,}|~{3,})/);
    if (fence) {
      if (open && open[1][0] === fence[0] && open[1].length >= fence.length) fence = null;
      continue;
    }
    if (open) {
      fence = open[1];
      continue;
    }
    out.push({ n: i + 1, raw: line, line: line.replace(/(`+)(.+?)\1/g, "``") });
  }
  return out;
}

const anchorCache = new Map();

/** Every anchor a markdown file offers: heading slugs (numbered when repeated) and `<a id|name>`. */
export function anchorsOf(file) {
  const cached = anchorCache.get(file);
  if (cached) return cached;
  const anchors = new Set();
  const seen = new Map();
  const text = readFileSync(file, "utf8");
  for (const { raw, line } of proseLines(text)) {
    // The slug takes the heading's raw text, code spans included (they are blanked only for links).
    const heading = raw.match(/^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/);
    if (heading) {
      const base = slug(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

/** Links in a file: inline `[text](target)` and reference definitions `[id]: target`. */
function linksOf(text) {
  const links = [];
  for (const { n, line } of proseLines(text)) {
    if (/^ {0,3}#{1,6}\s/.test(line)) continue;
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ n, target: m[1] });
    const ref = line.match(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/);
    if (ref) links.push({ n, target: ref[1] });
  }
  return links;
}

/** Problems in the docs under root, each `file:line: what is wrong`. Empty when every link resolves. */
export function checkDocs(root) {
  anchorCache.clear();
  const problems = [];
  for (const file of docFiles(root)) {
    const text = readFileSync(file, "utf8");
    const where = relative(root, file);
    for (const { n, target } of linksOf(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
      const hash = target.indexOf("#");
      const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
      const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
      const dest = path === "" ? file : resolve(dirname(file), path);
      if (!existsSync(dest)) {
        problems.push(`${where}:${n}: ${target}: no file ${relative(root, dest)}`);
        continue;
      }
      if (anchor === null || anchor === "") continue;
      if (!dest.endsWith(".md") || statSync(dest).isDirectory()) {
        problems.push(`${where}:${n}: ${target}: an anchor into a file that is not markdown`);
        continue;
      }
      if (!anchorsOf(dest).has(anchor))
        problems.push(`${where}:${n}: ${target}: no heading "#${anchor}" in ${relative(root, dest)}`);
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const problems = checkDocs(root);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(
      `${problems.length} broken link(s) in README.md and docs/: fix the target, or the heading it names (anchors are the heading's text, lower-cased, punctuation dropped, spaces as hyphens).`,
    );
    process.exit(1);
  }
  console.log(`docs: every link in ${docFiles(root).length} files resolves`);
}
