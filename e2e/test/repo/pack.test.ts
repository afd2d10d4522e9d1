/**
 * Every package installs from its tarball into a project outside the workspace and runs: `dyn
 * --version`, `dyn backends` (built-ins and the installed third-party backend), and a dry-run deploy
 * for each built-in backend and for the example backend installed the same way. Also the single-file
 * bundle, which needs nothing but `node`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { dynIn, installProject, packAll, repo } from "../install.js";

let project = "";
beforeAll(() => {
  project = installProject(packAll());
}, 240_000);

const run = (cmd: string, args: string[], cwd = project) =>
  spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });

describe("installed from tarballs with npm", () => {
  it("dyn --version prints the CLI's version", () => {
    const r = run(dynIn(project), ["--version"]);
    const version = JSON.parse(readFileSync(join(repo, "apps/cli/package.json"), "utf8")).version;
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it("dyn backends lists the built-ins and the installed third-party backend", () => {
    const r = run(dynIn(project), ["backends", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const names = (JSON.parse(r.stdout).backends as Array<{ name: string }>).map((b) => b.name);
    expect(names).toEqual(expect.arrayContaining(["vllm", "sglang", "trtllm", "mocker"]));
  });

  it.each(["vllm", "sglang", "trtllm", "mocker"])(
    "dyn deploy --backend %s --dry-run writes a plan and a script",
    (backend) => {
      const runs = mkdtempSync(join(tmpdir(), "dyn-pack-runs-"));
      const r = run(dynIn(project), [
        "deploy",
        "--backend",
        backend,
        "--dry-run",
        "--runs-dir",
        runs,
        "--json",
      ]);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.plan.backend).toBe(backend);
      const script = readFileSync(join(out.runDir, "job.sbatch"), "utf8");
      expect(execFileSync("bash", ["-n", join(out.runDir, "job.sbatch")]).toString()).toBe("");
      expect(script).toMatch(/^#SBATCH --nodes=\d+$/m);
    },
  );
});

describe("the single-file bundle", () => {
  it("runs with only node on the PATH, outside any node_modules", () => {
    const dir = mkdtempSync(join(tmpdir(), "dyn-bundle-"));
    const bundle = join(dir, "dyn.cjs");
    copyFileSync(join(repo, "apps/cli/dist/dyn.cjs"), bundle);
    const env = { PATH: "/nonexistent", HOME: dir, NO_COLOR: "1" };
    const version = spawnSync(process.execPath, [bundle, "--version"], { cwd: dir, env, encoding: "utf8" });
    expect(version.status, version.stderr).toBe(0);
    const dry = spawnSync(
      process.execPath,
      [bundle, "deploy", "--backend", "sglang", "--dry-run", "--runs-dir", join(dir, "runs"), "--json"],
      {
        cwd: dir,
        env,
        encoding: "utf8",
      },
    );
    expect(dry.status, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).plan.backend).toBe("sglang");
  });
});
