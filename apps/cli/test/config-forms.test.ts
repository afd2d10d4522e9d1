/**
 * Config in the forms people write (#14 item 4), every problem at once with its position, key and
 * did-you-mean (also in --json), relative paths made absolute or checked (#14 item 6), and what a
 * chosen release ignores said as a warning (#14 item 5).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeSlurm, run, tmp, writeConfig } from "./helpers.js";

const planIn = async (cwd: string, argv: string[] = []) => {
  const r = await run(["plan", "--json", ...argv], { cwd });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};

describe("the forms people write", () => {
  it("model and secrets shorthands, env numbers, time in minutes, quoted counts", async () => {
    const cwd = tmp();
    writeConfig(
      cwd,
      [
        "backend: sglang",
        "model: Qwen/Qwen3-8B",
        "secrets: HF_TOKEN",
        "env:",
        "  NCCL_DEBUG: 1",
        "  RATIO: 1.0",
        "  NCCL_P2P_DISABLE: true",
        "slurm:",
        "  time: 240",
        '  nodes: "2"',
        '  gpusPerNode: "8"',
        "",
      ].join("\n"),
    );
    const p = await planIn(cwd);
    expect(p.spec.model).toEqual({ path: "Qwen/Qwen3-8B", servedName: "Qwen/Qwen3-8B" });
    expect(p.spec.secrets).toEqual(["HF_TOKEN"]);
    expect(p.spec.env).toEqual({ NCCL_DEBUG: "1", RATIO: "1.0", NCCL_P2P_DISABLE: "true" });
    expect(p.spec.slurm).toMatchObject({ time: "240", nodes: 2, gpusPerNode: 8 });
  });

  it("shorthands merge with flags like their long forms", async () => {
    const cwd = tmp();
    writeConfig(cwd, "backend: sglang\nmodel: Qwen/Qwen3-8B\nsecrets: HF_TOKEN\n");
    const p = await planIn(cwd, ["--served-model-name", "qwen", "--secret", "WANDB_KEY"]);
    expect(p.spec.model).toEqual({ path: "Qwen/Qwen3-8B", servedName: "qwen" });
    expect(p.spec.secrets).toEqual(["HF_TOKEN", "WANDB_KEY"]);
  });

  it("a relative model is made absolute: --model against this shell, the config's against its file", async () => {
    const cwd = tmp();
    const flag = await planIn(cwd, ["--backend", "sglang", "--model", "./models/m"]);
    expect(flag.spec.model.path).toBe(join(cwd, "models/m"));
    writeConfig(cwd, "backend: sglang\nmodel: ../shared/m\n");
    const sub = join(cwd, "sub");
    (await import("node:fs")).mkdirSync(sub);
    expect((await planIn(sub)).spec.model.path).toBe(join(cwd, "..", "shared/m"));
    const hf = await planIn(cwd, ["--model", "Qwen/Qwen3-8B"]);
    expect(hf.spec.model.path).toBe("Qwen/Qwen3-8B");
  });
});

describe("every problem at once", () => {
  const config = [
    "backend: sglang",
    "slurm:",
    "  partiton: gpu",
    "  gpus_per_node: 8",
    "  time: 1h",
    "roles:",
    "  prefill:",
    "    workers: two",
    "rolse: {}",
    "",
  ].join("\n");

  it("one line each, in the file's order, with position, key and did-you-mean", async () => {
    const cwd = tmp();
    writeConfig(cwd, config);
    const r = await run(["deploy"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      "error: 5 problems (DYN_CONFIG_INVALID)",
      "  dyn.yaml:3:3 slurm.partiton: unknown key (did you mean partition?)",
      "  dyn.yaml:4:3 slurm.gpus_per_node: unknown key (did you mean gpusPerNode?)",
      "  dyn.yaml:5:9 slurm.time: must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS",
      "  dyn.yaml:8:14 roles.prefill.workers: must be a whole number",
      "  dyn.yaml:9:1 rolse: unknown key (did you mean roles?)",
      "hint: docs/cli.md (Config file) lists the keys; the JSON schema that dyn init links checks them as you type",
    ]);
    expect(existsSync(join(cwd, "dyn-runs"))).toBe(false);
  });

  it("flags' problems come first, named by the flag", async () => {
    const cwd = tmp();
    writeConfig(cwd, "backend: sglang\nslurm:\n  partiton: gpu\n");
    const r = await run(["plan", "--nodes", "0"], { cwd });
    expect(r.stderr.split("\n").slice(0, 3)).toEqual([
      "error: 2 problems (DYN_SPEC_INVALID)",
      "  --nodes: Too small: expected number to be >=1",
      "  dyn.yaml:3:3 slurm.partiton: unknown key (did you mean partition?)",
    ]);
  });

  it("--json: the same problems as a list, each with key, where and message", async () => {
    const cwd = tmp();
    writeConfig(cwd, config);
    const r = await run(["plan", "--json"], { cwd });
    expect(r.code).toBe(2);
    const { error } = JSON.parse(r.stdout);
    expect(error.code).toBe("DYN_CONFIG_INVALID");
    expect(error.message).toMatch(
      /^5 problems: dyn\.yaml:3:3 slurm\.partiton: unknown key \(did you mean partition\?\); /,
    );
    expect(error.problems).toEqual([
      { key: "slurm.partiton", where: "dyn.yaml:3:3", message: "unknown key (did you mean partition?)" },
      {
        key: "slurm.gpus_per_node",
        where: "dyn.yaml:4:3",
        message: "unknown key (did you mean gpusPerNode?)",
      },
      {
        key: "slurm.time",
        where: "dyn.yaml:5:9",
        message: "must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS",
      },
      { key: "roles.prefill.workers", where: "dyn.yaml:8:14", message: "must be a whole number" },
      { key: "rolse", where: "dyn.yaml:9:1", message: "unknown key (did you mean roles?)" },
    ]);
  });

  it("a single problem stays one line, and --json lists it too", async () => {
    const cwd = tmp();
    writeConfig(cwd, "backend: sglang\nslurm:\n  nodez: 2\n");
    const r = await run(["plan", "--json"], { cwd });
    expect(JSON.parse(r.stdout).error.problems).toEqual([
      { key: "slurm.nodez", where: "dyn.yaml:3:3", message: "unknown key (did you mean nodes?)" },
    ]);
  });

  it("every YAML syntax error at once", async () => {
    const cwd = tmp();
    writeConfig(cwd, "backend: sglang\nslurm: {nodes: 2\nroles: [\n");
    const r = await run(["plan"], { cwd });
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^error: \d+ problems \(DYN_CONFIG_INVALID\)$/);
    for (const l of lines.slice(1, -1)) expect(l).toMatch(/^ {2}dyn\.yaml:\d+:\d+ /);
  });

  it("a backend option with several problems lists each, named by its -o flag", async () => {
    const r = await run([
      "plan",
      "--backend",
      "sglang",
      "-o",
      "transferBackend=tcp",
      "-o",
      "trustRemoteCod=true",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n").slice(0, 3)).toEqual([
      "error: 2 problems (DYN_OPTIONS_INVALID)",
      '  -o transferBackend: Invalid option: expected one of "nixl"|"mooncake"',
      "  -o trustRemoteCod: unknown key (did you mean trustRemoteCode?)",
    ]);
  });
});

describe("what a release ignores is said", () => {
  it("a legacy graph's model and GPUs: warnings on stderr naming the flags, and in the plan", async () => {
    const r = await run([
      "plan",
      "--json",
      "--backend",
      "vllm",
      "--legacy",
      "--model",
      "/m",
      "--num-prefill-workers",
      "1",
      "--num-decode-workers",
      "1",
      "--gpus-per-prefill",
      "4",
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      'warning: --model: no process is given "/m" at Dynamo 0.3.2 (the dynamo serve graph reads it from its graph config)',
      "warning: --gpus-per-prefill: at Dynamo 0.3.2 the graph config sets each worker's tensor parallelism; 4 GPUs only place each prefill worker (CUDA_VISIBLE_DEVICES), so the graph config must use 4",
    ]);
    expect(JSON.parse(r.stdout).warnings.map((w: { key: string }) => w.key)).toEqual([
      "model.path",
      "roles.prefill.gpusPerWorker",
    ]);
  });

  it("nothing is said when the release uses them", async () => {
    const r = await run(["plan", "--backend", "vllm", "--model", "/m", "--gpus-per-prefill", "4"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });
});

describe("paths", () => {
  it("deploy creates the batch log's directory inside the run directory, even on a dry run", async () => {
    const cwd = tmp();
    const r = await run(["deploy", "--dry-run", "--backend", "sglang", "--output", "batch/slurm-%j.out"], {
      cwd,
    });
    expect(r.code).toBe(0);
    const dir = /Files in (\S+):/.exec(r.stdout)?.[1] as string;
    expect(existsSync(join(dir, "batch"))).toBe(true);
  });

  it("a batch log directory elsewhere is created at submission, and only named by a dry run", async () => {
    const cwd = tmp();
    const logs = join(cwd, "shared", "logs");
    const dry = await run(["deploy", "--dry-run", "--backend", "sglang", "--output", `${logs}/%x-%j.out`], {
      cwd,
    });
    expect(dry.stdout).toContain(`the batch log goes to ${logs}/: create it before sbatch (dyn deploy does)`);
    expect(existsSync(logs)).toBe(false);
    const slurm = new FakeSlurm();
    const r = await run(["deploy", "--backend", "sglang", "--output", `${logs}/%x-%j.out`], { cwd, slurm });
    expect(r.code).toBe(0);
    expect(existsSync(logs)).toBe(true);
    expect(slurm.count("sbatch")).toBe(1);
  });

  it("a batch log directory that cannot be made stops before sbatch and leaves no run directory", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    const r = await run(["deploy", "--backend", "sglang", "--output", "/proc/dyn-x/%j.out"], { cwd, slurm });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      "error: --output: /proc/dyn-x is on /proc, a proc filesystem, where no directory can be made (DYN_USAGE)",
    );
    expect(slurm.count("sbatch")).toBe(0);
    expect(readdirSync(join(cwd, "dyn-runs"))).toEqual([]);
  });

  it("render --out says which directories sbatch needs", async () => {
    const cwd = tmp();
    const runDir = join(cwd, "run");
    const r = await run(["render", "--backend", "sglang", "--out", "job.sh", "--run-dir", runDir], { cwd });
    expect(r.code).toBe(0);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      `wrote ${join(cwd, "job.sh")} (run directory in the script: ${runDir})`,
      `sbatch needs ${runDir}, which does not exist yet: mkdir -p ${runDir} before sbatch ${join(cwd, "job.sh")}`,
    ]);
    expect(readFileSync(join(cwd, "job.sh"), "utf8")).toContain(`#SBATCH --chdir=${runDir}`);
    (await import("node:fs")).mkdirSync(runDir);
    const again = await run(["render", "--backend", "sglang", "--out", "job.sh", "--run-dir", runDir], {
      cwd,
    });
    expect(again.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("a runs directory under a file, or not writable, fails at once", async () => {
    const cwd = tmp();
    writeConfig(cwd, "x", "afile");
    const r = await run(
      ["deploy", "--dry-run", "--backend", "sglang", "--runs-dir", join(cwd, "afile", "runs")],
      { cwd },
    );
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      `error: --runs-dir: ${join(cwd, "afile", "runs")} cannot be a directory: ${join(cwd, "afile")} is a file (DYN_USAGE)`,
    );
    const env = await run(["deploy", "--dry-run", "--backend", "sglang"], {
      cwd,
      env: { DYN_RUNS_DIR: "/proc/y" },
    });
    expect(env.stderr.split("\n")[0]).toBe(
      "error: DYN_RUNS_DIR: /proc/y is on /proc, a proc filesystem, where no directory can be made (DYN_USAGE)",
    );
  });
});
