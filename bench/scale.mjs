// The scale run (`npm run bench -- scale [--scale 0.05]`): a large brand seeded straight
// into local D1 and R2 (bench/scale/world.ts), then every job run to completion inside workerd
// under the limits layer of test/fakes/limits.ts, one line per job and
// `scale: N/M jobs finished within limits` at the end. The scenario is a vitest file
// (bench/scale/large-brand.scale.ts) run with its own config, because the limits layer, the
// fakes and the test entry points live in the vitest workers pool. A job that FAILs is the
// measurement; only a harness error (vitest failing) makes this throw.
// --scale N (or SCALE=N): the share of full size, 0 < N <= 1 (default 1).
// --job-minutes N (or SCALE_JOB_MINUTES=N): wall time a job may take before it is reported unfinished (default 60).
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The value after `--name` (or in `--name=value`) on the command line, else the environment's. */
function option(name, envName, fallback) {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return process.env[envName] ?? fallback;
}

function settings() {
  const scale = Number(option("scale", "SCALE", "1"));
  if (!(scale > 0 && scale <= 1)) throw new Error(`--scale must be in (0, 1], got ${option("scale", "SCALE", "1")}`);
  const jobMinutes = Number(option("job-minutes", "SCALE_JOB_MINUTES", "60"));
  if (!(jobMinutes > 0)) throw new Error("--job-minutes must be a positive number");
  return { scale: String(scale), jobMinutes: String(jobMinutes) };
}

/** Runs vitest, echoing its output, and returns the `SCALE| ` lines and its exit code. */
function vitest(env) {
  const args = ["vitest", "run", "--config", "bench/scale/vitest.config.ts", "--reporter=verbose"];
  return new Promise((resolve, reject) => {
    const child = spawn("npx", args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = [];
    let rest = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      const text = rest + chunk.toString("utf8");
      const parts = text.split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        const at = line.indexOf("SCALE| ");
        if (at >= 0) lines.push(line.slice(at + 7));
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, lines }));
  });
}

export async function run() {
  const { scale, jobMinutes } = settings();
  const started = Date.now();
  const { code, lines } = await vitest({ SCALE: scale, SCALE_JOB_MINUTES: jobMinutes });
  console.log(`\n--- scale run, scale ${scale} (${((Date.now() - started) / 60_000).toFixed(1)} min) ---`);
  for (const line of lines) console.log(line);
  if (code !== 0) throw new Error(`scale: the harness failed (vitest exited with ${code}); see the output above`);
}
