import { planForTest, processesForTest, renderForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
import { lintScript } from "@dyn/core/testing/lint";
import { describe, expect, it } from "vitest";
import vllm from "../src/index.js";

const processes = (spec: TestSpec) => processesForTest(vllm, spec);

const disagg = (version: string): TestSpec => ({
  options: { dynamoVersion: version },
  slurm: { gpusPerNode: 4 },
  roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
});
const agg = (version: string): TestSpec => ({
  options: { dynamoVersion: version },
  slurm: { gpusPerNode: 4 },
  roles: { aggregated: { workers: 1, gpusPerWorker: 2 } },
});

describe("legacy dynamo serve (0.3.x)", () => {
  it("runs the vllm_v1 graph: the frontend hosts a decode worker", () => {
    expect(
      processes({ options: { dynamoVersion: "0.3.2" }, slurm: { nodes: 3, gpusPerNode: 4 } }),
    ).toMatchInlineSnapshot(`
        [
          {
            "command": "dynamo serve graphs.agg:Frontend -f configs/disagg.yaml --Frontend.port={port+4}",
            "env": {
              "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
              "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+5}",
            },
            "id": "frontend-0",
            "registers": "VllmDecodeWorker",
          },
          {
            "command": "dynamo serve components.worker:VllmPrefillWorker -f configs/disagg.yaml",
            "env": {
              "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_1}",
              "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+0}",
            },
            "id": "prefill-w0",
            "registers": "VllmPrefillWorker",
          },
          {
            "command": "dynamo serve components.worker:VllmDecodeWorker -f configs/disagg.yaml",
            "env": {
              "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_2}",
              "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+0}",
            },
            "id": "decode-w1",
            "registers": "VllmDecodeWorker",
          },
        ]
      `);
  });
});

describe("legacy: a second frontend", () => {
  it("serves the Frontend alone (the first one hosts the decode worker)", () => {
    const spec: TestSpec = {
      ...disagg("0.3.2"),
      roles: { ...disagg("0.3.2").roles, frontend: { count: 2 } },
    };
    expect(processes(spec).map((p) => `${p.id}: ${p.command}`)).toMatchInlineSnapshot(`
      [
        "frontend-0: dynamo serve graphs.agg:Frontend -f configs/disagg.yaml --Frontend.port={port+4}",
        "frontend-1: dynamo serve graphs.agg:Frontend -f configs/disagg.yaml --Frontend.port={port+5} --service-name Frontend",
        "prefill-w0: dynamo serve components.worker:VllmPrefillWorker -f configs/disagg.yaml",
      ]
    `);
  });
});

describe("dynamo.vllm 0.4 – 0.9 (role flags)", () => {
  it("0.5: prefill has --is-prefill-worker, decode is the default role", () => {
    expect(processes(disagg("0.5.0"))).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --is-prefill-worker",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_1}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+1}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });
  it("0.5: aggregated", () => {
    expect(processes(agg("0.5.0"))).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 2",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0,1",
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "aggregated-w0",
          "registers": "backend",
        },
      ]
    `);
  });
  it("0.9: decode says --is-decode-worker", () => {
    expect(processes(disagg("0.9.0")).map((p) => p.command)).toMatchInlineSnapshot(`
      [
        "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
        "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --is-prefill-worker",
        "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --is-decode-worker",
      ]
    `);
  });
});

describe("dynamo.vllm ≥ 1.0 (--disaggregation-mode)", () => {
  it("disaggregated, single-node workers (the default version)", () => {
    expect(processes({ ...disagg("1.1.0"), options: {} })).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --disaggregation-mode prefill --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --disaggregation-mode decode --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_1}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+1}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });
  it("aggregated", () => {
    expect(processes(agg("1.0.0"))).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 2 --disaggregation-mode agg",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0,1",
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "aggregated-w0",
          "registers": "backend",
        },
      ]
    `);
  });
  it("multi-node decode: one process per node, ranks > 0 headless, one registration", () => {
    expect(
      processes({
        slurm: { gpusPerNode: 4 },
        roles: { prefill: { workers: 1 }, decode: { workers: 1, gpusPerWorker: 8 } },
      }),
    ).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --disaggregation-mode prefill --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 8 --disaggregation-mode decode --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"} --nnodes 2 --node-rank 0 --master-addr \${DYN_NODE_IP_1} --master-port {port+2}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_1}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+1}",
          },
          "id": "decode-w0-r0",
          "registers": "backend",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 8 --disaggregation-mode decode --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"} --nnodes 2 --node-rank 1 --master-addr \${DYN_NODE_IP_1} --master-port {port+2} --headless",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_2}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+1}",
          },
          "id": "decode-w0-r1",
          "registers": null,
        },
      ]
    `);
  });
});

describe("components", () => {
  it("names and aliases by generation", () => {
    const show = (v: string) => vllm.components(vllm.options.parse({ dynamoVersion: v }));
    expect({ legacy: show("0.3.2"), flags: show("0.8.0"), mode: show("1.1.0") }).toMatchInlineSnapshot(`
      {
        "flags": {
          "aggregated": {
            "alias": "VllmWorker",
            "dynamo": "dynamo.vllm",
            "health": "backend",
          },
          "decode": {
            "alias": "VllmDecodeWorker",
            "dynamo": "dynamo.vllm",
            "health": "backend",
          },
          "prefill": {
            "alias": "VllmPrefillWorker",
            "dynamo": "dynamo.vllm --is-prefill-worker",
            "health": "prefill",
          },
        },
        "legacy": {
          "decode": {
            "alias": "VllmDecodeWorker",
            "dynamo": "dynamo serve components.worker:VllmDecodeWorker (the first one inside graphs.agg:Frontend)",
            "health": "VllmDecodeWorker",
          },
          "prefill": {
            "alias": "VllmPrefillWorker",
            "dynamo": "dynamo serve components.worker:VllmPrefillWorker",
            "health": "VllmPrefillWorker",
          },
        },
        "mode": {
          "aggregated": {
            "alias": "VllmWorker",
            "dynamo": "dynamo.vllm --disaggregation-mode agg",
            "health": "backend",
          },
          "decode": {
            "alias": "VllmDecodeWorker",
            "dynamo": "dynamo.vllm --disaggregation-mode decode",
            "health": "backend",
          },
          "prefill": {
            "alias": "VllmPrefillWorker",
            "dynamo": "dynamo.vllm --disaggregation-mode prefill",
            "health": "prefill",
          },
        },
      }
    `);
  });
});

describe("rendered scripts", () => {
  const shapes: Record<string, TestSpec> = {
    legacy: { options: { dynamoVersion: "0.3.2" }, slurm: { nodes: 3, gpusPerNode: 4 } },
    "0.5 flags": disagg("0.5.0"),
    "1.1 multi-node": {
      slurm: { gpusPerNode: 4 },
      roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 2, gpusPerWorker: 2 } },
    },
  };
  for (const [name, spec] of Object.entries(shapes)) {
    it(`${name}: bash -n and shellcheck clean`, () => {
      const script = renderForTest(vllm, spec);
      expect(lintScript(script)).toEqual({ bash: "", shellcheck: "" });
    });
  }
});

describe("unsupported combinations", () => {
  it("multi-node before 1.0 needs Ray", () => {
    const e = thrownBy(() =>
      planForTest(vllm, { ...disagg("0.9.0"), roles: { aggregated: { workers: 1, gpusPerWorker: 8 } } }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.aggregated.gpusPerWorker" });
    expect(String(e)).toContain("Ray");
  });
  it("legacy multi-node", () => {
    const e = thrownBy(() =>
      planForTest(vllm, {
        options: { dynamoVersion: "0.3.2" },
        slurm: { gpusPerNode: 4 },
        roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 1 } },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.prefill.gpusPerWorker" });
  });
  it("legacy has no aggregated graph deployment", () => {
    const e = thrownBy(() => planForTest(vllm, agg("0.3.2")));
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.aggregated" });
  });
  it("options are strict and versions validated", () => {
    expect(thrownBy(() => planForTest(vllm, { options: { dynamoVersion: "latest" } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
    });
    expect(thrownBy(() => planForTest(vllm, { options: { tp: 2 } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
    });
  });
});
