/**
 * Heterogeneous jobs: roles with their own `slurm` / `container` run in components of their own.
 * What the plan says (components, global node indices, each role's component and GPUs per node),
 * what the script says (#SBATCH hetjob blocks, --het-group on every step, node-wide steps per
 * component) and what is refused, naming the key. Ordinary jobs render as before (the snapshot tests).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Backend, DynError, explainPlan, planToJson } from "../src/index.js";
import {
  planForTest as planFor,
  renderForTest as renderFor,
  type TestSpec,
  thrownBy,
} from "../src/testing.js";
import { legacy, mpi, perNode } from "./fixtures/backends.js";

const MODEL = { model: { path: "Qwen/Qwen3-0.6B" } };
const planForTest = (backend: Backend, spec: TestSpec) => planFor(backend, { ...MODEL, ...spec });
const renderForTest = (backend: Backend, spec: TestSpec) => renderFor(backend, { ...MODEL, ...spec });

const TWO_PARTITIONS: TestSpec = {
  model: { path: "Qwen/Qwen3-0.6B" },
  slurm: { partition: "batch", account: "proj", time: "30", gpusPerNode: 8 },
  roles: {
    prefill: { workers: 2, gpusPerWorker: 4 },
    decode: { workers: 2, gpusPerWorker: 4, slurm: { partition: "gpu2", gpusPerNode: 4, gpuType: "h100" } },
  },
};

/** The #SBATCH blocks of a script, split at the hetjob separators. */
function blocks(script: string): string[][] {
  const out: string[][] = [[]];
  for (const line of script.split("\n")) {
    if (!line.startsWith("#SBATCH ")) continue;
    if (line === "#SBATCH hetjob") out.push([]);
    else (out[out.length - 1] as string[]).push(line.slice(8));
  }
  return out;
}

/** Every srun/dyn_step line the plan's sections run (after the static helper library). */
function srunLines(script: string): string[] {
  const body = script.slice(script.indexOf("# ---- allocation"));
  return body.split("\n").filter((l) => /^\s*(timeout 10 )?srun |^\s*dyn_step /.test(l));
}

describe("a heterogeneous plan", () => {
  const plan = planForTest(perNode, TWO_PARTITIONS);

  it("has one component per distinct role setting, component 0 with the top-level ones", () => {
    expect(plan.components?.map((c) => [c.index, c.partition, c.gpusPerNode, c.gpuType, c.roles])).toEqual([
      [0, "batch", 8, undefined, ["prefill"]],
      [1, "gpu2", 4, "h100", ["decode"]],
    ]);
    expect(plan.groups.map((g) => [g.role, g.hetGroup])).toEqual([
      ["prefill", 0],
      ["decode", 1],
    ]);
  });

  it("lays each component out with its own GPUs per node, on global node indices", () => {
    // Two 4-GPU prefill workers share component 0's 8-GPU node; each 4-GPU decode worker takes a
    // whole 4-GPU node of component 1 (so no CUDA_VISIBLE_DEVICES for them).
    expect(plan.components?.map((c) => [c.firstNode, c.nodes])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(plan.nodes).toBe(3);
    const where = plan.steps.map((s) => [s.id, s.nodes, s.gpus, "CUDA_VISIBLE_DEVICES" in s.env]);
    expect(where).toContainEqual(["prefill-w1", [0], [4, 5, 6, 7], true]);
    expect(where).toContainEqual(["decode-w0", [1], [0, 1, 2, 3], false]);
    expect(where).toContainEqual(["decode-w1", [2], [0, 1, 2, 3], false]);
    expect(plan.steps.find((s) => s.id === "etcd")?.nodes).toEqual([0]);
  });

  it("shows each role's component, partition and resources in the table and in dyn.plan/v1", () => {
    const text = explainPlan(plan);
    expect(text).toContain("3 nodes in 2 components (heterogeneous job)");
    expect(text).toContain(
      "component 0 (--het-group=0): node 0 · partition batch · account proj · 8 GPUs per node · no container · frontend, etcd/NATS, prefill",
    );
    expect(text).toContain(
      "component 1 (--het-group=1): nodes 1-2 · partition gpu2 · account proj · 4 h100 GPUs per node · no container · decode",
    );
    expect(text).toMatch(/decode: 2 workers × 4 GPUs in component 1/);
    const json = JSON.parse(JSON.stringify(planToJson(plan)));
    expect(json.components[1]).toMatchObject({
      index: 1,
      partition: "gpu2",
      gpusPerNode: 4,
      firstNode: 1,
      nodes: 2,
    });
    expect(json.groups[1]).toMatchObject({ role: "decode", hetGroup: 1 });
  });

  it("an ordinary plan has components and every hetGroup null", () => {
    const json = planToJson(
      planForTest(perNode, { roles: { prefill: { workers: 1 }, decode: { workers: 1 } } }),
    );
    expect(json.components).toBeNull();
    expect(json.groups.map((g) => g.hetGroup)).toEqual([null, null]);
  });

  it("roles with the same settings share a component", () => {
    const spec: TestSpec = {
      roles: {
        prefill: { workers: 1, slurm: { partition: "gpu2" } },
        decode: { workers: 1, slurm: { partition: "gpu2" } },
      },
    };
    const p = planForTest(perNode, spec);
    expect(p.components?.map((c) => c.roles)).toEqual([[], ["prefill", "decode"]]);
    // Component 0 is then the frontend and etcd/NATS alone, on a node of their own; it still asks
    // for its GPUs (header.ts: SLURM 22.05 did not start the job otherwise).
    expect(p.components?.map((c) => c.nodes)).toEqual([1, 2]);
    const [c0, c1] = blocks(renderForTest(perNode, spec));
    expect(c0).toContain("--gpus-per-node=8");
    expect(c1).toContain("--gpus-per-node=8");
  });
});

describe("a heterogeneous script", () => {
  const script = renderForTest(perNode, TWO_PARTITIONS);

  it("has one #SBATCH block per component; the job-wide options once, in component 0's", () => {
    const [c0, c1, more] = blocks(script);
    expect(more).toBeUndefined();
    expect(c0).toEqual([
      "--job-name=dynamo",
      "--nodes=1",
      "--ntasks-per-node=1",
      "--gpus-per-node=8",
      "--partition=batch",
      "--account=proj",
      "--time=30",
      "--no-requeue",
      "--output=/shared/runs/test/slurm-%j.out",
      "--chdir=/shared/runs/test",
    ]);
    expect(c1).toEqual([
      "--nodes=2",
      "--ntasks-per-node=1",
      "--gpus-per-node=h100:4",
      "--partition=gpu2",
      "--account=proj",
    ]);
  });

  it("gives every srun of component k --het-group=k, with the component's GPUs", () => {
    const lines = srunLines(script);
    expect(lines.length).toBeGreaterThan(8);
    for (const line of lines) expect(line).toMatch(/--het-group=[01]\b|dyn_step "\$1"|^dyn_t\d/);
    // The decode template runs in component 1 with its GPUs; etcd, NATS and the frontend in 0.
    expect(script).toMatch(/dyn_step "\$1" --het-group=1 .*--gpus-per-node=h100:4/);
    expect(script).toMatch(/dyn_step etcd --het-group=0 /);
    expect(script).toMatch(/dyn_step frontend-0 --het-group=0 /);
  });

  it("runs the node-wide steps once per component, with SLURM_NODEID made global", () => {
    for (const what of ["node-setup", "port-window", "preflight"]) {
      expect(script).toContain(
        `srun --overlap --het-group=0 --nodes=1 --ntasks=1 --ntasks-per-node=1 --job-name=${what}`,
      );
      expect(script).toContain(
        `srun --overlap --het-group=1 --nodes=2 --ntasks=2 --ntasks-per-node=1 --job-name=${what}`,
      );
    }
    expect(script).toContain("bash -c 'SLURM_NODEID=$((SLURM_NODEID + 1)); dyn_node_setup \"$@\"'");
    expect(script).toContain("bash -c 'SLURM_NODEID=$((SLURM_NODEID + 1)); dyn_preflight \"$@\"'");
    // The node list is every component's, in order, each checked against the plan.
    expect(script).toContain(
      'mapfile -t DYN_NODES_HET1 < <(scontrol show hostnames "$SLURM_JOB_NODELIST_HET_GROUP_1")',
    );
    expect(script).toContain('if [ "${SLURM_HET_SIZE:-1}" -ne 2 ]; then');
    expect(script).toContain("dyn_release_het_windows");
  });

  it("runs a role's own container as its component's named container", () => {
    const s = renderForTest(perNode, {
      ...TWO_PARTITIONS,
      container: { kind: "pyxis", image: "/images/dynamo-1.1.0.sqsh" },
      roles: {
        ...TWO_PARTITIONS.roles,
        decode: {
          workers: 1,
          slurm: { partition: "gpu2" },
          container: { kind: "pyxis", image: "/other/dynamo-1.1.0.sqsh", mounts: ["/data:/data:ro"] },
        },
      },
    });
    expect(s).toContain(
      'DYN_CONTAINER_HET1=(--container-image=/other/dynamo-1.1.0.sqsh --container-name=dyn-"${SLURM_JOB_ID}"-het1 --container-mounts=/data:/data:ro,',
    );
    expect(s).toMatch(/dyn_step decode-w0 --het-group=1 .*"\$\{DYN_CONTAINER_HET1\[@\]\}"/);
    expect(s).toMatch(
      /--het-group=1 --nodes=1 --ntasks=1 --ntasks-per-node=1 --job-name=container-preload .*DYN_CONTAINER_HET1/,
    );
  });

  const dir = mkdtempSync(join(tmpdir(), "dyn-hetjob-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string, Backend, TestSpec]> = [
    ["two partitions", perNode, TWO_PARTITIONS],
    [
      "multi-node MPI worker in component 1, pyxis per role",
      mpi,
      {
        container: { kind: "pyxis", image: "/images/dynamo-1.1.0.sqsh" },
        roles: {
          prefill: { workers: 1, gpusPerWorker: 4 },
          decode: {
            workers: 1,
            gpusPerWorker: 16,
            slurm: { partition: "gpu2", qos: "high", constraint: "h100&ib" },
            container: { kind: "pyxis", image: "/images/dynamo-1.1.0.sqsh", writable: true },
          },
        },
      },
    ],
    [
      "aggregated in its own partition, frontend dedicated",
      perNode,
      {
        roles: {
          frontend: { placement: "dedicated" },
          aggregated: { workers: 3, gpusPerWorker: 2, slurm: { partition: "gpu2", gpusPerNode: 4 } },
        },
      },
    ],
  ];
  it.each(cases)("bash -n and shellcheck -S style are clean: %s", (name, backend, spec) => {
    const file = join(dir, `${name.replace(/\W+/g, "-")}.sh`);
    writeFileSync(file, renderForTest(backend, spec));
    const bash = spawnSync("bash", ["-n", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(bash.stderr).toBe("");
    const sc = spawnSync("shellcheck", ["-S", "style", "-f", "gcc", file], { encoding: "utf8" });
    expect(sc.stdout).toBe("");
    expect(sc.status).toBe(0);
  });
});

describe("refused, naming the key (exit 2)", () => {
  const refusal = (spec: TestSpec, backend: Backend = perNode) => {
    const err = thrownBy(() => planForTest(backend, spec));
    expect(err).toBeInstanceOf(Error);
    return err as DynError & { issues?: Array<{ path: PropertyKey[]; message: string }> };
  };
  const issue = (spec: TestSpec) => {
    const err = refusal(spec);
    expect(err.code).toBe("DYN_SPEC_INVALID");
    return [err.message];
  };

  it("a job-wide key under a role's slurm", () => {
    expect(
      issue({ roles: { prefill: { workers: 1, slurm: { time: "10" } }, decode: { workers: 1 } } }),
    ).toEqual(["roles.prefill.slurm.time: is job-wide in a heterogeneous job, not per role: set slurm.time"]);
    expect(
      issue({ roles: { prefill: { workers: 1, slurm: { nodez: 1 } }, decode: { workers: 1 } } })[0],
    ).toMatch(/^roles\.prefill\.slurm\.nodez: unknown key/);
  });

  it("a role's GPU type when no GPUs are requested, a role constraint next to --sbatch-arg --constraint", () => {
    expect(
      issue({
        slurm: { gpuRequest: "none" },
        roles: { prefill: { workers: 1 }, decode: { workers: 1, slurm: { gpuType: "a100" } } },
      }),
    ).toEqual([
      "roles.decode.slurm.gpuType: has no effect: slurm.gpuRequest is none (--gpu-request none), so dyn requests no GPUs in any component",
    ]);
    expect(
      issue({
        slurm: { extraSbatch: ["--constraint=ib"] },
        roles: { prefill: { workers: 1 }, decode: { workers: 1, slurm: { constraint: "h100" } } },
      })[0],
    ).toMatch(/^roles\.decode\.slurm\.constraint: conflicts with slurm\.extraSbatch "--constraint=ib"/);
  });

  it("colocate across components", () => {
    const err = refusal({
      roles: {
        colocate: true,
        prefill: { workers: 1, gpusPerWorker: 4 },
        decode: { workers: 1, gpusPerWorker: 4, slurm: { partition: "gpu2" } },
      },
    });
    expect(err).toBeInstanceOf(DynError);
    expect([err.code, err.key]).toEqual(["DYN_PLAN_INVALID", "roles.colocate"]);
    expect(err.message).toContain("roles.decode.slurm puts decode in component 1");
  });

  it("a role image of another release than the deployment's", () => {
    const err = refusal({
      container: { kind: "pyxis", image: "registry.example#dynamo/runtime:1.1.0" },
      roles: {
        prefill: { workers: 1 },
        decode: { workers: 1, container: { kind: "pyxis", image: "registry.example#dynamo/runtime:1.4.2" } },
      },
    });
    expect([err.code, err.key]).toEqual(["DYN_UNSUPPORTED", "roles.decode.container.image"]);
    expect(err.message).toMatch(/is Dynamo 1\.4\.2, but the deployment renders Dynamo 1\.1\.0/);
  });

  it("the legacy graph's hosted worker outside component 0", () => {
    const err = refusal(
      { roles: { prefill: { workers: 1 }, decode: { workers: 1, slurm: { partition: "gpu2" } } } },
      legacy,
    );
    expect(err.code).toBe("DYN_UNSUPPORTED");
    expect(err.message).toMatch(
      /legacy graph runs one \w+ worker inside the frontend process, which runs in component 0/,
    );
  });
});
