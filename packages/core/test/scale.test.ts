/**
 * Scale input: a plan is refused up front above the processes one SLURM job can start (MaxStepCount,
 * 40000 by default), counted from the groups before anything is laid out; at the limit it plans,
 * explains, renders and serialises.
 */
import { describe, expect, it } from "vitest";
import { DynError } from "../src/errors.js";
import { explainPlan, planToJson } from "../src/explain.js";
import { LIMITS, MAX_PROCESSES } from "../src/limits.js";
import { planForTest, renderForTest } from "../src/testing.js";
import { mpi, perNode } from "./fixtures/backends.js";

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (DynError.is(err)) return err;
    throw err;
  }
  throw new Error("expected a refusal");
};

describe("the process limit", () => {
  it("is SLURM's default MaxStepCount less the script's own steps", () => {
    expect(LIMITS.maxStepCount).toBe(40_000);
    expect(MAX_PROCESSES).toBe(39_997);
  });

  it("20000 nodes of 1-GPU workers are refused at once, naming the key and the limit", () => {
    const e = refusal(() =>
      planForTest(perNode, {
        model: "org/m",
        slurm: { nodes: 20000 },
        roles: {
          prefill: { workers: 80000, gpusPerWorker: 1 },
          decode: { workers: 80000, gpusPerWorker: 1 },
        },
      }),
    );
    expect(e.code).toBe("DYN_PLAN_INVALID");
    expect(e.key).toBe("slurm.nodes");
    expect(e.message).toBe(
      "slurm.nodes: the plan would run 160003 processes (prefill: 80000 workers × 1 GPU), above the 39997 one job can start: each is an srun step, and SLURM's default MaxStepCount is 40000 steps per job",
    );
    expect(e.hint).toMatch(/more GPUs per worker/);
  });

  it("a million workers are refused as fast as ten (nothing is laid out)", () => {
    const e = refusal(() =>
      planForTest(perNode, {
        model: "org/m",
        roles: { aggregated: { workers: 1_000_000, gpusPerWorker: 1 } },
      }),
    );
    expect(e.message).toMatch(/^roles\.aggregated\.workers: the plan would run 1000003 processes/);
  });

  it("multi-node workers count one step per node; MPI workers one step each", () => {
    // 5000 decode workers × 4 nodes = 20000 steps per node-rank launch: 40004 with the rest.
    const perNodeSpec = {
      model: "org/m",
      roles: { prefill: { workers: 1 }, decode: { workers: 10000, gpusPerWorker: 32 } },
    };
    expect(refusal(() => planForTest(perNode, perNodeSpec)).message).toMatch(/would run 40004 processes/);
    const mpiSpec = {
      model: "org/m",
      roles: { prefill: { workers: 1 }, decode: { workers: 10000, gpusPerWorker: 16 } },
    };
    expect(planForTest(mpi, mpiSpec).steps.length).toBe(10004);
  });

  it("at the limit a plan is made, explained, serialised and rendered", () => {
    const workers = MAX_PROCESSES - 3; // etcd, nats, frontend
    const spec = { model: "org/m", roles: { aggregated: { workers, gpusPerWorker: 1 } } };
    const plan = planForTest(perNode, spec);
    expect(plan.steps.length).toBe(MAX_PROCESSES);
    expect(explainPlan(plan).split("\n").length).toBeGreaterThan(MAX_PROCESSES);
    expect(JSON.stringify(planToJson(plan)).length).toBeGreaterThan(0);
    expect(renderForTest(perNode, spec)).toContain(`aggregated-w${workers - 1}`);
    expect(
      refusal(() =>
        planForTest(perNode, { ...spec, roles: { aggregated: { workers: workers + 1, gpusPerWorker: 1 } } }),
      ).code,
    ).toBe("DYN_PLAN_INVALID");
  });
});
