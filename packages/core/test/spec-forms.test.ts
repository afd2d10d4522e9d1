/**
 * The forms people write in a config (string shorthands, quoted numbers, numbers in env and args,
 * minutes) parse to one output; every mistake of a spec is reported, each naming its key, an unknown
 * key with the key it most likely meant; an extra #SBATCH option that repeats a planned one is refused.
 */
import { describe, expect, it } from "vitest";
import { DynError } from "../src/errors.js";
import { plannedDirective } from "../src/sbatch-directives.js";
import { absoluteModel, DeploymentSpec } from "../src/spec.js";
import { closest, editDistance, issuesOf, keysAt, parseOrThrow } from "../src/validate.js";

const backend = { name: "x" };
const parse = (input: object) => DeploymentSpec.parse({ backend, ...input });
const problems = (input: object) => {
  const value = { backend, ...input };
  const r = DeploymentSpec.safeParse(value);
  if (r.success) throw new Error("expected the spec to be refused");
  return issuesOf(r.error, "", { schema: DeploymentSpec, input: value }).map((i) => `${i.key}: ${i.message}`);
};

describe("config forms", () => {
  it("model and secrets shorthands, env and time as numbers, counts as numeral strings", () => {
    const spec = parse({
      model: "Qwen/Qwen3-8B",
      secrets: "HF_TOKEN",
      env: { NCCL_DEBUG: 1, NCCL_P2P_DISABLE: true, RATIO: 0.5, NAME: "x" },
      slurm: { time: 240, nodes: "4", gpusPerNode: " 8 " },
      roles: { prefill: { workers: "2", gpusPerWorker: 4 }, decode: { workers: 1 } },
    });
    expect(spec.model).toEqual({ path: "Qwen/Qwen3-8B" });
    expect(spec.secrets).toEqual(["HF_TOKEN"]);
    expect(spec.env).toEqual({ NCCL_DEBUG: "1", NCCL_P2P_DISABLE: "true", RATIO: "0.5", NAME: "x" });
    expect(spec.slurm).toMatchObject({ time: "240", nodes: 4, gpusPerNode: 8 });
    expect(spec.roles.prefill?.workers).toBe(2);
  });

  it("the long forms are unchanged", () => {
    const spec = parse({
      model: { path: "m", servedName: "s" },
      secrets: ["A", "B"],
      slurm: { time: "04:00:00" },
    });
    expect(spec.model).toEqual({ path: "m", servedName: "s" });
    expect(spec.secrets).toEqual(["A", "B"]);
    expect(spec.slurm.time).toBe("04:00:00");
  });

  it("engine args: a shell-like string, or a list of words, numbers and booleans", () => {
    const spec = parse({
      roles: {
        prefill: { workers: 1, args: "--max-model-len 8192 --chat-template 'a b'" },
        decode: { workers: 1, args: ["--max-model-len", 8192, "--enforce-eager", true, "--ratio", 0.9] },
        frontend: { args: "--router-mode kv" },
      },
    });
    expect(spec.roles.prefill?.args).toEqual(["--max-model-len", "8192", "--chat-template", "a b"]);
    expect(spec.roles.decode?.args).toEqual([
      "--max-model-len",
      "8192",
      "--enforce-eager",
      "true",
      "--ratio",
      "0.9",
    ]);
    expect(spec.roles.frontend.args).toEqual(["--router-mode", "kv"]);
  });

  it.each([
    [{ slurm: { nodes: "two" } }, "slurm.nodes: must be a whole number or auto"],
    [{ slurm: { nodes: 2.5 } }, "slurm.nodes: must be a whole number or auto"],
    [{ slurm: { nodes: 0 } }, "slurm.nodes: Too small: expected number to be >=1"],
    [{ slurm: { nodes: 1e20 } }, "slurm.nodes: is too large to be exact"],
    [{ slurm: { gpusPerNode: "" } }, "slurm.gpusPerNode: must be a whole number"],
    [{ slurm: { gpusPerNode: "-1" } }, "slurm.gpusPerNode: must be a whole number"],
    [{ slurm: { gpusPerNode: "８" } }, "slurm.gpusPerNode: must be a whole number"],
    [
      { slurm: { time: 2.5 } },
      "slurm.time: must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS, or a number of minutes",
    ],
    [{ slurm: { time: "1h" } }, "slurm.time: must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS"],
    [{ model: 5 }, "model: must be a model id or path, or { path, servedName }"],
    [{ model: "" }, "model: must not be empty"],
    [{ model: { path: 3 } }, "model.path: Invalid input: expected string, received number"],
    [{ secrets: "hf-token" }, "secrets: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"],
    [{ secrets: ["A", "b c"] }, "secrets.1: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"],
    [{ env: { A: null } }, "env.A: must be text, a number or a boolean"],
    [{ env: { A: [1] } }, "env.A: must be text, a number or a boolean"],
    [{ roles: { aggregated: {} } }, "roles.aggregated.workers: is required"],
    [
      { roles: { aggregated: { workers: 1, args: 5 } } },
      'roles.aggregated.args: must be a string of arguments ("--max-model-len 8192") or a list of words',
    ],
    [
      { roles: { aggregated: { workers: 1, args: [null] } } },
      "roles.aggregated.args.0: must be a word (text), a number or a boolean",
    ],
    [
      { roles: { aggregated: { workers: 1, args: "--a 'b" } } },
      "roles.aggregated.args: column 5: unbalanced ': this quote is never closed",
    ],
    [
      { roles: { aggregated: { workers: 1, args: "--dir $HOME" } } },
      "roles.aggregated.args: column 7: \"$H\" would be expanded by a shell, and dyn passes words literally: quote it ('$H…') to pass it as it is",
    ],
    [
      { roles: { aggregated: { workers: 1, args: ["--max-model-len 8192"] } } },
      'roles.aggregated.args.0: "--max-model-len 8192" is one word with a blank in it: list the words as separate items ([--max-model-len, 8192]) or give args as one string',
    ],
    [
      { slurm: { output: "logs/%j/batch.out" } },
      "slurm.output: must not have a %-pattern in its directory part (sbatch does not create directories; dyn creates the one it can name)",
    ],
  ])("%j → %s", (input, line) => {
    expect(problems(input)).toEqual([line]);
  });

  it("a list item with a blank that is no option name then a blank stays one word", () => {
    const args = ["--chat-template", "a b", "--x=c d", "-"];
    expect(parse({ roles: { aggregated: { workers: 1, args } } }).roles.aggregated?.args).toEqual(args);
  });
});

describe("every problem at once, unknown keys with the key meant", () => {
  it("lists all of them in order", () => {
    expect(
      problems({
        slurm: { partiton: "gpu", gpus_per_node: 8, nodes: 0 },
        roles: { prefil: { workers: 1 } },
        nodes: 2,
        rolse: {},
        modle: "m",
        xyzzy: 1,
      }),
    ).toEqual([
      "slurm.nodes: Too small: expected number to be >=1",
      "slurm.partiton: unknown key (did you mean partition?)",
      "slurm.gpus_per_node: unknown key (did you mean gpusPerNode?)",
      "roles.prefil: unknown key (did you mean prefill?)",
      "nodes: unknown key (did you mean slurm.nodes?)",
      "rolse: unknown key (did you mean roles?)",
      "modle: unknown key (did you mean model?)",
      "xyzzy: unknown key",
    ]);
  });

  it("in pyxis container options and worker groups too", () => {
    expect(
      problems({
        container: { kind: "pyxis", image: "/i.sqsh", mount: ["/a:/b"] },
        roles: { decode: { workers: 1, gpus_per_worker: 2 }, prefill: { workers: 1 } },
      }),
    ).toEqual([
      "container.mount: unknown key (did you mean mounts?)",
      "roles.decode.gpus_per_worker: unknown key (did you mean gpusPerWorker?)",
    ]);
  });

  it("parseOrThrow: one error whose message lists them all and whose problems hold each", () => {
    try {
      parseOrThrow(
        DeploymentSpec,
        { backend, slurm: { partiton: "x", nodes: "x" } },
        { code: "DYN_SPEC_INVALID" },
      );
      expect.unreachable();
    } catch (err) {
      const e = err as DynError;
      expect(DynError.is(e)).toBe(true);
      expect(e.message).toBe(
        "2 problems: slurm.nodes: must be a whole number or auto; slurm.partiton: unknown key (did you mean partition?)",
      );
      expect(e.key).toBe("slurm.nodes");
      expect(e.problems).toEqual([
        { key: "slurm.nodes", message: "must be a whole number or auto" },
        { key: "slurm.partiton", message: "unknown key (did you mean partition?)" },
      ]);
    }
  });

  it("keysAt walks objects, unions and wrappers", () => {
    expect(keysAt(DeploymentSpec, ["slurm"])).toContain("gpusPerNode");
    expect(keysAt(DeploymentSpec, ["model"])).toEqual(["path", "servedName"]);
    expect(keysAt(DeploymentSpec, ["container"])).toEqual(
      expect.arrayContaining(["image", "mounts", "setup"]),
    );
    expect(keysAt(DeploymentSpec, ["env"])).toEqual([]);
  });

  it("closest: case and separators first, then edits within a third of the length", () => {
    expect(closest("gpus-per-node", ["gpusPerNode", "nodes"])).toBe("gpusPerNode");
    expect(closest("GPUSPERNODE", ["gpusPerNode"])).toBe("gpusPerNode");
    expect(closest("partiton", ["partition", "account"])).toBe("partition");
    expect(closest("nodes", ["model", "roles"])).toBeUndefined();
    expect(editDistance("ab", "ba")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });
});

describe("extra #SBATCH options that repeat a planned directive", () => {
  const slurm = { gpuRequest: "gpus-per-node", requeue: false, extraSbatch: [] };
  it.each([
    ["--nodes=3", "--nodes"],
    ["--nodes 3", "--nodes"],
    ["-N3", "--nodes"],
    ["-N 3", "--nodes"],
    ["--ntasks-per-node=2", "--ntasks-per-node"],
    ["--ntasks=4", "--ntasks"],
    ["-n4", "--ntasks-per-node"],
    ["--gpus-per-node=4", "--gpus-per-node"],
    ["--gpus=8", "--gpus"],
    ["-G 8", "--gpus-per-node"],
    ["--gres=gpu:a100:8", "--gres"],
    ["--output=x.out", "--output"],
    ["-o x.out", "--output"],
    ["--chdir=/tmp", "--chdir"],
    ["-D /tmp", "--chdir"],
    ["--job-name=x", "--job-name"],
    ["-J x", "--job-name"],
    ["--partition=gpu", "--partition"],
    ["--part=gpu", "--partition"],
    ["-p gpu", "--partition"],
    ["--time=10", "--time"],
    ["--exclusive", "--exclusive"],
    ["--requeue", "--requeue"],
    ["--no-requeue", "--no-requeue"],
  ])("%s repeats %s", (entry, directive) => {
    expect(plannedDirective(entry, slurm)?.directive).toBe(directive);
  });

  it.each([
    "--reservation=r1",
    "--constraint=h100",
    "--gres=nvme:1",
    "--mem=0",
    "--error=err.out",
    "--time-min=10",
    "--open-mode=append",
    "-C h100",
    "--nodelist=n[1-2]",
  ])("%s is free to add", (entry) => {
    expect(plannedDirective(entry, slurm)).toBeUndefined();
  });

  it("GPU options are free with --gpu-request none; --open-mode is dyn's with --requeue", () => {
    const none = { ...slurm, gpuRequest: "none" };
    expect(plannedDirective("--gpus-per-node=4", none)).toBeUndefined();
    expect(plannedDirective("--gres=gpu:4", none)).toBeUndefined();
    expect(plannedDirective("--open-mode=truncate", { ...slurm, requeue: true })?.directive).toBe(
      "--open-mode",
    );
  });

  it("each repeat is a problem at its index, naming the option and what dyn writes it from", () => {
    expect(problems({ slurm: { extraSbatch: ["--reservation=r1", "-N 4", "--chdir=/x"] } })).toEqual([
      `slurm.extraSbatch.1: "-N 4" repeats #SBATCH -N (--nodes), which dyn writes from --nodes (slurm.nodes; by default the plan's node count)`,
      `slurm.extraSbatch.2: "--chdir=/x" repeats #SBATCH --chdir, which dyn writes from the run directory (under --runs-dir)`,
    ]);
  });
});

describe("absoluteModel", () => {
  it.each([
    ["./models/x", "/home/u/p/models/x"],
    ["../x", "/home/u/x"],
    [".", "/home/u/p"],
    ["./", "/home/u/p"],
    ["Qwen/Qwen3-8B", "Qwen/Qwen3-8B"],
    ["/abs/m", "/abs/m"],
    [".hidden/m", ".hidden/m"],
  ])("%s → %s", (model, abs) => {
    expect(absoluteModel(model, "/home/u/p")).toBe(abs);
  });
});
