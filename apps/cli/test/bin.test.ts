// Real processes: bin/dyn.js (after `pnpm build`) and the single-file bundle.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tmp } from "./helpers.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "bin", "dyn.js");
const bundle = join(root, "dist", "dyn.bundle.mjs");

const spawn = (file: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [file, ...args], {
    cwd: tmp(),
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
  });

describe.skipIf(!existsSync(join(root, "dist", "index.js")))("bin/dyn.js", () => {
  it("exit 0 for --help, 2 for bad input, 2 for usage errors", () => {
    expect(spawn(bin, ["--help"]).status).toBe(0);
    const bad = spawn(bin, ["plan", "--backend", "sglang", "--nodes", "-3"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe(
      "error: --nodes: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
    );
    expect(spawn(bin, ["plan", "--no-such-flag"]).status).toBe(2);
  });

  it("exit 1 when sbatch is missing (operation failed), with SLURM-less PATH", () => {
    const r = spawn(bin, ["deploy", "--backend", "sglang"], { PATH: "/nonexistent" });
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe("error: sbatch not found on PATH (DYN_SLURM_FAILED)");
  });

  it("dry-run --json is one document", () => {
    const r = spawn(bin, ["deploy", "--backend", "sglang", "--dry-run", "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).dryRun).toBe(true);
  });
});

describe.skipIf(!existsSync(bundle))("dist/dyn.bundle.mjs", () => {
  it("runs standalone with the built-in backends inside", () => {
    const r = spawn(bundle, ["plan", "--backend", "sglang", "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe("sglang");
  });
});
