/**
 * What this checkout deploys, read from the repository: the Worker's name, its queues and bucket
 * (wrangler.toml), the bucket's lifecycle rules (lake/lifecycle.json) and the D1 migrations
 * (migrations/). `ops doctor` holds the deployment to these. wrangler.toml is read for the few
 * keys needed, not parsed as TOML: a key it cannot find is reported, not guessed.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../lib/errors.ts";

export interface Deployment {
  worker: string;
  queue: string;
  deadLetterQueue: string;
  bucket: string;
  lifecycleRules: LifecycleRule[];
  migrations: string[];
}

export interface LifecycleRule {
  id: string;
  [field: string]: unknown;
}

function first(text: string, pattern: RegExp, what: string): string {
  const m = pattern.exec(text);
  if (!m?.[1]) throw new UsageError(`wrangler.toml has no ${what}: run ops doctor from the repository it deploys`);
  return m[1];
}

export function readDeployment(root = process.cwd()): Deployment {
  const tomlPath = join(root, "wrangler.toml");
  if (!existsSync(tomlPath)) throw new UsageError("no wrangler.toml here: run ops doctor from the repository it deploys");
  const toml = readFileSync(tomlPath, "utf8");
  const consumers = toml.split(/^\[\[queues\.consumers\]\]/m).slice(1);
  const main = consumers.find((c) => /^dead_letter_queue\s*=/m.test(c)) ?? "";
  const lifecycle = JSON.parse(readFileSync(join(root, "lake", "lifecycle.json"), "utf8")) as { rules: LifecycleRule[] };
  return {
    worker: first(toml, /^name\s*=\s*"([^"]+)"/m, "name"),
    queue: first(main, /^queue\s*=\s*"([^"]+)"/m, "queue consumer with a dead_letter_queue"),
    deadLetterQueue: first(main, /^dead_letter_queue\s*=\s*"([^"]+)"/m, "dead_letter_queue"),
    bucket: first(toml, /^bucket_name\s*=\s*"([^"]+)"/m, "bucket_name"),
    lifecycleRules: lifecycle.rules,
    migrations: readdirSync(join(root, "migrations"))
      .filter((f) => f.endsWith(".sql"))
      .sort(),
  };
}
