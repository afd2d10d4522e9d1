/**
 * A third-party backend from nothing, as its author would make it: `dyn backends new` (the dyn
 * installed from tarballs), then in the new package `npm install` of @dyn/core's tarball (the rest
 * from the registry), `npm run build`, `npm test` (the conformance kit) and `npm pack`; the packed
 * plugin installed next to dyn in the user's project, where `dyn deploy --backend <name> --dry-run`
 * plans with the plugin's own GPU defaults (one GPU per worker, not a whole node).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DYN_PACKAGES, dynIn, installProject, packAll } from "../install.js";

/** The environment without this vitest's own variables, so the plugin's vitest runs as from a shell. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(VITEST|__VITEST|TINYPOOL|DYN_TEST_REPORTS$)/.test(k)),
) as NodeJS.ProcessEnv;
const npm = (args: string[], cwd: string) =>
  spawnSync("npm", ["--no-audit", "--no-fund", "--loglevel=error", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...env, CI: "1", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
const dyn = (project: string, args: string[], cwd = project) =>
  spawnSync(dynIn(project), args, { cwd, encoding: "utf8", env: { ...env, NO_COLOR: "1" } });

let project = "";
let plugin = "";
let packed = "";
const steps: Record<string, ReturnType<typeof spawnSync>> = {};

beforeAll(() => {
  const tarballs = packAll(undefined, DYN_PACKAGES);
  const core = tarballs.find((t) => /dyn-core-[\d.]+\.tgz$/.test(t)) as string;
  project = installProject(tarballs);
  const work = mkdtempSync(join(tmpdir(), "dyn-plugin-author-"));
  plugin = join(work, "dyn-backend-acme");
  steps.new = dyn(project, ["backends", "new", "acme", "--dir", plugin], work);
  if (steps.new.status !== 0) return;
  steps.install = npm(["install", "--save-dev", core], plugin);
  if (steps.install.status !== 0) return;
  steps.build = npm(["run", "build"], plugin);
  steps.test = npm(["test"], plugin);
  steps.pack = npm(["pack"], plugin);
  packed = join(plugin, "dyn-backend-acme-0.1.0.tgz");
  if (existsSync(packed))
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", packed], {
      cwd: project,
      stdio: "pipe",
    });
}, 300_000);

const ok = (name: string) => {
  const r = steps[name];
  expect(r, `step ${name} did not run`).toBeDefined();
  expect(r?.status, `${name}: ${r?.stdout}\n${r?.stderr}`).toBe(0);
  return String(r?.stdout ?? "");
};

describe("a backend plugin from dyn backends new", () => {
  it("is written by the installed dyn", () => {
    expect(ok("new")).toContain(`dyn-backend-acme (backend "acme") written to`);
    expect(JSON.parse(readFileSync(join(plugin, "package.json"), "utf8")).peerDependencies).toEqual({
      "@dyn/core": "^1.0.0",
    });
  });

  it("installs its dev tools, builds with tsc and passes its conformance test as written", () => {
    ok("install");
    ok("build");
    expect(existsSync(join(plugin, "dist/index.js"))).toBe(true);
    expect(existsSync(join(plugin, "dist/index.d.ts"))).toBe(true);
    const out = ok("test");
    expect(out).toMatch(/Tests\s+\d+ passed/);
    expect(out).toContain("conformance");
    expect(out).not.toMatch(/skipped|failed/);
  });

  it("packs into a tarball with the built backend and without its sources or tests", () => {
    ok("pack");
    const files = execFileSync("tar", ["tzf", packed], { encoding: "utf8" }).split("\n").filter(Boolean);
    expect(files).toEqual(expect.arrayContaining(["package/dist/index.js", "package/package.json"]));
    expect(files.filter((f) => /\/(src|test)\//.test(f))).toEqual([]);
  });

  it("installed next to dyn, dyn backends lists it", () => {
    const r = dyn(project, ["backends", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const acme = (
      JSON.parse(r.stdout).backends as Array<{ name: string; kind: string; error: string | null }>
    ).find((b) => b.name === "acme");
    expect(acme).toMatchObject({ name: "acme", error: null });
  });

  it("dyn deploy --backend acme --dry-run plans with the backend's own GPU defaults", () => {
    const runs = mkdtempSync(join(tmpdir(), "dyn-plugin-runs-"));
    const r = dyn(project, ["deploy", "--backend", "acme", "--dry-run", "--runs-dir", runs, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.plan.backend).toBe("acme");
    expect(
      out.plan.groups.map((g: { role: string; workers: number; gpusPerWorker: number }) => [
        g.role,
        g.workers,
        g.gpusPerWorker,
      ]),
    ).toEqual([
      ["prefill", 1, 1],
      ["decode", 1, 1],
    ]);
    const worker = out.plan.processes.find((p: { id: string }) => p.id === "prefill-w0");
    expect(worker.command.slice(0, 3)).toEqual(["python3", "-m", "dynamo.mocker"]);
    expect(worker.env).toMatchObject({ CUDA_VISIBLE_DEVICES: "0" });
    expect(execFileSync("bash", ["-n", join(out.runDir, "job.sbatch")]).toString()).toBe("");
  });
});
