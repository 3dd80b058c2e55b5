// `npm run docs` (part of `npm run check`): every relative link and anchor between README.md and
// docs/*.md resolves. The project's own docs pass; a broken file link and a broken anchor are both caught.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkDocs, slug } from "../../scripts/check-docs.mjs";

const root = new URL("../..", import.meta.url).pathname;

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "docs-"));
  mkdirSync(join(dir, "docs"));
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  return dir;
}

describe("docs links", () => {
  it("finds no broken link or anchor in README.md and docs/", () => {
    expect(checkDocs(root)).toEqual([]);
  });

  it("slugs headings as GitHub does", () => {
    expect(slug("The ops CLI (`npm run ops`)")).toBe("the-ops-cli-npm-run-ops");
    expect(slug("How large D1 grows, and past its 10 GB")).toBe("how-large-d1-grows-and-past-its-10-gb");
    expect(slug("R2 layout (`LAKE`)")).toBe("r2-layout-lake");
    expect(slug("dbt (dbt-duckdb), Spark, warehouses")).toBe("dbt-dbt-duckdb-spark-warehouses");
  });

  it("reports a link to a missing file and an anchor no heading has, with file and line", () => {
    const dir = tree({
      "README.md": "# Project\n\nSee [setup](docs/setup.md#install) and [gone](docs/gone.md).\n",
      "docs/setup.md": "# Setup\n\n## Install it\n\nBack to [the top](../README.md#project), [here](#setup).\n",
    });
    expect(checkDocs(dir)).toEqual([
      'README.md:3: docs/setup.md#install: no heading "#install" in docs/setup.md',
      "README.md:3: docs/gone.md: no file docs/gone.md",
    ]);
  });

  it("accepts repeated headings' numbered anchors, <a id>, web links, and ignores code", () => {
    const dir = tree({
      "README.md": [
        "# Top",
        "## Notes",
        "## Notes",
        '<a id="custom"></a>',
        "[one](#notes) [two](#notes-1) [custom](#custom) [web](https://example.com/#x) [mail](mailto:a@b.c)",
        "`[not a link](#nowhere)`",
        "```md",
        "[also not](#nowhere)",
        "```",
        "[three](#notes-2)",
      ].join("\n"),
    });
    expect(checkDocs(dir)).toEqual(['README.md:10: #notes-2: no heading "#notes-2" in README.md']);
  });
});
