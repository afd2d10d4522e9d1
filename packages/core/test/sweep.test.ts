/** Sweeps: the matrix's validation, the cross product's order and limit, points applied to a layer. */
import { describe, expect, it } from "vitest";
import {
  applyPoint,
  DeploymentSpec,
  expandMatrix,
  keyPathProblem,
  MAX_SWEEP_POINTS,
  matrixProblems,
  parseMatrix,
  pointCount,
  sweepDependency,
  sweepErrorCode,
} from "../src/index.js";
import { thrownDynError } from "../src/testing.js";

const thrown = thrownDynError;

describe("keyPathProblem", () => {
  it("accepts spec keys, and any key below a record", () => {
    expect(keyPathProblem(DeploymentSpec, ["roles", "decode", "workers"])).toBeUndefined();
    expect(keyPathProblem(DeploymentSpec, ["slurm", "nodes"])).toBeUndefined();
    expect(keyPathProblem(DeploymentSpec, ["env", "NCCL_DEBUG"])).toBeUndefined();
    expect(keyPathProblem(DeploymentSpec, ["backend", "options", "anything"])).toBeUndefined();
  });
  it("names the first unknown segment with the whole key it likely meant", () => {
    expect(keyPathProblem(DeploymentSpec, ["roles", "decode", "worker"])).toEqual({
      at: 2,
      message: "unknown key (did you mean roles.decode.workers?)",
      suggestion: "roles.decode.workers",
    });
    expect(keyPathProblem(DeploymentSpec, ["roles", "decod", "workers"])?.suggestion).toBe("roles.decode");
    expect(keyPathProblem(DeploymentSpec, ["slurm", "gpus_per_node"])?.suggestion).toBe("slurm.gpusPerNode");
  });
  it("refuses a key below a value", () => {
    expect(keyPathProblem(DeploymentSpec, ["slurm", "nodes", "x"])?.message).toBe(
      'slurm.nodes is a value, it has no key "x"',
    );
  });
});

describe("matrixProblems", () => {
  it("is empty for a good matrix", () => {
    expect(matrixProblems({ "roles.decode.workers": [1, 2], "slurm.partition": ["a", "b"] })).toEqual([]);
  });
  it("names every problem with its key and its place in the file", () => {
    const problems = matrixProblems({
      "roles.decode.worker": [1],
      "roles.decod.workers": [1],
      "slurm.nodes": 3,
      "slurm.time": [],
      "roles.prefill.workers": [1, 2, 1],
      "slurm..x": [1],
    });
    expect(problems).toEqual([
      {
        key: "matrix.roles.decode.worker",
        path: ["matrix", "roles.decode.worker"],
        message: "unknown key (did you mean roles.decode.workers?)",
      },
      {
        key: "matrix.roles.decod.workers",
        path: ["matrix", "roles.decod.workers"],
        message: "roles.decod: unknown key (did you mean roles.decode?)",
      },
      {
        key: "matrix.slurm.nodes",
        path: ["matrix", "slurm.nodes"],
        message: "must be a list of values (e.g. [1, 2]), got a number",
      },
      {
        key: "matrix.slurm.time",
        path: ["matrix", "slurm.time"],
        message: "is an empty list: give at least one value",
      },
      {
        key: "matrix.roles.prefill.workers[2]",
        path: ["matrix", "roles.prefill.workers", 2],
        message: "1 repeats item 0 (each value once)",
      },
      {
        key: "matrix.slurm..x",
        path: ["matrix", "slurm..x"],
        message: "is not a dotted spec key (an empty segment)",
      },
    ]);
  });
  it("refuses a non-mapping, an empty mapping and overlapping keys", () => {
    expect(matrixProblems([1, 2])[0]?.message).toMatch(/^must be a mapping .* got a list$/);
    expect(matrixProblems("x")[0]?.message).toMatch(/got a string$/);
    expect(matrixProblems({})[0]?.message).toBe("has no keys: give at least one key and its values");
    expect(matrixProblems({ "roles.decode": [{ workers: 1 }], "roles.decode.workers": [1] })).toEqual([
      {
        key: "matrix.roles.decode.workers",
        path: ["matrix", "roles.decode.workers"],
        message: "overlaps matrix.roles.decode (that key's values set this one too): sweep one of them",
      },
    ]);
  });
  it("compares values deeply for duplicates", () => {
    expect(
      matrixProblems({
        "roles.decode.args": [
          ["--a", "1"],
          ["--a", "1"],
        ],
      })[0]?.key,
    ).toBe("matrix.roles.decode.args[1]");
    expect(
      matrixProblems({
        "roles.decode.args": [
          ["--a", "1"],
          ["--a", "2"],
        ],
      }),
    ).toEqual([]);
  });
});

describe("parseMatrix", () => {
  it("throws one DynError with every problem located in the file", () => {
    const e = thrown(() =>
      parseMatrix(
        { "roles.decode.worker": [1], "slurm.nodes": [] },
        { locate: (p) => `sweep.yaml:${p.length}:1` },
      ),
    );
    expect(e.code).toBe("DYN_CONFIG_INVALID");
    expect(e.exitCode).toBe(2);
    expect(e.problems?.map((p) => p.label)).toEqual([
      "sweep.yaml:2:1 matrix.roles.decode.worker",
      "sweep.yaml:2:1 matrix.slurm.nodes",
    ]);
    expect(e.message).toContain("sweep.yaml:2:1 matrix.roles.decode.worker: unknown key (did you mean");
  });
  it("gives the axes in the order written", () => {
    expect(parseMatrix({ "slurm.time": ["1:00"], "slurm.account": ["a", "b"] }).map((a) => a.key)).toEqual([
      "slurm.time",
      "slurm.account",
    ]);
  });
});

describe("expandMatrix", () => {
  it("is nested loops over the keys in order, the first outermost", () => {
    const axes = parseMatrix({ "roles.prefill.workers": [1, 2], "roles.decode.workers": [1, 2, 4] });
    const points = expandMatrix(axes);
    expect(points.map((p) => p.label)).toEqual([
      "prefill.workers=1,decode.workers=1",
      "prefill.workers=1,decode.workers=2",
      "prefill.workers=1,decode.workers=4",
      "prefill.workers=2,decode.workers=1",
      "prefill.workers=2,decode.workers=2",
      "prefill.workers=2,decode.workers=4",
    ]);
    expect(points.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(points[4]?.values).toEqual({ "roles.prefill.workers": 2, "roles.decode.workers": 2 });
    expect(points[5]?.positions).toEqual({ "roles.prefill.workers": 1, "roles.decode.workers": 2 });
  });
  it("labels non-numbers readably", () => {
    const points = expandMatrix(
      parseMatrix({
        "slurm.partition": ["a"],
        "roles.decode.args": [["--x", "1"]],
        "slurm.exclusive": [true],
      }),
    );
    expect(points[0]?.label).toBe('slurm.partition=a,decode.args=["--x","1"],slurm.exclusive=true');
  });
  it("refuses more than the limit, saying how many", () => {
    const values = Array.from({ length: 17 }, (_, i) => i + 1);
    const axes = parseMatrix({ "roles.decode.workers": values, "roles.prefill.workers": values });
    expect(pointCount(axes)).toBe(289);
    const e = thrown(() => expandMatrix(axes));
    expect(e.message).toBe(`matrix: 17 × 17 = 289 points, more than the limit of ${MAX_SWEEP_POINTS}`);
    expect(e.exitCode).toBe(2);
    expect(expandMatrix(axes, 300)).toHaveLength(289);
  });
});

describe("applyPoint", () => {
  it("sets each swept key, replacing the base's value, without touching the base", () => {
    const base = { roles: { decode: { workers: 1, args: ["--a"] } }, slurm: { nodes: 2 } };
    const [point] = expandMatrix(
      parseMatrix({ "roles.decode.args": [["--b"]], "roles.prefill.workers": [3], "env.X": ["1"] }),
    );
    const out = applyPoint(base, point as never);
    expect(out).toEqual({
      roles: { decode: { workers: 1, args: ["--b"] }, prefill: { workers: 3 } },
      slurm: { nodes: 2 },
      env: { X: "1" },
    });
    expect(base).toEqual({ roles: { decode: { workers: 1, args: ["--a"] } }, slurm: { nodes: 2 } });
  });
});

describe("sweepDependency", () => {
  it("chains point i after point i − cap", () => {
    expect([0, 1, 2, 3, 4].map((i) => sweepDependency(i, 2))).toEqual([undefined, undefined, 0, 1, 2]);
    expect(sweepDependency(3, undefined)).toBeUndefined();
    expect([0, 1, 2].map((i) => sweepDependency(i, 1))).toEqual([undefined, 0, 1]);
  });
});

describe("sweepErrorCode", () => {
  it("keeps one code, an input error for mixed input errors, an operation error if any", () => {
    expect(sweepErrorCode(["DYN_PLAN_INVALID", "DYN_PLAN_INVALID"])).toBe("DYN_PLAN_INVALID");
    expect(sweepErrorCode(["DYN_PLAN_INVALID", "DYN_CONFIG_INVALID"])).toBe("DYN_SPEC_INVALID");
    expect(sweepErrorCode(["DYN_PLAN_INVALID", "DYN_IO_FAILED"])).toBe("DYN_IO_FAILED");
  });
});
