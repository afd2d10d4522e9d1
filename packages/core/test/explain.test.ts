/** explainPlan's table and planToJson's stable form, for a couple of shapes. */
import { describe, expect, it } from "vitest";
import { explainPlan, planToJson } from "../src/index.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { legacy, mpi, perNode } from "./fixtures/backends.js";

describe("explainPlan", () => {
  it("the seed's default split on 3 nodes", () => {
    expect(
      explainPlan(planForTest(perNode, { model: { path: "Qwen/Qwen3-0.6B" }, slurm: { nodes: 3 } })),
    ).toMatchInlineSnapshot(`
        "backend pernode · Dynamo 1.5.1 (default: the newest release) · 3 nodes × 8 GPUs · model Qwen/Qwen3-0.6B
          prefill: 1 worker × 8 GPUs — PerNodePrefillWorker → dynamo.pernode --mode prefill, registers as "prefill"
          decode: 2 workers × 8 GPUs — PerNodeDecodeWorker → dynamo.pernode --mode decode, registers as "backend"

        NODE  PROCESS     ROLE      GPUS  PORTS
        0     etcd        etcd      -     etcd=+0 etcdPeer=+1
        0     nats        nats      -     nats=+2 natsMonitor=+3
        0     frontend-0  frontend  -     http=+4
        0     prefill-w0  prefill   0-7   system=+5 http=+6 nccl=+7 bootstrap=+8
        1     decode-w0   decode    0-7   system=+0 http=+1 nccl=+2
        2     decode-w1   decode    0-7   system=+0 http=+1 nccl=+2

        ports: +N = offset in the job's window 10000 + (SLURM_JOB_ID mod 227) × 100
        ready when /health lists 1 × prefill, 2 × backend (timeout 1800 s)"
      `);
  });

  it("a multi-node decode worker with packed prefill and two frontends", () => {
    const plan = planForTest(perNode, {
      model: { path: "org/big" },
      roles: {
        frontend: { count: 2 },
        prefill: { workers: 2, gpusPerWorker: 4 },
        decode: { workers: 1, gpusPerWorker: 16 },
      },
      readiness: { timeoutSeconds: 600 },
      dynamo: { version: "1.4" },
    });
    expect(explainPlan(plan)).toMatchInlineSnapshot(`
      "backend pernode · Dynamo 1.4.2 (from dynamo.version 1.4) · 3 nodes × 8 GPUs · model org/big
        prefill: 2 workers × 4 GPUs — PerNodePrefillWorker → dynamo.pernode --mode prefill, registers as "prefill"
        decode: 1 worker × 16 GPUs (2 nodes each) — PerNodeDecodeWorker → dynamo.pernode --mode decode, registers as "backend"

      NODE  PROCESS       ROLE      GPUS  PORTS
      0     etcd          etcd      -     etcd=+0 etcdPeer=+1
      0     nats          nats      -     nats=+2 natsMonitor=+3
      0     frontend-0    frontend  -     http=+4
      0     frontend-1    frontend  -     http=+5
      0     prefill-w0    prefill   0-3   system=+6 http=+7 nccl=+8 bootstrap=+9
      0     prefill-w1    prefill   4-7   system=+10 http=+11 nccl=+12 bootstrap=+13
      1     decode-w0-r0  decode    0-7   system=+0 http=+1 nccl=+2 distInit=+3
      2     decode-w0-r1  decode    0-7   system=+0 http=+1 nccl=+2 distInit=+3

      ports: +N = offset in the job's window 10000 + (SLURM_JOB_ID mod 227) × 100
      ready when /health lists 2 × prefill, 1 × backend (timeout 600 s)"
    `);
  });

  it("MPI and a legacy hosted worker", () => {
    const m = planForTest(mpi, {
      model: { path: "m" },
      roles: { aggregated: { workers: 1, gpusPerWorker: 16 } },
    });
    expect(explainPlan(m)).toMatchInlineSnapshot(`
      "backend mpi · Dynamo 1.5.1 (default: the newest release) · 2 nodes × 8 GPUs · model m
        aggregated: 1 worker × 16 GPUs (2 nodes each) — PerNodeWorker → dynamo.pernode, registers as "backend"

      NODE  PROCESS        ROLE        GPUS  PORTS
      0     etcd           etcd        -     etcd=+0 etcdPeer=+1
      0     nats           nats        -     nats=+2 natsMonitor=+3
      0     frontend-0     frontend    -     http=+4
      0-1   aggregated-w0  aggregated  0-7   system=+5

      ports: +N = offset in the job's window 10000 + (SLURM_JOB_ID mod 227) × 100
      ready when /health lists 1 × backend (timeout 1800 s)"
    `);
    const l = planForTest(legacy, {
      slurm: { nodes: 2 },
      roles: { frontend: { httpPort: 8000 } },
      container: { kind: "pyxis", image: "nvcr.io#nvidia/ai-dynamo/dynamo-base:0.3.2" },
    });
    expect(explainPlan(l)).toMatchInlineSnapshot(`
      "backend legacy · Dynamo 0.3.2 (from image tag 0.3.2) · 2 nodes × 8 GPUs · model deepseek-ai/DeepSeek-R1-Distill-Llama-8B
        prefill: 1 worker × 8 GPUs — PrefillWorker → dynamo serve components.worker:PrefillWorker, registers as "PrefillWorker"
        decode: 1 worker × 8 GPUs — DecodeWorker → dynamo serve components.worker:DecodeWorker, registers as "DecodeWorker"

      NODE  PROCESS     ROLE             GPUS  PORTS
      0     etcd        etcd             -     etcd=+0 etcdPeer=+1
      0     nats        nats             -     nats=+2 natsMonitor=+3
      0     frontend-0  frontend+decode  0-7   http=8000
      1     prefill-w0  prefill          0-7   -

      ports: +N = offset in the job's window 10000 + (SLURM_JOB_ID mod 227) × 100
      ready when /health lists 1 × PrefillWorker, 1 × DecodeWorker (timeout 1800 s)"
    `);
  });
});

describe("the release line", () => {
  const header = (spec: TestSpec) =>
    explainPlan(
      planForTest(perNode, { model: { path: "m" }, roles: { aggregated: { workers: 1 } }, ...spec }),
    )
      .split("\n")
      .filter((l) => l.startsWith("backend") || l.startsWith("  note:"))
      .map((l) => l.replace(/ · \d+ nodes?.*$/, ""));
  it("says which release and where the choice came from, with the notes", () => {
    expect(header({ dynamo: { version: "1.2.1" } })).toEqual([
      "backend pernode · Dynamo 1.2.1 (from dynamo.version)",
    ]);
    expect(header({ dynamo: { version: "latest" } })).toEqual([
      "backend pernode · Dynamo 1.5.1 (from dynamo.version latest)",
    ]);
    expect(
      header({ container: { kind: "pyxis", image: "registry.example/dynamo:1.3.0-deepseek-v4-dev.1" } }),
    ).toEqual([
      "backend pernode · Dynamo 1.3.0 (from image tag 1.3.0-deepseek-v4-dev.1)",
      "  note: image tag 1.3.0-deepseek-v4-dev.1 is a build of 1.3.0 (deepseek-v4-dev.1); rendering 1.3.0",
    ]);
    expect(header({ container: { kind: "pyxis", image: "registry.example/dynamo:latest" } })).toEqual([
      "backend pernode · Dynamo 1.5.1 (default: the newest release)",
      "  note: image tag latest names no Dynamo release; rendering the newest (1.5.1)",
    ]);
    expect(header({ dynamo: { version: "2.0.0", allowUnknownVersion: true } })).toEqual([
      "backend pernode · Dynamo 1.5.1 (from dynamo.version 2.0.0)",
      "  note: Dynamo 2.0.0 is not a known release: rendered as 1.5.1 (--allow-unknown-dynamo-version)",
    ]);
  });
});

describe("planToJson", () => {
  it("is plain JSON with runtime parts shown symbolically", () => {
    const plan = planForTest(perNode, {
      model: { path: "m" },
      roles: { aggregated: { workers: 2, gpusPerWorker: 4 } },
    });
    const json = planToJson(plan);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(json.format).toBe("dyn.plan/v1");
    expect(json.schemaVersion).toBe(1);
    expect(json.frontend.port).toEqual({ kind: "offset", offset: 4 });
    expect(json.release).toEqual({
      version: "1.5.1",
      requested: null,
      source: "default",
      origin: "default",
      notes: [],
      unknown: false,
    });
    expect(json.processes.map((p) => p.id)).toEqual([
      "etcd",
      "nats",
      "frontend-0",
      "aggregated-w0",
      "aggregated-w1",
    ]);
    expect(json.processes[3]).toMatchInlineSnapshot(`
      {
        "command": [
          "python3",
          "-m",
          "dynamo.pernode",
          "--model-path",
          "m",
          "--served-model-name",
          "m",
          "--tp",
          "4",
          "--host",
          "\${DYN_NODE_IP_0}",
          "--port",
          "{port+6}",
          "--nccl-port",
          "{port+7}",
        ],
        "env": {
          "CUDA_VISIBLE_DEVICES": "0,1,2,3",
          "DYN_SYSTEM_PORT": "{port+5}",
          "ETCD_ENDPOINTS": "\${DYN_ETCD_ENDPOINTS}",
          "NATS_SERVER": "\${DYN_NATS_SERVER}",
        },
        "gpus": [
          0,
          1,
          2,
          3,
        ],
        "id": "aggregated-w0",
        "log": "logs/aggregated-w0.log",
        "nodes": [
          0,
        ],
        "ports": {
          "http": {
            "kind": "offset",
            "offset": 6,
          },
          "nccl": {
            "kind": "offset",
            "offset": 7,
          },
          "system": {
            "kind": "offset",
            "offset": 5,
          },
        },
        "rank": 0,
        "registers": "backend",
        "role": "aggregated",
        "worker": 0,
      }
    `);
  });
});
