/** Planner table tests: spec shape → which process runs on which node with which GPUs. */
import { describe, expect, it } from "vitest";
import { type Backend, DeploymentSpec, type Plan, plan as planDeployment, showArg } from "../src/index.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { legacy, mpi, perNode, picky } from "./fixtures/backends.js";

/** One row per step: id, nodes, GPUs, CUDA_VISIBLE_DEVICES (or "-"). */
function rows(plan: Plan): string[] {
  return plan.steps.map((s) => {
    const cvd = s.env.CUDA_VISIBLE_DEVICES;
    const gpus = s.gpus.length === 0 ? "-" : s.gpus.join(",");
    return `${s.id} nodes=${s.nodes.join(",")} gpus=${gpus}${cvd === undefined ? "" : ` cvd=${showArg(cvd)}`}${s.tasksPerNode > 1 ? ` tasks=${s.tasksPerNode}` : ""}`;
  });
}
const workerRows = (plan: Plan) => rows(plan).filter((r) => !/^(etcd|nats|frontend)/.test(r));
const ALL = "0,1,2,3,4,5,6,7";

interface Case {
  name: string;
  backend?: Backend;
  spec: TestSpec;
  nodes: number;
  workers: string[];
  frontends?: string[];
}

const cases: Case[] = [
  {
    name: "seed default, 2 nodes: one prefill and one decode node, whole nodes",
    spec: { slurm: { nodes: 2 } },
    nodes: 2,
    workers: [`prefill-w0 nodes=0 gpus=${ALL}`, `decode-w0 nodes=1 gpus=${ALL}`],
  },
  {
    name: "seed default, 4 nodes: half prefill, half decode",
    spec: { slurm: { nodes: 4 } },
    nodes: 4,
    workers: [
      `prefill-w0 nodes=0 gpus=${ALL}`,
      `prefill-w1 nodes=1 gpus=${ALL}`,
      `decode-w0 nodes=2 gpus=${ALL}`,
      `decode-w1 nodes=3 gpus=${ALL}`,
    ],
  },
  {
    name: "seed default, odd node count: the extra node goes to decode",
    spec: { slurm: { nodes: 5 } },
    nodes: 5,
    workers: [
      `prefill-w0 nodes=0 gpus=${ALL}`,
      `prefill-w1 nodes=1 gpus=${ALL}`,
      `decode-w0 nodes=2 gpus=${ALL}`,
      `decode-w1 nodes=3 gpus=${ALL}`,
      `decode-w2 nodes=4 gpus=${ALL}`,
    ],
  },
  {
    name: "seed default, 3 nodes with a dedicated frontend: 1 prefill + 1 decode",
    spec: { slurm: { nodes: 3 }, roles: { frontend: { placement: "dedicated" } } },
    nodes: 3,
    workers: [`prefill-w0 nodes=1 gpus=${ALL}`, `decode-w0 nodes=2 gpus=${ALL}`],
    frontends: ["frontend-0 nodes=0 gpus=-"],
  },
  {
    name: "no node count and no roles: one prefill and one decode node",
    spec: {},
    nodes: 2,
    workers: [`prefill-w0 nodes=0 gpus=${ALL}`, `decode-w0 nodes=1 gpus=${ALL}`],
  },
  {
    name: "multi-node: 16 GPUs on 8-GPU nodes take 2 whole consecutive nodes per worker",
    spec: { roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 2, gpusPerWorker: 16 } } },
    nodes: 5,
    workers: [
      `prefill-w0 nodes=0 gpus=${ALL}`,
      `decode-w0-r0 nodes=1 gpus=${ALL}`,
      `decode-w0-r1 nodes=2 gpus=${ALL}`,
      `decode-w1-r0 nodes=3 gpus=${ALL}`,
      `decode-w1-r1 nodes=4 gpus=${ALL}`,
    ],
  },
  {
    name: "multi-node after a packed node starts on a fresh node",
    spec: { roles: { aggregated: { workers: 1, gpusPerWorker: 32 } }, slurm: { gpusPerNode: 8 } },
    nodes: 4,
    workers: [0, 1, 2, 3].map((r) => `aggregated-w0-r${r} nodes=${r} gpus=${ALL}`),
  },
  {
    name: "packing: 4 workers × 2 GPUs share one node with disjoint CUDA_VISIBLE_DEVICES",
    spec: { roles: { aggregated: { workers: 4, gpusPerWorker: 2 } } },
    nodes: 1,
    workers: [
      "aggregated-w0 nodes=0 gpus=0,1 cvd=0,1",
      "aggregated-w1 nodes=0 gpus=2,3 cvd=2,3",
      "aggregated-w2 nodes=0 gpus=4,5 cvd=4,5",
      "aggregated-w3 nodes=0 gpus=6,7 cvd=6,7",
    ],
  },
  {
    name: "packing overflows onto the next node",
    spec: { roles: { aggregated: { workers: 3, gpusPerWorker: 3 } } },
    nodes: 2,
    workers: [
      "aggregated-w0 nodes=0 gpus=0,1,2 cvd=0,1,2",
      "aggregated-w1 nodes=0 gpus=3,4,5 cvd=3,4,5",
      "aggregated-w2 nodes=1 gpus=0,1,2 cvd=0,1,2",
    ],
  },
  {
    name: "prefill and decode never share a node by default",
    spec: { roles: { prefill: { workers: 1, gpusPerWorker: 2 }, decode: { workers: 1, gpusPerWorker: 2 } } },
    nodes: 2,
    workers: ["prefill-w0 nodes=0 gpus=0,1 cvd=0,1", "decode-w0 nodes=1 gpus=0,1 cvd=0,1"],
  },
  {
    name: "roles.colocate lets decode fill the rest of prefill's node",
    spec: {
      roles: {
        prefill: { workers: 3, gpusPerWorker: 2 },
        decode: { workers: 2, gpusPerWorker: 2 },
        colocate: true,
      },
    },
    nodes: 2,
    workers: [
      "prefill-w0 nodes=0 gpus=0,1 cvd=0,1",
      "prefill-w1 nodes=0 gpus=2,3 cvd=2,3",
      "prefill-w2 nodes=0 gpus=4,5 cvd=4,5",
      "decode-w0 nodes=0 gpus=6,7 cvd=6,7",
      "decode-w1 nodes=1 gpus=0,1 cvd=0,1",
    ],
  },
  {
    name: "backend defaults for GPUs per worker apply when the spec omits them",
    backend: picky,
    spec: { roles: { prefill: { workers: 2 }, decode: { workers: 1 } } },
    nodes: 2,
    workers: [
      "prefill-w0 nodes=0 gpus=0,1 cvd=0,1",
      "prefill-w1 nodes=0 gpus=2,3 cvd=2,3",
      "decode-w0 nodes=1 gpus=0,1,2,3 cvd=0,1,2,3",
    ],
  },
  {
    name: "the default split fills each node with workers of the backend's GPUs per worker",
    backend: picky,
    spec: { slurm: { nodes: 2 } },
    nodes: 2,
    workers: [
      "prefill-w0 nodes=0 gpus=0,1 cvd=0,1",
      "prefill-w1 nodes=0 gpus=2,3 cvd=2,3",
      "prefill-w2 nodes=0 gpus=4,5 cvd=4,5",
      "prefill-w3 nodes=0 gpus=6,7 cvd=6,7",
      "decode-w0 nodes=1 gpus=0,1,2,3 cvd=0,1,2,3",
      "decode-w1 nodes=1 gpus=4,5,6,7 cvd=4,5,6,7",
    ],
  },
  {
    name: "the default split on one node: prefill takes half its GPUs, decode the rest",
    backend: picky,
    spec: { slurm: { nodes: 1 } },
    nodes: 1,
    workers: [
      "prefill-w0 nodes=0 gpus=0,1 cvd=0,1",
      "prefill-w1 nodes=0 gpus=2,3 cvd=2,3",
      "decode-w0 nodes=0 gpus=4,5,6,7 cvd=4,5,6,7",
    ],
  },
  {
    name: "two shared frontends sit on node 0 with infra",
    spec: { roles: { frontend: { count: 2 }, aggregated: { workers: 1 } } },
    nodes: 1,
    workers: [`aggregated-w0 nodes=0 gpus=${ALL}`],
    frontends: ["frontend-0 nodes=0 gpus=-", "frontend-1 nodes=0 gpus=-"],
  },
  {
    name: "two dedicated frontends take nodes 0 and 1; workers start on node 2",
    spec: {
      roles: { frontend: { count: 2, placement: "dedicated" }, aggregated: { workers: 2, gpusPerWorker: 4 } },
    },
    nodes: 3,
    workers: [
      "aggregated-w0 nodes=2 gpus=0,1,2,3 cvd=0,1,2,3",
      "aggregated-w1 nodes=2 gpus=4,5,6,7 cvd=4,5,6,7",
    ],
    frontends: ["frontend-0 nodes=0 gpus=-", "frontend-1 nodes=1 gpus=-"],
  },
  {
    name: "MPI: one step over the worker's nodes, one task per GPU",
    backend: mpi,
    spec: { roles: { prefill: { workers: 1, gpusPerWorker: 4 }, decode: { workers: 1, gpusPerWorker: 16 } } },
    nodes: 3,
    workers: [
      "prefill-w0 nodes=0 gpus=0,1,2,3 cvd=0,1,2,3 tasks=4",
      `decode-w0 nodes=1,2 gpus=${ALL} tasks=8`,
    ],
  },
  {
    name: "legacy graph hosting decode: the frontend process runs decode worker 0 on node 0",
    backend: legacy,
    spec: { slurm: { nodes: 4 } },
    nodes: 4,
    workers: [
      `prefill-w0 nodes=1 gpus=${ALL}`,
      `prefill-w1 nodes=2 gpus=${ALL}`,
      `decode-w1 nodes=3 gpus=${ALL}`,
    ],
    frontends: [`frontend-0 nodes=0 gpus=${ALL}`],
  },
  {
    name: "legacy graph hosting prefill with packed workers: worker 0 shares node 0 with its role",
    backend: legacy,
    spec: {
      options: { hosted: "prefill" },
      roles: { prefill: { workers: 2, gpusPerWorker: 4 }, decode: { workers: 1, gpusPerWorker: 4 } },
    },
    nodes: 2,
    workers: ["prefill-w1 nodes=0 gpus=4,5,6,7 cvd=4,5,6,7", "decode-w0 nodes=1 gpus=0,1,2,3 cvd=0,1,2,3"],
    frontends: ["frontend-0 nodes=0 gpus=0,1,2,3 cvd=0,1,2,3"],
  },
];

describe("planner layout", () => {
  it.each(cases)("$name", ({ backend = perNode, spec, nodes, workers, frontends }) => {
    const plan = planForTest(backend, { model: { path: "m" }, ...spec });
    expect(plan.nodes).toBe(nodes);
    expect(workerRows(plan)).toEqual(workers);
    expect(rows(plan).filter((r) => r.startsWith("frontend"))).toEqual(
      frontends ?? ["frontend-0 nodes=0 gpus=-"],
    );
    // etcd and NATS sit with the first frontend.
    for (const s of plan.steps.filter((s) => s.role === "etcd" || s.role === "nats")) {
      expect(s.nodes).toEqual([plan.infraNode]);
    }
    expect(plan.infraNode).toBe(plan.frontend.node);
  });
});

describe("planner details", () => {
  const model = { path: "org/m" };

  it("per-node ranks point at the leader and only rank 0 registers", () => {
    const plan = planForTest(perNode, { model, roles: { aggregated: { workers: 1, gpusPerWorker: 24 } } });
    const ranks = plan.steps.filter((s) => s.role === "aggregated");
    expect(ranks.map((s) => s.id)).toEqual(["aggregated-w0-r0", "aggregated-w0-r1", "aggregated-w0-r2"]);
    for (const [r, s] of ranks.entries()) {
      const argv = s.argv.map(showArg);
      expect(argv.slice(argv.indexOf("--dist-init-addr"))).toEqual([
        "--dist-init-addr",
        `\${DYN_NODE_IP_0}:{port+${s.ports.distInit?.kind === "job" ? s.ports.distInit.offset : "?"}}`,
        "--nnodes",
        "3",
        "--node-rank",
        String(r),
      ]);
      expect(argv[argv.indexOf("--host") + 1]).toBe(`\${DYN_NODE_IP_${r}}`);
      expect(s.registers).toBe(r === 0 ? "backend" : undefined);
      expect(s.mpi).toBe(false);
    }
    expect(plan.expected).toEqual({ backend: 1 });
  });

  it("MPI steps register once and carry mpi: true", () => {
    const plan = planForTest(mpi, { model, roles: { aggregated: { workers: 2, gpusPerWorker: 16 } } });
    const workers = plan.steps.filter((s) => s.role === "aggregated");
    expect(workers.map((s) => [s.id, s.nodes, s.tasksPerNode, s.mpi, s.registers])).toEqual([
      ["aggregated-w0", [0, 1], 8, true, "backend"],
      ["aggregated-w1", [2, 3], 8, true, "backend"],
    ]);
  });

  it("expected registrations count workers per health component (decode and aggregated may share one)", () => {
    const plan = planForTest(perNode, { model, slurm: { nodes: 5 } });
    expect(plan.expected).toEqual({ prefill: 2, backend: 3 });
    expect(
      plan.groups.map((g) => [g.role, g.workers, g.gpusPerWorker, g.nodesPerWorker, g.component]),
    ).toEqual([
      ["prefill", 2, 8, 1, "prefill"],
      ["decode", 3, 8, 1, "backend"],
    ]);
  });

  it("legacy hosted worker: frontend registers as the hosted component, runs in the graph dir, gets the role's env", () => {
    const plan = planForTest(legacy, { slurm: { nodes: 2 }, roles: { frontend: { env: { A: "fe" } } } });
    const fe = plan.steps.find((s) => s.id === "frontend-0");
    expect(fe?.registers).toBe("DecodeWorker");
    expect(fe?.cwd).toBe("/workspace/examples/llm");
    expect(fe?.argv.map(showArg).slice(0, 5)).toEqual([
      "dynamo",
      "serve",
      "graphs.agg:Frontend",
      "-f",
      "configs/disagg.yaml",
    ]);
    expect(plan.expected).toEqual({ PrefillWorker: 1, DecodeWorker: 1 });
    // The model falls back to the backend's default.
    expect(plan.spec.model).toEqual({
      path: "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
      servedName: "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
    });
  });

  it("env layering: infra, then global env, then role env, then the backend's", () => {
    const plan = planForTest(perNode, {
      model,
      env: { G: "global", R: "global" },
      roles: { aggregated: { workers: 1, env: { R: "role", DYN_SYSTEM_PORT: "user" } } },
    });
    const env = plan.steps.find((s) => s.role === "aggregated")?.env ?? {};
    expect(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, showArg(v)]))).toEqual({
      ETCD_ENDPOINTS: "${DYN_ETCD_ENDPOINTS}",
      NATS_SERVER: "${DYN_NATS_SERVER}",
      G: "global",
      R: "role",
      DYN_SYSTEM_PORT: expect.stringMatching(/^\{port\+\d+\}$/),
    });
  });

  it("without NATS: nothing exports NATS_SERVER; 1.0–1.2 are told DYN_EVENT_PLANE=zmq, 1.3+ default to zmq", () => {
    const noNats = (version: string) => {
      const plan = planForTest(perNode, {
        model,
        dynamo: { version },
        infra: { nats: { mode: "off" } },
        roles: { aggregated: { workers: 1 } },
      });
      expect(plan.steps.map((s) => s.role)).not.toContain("nats");
      for (const s of plan.steps) expect(s.env.NATS_SERVER, s.id).toBeUndefined();
      return plan.steps.map((s) => `${s.id}=${s.env.DYN_EVENT_PLANE ?? "-"}`);
    };
    expect(noNats("1.0.0")).toEqual(["etcd=-", "frontend-0=zmq", "aggregated-w0=zmq"]);
    expect(noNats("1.2.1")).toEqual(["etcd=-", "frontend-0=zmq", "aggregated-w0=zmq"]);
    expect(noNats("1.3.0")).toEqual(["etcd=-", "frontend-0=-", "aggregated-w0=-"]);
    expect(noNats("1.5.1")).toEqual(["etcd=-", "frontend-0=-", "aggregated-w0=-"]);
    // Before 1.0 the runtime always connects to NATS: refused (errors.test.ts has the message).
    expect(() => noNats("0.9.0")).toThrow(expect.objectContaining({ key: "infra.nats.mode" }));
  });

  it("etcd off with file discovery on one node: no etcd step, no ETCD_ENDPOINTS", () => {
    const plan = planForTest(perNode, {
      model,
      env: { DYN_DISCOVERY_BACKEND: "file" },
      infra: { etcd: { mode: "off" } },
      roles: { aggregated: { workers: 2, gpusPerWorker: 4 } },
    });
    expect(plan.nodes).toBe(1);
    expect(plan.steps.map((s) => s.role)).toEqual(["nats", "frontend", "aggregated", "aggregated"]);
    for (const s of plan.steps.filter((s) => s.role !== "nats")) {
      expect(s.env.ETCD_ENDPOINTS).toBeUndefined();
      expect(s.env.DYN_DISCOVERY_BACKEND).toBe("file");
    }
  });

  it("0.4.1 and 0.6.1 turn the system server on with DYN_SYSTEM_ENABLED; other releases do not", () => {
    const enabled = (version: string) =>
      planForTest(perNode, { model, dynamo: { version }, roles: { aggregated: { workers: 1 } } })
        .steps.filter((s) => "DYN_SYSTEM_PORT" in s.env)
        .map((s) => s.env.DYN_SYSTEM_ENABLED ?? "-");
    expect(enabled("0.4.1")).toEqual(["true"]);
    expect(enabled("0.6.1")).toEqual(["true"]);
    expect(enabled("0.9.0")).toEqual(["-"]);
    expect(enabled("1.5.1")).toEqual(["-"]);
    // Processes without a system port (the frontend here) get no DYN_SYSTEM_ENABLED either.
    const frontend = planForTest(perNode, {
      model,
      dynamo: { version: "0.4.1" },
      roles: { aggregated: { workers: 1 } },
    }).steps.find((s) => s.role === "frontend");
    expect(frontend?.env.DYN_SYSTEM_ENABLED).toBeUndefined();
  });

  it("the plan records the release; messages name the key the caller says", () => {
    const spec = DeploymentSpec.parse({
      backend: { name: "pernode" },
      model,
      dynamo: { version: "1.4" },
      roles: { aggregated: { workers: 1 } },
    });
    expect(planDeployment(spec, perNode).release).toEqual({
      version: "1.4.2",
      requested: "1.4",
      source: "explicit",
      origin: "dynamo.version",
      notes: [],
      unknown: false,
    });
    expect(planDeployment(spec, perNode, { versionOrigin: "--dynamo-version" }).release.origin).toBe(
      "--dynamo-version",
    );
    const bad = DeploymentSpec.parse({ ...spec, dynamo: { version: "1.9" } });
    expect(() => planDeployment(bad, perNode, { versionOrigin: "dyn.yaml:3:12" })).toThrow(
      expect.objectContaining({
        key: "dynamo.version",
        hint: expect.stringContaining("--allow-unknown-dynamo-version"),
      }),
    );
    // The release a backend sees has the folded facts; the plan keeps only the JSON-able choice.
    expect(Object.keys(planDeployment(spec, perNode).release)).not.toContain("facts");
  });

  it("a pinned frontend port is used as is; shared frontends take consecutive ports", () => {
    const plan = planForTest(perNode, {
      model,
      roles: { frontend: { count: 2, httpPort: 8000 }, aggregated: { workers: 1 } },
    });
    expect(plan.steps.filter((s) => s.role === "frontend").map((s) => s.ports.http)).toEqual([
      { kind: "fixed", port: 8000 },
      { kind: "fixed", port: 8001 },
    ]);
    expect(plan.frontend.port).toEqual({ kind: "fixed", port: 8000 });
  });

  it("the backend's cwd becomes the step's cwd", () => {
    const plan = planForTest(perNode, {
      model,
      options: { cwd: "/work dir" },
      roles: { aggregated: { workers: 1 } },
    });
    expect(plan.steps.find((s) => s.role === "aggregated")?.cwd).toBe("/work dir");
  });

  it("infra steps use node-local scratch and write nats.conf with the payload limit", () => {
    const plan = planForTest(perNode, {
      model,
      infra: { natsMaxPayloadMb: 8 },
      roles: { aggregated: { workers: 1 } },
    });
    const nats = plan.steps.find((s) => s.role === "nats");
    expect(nats?.files).toEqual({ "nats.conf": `max_payload: ${8 * 1024 * 1024}\n` });
    expect(nats?.argv.map(showArg)).toContain("${DYN_SCRATCH}/nats");
    const etcd = plan.steps.find((s) => s.role === "etcd");
    expect(etcd?.argv.map(showArg)).toContain("${DYN_SCRATCH}/etcd");
  });
});
