/**
 * The README is true about installing: each shell block between its `install:begin` and
 * `install:end` markers runs as written (bash -e, from the repository root), in a home and an npm
 * prefix of its own, and leaves a `dyn` on PATH that is the installed one, prints the CLI's version
 * and plans a dry-run deploy outside the repository. Nothing is published, so the README must not
 * tell anyone to `npm i -g @dyn/cli` as the way to install today.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repo } from "../install.js";

const readme = readFileSync(join(repo, "README.md"), "utf8");
const version = JSON.parse(readFileSync(join(repo, "apps/cli/package.json"), "utf8")).version as string;

/** The ```sh blocks between the install markers. */
function installBlocks(text: string): string[] {
  const begin = text.indexOf("<!-- install:begin");
  const end = text.indexOf("<!-- install:end -->");
  if (begin < 0 || end < begin) return [];
  return [...text.slice(begin, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

const blocks = installBlocks(readme);

describe("the README's install instructions", () => {
  it("are there: two blocks, and the registry line only for when it is published", () => {
    expect(blocks).toHaveLength(2);
    for (const line of readme.split("\n").filter((l) => l.includes("npm i -g @dyn/cli")))
      expect(line).toMatch(/does not work today|(when|once) `@dyn\/cli` is\s*$|will replace/);
    expect(readme).toMatch(/When `@dyn\/cli` is\s+published, `npm i -g @dyn\/cli` will replace both\./);
  });

  it.each(blocks.map((b, i) => [i + 1, b] as const))(
    "block %i runs as written and installs a working dyn",
    (_n, block) => {
      const home = mkdtempSync(join(tmpdir(), "dyn-readme-home-"));
      const prefix = mkdtempSync(join(tmpdir(), "dyn-readme-prefix-"));
      const elsewhere = mkdtempSync(join(tmpdir(), "dyn-readme-user-"));
      // After the block: which dyn the shell finds, and a dry run from a directory outside the checkout.
      const check = `\necho "which=$(command -v dyn)"\ncd ${JSON.stringify(elsewhere)}\ndyn deploy --backend sglang --dry-run --json --runs-dir "$PWD/runs" > plan.json\n`;
      const r = spawnSync("bash", ["--norc", "--noprofile", "-e", "-o", "pipefail", "-c", block + check], {
        cwd: repo,
        encoding: "utf8",
        env: {
          ...process.env,
          HOME: home,
          npm_config_prefix: prefix,
          npm_config_loglevel: "error",
          npm_config_fund: "false",
          npm_config_audit: "false",
          PATH: `${join(prefix, "bin")}:${join(home, ".local", "bin")}:${process.env.PATH ?? ""}`,
          NO_COLOR: "1",
        },
      });
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines).toContain(version);
      const which = lines.find((l) => l.startsWith("which="))?.slice("which=".length) ?? "";
      expect(which.startsWith(prefix) || which.startsWith(home), which).toBe(true);
      const plan = JSON.parse(readFileSync(join(elsewhere, "plan.json"), "utf8"));
      expect(plan.dryRun).toBe(true);
      expect(plan.plan.backend).toBe("sglang");
    },
    300_000,
  );
});
