// Adds lockfile entries for optional platform packages (other OSes and CPUs) that npm left out
// because the registry it used could not serve them. Without those entries `npm ci` refuses the
// lockfile as out of sync; with them, npm skips the packages on platforms they do not match.
// Run after `npm install` changes package-lock.json: `node scripts/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from "node:fs";

const OS = {
  darwin: "darwin",
  linux: "linux",
  win32: "win32",
  windows: "win32",
  android: "android",
  freebsd: "freebsd",
  netbsd: "netbsd",
  openbsd: "openbsd",
  sunos: "sunos",
  aix: "aix",
  openharmony: "openharmony",
};
const CPU = {
  x64: "x64",
  64: "x64",
  arm64: "arm64",
  arm: "arm",
  ia32: "ia32",
  ppc64: "ppc64",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mips64el: "mips64el",
  wasm32: "wasm32",
};

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;
let added = 0;

function resolved(from, name) {
  let dir = from;
  for (;;) {
    const hit = packages[`${dir ? `${dir}/` : ""}node_modules/${name}`];
    if (hit) return hit;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf("/node_modules/");
    dir = cut < 0 ? "" : dir.slice(0, cut);
  }
}

for (const [key, entry] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    // A range such as ~2.3.3 is satisfied by its own base version.
    const version = range.replace(/^[~^=v\s]+/, "");
    // npm resolves a dependency in the nearest node_modules up the tree; another version found
    // there does not satisfy it, so the placeholder then goes beside the package that needs it.
    if (resolved(key, name)?.version === version) continue;
    const target = resolved(key, name) ? `${key}/node_modules/${name}` : `node_modules/${name}`;
    const tokens = name.split("/").pop().split("-");
    const os = tokens.map((t) => OS[t]).find(Boolean);
    const cpu = tokens.map((t) => CPU[t]).find(Boolean);
    const placeholder = { version, optional: true };
    if (os) placeholder.os = [os];
    else if (name === "fsevents") placeholder.os = ["darwin"];
    if (cpu) placeholder.cpu = [cpu];
    if (tokens.includes("musl")) placeholder.libc = ["musl"];
    if (tokens.includes("gnu")) placeholder.libc = ["glibc"];
    packages[target] = placeholder;
    added++;
  }
}

writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} optional platform entries`);
