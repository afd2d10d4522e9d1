// Real processes: bin/dyn.js both ways it starts (the code-cached bundle, and dist/index.js when
// DYN_NO_BUNDLE is set), and the single-file bundle on its own. Turbo builds the package first.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tmp } from "./helpers.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin", "dyn.js");
const bundle = join(root, "dist", "dyn.cjs");
const cacheHome = mkdtempSync(join(tmpdir(), "dyn-code-cache-"));

const spawn = (file: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [file, ...args], {
    cwd: tmp(),
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", XDG_CACHE_HOME: cacheHome, ...env },
  });

describe.each([
  ["through the bundle", {}],
  ["through dist/index.js", { DYN_NO_BUNDLE: "1" }],
])("bin/dyn.js %s", (_how, env: Record<string, string>) => {
  it("exit 0 for --help, 2 for bad input, 2 for usage errors", () => {
    expect(spawn(bin, ["--help"], env).status).toBe(0);
    const bad = spawn(bin, ["plan", "--backend", "sglang", "--nodes", "-3"], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe(
      "error: --nodes: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
    );
    expect(spawn(bin, ["plan", "--no-such-flag"], env).status).toBe(2);
  });

  it("exit 1 when sbatch is missing (operation failed), with SLURM-less PATH", () => {
    const r = spawn(bin, ["deploy", "--backend", "sglang"], { ...env, PATH: "/nonexistent" });
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe("error: sbatch not found on PATH (DYN_SLURM_FAILED)");
  });

  it("dry-run --json is one document", () => {
    const r = spawn(bin, ["deploy", "--backend", "sglang", "--dry-run", "--json"], env);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).dryRun).toBe(true);
  });
});

describe("the code cache", () => {
  it("is written per command after the first bundled run and reused without changing the output", () => {
    const first = spawn(bin, ["plan", "--backend", "sglang", "--json"]);
    const caches = readdirSync(join(cacheHome, "dyn"));
    expect(caches.some((f) => f.endsWith("-plan.v8"))).toBe(true);
    const second = spawn(bin, ["plan", "--backend", "sglang", "--json"]);
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(first.stdout);
  });

  it("a new build of the same install replaces its older caches; another install's are kept", () => {
    const home = mkdtempSync(join(tmpdir(), "dyn-code-cache-stale-"));
    const first = spawn(bin, ["plan", "--backend", "sglang", "--json"], { XDG_CACHE_HOME: home });
    expect(first.status).toBe(0);
    const [made] = readdirSync(join(home, "dyn"));
    expect(made).toMatch(/^dyn\.cjs-[0-9a-f]{8}-\d+-\d+-v\d+\.\d+\.\d+-\w+-plan\.v8$/);
    const install = (made as string).split("-").slice(0, 2).join("-");
    // an older build of this install (another size and mtime), its stray temporary file, another install's cache
    const old = `${install}-1-2-${process.version}-${process.arch}-deploy.v8`;
    const oldTmp = `${install}-1-2-${process.version}-${process.arch}-plan.v8.999`;
    const other = `dyn.cjs-00000000-1-2-${process.version}-${process.arch}-plan.v8`;
    for (const f of [old, oldTmp, other]) writeFileSync(join(home, "dyn", f), "x");
    const r = spawn(bin, ["status", "--help"], { XDG_CACHE_HOME: home });
    expect(r.status).toBe(0);
    const left = readdirSync(join(home, "dyn")).sort();
    expect(left).toContain(made);
    expect(left).toContain(other);
    expect(left).not.toContain(old);
    expect(left).not.toContain(oldTmp);
    expect(left.some((f) => f.endsWith("-status.v8"))).toBe(true);
  });

  it("an unwritable cache directory only costs speed", () => {
    const notADirectory = join(cacheHome, "a-file");
    writeFileSync(notADirectory, "");
    const r = spawn(bin, ["plan", "--backend", "sglang", "--json"], { XDG_CACHE_HOME: notADirectory });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe("sglang");
  });
});

describe("what a start loads", () => {
  // Node's own modules a run loaded, printed at exit by a preload (-r): start-up cost that bare
  // `node -e 0` does not pay (docs/benchmarks.md).
  const preload = join(cacheHome, "print-builtins.cjs");
  writeFileSync(
    preload,
    'process.on("exit", () => require("node:fs").writeSync(2, `\\nBUILTINS ${JSON.stringify(process.moduleLoadList)}\\n`));',
  );
  const builtins = (args: string[]) => {
    const r = spawnSync(process.execPath, ["-r", preload, bin, ...args], {
      cwd: tmp(),
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", XDG_CACHE_HOME: cacheHome },
    });
    expect(r.status).toBe(0);
    const line = r.stderr.split("\n").find((l) => l.startsWith("BUILTINS "));
    return JSON.parse((line ?? "BUILTINS []").slice("BUILTINS ".length)) as string[];
  };

  it.each([[["--help"]], [["deploy", "--backend", "sglang", "--dry-run", "--runs-dir", "runs"]]])(
    "%j: no child_process (commander's is required on first use) and no ESM loader run for bin/dyn.js",
    (args) => {
      const loaded = builtins(args);
      expect(loaded).toContain("NativeModule vm"); // the code-cached bundle ran
      expect(loaded).not.toContain("NativeModule child_process");
      // An ES module entry starts the ESM loader's module jobs (and fs/promises, readline with them).
      expect(loaded).not.toContain("NativeModule internal/modules/esm/module_job");
      expect(loaded).not.toContain("NativeModule internal/readline/interface");
    },
  );
});

describe("dist/dyn.cjs on its own", () => {
  it("runs standalone with the built-in backends inside", () => {
    const r = spawn(bundle, ["plan", "--backend", "sglang", "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe("sglang");
  });
});
