// The code's direction (docs/architecture.md) checked with dependency-cruiser: the project's
// own tree has no violation, and a tree that breaks each rule is refused by name.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { cruise, type ICruiseResult } from "dependency-cruiser";
import { describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const config = createRequire(import.meta.url)(join(root, ".dependency-cruiser.cjs"));

async function violations(baseDir: string): Promise<{ rule: string; from: string; to: string }[]> {
  const previous = process.cwd();
  process.chdir(baseDir);
  try {
    const { tsConfig: _ignored, ...options } = config.options;
    const roots = ["src", "cli"].filter((r) => existsSync(join(baseDir, r)));
    const result = await cruise(roots, {
      ...options,
      validate: true,
      ruleSet: { forbidden: config.forbidden },
      baseDir,
    });
    const output = result.output as ICruiseResult;
    return output.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
  } finally {
    process.chdir(previous);
  }
}

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "deps-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe("import rules", () => {
  it("the project's src has no cycle and no arrow against the flow", async () => {
    expect(await violations(root)).toEqual([]);
  }, 60_000);

  it("refuses a cycle and every arrow that runs back up the flow", async () => {
    const dir = tree({
      "src/shared/log.ts": 'import "../tables/plan";\nexport const log = 1;\n',
      "src/tables/plan.ts": 'import "../consumers/apply";\nexport const plan = 1;\n',
      "src/consumers/apply.ts": 'import "./rules";\nimport "../cron/alerts/rules";\nexport const a = 1;\n',
      "src/consumers/rules.ts": 'import "./apply";\nexport const r = 1;\n',
      "src/cron/alerts/rules.ts": 'import "../reconcile/emit";\nexport const r = 1;\n',
      "src/cron/reconcile/emit.ts": 'import "../../ingress/app";\nexport const e = 1;\n',
      "src/durable/coordinator.ts": 'import "../cron/jobs";\nexport const c = 1;\n',
      "src/cron/jobs.ts": 'import "../durable/coordinator";\nexport const j = 1;\n',
      "src/ingress/app.ts": 'import "../cron/jobs";\nimport "../durable/coordinator";\nexport const app = 1;\n',
    });
    const found = await violations(dir);
    const rules = new Set(found.map((v) => v.rule));
    expect(found).toContainEqual({ rule: "no-cycle", from: "src/consumers/apply.ts", to: "src/consumers/rules.ts" });
    expect(found).toContainEqual({
      rule: "shared-is-a-leaf",
      from: "src/shared/log.ts",
      to: "src/tables/plan.ts",
    });
    expect(found).toContainEqual({
      rule: "tables-know-no-stage",
      from: "src/tables/plan.ts",
      to: "src/consumers/apply.ts",
    });
    expect(found).toContainEqual({
      rule: "consumer-calls-no-job-or-coordinator",
      from: "src/consumers/apply.ts",
      to: "src/cron/alerts/rules.ts",
    });
    expect(found).toContainEqual({
      rule: "one-room-per-job",
      from: "src/cron/alerts/rules.ts",
      to: "src/cron/reconcile/emit.ts",
    });
    expect(found).toContainEqual({
      rule: "jobs-call-no-http-or-consumer",
      from: "src/cron/reconcile/emit.ts",
      to: "src/ingress/app.ts",
    });
    expect(found).toContainEqual({
      rule: "coordinator-calls-no-stage-above",
      from: "src/durable/coordinator.ts",
      to: "src/cron/jobs.ts",
    });
    // Allowed arrows are not reported: ingress → jobs and coordinator, jobs → coordinator.
    expect(found.filter((v) => v.from === "src/ingress/app.ts")).toEqual([]);
    expect(found.filter((v) => v.from === "src/cron/jobs.ts" && v.rule !== "no-cycle")).toEqual([]);
    expect(rules.size).toBeGreaterThanOrEqual(7);
  }, 60_000);

  it("keeps the operator CLI on the HTTP side: pure src/shared helpers only, and src never imports it", async () => {
    const dir = tree({
      "src/shared/subscriptions.ts": "export const topics = [];\n",
      "src/ingress/app.ts": 'import "../../cli/ops";\nexport const app = 1;\n',
      "cli/ops.ts": 'import "../src/shared/subscriptions";\nimport "../src/ingress/app";\nexport const cli = 1;\n',
    });
    const found = await violations(dir);
    expect(found).toContainEqual({ rule: "cli-talks-over-http", from: "cli/ops.ts", to: "src/ingress/app.ts" });
    expect(found).toContainEqual({ rule: "the-worker-knows-no-cli", from: "src/ingress/app.ts", to: "cli/ops.ts" });
    expect(found.filter((v) => v.to === "src/shared/subscriptions.ts")).toEqual([]);
  }, 60_000);
});
